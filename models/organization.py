"""The registries' records: one table for every kind, typed data per kind.

The table began with purchasers, agents and suppliers and kept its name when experts and
commodities joined: the lifecycle, change requests, audit history, change feed, batch lookups
and import/export work the same for all five, so one table and one service serve them all.

The record's data is a JSON document validated by the kind's schema (below for organizations,
`models/expert.py`, `models/commodity.py`); the columns beside it are projections kept for keys,
filters and the policy. `data` always holds the version in force; pending edits of reviewed
fields wait in `change_requests` until a reviewer approves them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Numeric, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import created_at_column, updated_at_column
from registry.codes import is_region_code, normalize_catalog_code
from registry.identifiers import (
    IdentifierError,
    to_half_width,
    validate_phone,
    validate_resident_id,
    validate_uscc,
)


class RecordKind(StrEnum):
    purchaser = "purchaser"
    agent = "agent"
    supplier = "supplier"
    expert = "expert"
    commodity = "commodity"


ORGANIZATION_KINDS = frozenset({RecordKind.purchaser, RecordKind.agent, RecordKind.supplier})


class Status(StrEnum):
    draft = "draft"  # 草稿
    submitted = "submitted"  # 待审核
    returned = "returned"  # 退回修改
    active = "active"  # 已入库(有效)
    suspended = "suspended"  # 暂停
    cancelled = "cancelled"  # 注销
    expired = "expired"  # 聘期届满(专家)
    dismissed = "dismissed"  # 解聘(专家)
    delisted = "delisted"  # 下架(商品)
    merged = "merged"  # 已合并(并入另一记录,`merged_into` 指向存续记录)


LIVE_STATUSES = tuple(s.value for s in Status if s is not Status.cancelled)


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('purchaser', 'agent', 'supplier', 'expert', 'commodity')", name="kind"
        ),
        CheckConstraint(
            "status IN ('draft', 'submitted', 'returned', 'active', 'suspended', 'cancelled',"
            " 'expired', 'dismissed', 'delisted', 'merged')",
            name="status",
        ),
        # organizations are keyed by their code, experts and commodities by `natural_key`
        CheckConstraint(
            "(kind IN ('expert', 'commodity')) = (uscc IS NULL)", name="uscc_for_organizations"
        ),
        CheckConstraint(
            "(kind IN ('expert', 'commodity')) = (natural_key IS NOT NULL)", name="natural_key"
        ),
        CheckConstraint(
            "size IS NULL OR size IN ('micro', 'small', 'medium', 'large')", name="size"
        ),
        # register once: one live record per code per registry, decided by the database
        Index(
            "uq_organizations_kind_uscc_live",
            "kind",
            "uscc",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
        ),
        Index(
            "ix_organizations_kind_region",
            "kind",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index("ix_organizations_kind_status", "kind", "status"),
        Index("ix_organizations_business_scope", "business_scope", postgresql_using="gin"),
        # register once for persons (blind index of the ID number) and goods (catalog code,
        # normalized brand and model)
        Index(
            "uq_organizations_kind_natural_key_live",
            "kind",
            "natural_key",
            unique=True,
            postgresql_where=text("status <> 'cancelled' AND natural_key IS NOT NULL"),
        ),
        Index("ix_organizations_specialties", "specialties", postgresql_using="gin"),
        # tombstones by survivor: the codes an entity is known by (conflict-of-interest checks)
        Index(
            "ix_organizations_merged_into",
            "merged_into",
            postgresql_where=text("merged_into IS NOT NULL"),
        ),
        Index(
            "ix_organizations_catalog_code",
            "catalog_code",
            postgresql_ops={"catalog_code": "text_pattern_ops"},
            postgresql_where=text("catalog_code IS NOT NULL"),
        ),
    )

    id: str = SQLField(sa_column=Column(String(24), primary_key=True))
    kind: str = SQLField(max_length=16)
    uscc: str | None = SQLField(default=None, sa_column=Column(String(18), nullable=True))
    # experts: keyed hash of the ID number; commodities: catalog code|brand|model, normalized
    natural_key: str | None = SQLField(default=None, sa_column=Column(String(200), nullable=True))
    name: str = SQLField(max_length=200)
    region_code: str = SQLField(
        sa_column=Column(String(6), ForeignKey("regions.code"), nullable=False)
    )
    status: str = SQLField(max_length=16)
    status_reason: str | None = SQLField(default=None, max_length=500)
    suspended_until: date | None = None
    size: str | None = SQLField(default=None, max_length=8)
    business_scope: list[str] = SQLField(
        default_factory=list,
        sa_column=Column(ARRAY(String(16)), nullable=False, server_default=text("'{}'")),
    )
    specialties: list[str] | None = SQLField(
        default=None, sa_column=Column(ARRAY(String(16)), nullable=True)
    )  # experts
    term_ends_on: date | None = None  # experts: end of the term of appointment
    catalog_code: str | None = SQLField(
        default=None, sa_column=Column(String(16), nullable=True)
    )  # commodities
    brand: str | None = SQLField(default=None, max_length=100)  # commodities, normalized
    price: Decimal | None = SQLField(
        default=None, sa_column=Column(Numeric(14, 2), nullable=True)
    )  # commodities: reference price
    data: dict[str, Any] = SQLField(sa_column=Column(JSONB, nullable=False))
    # a merged record's tombstone points at the record that absorbed it (`status = 'merged'`)
    merged_into: str | None = SQLField(
        default=None,
        sa_column=Column(String(24), ForeignKey("organizations.id"), nullable=True),
    )
    version: int = SQLField(default=1)
    owner_account_id: str | None = SQLField(default=None, max_length=64)
    submitted_at: datetime | None = None
    approved_at: datetime | None = None
    created_at: datetime | None = SQLField(default=None, sa_column=created_at_column())
    updated_at: datetime | None = SQLField(default=None, sa_column=updated_at_column())


# --- the data of each kind --------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _optional_phone(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        return validate_phone(value)
    except IdentifierError as exc:
        raise ValueError(str(exc)) from exc


def optional_uscc(value: object) -> object:
    """An optional unified social credit code field: empty is none, anything else must be valid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return validate_uscc(value)
    except IdentifierError as exc:
        raise ValueError(str(exc)) from exc


