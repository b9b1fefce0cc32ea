"""Import and export of every kind of record as flat files (CSV / XLSX): purchasers, agents,
suppliers, experts and commodities.

One row per record, one column per field; the nested parts of a record are packed into cells:

* list fields: items separated by `;` (`business_scope`: `A0201;C16`; an expert's
  `specialties` also take `、`: `A0101、D0205`);
* contacts and bank accounts: parallel `;` lists, the i-th item of each column belonging together
  (`contact_name` `李娜;王芳`, `contact_phone` `0471-6600123;13900000000`);
* qualifications (`name|number|issuer|valid_from|valid_to`), staff (`name|title|certificate`) and
  an expert's relationships (`relation|name|uscc|until|note`): items separated by `;`, parts by `|`;
* an expert's employer and term, a commodity's reference price: one column per part
  (`employer_name`, `employer_uscc`; `term_starts_on`, `term_ends_on`; `price`, `currency`,
  `price_date`);
* a commodity's specifications: `key=value` items separated by `;`
  (`print_speed_ppm=38;duplex=true`), the key being the attribute's name or its Chinese label.

Imports validate every row through `registry.organizations.register` (schema, region, catalogue
codes, specialties, specifications, jurisdiction, keys already registered), each row in its own savepoint so a bad row is
rolled back alone; the whole file sits in one more savepoint, rolled back when any row is bad
and good rows are not to be kept. Error messages name the column, never a restricted value
(ID numbers, phones, bank accounts; an expert's ID number not even in part).

Exports list what the caller may list (keyset pages of `list_orgs`) and mask what the API masks
for that caller (`to_out(row, actor).data`); the operator's exports are in clear (an expert's
personal data decrypted).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from auth.policy import ROOT_REGION
from auth.principals import Principal, PrincipalKind
from models.account import StaffRole
from models.organization import ORGANIZATION_KINDS, RecordKind, Status
from registry import organizations, personal
from registry.codes import is_region_code, normalize_catalog_code
from registry.commodity_specs import load_spec_table
from registry.errors import BadRequest, RegistryError, Unprocessable
from registry.identifiers import (
    IdentifierError,
    normalize_resident_id,
    to_half_width,
    validate_resident_id,
    validate_uscc,
)
from registry.normalize import commodity_key
from registry.organizations import KIND_LABEL, OrgFilters, OrgRow
from registry.reference_files import read_table

ExportFormat = Literal["csv", "xlsx"]
Progress = Callable[[int, int], None]

PAGE_SIZE = 500
ITEM_SEP = ";"
PART_SEP = "|"
SPEC_SEP = "="
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class KindName(StrEnum):
    """The plural names used in URLs and on the command line."""

    suppliers = "suppliers"
    agents = "agents"
    purchasers = "purchasers"
    experts = "experts"
    commodities = "commodities"


KIND_BY_PLURAL = {
    KindName.suppliers: RecordKind.supplier,
    KindName.agents: RecordKind.agent,
    KindName.purchasers: RecordKind.purchaser,
    KindName.experts: RecordKind.expert,
    KindName.commodities: RecordKind.commodity,
}
PLURAL_BY_KIND = {kind: plural for plural, kind in KIND_BY_PLURAL.items()}


# --- columns ----------------------------------------------------------------------------------

_CONTACT = ["contact_name", "contact_phone", "contact_email", "contact_role"]
_LEGAL_REP = ["legal_rep_name", "legal_rep_id_number", "legal_rep_phone"]
_BANK = ["bank", "bank_account_name", "bank_account_number"]

COLUMNS: dict[RecordKind, list[str]] = {
    RecordKind.supplier: [
        "uscc",
        "name",
        "region_code",
        "address",
        "legal_form",
        "size",
        *_LEGAL_REP,
        "registered_capital",
        "business_scope",
        *_CONTACT,
        *_BANK,
        "qualifications",
    ],
    RecordKind.agent: [
        "uscc",
        "name",
        "region_code",
        "address",
        *_LEGAL_REP,
        "business_scope",
        *_CONTACT,
        "qualifications",
        "staff",
    ],
    RecordKind.purchaser: [
        "uscc",
        "name",
        "region_code",
        "address",
        "budget_unit_code",
        "parent_uscc",
        *_CONTACT,
    ],
    RecordKind.expert: [
        "name",
        "id_number",
        "sex",
        "birth_date",
        "phone",
        "email",
        "employer_name",
        "employer_uscc",
        "title",
        "years_of_experience",
        "specialties",
        "region_code",
        "term_starts_on",
        "term_ends_on",
        "relationships",
    ],
    RecordKind.commodity: [
        "catalog_code",
        "name",
        "brand",
        "model",
        "unit",
        "price",
        "currency",
        "price_date",
        "specs",
        "images",
        "region_code",
    ],
}
# a file without these columns is refused as a whole (the key and what names the record)
REQUIRED_COLUMNS: dict[RecordKind, tuple[str, ...]] = {
    **dict.fromkeys(ORGANIZATION_KINDS, ("uscc", "name", "region_code")),
    RecordKind.expert: ("name", "id_number", "region_code"),
    RecordKind.commodity: ("catalog_code", "name", "brand", "model"),
}
EXPORT_ONLY_COLUMNS = ("id", "status")  # written by exports, ignored by imports

# Chinese headers (and a few other spellings) → column names. Keys are lower case: `read_table`
# lower-cases headers before looking them up.
HEADER_ALIASES: dict[str, str] = {
    "编号": "id",
    "状态": "status",
    "统一社会信用代码": "uscc",
    "名称": "name",
    "单位名称": "name",
    "供应商名称": "name",
    "代理机构名称": "name",
    "采购人名称": "name",
    "地区代码": "region_code",
    "注册地区代码": "region_code",
    "行政区划代码": "region_code",
    "地址": "address",
    "注册地址": "address",
    "组织形式": "legal_form",
    "企业规模": "size",
    "法定代表人": "legal_rep_name",
    "法定代表人姓名": "legal_rep_name",
    "法定代表人身份证号": "legal_rep_id_number",
    "法定代表人身份证号码": "legal_rep_id_number",
    "法定代表人电话": "legal_rep_phone",
    "法定代表人手机": "legal_rep_phone",
    "注册资本": "registered_capital",
    "注册资本(万元)": "registered_capital",
    "注册资本\uff08万元\uff09": "registered_capital",
    "经营范围": "business_scope",
    "代理业务范围": "business_scope",
    "联系人": "contact_name",
    "联系电话": "contact_phone",
    "电子邮箱": "contact_email",
    "邮箱": "contact_email",
    "联系人职务": "contact_role",
    "开户银行": "bank",
    "户名": "bank_account_name",
    "账户名称": "bank_account_name",
    "账号": "bank_account_number",
    "银行账号": "bank_account_number",
    "资质": "qualifications",
    "资格与资质": "qualifications",
    "从业人员": "staff",
    "专职从业人员": "staff",
    "预算单位编码": "budget_unit_code",
    "上级主管单位统一社会信用代码": "parent_uscc",
    "上级单位统一社会信用代码": "parent_uscc",
}
EXPERT_HEADER_ALIASES: dict[str, str] = {
    "编号": "id",
    "状态": "status",
    "姓名": "name",
    "专家姓名": "name",
    "居民身份证号码": "id_number",
    "身份证号码": "id_number",
    "身份证号": "id_number",
    "性别": "sex",
    "出生日期": "birth_date",
    "手机号码": "phone",
    "手机": "phone",
    "手机号": "phone",
    "联系电话": "phone",
    "电子邮箱": "email",
    "邮箱": "email",
    "工作单位": "employer_name",
    "工作单位名称": "employer_name",
    "工作单位统一社会信用代码": "employer_uscc",
    "专业技术职称": "title",
    "职称": "title",
    "从业年限": "years_of_experience",
    "从业年限(年)": "years_of_experience",
    "从业年限\uff08年\uff09": "years_of_experience",
    "评审专业": "specialties",
    "评审专业代码": "specialties",
    "所在地区代码": "region_code",
    "地区代码": "region_code",
    "行政区划代码": "region_code",
    "聘期开始日期": "term_starts_on",
    "聘期开始": "term_starts_on",
    "聘期起": "term_starts_on",
    "聘期结束日期": "term_ends_on",
    "聘期结束": "term_ends_on",
    "聘期止": "term_ends_on",
    "回避关系": "relationships",
}
COMMODITY_HEADER_ALIASES: dict[str, str] = {
    "编号": "id",
    "状态": "status",
    "品目编码": "catalog_code",
    "品目代码": "catalog_code",
    "商品名称": "name",
    "名称": "name",
    "品牌": "brand",
    "型号": "model",
    "规格型号": "model",
    "计量单位": "unit",
    "单位": "unit",
    "参考价格": "price",
    "参考价": "price",
    "参考价格(元)": "price",
    "参考价格\uff08元\uff09": "price",
    "币种": "currency",
    "价格日期": "price_date",
    "规格参数": "specs",
    "规格": "specs",
    "图片地址": "images",
    "图片": "images",
    "管理地区代码": "region_code",
    "地区代码": "region_code",
}
HEADER_ALIASES_BY_KIND: dict[RecordKind, dict[str, str]] = {
    **dict.fromkeys(ORGANIZATION_KINDS, HEADER_ALIASES),
    RecordKind.expert: EXPERT_HEADER_ALIASES,
    RecordKind.commodity: COMMODITY_HEADER_ALIASES,
}


def _labels(aliases: dict[str, str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for alias, column in aliases.items():
        labels.setdefault(column, alias)
    return labels


# Chinese header of each column (the first alias), for documentation and messages.
COLUMN_LABELS: dict[str, str] = _labels(HEADER_ALIASES)
COLUMN_LABELS_BY_KIND: dict[RecordKind, dict[str, str]] = {
    kind: _labels(aliases) for kind, aliases in HEADER_ALIASES_BY_KIND.items()
}

LEGAL_FORM_ALIASES = {
    "有限责任公司": "limited_liability",
    "股份有限公司": "joint_stock",
    "个人独资企业": "sole_proprietorship",
    "合伙企业": "partnership",
    "个体工商户": "individual_business",
    "事业单位": "public_institution",
    "其他": "other",
}
SIZE_ALIASES = {"微型": "micro", "小型": "small", "中型": "medium", "大型": "large"}
SEX_ALIASES = {
    "男": "male",
    "男性": "male",
    "m": "male",
    "女": "female",
    "女性": "female",
    "f": "female",
}
RELATION_ALIASES = {
    "原工作单位": "former_employer",
    "近亲属工作单位": "relative_employer",
    "亲属工作单位": "relative_employer",
    "其他": "other",
    "其他利害关系": "other",
}

# Columns holding restricted values: never echoed in an error message.
RESTRICTED_COLUMNS = (
    "legal_rep_id_number",
    "legal_rep_phone",
    "contact_phone",
    "bank_account_number",
)
RESTRICTED_COLUMNS_BY_KIND: dict[RecordKind, tuple[str, ...]] = {
    **dict.fromkeys(ORGANIZATION_KINDS, RESTRICTED_COLUMNS),
    RecordKind.expert: ("id_number", "phone"),
    RecordKind.commodity: (),
}
# An expert's columns whose messages may quote parts of the ID number (its address code, its
# birth date): those parts are masked in them too.
_ID_FACT_COLUMNS = frozenset({"id_number", "birth_date", "sex"})
# The column a "registered already" error belongs to.
KEY_COLUMN: dict[RecordKind, str] = {
    **dict.fromkeys(ORGANIZATION_KINDS, "uscc"),
    RecordKind.expert: "id_number",
    RecordKind.commodity: "model",
}

_QUALIFICATION_PARTS = ("name", "number", "issuer", "valid_from", "valid_to")
_STAFF_PARTS = ("name", "title", "certificate")
_RELATIONSHIP_PARTS = ("relation", "name", "uscc", "until", "note")


# --- reports ----------------------------------------------------------------------------------


class ImportRowError(BaseModel):
    row: int | None = Field(description="文件中的行号(含表头,从 1 起)")
    field: str | None = Field(default=None, description="出错的列")
    code: str = Field(default="invalid", description="错误类别(稳定的英文代码)")
    message: str = Field(description="错误说明(不含受限字段的值)")


class ImportedRow(BaseModel):
    row: int = Field(description="文件中的行号")
    id: str = Field(description="新记录的编号")
    uscc: str | None = Field(default=None, description="统一社会信用代码(组织)")
    name: str | None = Field(default=None, description="名称(组织、商品)或姓名(专家)")
    status: Status = Field(description="导入后的状态")


class ImportReport(BaseModel):
    kind: RecordKind
    accepted: bool = Field(description="是否写入了数据")
    rows: int = Field(description="数据行数")
    created: int = Field(default=0, description="新建的草稿数")
    submitted: int = Field(default=0, description="其中已提交审核的数")
    failed: int = Field(default=0, description="有错误的行数")
    errors: list[ImportRowError] = Field(default_factory=list, description="逐行错误")
    warnings: list[ImportRowError] = Field(default_factory=list, description="逐行提示(不影响导入)")
    records: list[ImportedRow] = Field(default_factory=list, description="已写入的记录")


class _RowProblem(Exception):
    def __init__(self, errors: list[ImportRowError]) -> None:
        super().__init__("row problem")
        self.errors = errors


# --- file row → payload -----------------------------------------------------------------------


def _items(value: str) -> list[str]:
    """`a;b;` → ['a', 'b', ''] (positions matter for parallel lists); '' → []."""
    if not value:
        return []
    return [part.strip() for part in value.replace("；", ITEM_SEP).split(ITEM_SEP)]


_LIST_SEPARATORS = re.compile(r"[;；、,，]")


def _codes(value: str) -> list[str]:
    """A list of codes: `;`, `、` or commas between them; blanks dropped."""
    return [part.strip() for part in _LIST_SEPARATORS.split(value) if part.strip()]


def _parallel(values: dict[str, str], columns: dict[str, str]) -> list[dict[str, str]]:
    """Parallel `;` lists (column → key) as a list of objects; empty positions are skipped."""
    split = {key: _items(values.get(column, "")) for column, key in columns.items()}
    count = max((len(parts) for parts in split.values()), default=0)
    out = []
    for i in range(count):
        item = {key: parts[i] for key, parts in split.items() if i < len(parts) and parts[i]}
        if item:
            out.append(item)
    return out


def _packed(line: int, column: str, value: str, parts: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for n, raw in enumerate((i for i in _items(value) if i), start=1):
        pieces = [p.strip() for p in raw.replace("｜", PART_SEP).split(PART_SEP)]
        if len(pieces) > len(parts):
            raise _RowProblem(
                [
                    ImportRowError(
                        row=line,
                        field=column,
                        code="invalid_format",
                        message=f"第 {n} 项最多 {len(parts)} 段,格式为 {PART_SEP.join(parts)}",
                    )
                ]
            )
        out.append({key: piece for key, piece in zip(parts, pieces, strict=False) if piece})
    return out


_DATE_CELL = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?$"
)
_WHOLE_NUMBER_CELL = re.compile(r"^[+]?\d+\.0*$")


def _date_cell(value: str) -> str:
    """`2026/1/31`, `2026年1月31日`, an XLSX date (`2026-01-31 00:00:00`) → `2026-01-31`;
    anything else is left for the schema to refuse."""
    match = _DATE_CELL.match(value)
    if match is None:
        return value
    year, month, day = match.groups()
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def _integer_cell(value: str) -> str:
    """`20.0` (a number cell of a spreadsheet) → `20`."""
    return value.split(".")[0] if _WHOLE_NUMBER_CELL.match(value) else value


def _amount_cell(value: str) -> str:
    """`¥2,399.00`, `2399元` → `2399.00`."""
    return value.replace(",", "").replace("，", "").lstrip("¥￥").removesuffix("元").strip()


def _dates_in(items: list[dict[str, str]], *keys: str) -> list[dict[str, str]]:
    return [{k: _date_cell(v) if k in keys else v for k, v in item.items()} for item in items]


def row_to_payload(kind: RecordKind, line: int, values: dict[str, str]) -> dict[str, Any]:
    """A file row as the kind's payload dict (validation is left to the schema)."""
    bad = [c for c, v in values.items() if "\x00" in v]
    if bad:
        raise _RowProblem(
            [
                ImportRowError(
                    row=line, field=c, code="invalid_characters", message="含有不允许的字符(NUL)"
                )
                for c in bad
            ]
        )
    if kind is RecordKind.expert:
        return _expert_payload(line, values)
    if kind is RecordKind.commodity:
        return _commodity_payload(line, values)
    return _organization_payload(kind, line, values)


