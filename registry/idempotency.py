"""The Idempotency-Key store: a retried POST gets the first answer, never a second write.

The key row is written in the same transaction as the request's own writes, and concurrent
requests with the same key are serialized by a transaction-scoped advisory lock: the second
waits, then finds the first one's stored answer. Stored answers are encrypted at rest.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from models.idempotency import IdempotencyRecord
from registry import crypto
from registry.errors import BadRequest, Unprocessable

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{8,255}$")
REPLAYED_HEADERS = ("content-type", "etag", "location")


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    headers: dict[str, str]
    body: bytes


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise BadRequest(
            "Idempotency-Key 应为 8–255 个可见 ASCII 字符(建议使用 UUID)",
            code="invalid_idempotency_key",
        )
    return key


def claim(
    session: Session, *, principal: str, key: str, request_fingerprint: str, ttl_hours: int
) -> StoredAnswer | None:
    """Lock the key for this transaction; return the stored answer if the request ran before."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"idempotency:{principal}:{key}"},
    )
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal,
            IdempotencyRecord.key == key,
            col(IdempotencyRecord.created_at) > func.now() - timedelta(hours=ttl_hours),
        )
    ).first()
    if record is None:
        return None
    if record.fingerprint != request_fingerprint:
        raise Unprocessable(
            "该 Idempotency-Key 已用于另一个不同的请求,请为新请求使用新的 Key",
            code="idempotency_key_reused",
        )
    return StoredAnswer(record.status_code, dict(record.headers), _open(record.body))


# A stored answer can hold restricted values in clear (an expert's ID number, as the managing
# bureau that registered them sees it): it is kept encrypted like the personal data itself.
_CONTEXT = "idempotency.body"


def _seal(body: bytes) -> bytes:
    token = crypto.cipher().encrypt(base64.b64encode(body).decode("ascii"), context=_CONTEXT)
    return token.encode("ascii")


def _open(stored: bytes) -> bytes:
    text = stored.decode("ascii", errors="replace")
    if not crypto.is_encrypted(text):
        return stored  # written before answers were encrypted; expires with its TTL
    return base64.b64decode(crypto.open_token(text, context=_CONTEXT))


def store(
    session: Session,
    *,
    principal: str,
    key: str,
    method: str,
    path: str,
    request_fingerprint: str,
    answer: StoredAnswer,
) -> None:
    values = {
        "principal": principal,
        "key": key,
        "method": method,
        "path": path[:500],
        "fingerprint": request_fingerprint,
        "status_code": answer.status_code,
        "headers": {k: v for k, v in answer.headers.items() if k in REPLAYED_HEADERS},
        "body": _seal(answer.body),
    }
    stmt = insert(IdempotencyRecord).values(**values)
    # An expired row with the same key is replaced; a live one cannot exist (we hold the lock).
    stmt = stmt.on_conflict_do_update(
        index_elements=["principal", "key"],
        set_={
            **{k: stmt.excluded[k] for k in values if k not in ("principal", "key")},
            "created_at": func.now(),
        },
    )
    session.execute(stmt)


def purge_expired(session: Session, *, ttl_hours: int) -> int:
    result = session.execute(
        text("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => :h)"),
        {"h": ttl_hours},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
