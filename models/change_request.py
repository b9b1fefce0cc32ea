"""Pending edits of reviewed fields of an active record (变更申请)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import created_at_column


class ChangeRequestStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class ChangeRequest(SQLModel, table=True):
    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'withdrawn')", name="status"
        ),
        # one pending request per record: a second edit joins it
        Index(
            "uq_change_requests_pending",
            "organization_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: str = SQLField(sa_column=Column(String(24), primary_key=True))
    organization_id: str = SQLField(
        sa_column=Column(String(24), ForeignKey("organizations.id"), nullable=False, index=True)
    )
    status: str = SQLField(default=ChangeRequestStatus.pending.value, max_length=16)
    changes: dict[str, Any] = SQLField(sa_column=Column(JSONB, nullable=False))
    requested_by: str = SQLField(max_length=128)
    requested_by_name: str = SQLField(default="", max_length=100)
    decided_by: str | None = SQLField(default=None, max_length=128)
    decided_at: datetime | None = None
    reason: str | None = SQLField(default=None, max_length=500)
    created_at: datetime | None = SQLField(default=None, sa_column=created_at_column())


class ChangeRequestOut(BaseModel):
    id: str
    organization_id: str
    status: ChangeRequestStatus
    changes: dict[str, Any] = Field(description="申请变更的字段及其新值(受限字段对无权查看者脱敏)")
    current: dict[str, Any] = Field(description="这些字段的现行值")
    requested_by_name: str
    created_at: datetime | None = None
    decided_at: datetime | None = None
    reason: str | None = None
