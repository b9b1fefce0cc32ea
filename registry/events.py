"""Writing the event log, reading history and `as_of` state, and the gap-free change feed."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import text, tuple_
from sqlmodel import Session, col, select

from auth.principals import Principal
from models.event import Event, FeedItem, FeedPage
from registry.errors import BadRequest

OPERATOR = "operator"  # the command line, acting outside the API
OPERATOR_NAME = "命令行操作员"


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Top-level fields that differ: {field: [before, after]}."""
    keys = dict.fromkeys([*before, *after])
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def who(actor: Principal | None) -> tuple[str, str]:
    """(subject, display name) of whoever acts: a principal, or the operator at the command line."""
    return (actor.subject, actor.name[:100]) if actor else (OPERATOR, OPERATOR_NAME)


def record(
    session: Session,
    *,
    entity_kind: str,
    entity_id: str,
    type: str,
    actor: Principal | None,
    snapshot: dict[str, Any] | None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Append one event in the caller's transaction (so it commits or vanishes with the change)."""
    subject, name = who(actor)
    session.add(
        Event(
            entity_kind=entity_kind,
            entity_id=entity_id,
            type=type,
            actor_kind=actor.kind.value if actor else OPERATOR,
            actor=subject,
            actor_name=name,
            reason=reason,
            request_id=structlog.contextvars.get_contextvars().get("request_id"),
            changes=changes or {},
            snapshot=snapshot,
        )
    )
    session.flush()


def history(session: Session, *, entity_kind: str, entity_id: str) -> list[Event]:
    return list(
        session.exec(
            select(Event)
            .where(Event.entity_kind == entity_kind, Event.entity_id == entity_id)
            .order_by(col(Event.seq))
        ).all()
    )


def state_as_of(
    session: Session, *, entity_kind: str, entity_id: str, at: datetime
) -> Event | None:
    """The last event at or before `at`: its snapshot is the record as it then stood."""
    return session.exec(
        select(Event)
        .where(Event.entity_kind == entity_kind, Event.entity_id == entity_id, col(Event.at) <= at)
        .order_by(col(Event.seq).desc())
        .limit(1)
    ).first()


# --- the change feed --------------------------------------------------------------------------


def encode_feed_cursor(xid: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{xid}:{seq}".encode()).decode().rstrip("=")


def decode_feed_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return (0, 0)
    try:
        xid, seq = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        return int(xid), int(seq)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("变更流游标无效", code="invalid_cursor") from exc


def feed(
    session: Session, *, after: tuple[int, int], kinds: list[str] | None, limit: int
) -> list[Event]:
    """Events after the cursor, in (transaction id, sequence) order, gap-free.

    Only events of transactions older than the oldest still running are served
    (`xid < pg_snapshot_xmin(pg_current_snapshot())`): every such transaction has ended, so no
    event can later appear before the cursor. Sequence numbers alone would not do: a transaction
    holding a smaller number may commit after one holding a larger number.
    """
    horizon = text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
    query = select(Event).where(
        tuple_(col(Event.xid), col(Event.seq)) > tuple_(after[0], after[1]),
        col(Event.xid) < horizon,
    )
    if kinds:
        query = query.where(col(Event.entity_kind).in_(kinds))
    return list(session.exec(query.order_by(col(Event.xid), col(Event.seq)).limit(limit)).all())


def feed_page(
    session: Session, *, after: str | None, kinds: list[str] | None, limit: int
) -> FeedPage:
    """One page of the feed for a consumer: each event with the public (masked) data of the
    record after it, only for records that were published by then."""
    from models.organization import RecordKind
    from registry.masking import masked

    found = feed(session, after=decode_feed_cursor(after), kinds=kinds, limit=limit)
    items = []
    for event in found:
        snap = event.snapshot or {}
        published = snap.get("approved") and snap.get("data")
        items.append(
            FeedItem(
                cursor=encode_feed_cursor(event.xid or 0, event.seq or 0),
                seq=event.seq or 0,
                at=event.at,  # type: ignore[arg-type]
                kind=event.entity_kind,
                id=event.entity_id,
                type=event.type,
                status=snap.get("status"),
                version=snap.get("version"),
                data=masked(RecordKind(event.entity_kind), snap["data"]) if published else None,
                merged_into=snap.get("merged_into"),
            )
        )
    next_cursor = items[-1].cursor if items else (after or encode_feed_cursor(0, 0))
    return FeedPage(items=items, next_cursor=next_cursor)
