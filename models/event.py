"""The append-only event log: the audit history, `as_of` reads and the change feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel


class Event(SQLModel, table=True):
    """One change to one record, written in the transaction that made it.

    `xid` is the writing transaction's id (xid8): the change feed serves only events of
    transactions older than the oldest one still running, so it never skips an event whose
    transaction commits late.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_entity", "entity_kind", "entity_id", "seq"),
        Index("ix_events_feed", "xid", "seq"),
    )

    seq: int | None = SQLField(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    # the writing transaction's xid8, as bigint (64-bit epoch-extended ids fit comfortably)
    xid: int | None = SQLField(
        default=None,
        sa_column=Column(
            BigInteger, nullable=False, server_default=text("(pg_current_xact_id()::text)::bigint")
        ),
    )
    at: datetime | None = SQLField(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    entity_kind: str = SQLField(max_length=16)
    entity_id: str = SQLField(max_length=24)
    type: str = SQLField(max_length=32)
    actor_kind: str = SQLField(max_length=16)
    actor: str = SQLField(max_length=128)
    actor_name: str = SQLField(default="", max_length=100)
    reason: str | None = SQLField(default=None, max_length=500)
    request_id: str | None = SQLField(default=None, max_length=128)
    changes: dict[str, Any] = SQLField(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    snapshot: dict[str, Any] | None = SQLField(default=None, sa_column=Column(JSONB, nullable=True))


class EventOut(BaseModel):
    seq: int
    at: datetime
    type: str = Field(
        description="事件类型,如 created、submitted、approved、updated、change_requested"
    )
    actor_kind: str
    actor_name: str
    reason: str | None = None
    request_id: str | None = None
    changes: dict[str, Any] = Field(description="变化的字段:{字段: [变更前, 变更后]},受限字段脱敏")
    status: str | None = Field(default=None, description="事件后的状态")


class FeedItem(BaseModel):
    cursor: str = Field(description="此事件之后继续读取的游标")
    seq: int
    at: datetime
    kind: str
    id: str
    type: str
    status: str | None = None
    version: int | None = None
    data: dict[str, Any] | None = Field(
        default=None, description="事件后记录的公开数据(不含受限字段)"
    )
    merged_into: str | None = Field(
        default=None,
        description="记录已合并(type 为 merged_into)时存续记录的编号:请改用该编号",
    )


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str = Field(description="下次请求的 after 参数;没有新事件时与请求的相同")