def _organization_payload(kind: RecordKind, line: int, values: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for key in ("uscc", "name", "region_code", "address"):
        if values.get(key):
            payload[key] = values[key]
    contacts = _parallel(
        values,
        {
            "contact_name": "name",
            "contact_phone": "phone",
            "contact_email": "email",
            "contact_role": "role",
        },
    )
    if contacts:
        payload["contacts"] = contacts
    if kind in (RecordKind.supplier, RecordKind.agent):
        rep = {
            key: values[column]
            for column, key in zip(_LEGAL_REP, ("name", "id_number", "phone"), strict=True)
            if values.get(column)
        }
        if rep:
            payload["legal_representative"] = rep
        scope = [c for c in _items(values.get("business_scope", "")) if c]
        if scope:
            payload["business_scope"] = scope
        qualifications = _packed(
            line, "qualifications", values.get("qualifications", ""), _QUALIFICATION_PARTS
        )
        if qualifications:
            payload["qualifications"] = _dates_in(qualifications, "valid_from", "valid_to")
    if kind is RecordKind.supplier:
        if values.get("legal_form"):
            payload["legal_form"] = LEGAL_FORM_ALIASES.get(
                values["legal_form"], values["legal_form"]
            )
        if values.get("size"):
            payload["size"] = SIZE_ALIASES.get(values["size"], values["size"])
        if values.get("registered_capital"):
            payload["registered_capital"] = values["registered_capital"].replace(",", "")
        accounts = _parallel(
            values,
            {
                "bank": "bank",
                "bank_account_name": "account_name",
                "bank_account_number": "account_number",
            },
        )
        if accounts:
            payload["bank_accounts"] = accounts
    if kind is RecordKind.agent:
        staff = _packed(line, "staff", values.get("staff", ""), _STAFF_PARTS)
        if staff:
            payload["staff"] = staff
    if kind is RecordKind.purchaser:
        for key in ("budget_unit_code", "parent_uscc"):
            if values.get(key):
                payload[key] = values[key]
    return payload


def _expert_payload(line: int, values: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for key in ("name", "id_number", "phone", "email", "title", "region_code"):
        if values.get(key):
            payload[key] = values[key]
    if values.get("sex"):
        payload["sex"] = SEX_ALIASES.get(values["sex"].lower(), values["sex"])
    if values.get("birth_date"):
        payload["birth_date"] = _date_cell(values["birth_date"])
    if values.get("years_of_experience"):
        payload["years_of_experience"] = _integer_cell(values["years_of_experience"])
    employer = {
        key: values[column]
        for column, key in (("employer_name", "name"), ("employer_uscc", "uscc"))
        if values.get(column)
    }
    if employer:
        payload["employer"] = employer
    specialties = _codes(values.get("specialties", ""))
    if specialties:
        payload["specialties"] = specialties
    term = {
        key: _date_cell(values[column])
        for column, key in (("term_starts_on", "starts_on"), ("term_ends_on", "ends_on"))
        if values.get(column)
    }
    if term:
        payload["term"] = term
    relationships = _packed(
        line, "relationships", values.get("relationships", ""), _RELATIONSHIP_PARTS
    )
    if relationships:
        payload["relationships"] = [
            {
                **item,
                "relation": RELATION_ALIASES.get(item.get("relation", ""), item.get("relation")),
            }
            for item in _dates_in(relationships, "until")
        ]
    return payload


def _commodity_payload(line: int, values: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for key in ("catalog_code", "name", "brand", "model", "unit", "region_code"):
        if values.get(key):
            payload[key] = values[key]
    price = {
        key: convert(values[column])
        for column, key, convert in (
            ("price", "amount", _amount_cell),
            ("currency", "currency", str.upper),
            ("price_date", "as_of", _date_cell),
        )
        if values.get(column)
    }
    if price:
        payload["reference_price"] = price
    specs = _specs(line, values.get("specs", ""), values.get("catalog_code", ""))
    if specs:
        payload["specs"] = specs
    images = [i for i in _items(values.get("images", "")) if i]
    if images:
        payload["images"] = images
    return payload


def _specs(line: int, value: str, catalog_code: str) -> dict[str, str]:
    """`key=value;key=value` as a dict; keys are attribute names or their Chinese labels (for
    the class of `catalog_code`). The values are typed and checked by the service."""
    labels: dict[str, str] = {}
    code = normalize_catalog_code(catalog_code) if catalog_code else None
    if code is not None:
        try:
            attributes = load_spec_table().attributes_for(code)
        except ValueError:
            attributes = {}
        labels = {a.label: a.name for a in attributes.values()}
    out: dict[str, str] = {}
    errors: list[ImportRowError] = []
    for n, item in enumerate((i for i in _items(value) if i), start=1):
        key, sep, raw = item.replace("＝", SPEC_SEP).partition(SPEC_SEP)
        key = key.strip()
        if not sep or not key:
            errors.append(
                ImportRowError(
                    row=line,
                    field="specs",
                    code="invalid_format",
                    message=f"第 {n} 项“{item[:40]}”应写作 属性=取值(如 memory_gb=16)",
                )
            )
            continue
        name = labels.get(key, key.lower() if key.isascii() else key)
        if name in out:
            errors.append(
                ImportRowError(
                    row=line,
                    field="specs",
                    code="duplicate_attribute",
                    message=f"规格“{key}”填写了不止一次",
                )
            )
            continue
        out[name] = raw.strip()
    if errors:
        raise _RowProblem(errors)
    return out


_NESTED_COLUMNS = {
    "legal_representative": {
        "name": "legal_rep_name",
        "id_number": "legal_rep_id_number",
        "phone": "legal_rep_phone",
    },
    "contacts": {
        "name": "contact_name",
        "phone": "contact_phone",
        "email": "contact_email",
        "role": "contact_role",
    },
    "bank_accounts": {
        "bank": "bank",
        "account_name": "bank_account_name",
        "account_number": "bank_account_number",
    },
    "employer": {"name": "employer_name", "uscc": "employer_uscc"},
    # a term whose end is not after its start is reported on the end
    "term": {"ends_on": "term_ends_on", "starts_on": "term_starts_on"},
    "reference_price": {"amount": "price", "currency": "currency", "as_of": "price_date"},
}


def _column_of(field: str | None) -> tuple[str | None, int | None]:
    """A schema field path (`contacts.1.phone`) as the file's column and item index."""
    if not field:
        return None, None
    parts = field.split(".")
    head, rest = parts[0], parts[1:]
    index = int(rest[0]) if rest and rest[0].isdigit() else None
    if index is not None:
        rest = rest[1:]
    nested = _NESTED_COLUMNS.get(head)
    if nested is not None:
        first = next(iter(nested.values()))
        return (nested.get(rest[0], first) if rest else first), index
    return head, index


def _forms(value: str) -> set[str]:
    out: set[str] = set()
    for form in (value, to_half_width(value)):
        out.update({form, form.replace(" ", ""), form.replace("-", "")})
        out.add(form.replace(" ", "").replace("-", "").upper())
    return out


class _Scrubber:
    """Replaces a row's restricted values in messages (whatever form they were written in).

    For an expert's row, the parts of the ID number that validation messages may quote (the
    address code, the birth date) are masked as well in the messages about the number and the
    facts it encodes (birth date, sex).
    """

    def __init__(self, kind: RecordKind, values: dict[str, str]) -> None:
        secrets: set[str] = set()
        for column in RESTRICTED_COLUMNS_BY_KIND[kind]:
            for part in _items(values.get(column, "")):
                secrets.update(_forms(part))
        fragments: set[str] = set()
        if kind is RecordKind.expert:
            number = normalize_resident_id(values.get("id_number", ""))
            if len(number) >= 14:
                birth = number[6:14]
                fragments.update(
                    {number[:6], birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", number[:17]}
                )
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self._fragments = sorted((f for f in fragments if len(f) >= 6), key=len, reverse=True)

    def __call__(self, text: str, column: str | None = None) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        if column in _ID_FACT_COLUMNS:
            for fragment in self._fragments:
                text = text.replace(fragment, "****")
        return text


def _row_errors(
    kind: RecordKind, line: int, exc: RegistryError, scrub: _Scrubber
) -> list[ImportRowError]:
    """A service error as row errors: per-field errors if it has them, else its detail."""
    default_field = {
        "region_not_found": "region_code",
        "region_retired": "region_code",
        "forbidden": "region_code",
        "already_registered": KEY_COLUMN[kind],
    }.get(exc.code)
    if exc.errors:
        out = []
        for error in exc.errors:
            column, index = _column_of(str(error.get("field") or "") or None)
            column = column or default_field
            message = str(error.get("message") or exc.detail)
            if index is not None:
                message = f"第 {index + 1} 项:{message}"
            out.append(
                ImportRowError(
                    row=line,
                    field=column,
                    code=str(error.get("code") or exc.code),
                    message=scrub(message, column),
                )
            )
        return out
    return [
        ImportRowError(
            row=line,
            field=default_field,
            code=exc.code,
            message=scrub(exc.detail, default_field),
        )
    ]


def _normalized_uscc(value: str) -> str | None:
    try:
        return validate_uscc(value)
    except IdentifierError:
        return None


def _file_key(kind: RecordKind, values: dict[str, str]) -> tuple[str, str, str] | None:
    """(key, column, how a duplicate is named) of a row, to find duplicates inside the file;
    None when the key is malformed (the schema reports that)."""
    if kind is RecordKind.expert:
        try:
            number = validate_resident_id(values.get("id_number", ""))
        except IdentifierError:
            return None
        return number, "id_number", "居民身份证号码"  # never the number itself
    if kind is RecordKind.commodity:
        code, brand, model = (values.get(k, "") for k in ("catalog_code", "brand", "model"))
        try:
            key = commodity_key(code, brand, model)
        except ValueError:
            return None
        return key, "model", f"品目 {key.split('|')[0]} 下品牌“{brand}”型号“{model}”"
    uscc = _normalized_uscc(values.get("uscc", ""))
    if uscc is None:
        return None
    return uscc, "uscc", f"统一社会信用代码 {uscc}"


def _submit(session: Session, kind: RecordKind, row: OrgRow, actor: Principal | None) -> OrgRow:
    return organizations.transition(
        session, kind=kind, org_id=row.org.id, name="submit", actor=actor
    )


# --- import -----------------------------------------------------------------------------------


def import_records(
    session: Session,
    *,
    kind: RecordKind,
    data: bytes,
    filename: str,
    actor: Principal | None,
    take_good_rows: bool = False,
    submit: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Register every row of the file as a draft of `kind` (and submit it if asked).

    Any bad row: nothing is written (the file's savepoint is rolled back) unless
    `take_good_rows`, which keeps the good rows. Either way every row's errors are reported.
    `actor=None` is the operator at the command line (outside the jurisdiction policy).
    """
    table = read_table(data, filename, HEADER_ALIASES_BY_KIND[kind])
    columns = COLUMNS[kind]
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in table.header]
    if missing:
        raise Unprocessable(
            f"文件缺少必需的列:{', '.join(missing)}(表头应为 {','.join(columns)})",
            code="invalid_file",
        )
    unknown = [c for c in table.header if c and c not in columns and c not in EXPORT_ONLY_COLUMNS]
    if unknown:
        raise Unprocessable(
            f"文件含有{KIND_LABEL[kind]}没有的列:{', '.join(unknown)}(可用的列:{','.join(columns)})",
            code="invalid_file",
        )
    if not table.rows:
        raise Unprocessable("文件中没有数据行", code="empty_file")

    report = ImportReport(kind=kind, accepted=False, rows=len(table.rows))
    seen: dict[str, int] = {}
    bad_rows: set[int] = set()
    total = len(table.rows)
    whole_file = session.begin_nested()
    try:
        for done, (line, values) in enumerate(table.rows, start=1):
            scrub = _Scrubber(kind, values)
            errors = _import_row(session, kind, line, values, actor, submit, seen, report, scrub)
            if errors:
                bad_rows.add(line)
                report.errors.extend(errors)
            if progress is not None:
                progress(done, total)
    except BaseException:
        whole_file.rollback()
        raise
    report.failed = len(bad_rows)
    if report.errors and not take_good_rows:
        whole_file.rollback()
        report.created = report.submitted = 0
        report.records = []
        report.warnings = []
        return report
    whole_file.commit()
    report.accepted = report.created > 0
    return report


import_organizations = import_records  # the name from before experts and commodities joined


def _import_row(
    session: Session,
    kind: RecordKind,
    line: int,
    values: dict[str, str],
    actor: Principal | None,
    submit: bool,
    seen: dict[str, int],
    report: ImportReport,
    scrub: _Scrubber,
) -> list[ImportRowError]:
    try:
        payload = row_to_payload(kind, line, values)
    except _RowProblem as problem:
        return problem.errors
    key = _file_key(kind, values)
    if key is not None:
        value, column, what = key
        if value in seen:
            return [
                ImportRowError(
                    row=line,
                    field=column,
                    code="duplicate_in_file",
                    message=f"{what}与第 {seen[value]} 行重复",
                )
            ]
        seen[value] = line
    try:
        with session.begin_nested():
            row = organizations.register(session, kind=kind, payload=payload, actor=actor)
            if submit:
                row = _submit(session, kind, row, actor)
    except RegistryError as exc:
        return _row_errors(kind, line, exc, scrub)
    except DBAPIError:
        return [
            ImportRowError(
                row=line,
                field=None,
                code="unstorable",
                message="该行有无法保存的值(含不允许的字符或超出取值范围)",
            )
        ]
    report.created += 1
    report.submitted += int(submit)
    report.records.append(
        ImportedRow(
            row=line,
            id=row.org.id,
            uscc=row.org.uscc,
            name=row.org.name,
            status=Status(row.org.status),
        )
    )
    report.warnings.extend(
        ImportRowError(row=line, field="uscc", code="region_mismatch", message=w)
        for w in row.warnings
    )
    return []


# --- export -----------------------------------------------------------------------------------


def export_columns(kind: RecordKind) -> list[str]:
    return ["id", "status", *COLUMNS[kind]]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _join(items: list[Any]) -> str:
    return ITEM_SEP.join("" if i is None else str(i) for i in items)


def _pack(items: list[dict[str, Any]], parts: tuple[str, ...]) -> str:
    packed = []
    for item in items:
        pieces = ["" if item.get(p) is None else str(item[p]) for p in parts]
        while pieces and not pieces[-1]:
            pieces.pop()
        packed.append(PART_SEP.join(pieces))
    return ITEM_SEP.join(packed)


def _spec_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def data_to_row(kind: RecordKind, data: dict[str, Any]) -> dict[str, str]:
    """A record's data as the file's columns (the inverse of `row_to_payload`)."""
    out: dict[str, str] = {c: "" for c in COLUMNS[kind]}
    if kind is RecordKind.expert:
        _expert_row(data, out)
    elif kind is RecordKind.commodity:
        _commodity_row(data, out)
    else:
        _organization_row(kind, data, out)
    return out


def _organization_row(kind: RecordKind, data: dict[str, Any], out: dict[str, str]) -> None:
    for key in ("uscc", "name", "region_code", "address"):
        out[key] = str(data.get(key) or "")
    contacts = data.get("contacts") or []
    for column, key in zip(_CONTACT, ("name", "phone", "email", "role"), strict=True):
        parts = [c.get(key) for c in contacts]
        out[column] = _join(parts) if any(parts) else ""
    if kind in (RecordKind.supplier, RecordKind.agent):
        rep = data.get("legal_representative") or {}
        for column, key in zip(_LEGAL_REP, ("name", "id_number", "phone"), strict=True):
            out[column] = str(rep.get(key) or "")
        out["business_scope"] = _join(data.get("business_scope") or [])
        out["qualifications"] = _pack(data.get("qualifications") or [], _QUALIFICATION_PARTS)
    if kind is RecordKind.supplier:
        for key in ("legal_form", "size", "registered_capital"):
            out[key] = "" if data.get(key) is None else str(data[key])
        accounts = data.get("bank_accounts") or []
        for column, key in zip(_BANK, ("bank", "account_name", "account_number"), strict=True):
            out[column] = _join([a.get(key) for a in accounts])
    if kind is RecordKind.agent:
        out["staff"] = _pack(data.get("staff") or [], _STAFF_PARTS)
    if kind is RecordKind.purchaser:
        for key in ("budget_unit_code", "parent_uscc"):
            out[key] = str(data.get(key) or "")


def _expert_row(data: dict[str, Any], out: dict[str, str]) -> None:
    for key in (
        "name",
        "id_number",
        "sex",
        "birth_date",
        "phone",
        "email",
        "title",
        "years_of_experience",
        "region_code",
    ):
        out[key] = _text(data.get(key))
    employer = data.get("employer") or {}
    out["employer_name"] = _text(employer.get("name"))
    out["employer_uscc"] = _text(employer.get("uscc"))
    out["specialties"] = _join(data.get("specialties") or [])
    term = data.get("term") or {}
    out["term_starts_on"] = _text(term.get("starts_on"))
    out["term_ends_on"] = _text(term.get("ends_on"))
    out["relationships"] = _pack(data.get("relationships") or [], _RELATIONSHIP_PARTS)


def _in_declared_order(catalog_code: str, specs: dict[str, Any]) -> list[tuple[str, Any]]:
    """Specs in the order the class declares its attributes (stored documents come back in
    the database's key order)."""
    try:
        names = list(load_spec_table().attributes_for(catalog_code))
    except ValueError:
        names = []
    rank = {name: i for i, name in enumerate(names)}
    return sorted(specs.items(), key=lambda item: rank.get(item[0], len(rank)))


def _commodity_row(data: dict[str, Any], out: dict[str, str]) -> None:
    for key in ("catalog_code", "name", "brand", "model", "unit", "region_code"):
        out[key] = _text(data.get(key))
    price = data.get("reference_price") or {}
    out["price"] = _text(price.get("amount"))
    out["currency"] = _text(price.get("currency"))
    out["price_date"] = _text(price.get("as_of"))
    specs = _in_declared_order(out["catalog_code"], data.get("specs") or {})
    out["specs"] = ITEM_SEP.join(
        f"{name}{SPEC_SEP}{_spec_value(value)}" for name, value in specs if value is not None
    )
    out["images"] = _join(data.get("images") or [])


OPERATOR_READER = Principal(
    PrincipalKind.staff,
    "operator",
    "命令行操作员",
    region_code=ROOT_REGION,
    role=StaffRole.admin,
)


def iter_export_rows(
    session: Session,
    *,
    kind: RecordKind,
    actor: Principal | None,
    filters: OrgFilters,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[str]]:
    """The header, then one row per record the caller may list, masked as the API masks it.

    `actor=None` is the operator: every record (read as the region bureau's administrator, whose
    jurisdiction is the whole tree), unmasked (an expert's personal data decrypted).
    """
    columns = export_columns(kind)
    yield columns
    reader = actor if actor is not None else OPERATOR_READER
    after: str | None = None
    while True:
        rows = organizations.list_orgs(
            session, kind=kind, actor=reader, filters=filters, after=after, limit=page_size
        )
        for row in rows:
            data = (
                personal.unseal(kind, row.org.data)
                if actor is None
                else organizations.to_out(row, actor).data
            )
            values = data_to_row(kind, data)
            values["id"], values["status"] = row.org.id, row.org.status
            yield [values[c] for c in columns]
        if len(rows) < page_size:
            return
        after = rows[-1].org.id


def iter_export_csv(
    session: Session,
    *,
    kind: RecordKind,
    actor: Principal | None,
    filters: OrgFilters,
    page_size: int = PAGE_SIZE,
) -> Iterator[bytes]:
    """CSV in UTF-8 with a BOM (so spreadsheet programs read the Chinese right), in chunks."""
    yield "\ufeff".encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for n, values in enumerate(
        iter_export_rows(session, kind=kind, actor=actor, filters=filters, page_size=page_size)
    ):
        writer.writerow(values)
        if n % 200 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def write_xlsx(rows: Iterable[list[str]], out: Any, *, title: str) -> None:
    """Every cell as text (codes and account numbers must not become numbers)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title)
    for values in rows:
        sheet.append(values)
    workbook.save(out)


def export_records(
    session: Session,
    *,
    kind: RecordKind,
    actor: Principal | None,
    filters: OrgFilters,
    fmt: ExportFormat,
    page_size: int = PAGE_SIZE,
) -> bytes:
    """The file as bytes: CSV (UTF-8 with BOM) or XLSX, the same columns as imports plus id, status."""
    if fmt == "csv":
        return b"".join(
            iter_export_csv(session, kind=kind, actor=actor, filters=filters, page_size=page_size)
        )
    if fmt != "xlsx":
        raise BadRequest("导出格式只能是 csv 或 xlsx", code="unsupported_format")
    buffer = io.BytesIO()
    rows = iter_export_rows(session, kind=kind, actor=actor, filters=filters, page_size=page_size)
    write_xlsx(rows, buffer, title=PLURAL_BY_KIND[kind].value)
    return buffer.getvalue()


export_organizations = export_records  # the name from before experts and commodities joined


def export_filename(kind: RecordKind, fmt: ExportFormat) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{PLURAL_BY_KIND[kind].value}-{stamp}.{fmt}"


def export_to_file(
    session: Session,
    *,
    kind: RecordKind,
    filters: OrgFilters,
    fmt: ExportFormat,
    out: Path,
    actor: Principal | None = None,
) -> int:
    """Write the export to `out` as it is read (for the command line); the number of records."""
    count = -1  # the header is not a record

    def counted() -> Iterator[list[str]]:
        nonlocal count
        for values in iter_export_rows(session, kind=kind, actor=actor, filters=filters):
            count += 1
            yield values

    if fmt == "xlsx":
        write_xlsx(counted(), out, title=PLURAL_BY_KIND[kind].value)
    else:
        with out.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle, lineterminator="\r\n").writerows(counted())
    return max(count, 0)


def region_admin(code: str) -> Principal:
    """The administrator of a region's bureau (`registry import --region-admin`)."""
    if not is_region_code(code):
        raise BadRequest(f"地区代码 {code} 不正确,应为 6 位行政区划代码", code="invalid_region")
    return Principal(
        PrincipalKind.staff,
        f"cli-admin-{code}",
        f"命令行({code} 管理员)",
        region_code=code,
        role=StaffRole.admin,
    )
