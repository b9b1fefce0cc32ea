"""Debarments (禁止参加政府采购活动): issued by a bureau over a record in its jurisdiction,
effective region-wide; "active" is computed from the dates; the public list shows active ones."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from auth.policy import Action
from auth.principals import Principal
from models.debarment import Debarment, DebarmentCreate, DebarmentOut
from models.organization import Organization, RecordKind
from registry import organizations
from registry.errors import Conflict, NotFound, Unprocessable
from registry.ids import new_id

DEBARRABLE = frozenset({RecordKind.supplier, RecordKind.agent})


def is_active(d: Debarment, today: date | None = None) -> bool:
    today = today or date.today()
    return (
        d.revoked_at is None and d.starts_on <= today and (d.ends_on is None or d.ends_on >= today)
    )


def _out(d: Debarment, org: Organization) -> DebarmentOut:
    return DebarmentOut(
        id=d.id,
        organization_id=org.id,
        organization_kind=org.kind,
        organization_name=org.name,
        uscc=org.uscc,
        authority=d.authority,
        legal_basis=d.legal_basis,
        reason=d.reason,
        starts_on=d.starts_on,
        ends_on=d.ends_on,
        active=is_active(d),
        revoked_at=d.revoked_at,
        revoked_reason=d.revoked_reason,
    )


def issue(
    session: Session, *, kind: RecordKind, org_id: str, body: DebarmentCreate, actor: Principal
) -> DebarmentOut:
    if kind not in DEBARRABLE:
        raise Unprocessable("只有供应商和代理机构可以被禁止参加政府采购活动", code="not_debarrable")
    org = organizations.lock_visible(session, kind, org_id, actor)
    organizations.require_may(actor, Action.sanction, org, "作出禁止参加政府采购活动的决定")
    if org.approved_at is None:
        raise Conflict("尚未入库的记录不能被禁止参加政府采购活动", code="not_registered")
    debarment = Debarment(
        id=new_id("dbr"),
        organization_id=org.id,
        authority=body.authority,
        legal_basis=body.legal_basis,
        reason=body.reason,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        issued_by=actor.subject,
        issued_in_region=actor.region_code or org.region_code,
    )
    session.add(debarment)
    session.flush()
    organizations.record_event(
        session,
        org,
        "debarred",
        actor,
        changes={
            "debarment": [
                None,
                {
                    "id": debarment.id,
                    "starts_on": str(body.starts_on),
                    "ends_on": str(body.ends_on) if body.ends_on else None,
                    "authority": body.authority,
                    "legal_basis": body.legal_basis,
                },
            ]
        },
        reason=body.reason,
    )
    return _out(debarment, org)


def revoke(
    session: Session, *, debarment_id: str, actor: Principal, reason: str | None
) -> DebarmentOut:
    debarment = session.get(Debarment, debarment_id)
    if debarment is None:
        raise NotFound(f"处罚记录 {debarment_id} 不存在", code="debarment_not_found")
    org = session.get(Organization, debarment.organization_id)
    assert org is not None
    org = organizations.lock_visible(session, RecordKind(org.kind), org.id, actor)
    organizations.require_may(actor, Action.sanction, org, "撤销禁止参加政府采购活动的决定")
    if debarment.revoked_at is not None:
        raise Conflict("该决定已撤销", code="already_revoked")
    if not (reason and reason.strip()):
        raise Unprocessable("撤销需要填写理由", code="reason_required")
    debarment.revoked_at = datetime.now(UTC)
    debarment.revoked_reason = reason
    session.add(debarment)
    session.flush()
    organizations.record_event(
        session,
        org,
        "debarment_revoked",
        actor,
        changes={"debarment": [debarment.id, None]},
        reason=reason,
    )
    return _out(debarment, org)


def for_organization(
    session: Session, *, kind: RecordKind, org_id: str, actor: Principal
) -> list[DebarmentOut]:
    row = organizations.get(session, kind=kind, org_id=org_id, actor=actor)
    found = session.exec(
        select(Debarment)
        .where(Debarment.organization_id == row.org.id)  # (a merged id: the survivor's)
        .order_by(col(Debarment.starts_on).desc())
    ).all()
    return [_out(d, row.org) for d in found]


def public_list(
    session: Session, *, kind: RecordKind | None, name: str | None, after: str | None, limit: int
) -> list[DebarmentOut]:
    """Active debarments (information disclosure, 信息公开), ordered by id."""
    today = func.current_date()
    query = (
        select(Debarment, Organization)
        .join(Organization, col(Organization.id) == col(Debarment.organization_id))
        .where(
            col(Debarment.revoked_at).is_(None),
            col(Debarment.starts_on) <= today,
            or_(col(Debarment.ends_on).is_(None), col(Debarment.ends_on) >= today),
        )
    )
    if kind is not None:
        query = query.where(col(Organization.kind) == kind.value)
    if name:
        query = query.where(col(Organization.name).contains(name, autoescape=True))
    if after:
        query = query.where(col(Debarment.id) > after)
    rows = session.exec(query.order_by(col(Debarment.id)).limit(limit)).all()
    return [_out(d, org) for d, org in rows]
