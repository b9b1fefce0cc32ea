"""Stored answers to POST requests that carried an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import created_at_column


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    principal: str = Field(primary_key=True, max_length=128)
    key: str = Field(primary_key=True, max_length=255)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    fingerprint: str = Field(max_length=64)
    status_code: int
    headers: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
