"""Debarments (禁止参加政府采购活动 / 失信): issued anywhere, effective region-wide."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import CheckConstraint, Column, ForeignKey, String
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import created_at_column


class Debarment(SQLModel, table=True):
    """Active while start <= today <= end (no end: until revoked); revoking sets `revoked_at`."""

    __tablename__ = "debarments"
    __table_args__ = (CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period"),)

    id: str = SQLField(sa_column=Column(String(24), primary_key=True))
    organization_id: str = SQLField(
        sa_column=Column(String(24), ForeignKey("organizations.id"), nullable=False, index=True)
    )
    authority: str = SQLField(max_length=200)
    legal_basis: str = SQLField(max_length=500)
    reason: str = SQLField(max_length=1000)
    starts_on: date
    ends_on: date | None = None
    issued_by: str = SQLField(max_length=128)
    issued_in_region: str = SQLField(
        sa_column=Column(String(6), ForeignKey("regions.code"), nullable=False)
    )
    revoked_at: datetime | None = None
    revoked_reason: str | None = SQLField(default=None, max_length=500)
    created_at: datetime | None = SQLField(default=None, sa_column=created_at_column())


class DebarmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    authority: str = Field(
        min_length=2, max_length=200, description="作出决定的机关", examples=["内蒙古自治区财政厅"]
    )
    legal_basis: str = Field(
        min_length=2, max_length=500, description="法律依据", examples=["《政府采购法》第七十七条"]
    )
    reason: str = Field(min_length=2, max_length=1000, description="事由")
    starts_on: date = Field(description="起始日期")
    ends_on: date | None = Field(default=None, description="截止日期(为空表示直至撤销)")

    @model_validator(mode="after")
    def _period(self) -> DebarmentCreate:
        if self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("截止日期不能早于起始日期")
        return self


class DebarmentOut(BaseModel):
    id: str
    organization_id: str
    organization_kind: str
    organization_name: str
    uscc: str | None
    authority: str
    legal_basis: str
    reason: str
    starts_on: date
    ends_on: date | None
    active: bool = Field(description="今天是否生效")
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
