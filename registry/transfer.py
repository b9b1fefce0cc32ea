"""Import and export of purchasers, agents and suppliers as flat files (CSV / XLSX).

One row per record, one column per field; the nested parts of a record are packed into cells:

* list fields: items separated by `;` (`business_scope`: `A0201;C16`);
* contacts and bank accounts: parallel `;` lists, the i-th item of each column belonging together
  (`contact_name` `李娜;王芳`, `contact_phone` `0471-6600123;13900000000`);
* qualifications (`name|number|issuer|valid_from|valid_to`) and staff (`name|title|certificate`):
  items separated by `;`, parts by `|`.

Imports validate every row through `registry.organizations.register` (schema, region, catalogue
codes, jurisdiction, codes already registered), each row in its own savepoint so a bad row is
rolled back alone; the whole file sits in one more savepoint, rolled back when any row is bad
and good rows are not to be kept. Error messages name the column, never a restricted value.

Exports list what the caller may list (keyset pages of `list_orgs`) and mask what the API masks
for that caller (`to_out(row, actor).data`).
"""

from __future__ import annotations

import csv
import io
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
from models.organization import RecordKind, Status
from registry import organizations
from registry.codes import is_region_code
from registry.errors import BadRequest, RegistryError, Unprocessable
from registry.identifiers import IdentifierError, to_half_width, validate_uscc
from registry.organizations import KIND_LABEL, OrgFilters, OrgRow
from registry.reference_files import read_table

ExportFormat = Literal["csv", "xlsx"]
Progress = Callable[[int, int], None]

PAGE_SIZE = 500
ITEM_SEP = ";"
PART_SEP = "|"
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class KindName(StrEnum):
    """The plural names used in URLs and on the command line."""

    suppliers = "suppliers"
    agents = "agents"
    purchasers = "purchasers"


KIND_BY_PLURAL = {
    KindName.suppliers: RecordKind.supplier,
    KindName.agents: RecordKind.agent,
    KindName.purchasers: RecordKind.purchaser,
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
}
REQUIRED_COLUMNS = ("uscc", "name", "region_code")
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
# Chinese header of each column (the first alias), for documentation and messages.
COLUMN_LABELS: dict[str, str] = {}
for _alias, _column in HEADER_ALIASES.items():
    COLUMN_LABELS.setdefault(_column, _alias)

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

# Columns holding restricted values: never echoed in an error message.
RESTRICTED_COLUMNS = (
    "legal_rep_id_number",
    "legal_rep_phone",
    "contact_phone",
    "bank_account_number",
)

_QUALIFICATION_PARTS = ("name", "number", "issuer", "valid_from", "valid_to")
_STAFF_PARTS = ("name", "title", "certificate")


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
            payload["qualifications"] = qualifications
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


class _Scrubber:
    """Replaces a row's restricted values in messages (whatever form they were written in)."""

    def __init__(self, values: dict[str, str]) -> None:
        secrets: set[str] = set()
        for column in RESTRICTED_COLUMNS:
            for part in _items(values.get(column, "")):
                for form in (part, to_half_width(part)):
                    secrets.update({form, form.replace(" ", ""), form.replace("-", "")})
                    secrets.add(form.replace(" ", "").replace("-", "").upper())
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text


def _row_errors(line: int, exc: RegistryError, scrub: _Scrubber) -> list[ImportRowError]:
    """A service error as row errors: per-field errors if it has them, else its detail."""
    default_field = {
        "region_not_found": "region_code",
        "region_retired": "region_code",
        "forbidden": "region_code",
        "already_registered": "uscc",
    }.get(exc.code)
    if exc.errors:
        out = []
        for error in exc.errors:
            column, index = _column_of(str(error.get("field") or "") or None)
            message = str(error.get("message") or exc.detail)
            if index is not None:
                message = f"第 {index + 1} 项:{message}"
            out.append(
                ImportRowError(
                    row=line,
                    field=column or default_field,
                    code=str(error.get("code") or exc.code),
                    message=scrub(message),
                )
            )
        return out
    return [ImportRowError(row=line, field=default_field, code=exc.code, message=scrub(exc.detail))]


def _normalized_uscc(value: str) -> str | None:
    try:
        return validate_uscc(value)
    except IdentifierError:
        return None


def _submit(session: Session, kind: RecordKind, row: OrgRow, actor: Principal | None) -> OrgRow:
    return organizations.transition(
        session, kind=kind, org_id=row.org.id, name="submit", actor=actor
    )


# --- import -----------------------------------------------------------------------------------


def import_organizations(
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
    """Register every row of the file as a draft (and submit it if asked).

    Any bad row: nothing is written (the file's savepoint is rolled back) unless
    `take_good_rows`, which keeps the good rows. Either way every row's errors are reported.
    `actor=None` is the operator at the command line (outside the jurisdiction policy).
    """
    table = read_table(data, filename, HEADER_ALIASES)
    columns = COLUMNS[kind]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.header]
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
            scrub = _Scrubber(values)
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
    code = _normalized_uscc(values.get("uscc", ""))
    if code is not None:
        if code in seen:
            return [
                ImportRowError(
                    row=line,
                    field="uscc",
                    code="duplicate_in_file",
                    message=f"统一社会信用代码 {code} 与第 {seen[code]} 行重复",
                )
            ]
        seen[code] = line
    try:
        with session.begin_nested():
            row = organizations.register(session, kind=kind, payload=payload, actor=actor)
            if submit:
                row = _submit(session, kind, row, actor)
    except RegistryError as exc:
        return _row_errors(line, exc, scrub)
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
        ImportedRow(row=line, id=row.org.id, uscc=row.org.uscc, status=Status(row.org.status))
    )
    report.warnings.extend(
        ImportRowError(row=line, field="uscc", code="region_mismatch", message=w)
        for w in row.warnings
    )
    return []


# --- export -----------------------------------------------------------------------------------


def export_columns(kind: RecordKind) -> list[str]:
    return ["id", "status", *COLUMNS[kind]]


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


def data_to_row(kind: RecordKind, data: dict[str, Any]) -> dict[str, str]:
    """A record's data as the file's columns (the inverse of `row_to_payload`)."""
    out: dict[str, str] = {c: "" for c in COLUMNS[kind]}
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
    return out


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
    jurisdiction is the whole tree), unmasked.
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
            data = row.org.data if actor is None else organizations.to_out(row, actor).data
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


def export_organizations(
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
