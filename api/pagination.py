"""Keyset (cursor) pagination: the cursor is the sort key of the last row, opaque to clients."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from registry.errors import BadRequest

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T] = Field(description="本页记录")
    next_cursor: str | None = Field(default=None, description="下一页游标;为空表示没有更多")


def encode_cursor(key: list[Any]) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(key, ensure_ascii=False).encode()).decode().rstrip("=")
    )


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key a cursor carries: `arity` strings (every list so far sorts by text keys)."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("分页游标无效,请从第一页重新开始", code="invalid_cursor") from exc
    if (
        not isinstance(key, list)
        or len(key) != arity
        or not all(isinstance(k, str) and "\x00" not in k for k in key)
    ):
        raise BadRequest("分页游标无效,请从第一页重新开始", code="invalid_cursor")
    return key
