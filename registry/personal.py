"""Personal data at rest: the top-level fields a kind declares `ENCRYPTED` (an expert's ID number
and personal phone) are stored as authenticated ciphertext (`registry/crypto.py`) in the record,
its change requests and its audit events, so plaintext lives only in memory while a request
needs it. The services work on plain documents and seal them on the way to storage.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models.kinds import DATA_MODELS
from models.organization import RecordKind
from registry import crypto


def _context(kind: RecordKind | str, field: str) -> str:
    return f"{kind}.{field}"


def encrypted_fields(kind: RecordKind) -> tuple[str, ...]:
    return DATA_MODELS[kind].ENCRYPTED


def seal(
    kind: RecordKind, data: dict[str, Any], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`data` with its personal fields encrypted. A value equal to the one sealed in `previous`
    keeps that ciphertext, so an unchanged ID number does not show up as a change."""
    fields = encrypted_fields(kind)
    if not fields:
        return data
    cipher = crypto.cipher()
    sealed = dict(data)
    for field in fields:
        value = sealed.get(field)
        if not isinstance(value, str) or not value or crypto.is_encrypted(value):
            continue
        before = (previous or {}).get(field)
        context = _context(kind, field)
        unchanged = (
            isinstance(before, str)
            and crypto.is_encrypted(before)
            and crypto.open_token(before, context=context) == value
        )
        if unchanged:
            sealed[field] = before
            continue
        sealed[field] = cipher.encrypt(value, context=context)
    return sealed


def unseal(kind: RecordKind, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its personal fields decrypted (for those who may see them, and for edits)."""
    fields = encrypted_fields(kind)
    if not fields:
        return data
    plain = dict(data)
    for field in fields:
        value = plain.get(field)
        if isinstance(value, str) and crypto.is_encrypted(value):
            plain[field] = crypto.open_token(value, context=_context(kind, field))
    return plain


def plain_value(kind: RecordKind | str, field: str, value: str) -> str:
    """One stored value in clear (masking needs the last digits of an encrypted ID number)."""
    if crypto.is_encrypted(value):
        return crypto.open_token(value, context=_context(kind, field))
    return value


def reencrypt(kind: RecordKind, data: dict[str, Any]) -> dict[str, Any] | None:
    """`data` with every personal field under the current key, or None if it already is."""
    cipher = crypto.cipher()
    changed = dict(data)
    for field in encrypted_fields(kind):
        value = data.get(field)
        stale = (
            isinstance(value, str)
            and crypto.is_encrypted(value)
            and cipher.needs_reencryption(value)
        )
        if stale:
            plain = crypto.open_token(str(value), context=_context(kind, field))
            changed[field] = cipher.encrypt(plain, context=_context(kind, field))
    return changed if changed != data else None


def blind_index(kind: RecordKind, field: str, value: str) -> str:
    """The keyed hash that finds (and keeps unique) a record by a personal value."""
    return crypto.cipher().blind_index(value, context=_context(kind, field))


def keyed_hash(context: str, value: str) -> str:
    """A keyed hash of derived personal data (128 bits, hex): equal values, equal hashes."""
    return crypto.cipher().blind_index(value, context=context)[:32]


def reencrypt_records(session: Session) -> tuple[int, int]:
    """Every record of a kind with encrypted fields, and its pending change request, under the
    current key (after a rotation). Returns (records changed, records read)."""
    from models.change_request import ChangeRequest
    from models.organization import Organization

    kinds = [kind.value for kind in RecordKind if encrypted_fields(kind)]
    records = session.exec(
        select(Organization).where(col(Organization.kind).in_(kinds)).with_for_update()
    ).all()
    changed = 0
    for record in records:
        kind = RecordKind(record.kind)
        data = reencrypt(kind, record.data)
        if data is not None:
            record.data = data
            session.add(record)
            changed += 1
        for request in session.exec(
            select(ChangeRequest).where(
                col(ChangeRequest.organization_id) == record.id,
                col(ChangeRequest.status) == "pending",
            )
        ).all():
            changes = reencrypt(kind, request.changes)
            if changes is not None:
                request.changes = changes
                session.add(request)
    return changed, len(records)
