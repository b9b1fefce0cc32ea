"""Versioned reference data (regions, catalogue): which rows are valid on a date."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col


def valid_at(model: Any, as_of: date | None) -> ColumnElement[bool]:
    """Rows of `model` (with valid_from/valid_to) in force on `as_of`; current ones if None.

    Validity is half-open: a row is valid from `valid_from` up to, not including, `valid_to`.
    """
    if as_of is None:
        return col(model.valid_to).is_(None)
    return and_(
        col(model.valid_from) <= as_of,
        or_(col(model.valid_to).is_(None), col(model.valid_to) > as_of),
    )
