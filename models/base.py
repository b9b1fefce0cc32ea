"""Shared table plumbing: the constraint naming convention and common column helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, func
from sqlmodel import SQLModel

# Explicit names for every constraint and index, so migrations can refer to them by name and
# autogenerate never invents a different one on another server.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

metadata = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def created_at_column() -> Any:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


def updated_at_column() -> Any:
    return Column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
