"""Accounts the service issues tokens for: bureau staff, self-service entities, service clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, field_validator
from sqlalchemy import CheckConstraint, Column, Index, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from models.base import created_at_column, updated_at_column


class AccountKind(StrEnum):
    staff = "staff"  # 财政部门工作人员
    self_service = "self_service"  # 供应商 / 代理机构 / 专家 本人
    service = "service"  # 其他业务系统(client_credentials)


class StaffRole(StrEnum):
    admin = "admin"
    reviewer = "reviewer"
    viewer = "viewer"


class EntityKind(StrEnum):
    supplier = "supplier"
    agent = "agent"
    expert = "expert"


class Scope(StrEnum):
    read = "registry.read"
    read_restricted = "registry.read.restricted"
    changes_read = "changes.read"


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("kind IN ('staff', 'self_service', 'service')", name="kind"),
        CheckConstraint(
            "kind <> 'staff' OR (region_code IS NOT NULL AND role IN ('admin', 'reviewer', 'viewer'))",
            name="staff_has_region_and_role",
        ),
        CheckConstraint(
            "kind <> 'self_service' OR entity_kind IN ('supplier', 'agent', 'expert')",
            name="self_service_has_entity_kind",
        ),
        Index("uq_accounts_username_lower", func.lower(text("username")), unique=True),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False))
    display_name: str = Field(max_length=100)
    kind: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    region_code: str | None = Field(default=None, foreign_key="regions.code", index=True)
    role: str | None = Field(default=None, max_length=16)
    entity_kind: str | None = Field(default=None, max_length=16)
    entity_id: str | None = Field(default=None, max_length=64)
    scopes: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String(64)), nullable=False, server_default=text("'{}'")),
    )
    disabled: bool = Field(default=False)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(default=None)
    last_login_at: datetime | None = Field(default=None)
    version: int = Field(default=1)
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{2,63}$"


class AccountCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    username: str = Field(
        description="登录名(3–64 位字母、数字、_.@-)",
        schema_extra={"pattern": USERNAME_PATTERN, "examples": ["xincheng.reviewer"]},
    )
    display_name: str = Field(min_length=1, max_length=100, description="姓名或系统名称")
    kind: AccountKind = Field(description="账号类型")
    password: str = Field(min_length=12, max_length=128, description="密码(至少 12 位)")
    region_code: str | None = Field(default=None, description="所属地区(工作人员必填)")
    role: StaffRole | None = Field(default=None, description="角色(工作人员必填)")
    entity_kind: EntityKind | None = Field(default=None, description="主体类型(自助账号必填)")
    entity_id: str | None = Field(default=None, max_length=64, description="绑定的主体编号")
    scopes: list[Scope] = Field(default_factory=list, description="授权范围(系统账号)")

    @field_validator("display_name", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class AccountUpdate(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: StaffRole | None = None
    disabled: bool | None = None
    scopes: list[Scope] | None = None


class AccountPublic(SQLModel):
    id: uuid.UUID
    username: str
    display_name: str
    kind: AccountKind
    region_code: str | None = None
    role: StaffRole | None = None
    entity_kind: EntityKind | None = None
    entity_id: str | None = None
    scopes: list[str] = Field(default_factory=list)
    disabled: bool
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    version: int


class TokenResponse(SQLModel):
    access_token: str = Field(description="访问令牌(JWT)")
    token_type: str = Field(default="Bearer")
    expires_in: int = Field(description="有效期(秒)")
    scope: str = Field(default="", description="授予的范围")