class Contact(_Strict):
    name: str = Field(min_length=1, max_length=50, description="联系人")
    phone: str | None = Field(default=None, description="联系电话(受限字段)")
    email: str | None = Field(default=None, max_length=100, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: str | None = Field(default=None, max_length=50, description="职务")

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return _optional_phone(value)


class LegalRepresentative(_Strict):
    name: str = Field(min_length=1, max_length=50, description="法定代表人姓名")
    id_number: str | None = Field(default=None, description="居民身份证号码(受限字段)")
    phone: str | None = Field(default=None, description="手机号码(受限字段)")

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return _optional_phone(value)

    @field_validator("id_number")
    @classmethod
    def _ric(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return validate_resident_id(value)
        except IdentifierError as exc:
            raise ValueError(str(exc)) from exc


class Qualification(_Strict):
    name: str = Field(min_length=1, max_length=100, description="资质名称")
    number: str = Field(min_length=1, max_length=100, description="证书编号")
    issuer: str = Field(min_length=1, max_length=100, description="发证机关")
    valid_from: date | None = Field(default=None, description="有效期起")
    valid_to: date | None = Field(default=None, description="有效期止")

    @model_validator(mode="after")
    def _period(self) -> Qualification:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("资质有效期止不能早于有效期起")
        return self


class BankAccount(_Strict):
    bank: str = Field(min_length=2, max_length=100, description="开户银行")
    account_name: str = Field(min_length=2, max_length=200, description="户名")
    account_number: str = Field(pattern=r"^\d{8,32}$", description="账号(受限字段)")

    @field_validator("account_number", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        return (
            to_half_width(value).replace(" ", "").replace("-", "")
            if isinstance(value, str)
            else value
        )


class StaffMember(_Strict):
    name: str = Field(min_length=1, max_length=50)
    title: str | None = Field(default=None, max_length=50, description="职称/岗位")
    certificate: str | None = Field(default=None, max_length=100, description="从业证书编号")


class EnterpriseSize(StrEnum):
    micro = "micro"  # 微型
    small = "small"  # 小型
    medium = "medium"  # 中型
    large = "large"  # 大型


class LegalForm(StrEnum):
    limited_liability = "limited_liability"  # 有限责任公司
    joint_stock = "joint_stock"  # 股份有限公司
    sole_proprietorship = "sole_proprietorship"  # 个人独资企业
    partnership = "partnership"  # 合伙企业
    individual_business = "individual_business"  # 个体工商户
    public_institution = "public_institution"  # 事业单位
    other = "other"


class RecordData(_Strict):
    """What the service needs to know about every kind's data schema."""

    # fields that change at once even on an active record; all others need review
    UNREVIEWED: ClassVar[frozenset[str]] = frozenset()
    # paths of restricted values (masked for those who may not see them)
    RESTRICTED: ClassVar[tuple[str, ...]] = ()
    # top-level restricted values stored encrypted (personal data), see registry/personal.py
    ENCRYPTED: ClassVar[tuple[str, ...]] = ()

    region_code: str = Field(description="管辖地区代码", examples=["150102"])

    @field_validator("region_code")
    @classmethod
    def _region(cls, value: str) -> str:
        if not is_region_code(value):
            raise ValueError("地区代码应为 6 位行政区划代码")
        return value


class OrganizationData(RecordData):
    """Fields every organization has."""

    UNREVIEWED: ClassVar[frozenset[str]] = frozenset({"contacts"})
    RESTRICTED: ClassVar[tuple[str, ...]] = ("contacts[].phone",)

    uscc: str = Field(description="统一社会信用代码", examples=["91150102MA0N123408"])
    name: str = Field(min_length=2, max_length=200, description="名称")
    region_code: str = Field(description="注册地区(管辖地区)代码", examples=["150102"])
    address: str | None = Field(default=None, max_length=200, description="地址")
    contacts: list[Contact] = Field(default_factory=list, max_length=10, description="联系人")

    @field_validator("uscc", mode="before")
    @classmethod
    def _uscc(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return validate_uscc(value)
        except IdentifierError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("name", "address", mode="before")
    @classmethod
    def _fold(cls, value: object) -> object:
        return to_half_width(value) if isinstance(value, str) else value


def _scope_codes(values: list[str]) -> list[str]:
    codes = []
    for raw in values:
        code = normalize_catalog_code(raw)
        if code is None:
            raise ValueError(f"经营范围中的品目编码 {raw!r} 格式不正确")
        codes.append(code)
    return sorted(set(codes))


class SupplierData(OrganizationData):
    RESTRICTED: ClassVar[tuple[str, ...]] = (
        "contacts[].phone",
        "legal_representative.id_number",
        "legal_representative.phone",
        "bank_accounts[].account_number",
    )

    legal_form: LegalForm = Field(description="组织形式")
    size: EnterpriseSize = Field(description="企业规模(用于中小企业政策)")
    legal_representative: LegalRepresentative = Field(description="法定代表人")
    registered_capital: Decimal | None = Field(
        default=None, ge=0, max_digits=14, decimal_places=2, description="注册资本(万元)"
    )
    business_scope: list[str] = Field(
        default_factory=list, max_length=200, description="经营范围(品目编码)"
    )
    qualifications: list[Qualification] = Field(
        default_factory=list, max_length=50, description="资质"
    )
    bank_accounts: list[BankAccount] = Field(
        default_factory=list, max_length=10, description="银行账户(受限字段)"
    )

    @field_validator("business_scope")
    @classmethod
    def _valid_scope(cls, value: list[str]) -> list[str]:
        return _scope_codes(value)


class AgentData(OrganizationData):
    RESTRICTED: ClassVar[tuple[str, ...]] = (
        "contacts[].phone",
        "legal_representative.id_number",
        "legal_representative.phone",
    )

    legal_representative: LegalRepresentative = Field(description="法定代表人")
    business_scope: list[str] = Field(
        default_factory=list, max_length=200, description="代理业务范围(品目编码)"
    )
    qualifications: list[Qualification] = Field(
        default_factory=list, max_length=50, description="资格与资质"
    )
    staff: list[StaffMember] = Field(
        default_factory=list, max_length=500, description="专职从业人员"
    )

    @field_validator("business_scope")
    @classmethod
    def _valid_scope(cls, value: list[str]) -> list[str]:
        return _scope_codes(value)


class PurchaserData(OrganizationData):
    budget_unit_code: str | None = Field(
        default=None, pattern=r"^[0-9A-Za-z]{3,30}$", description="预算单位编码"
    )
    parent_uscc: str | None = Field(default=None, description="上级主管单位统一社会信用代码")

    @field_validator("parent_uscc", mode="before")
    @classmethod
    def _parent(cls, value: object) -> object:
        return optional_uscc(value)


ORGANIZATION_DATA_MODELS: dict[RecordKind, type[OrganizationData]] = {
    RecordKind.purchaser: PurchaserData,
    RecordKind.agent: AgentData,
    RecordKind.supplier: SupplierData,
}


# --- API shapes -------------------------------------------------------------------------------


class PossibleDuplicate(BaseModel):
    id: str = Field(description="疑似重复的记录编号")
    name: str = Field(description="名称")
    score: float = Field(description="相似度(0–1)")
    evidence: str = Field(
        description="逐字段依据,如“name after suffix normalization 0.93, address 0.71”"
    )


class OrganizationOut(BaseModel):
    id: str = Field(description="编号(不透明、稳定、永不复用)")
    kind: RecordKind
    status: Status = Field(description="状态")
    status_reason: str | None = Field(default=None, description="退回/暂停/注销的理由")
    suspended_until: date | None = None
    eligible: bool = Field(description="可参加政府采购活动(已入库、未暂停、无生效中的禁止参加记录)")
    debarred: bool = Field(description="存在生效中的禁止参加政府采购活动记录")
    version: int
    data: dict[str, Any] = Field(description="现行版本的数据;受限字段对无权查看者脱敏")
    restricted_visible: bool = Field(description="受限字段是否以明文返回")
    pending_change_request: str | None = Field(default=None, description="待审核的变更申请编号")
    warnings: list[str] = Field(default_factory=list, description="提示(不影响保存)")
    possible_duplicates: list[PossibleDuplicate] = Field(
        default_factory=list,
        description="登记或修改时发现的疑似重复记录(已进入查重审核队列;仅审核人员可见)",
    )
    resolved_from: str | None = Field(
        default=None,
        description="所查编号或代码属于已合并的记录时,为所查记录的编号;返回的是存续记录",
    )
    submitted_at: datetime | None = None
    approved_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class TransitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500, description="理由")
    until: date | None = Field(default=None, description="暂停至(暂停时可填)")


class BatchLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[str] = Field(default_factory=list, max_length=1000, description="编号")
    usccs: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="统一社会信用代码(采购人、代理机构、供应商)",
    )
    id_numbers: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="居民身份证号码(评审专家;仅对有权查看受限字段者匹配)",
    )

    @model_validator(mode="after")
    def _at_most_1000(self) -> BatchLookup:
        if len(self.ids) + len(self.usccs) + len(self.id_numbers) > 1000:
            raise ValueError("一次最多查询 1000 个编号或代码")
        if not (self.ids or self.usccs or self.id_numbers):
            raise ValueError("请至少提供一个编号或代码")
        return self


class BatchResult(BaseModel):
    found: dict[str, OrganizationOut] = Field(description="按请求的编号或代码给出的记录")
    missing: list[str] = Field(description="未找到(或无权查看)的编号或代码")
    merged: dict[str, str] = Field(
        default_factory=dict,
        description="所查键属于已合并的记录时:所查的键 → 存续记录的编号(found 中给出的是存续记录)",
    )
