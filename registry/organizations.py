"""The registries' records — purchasers, agents, suppliers, experts, commodities: register once,
edit (with change requests), lifecycle transitions, reads for people and systems, history.
One service for every kind; what differs per kind (validation, key, projections) is declared in
the "kind rules" section below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, String, bindparam, exists, func, literal_column, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from auth.policy import Action, Target, may, visible_filter
from auth.principals import Principal
from models.catalog import CatalogItem
from models.change_request import ChangeRequest, ChangeRequestOut, ChangeRequestStatus
from models.commodity import Offer
from models.debarment import Debarment
from models.event import EventOut
from models.kinds import DATA_MODELS
from models.organization import (
    ORGANIZATION_KINDS,
    EnterpriseSize,
    Organization,
    OrganizationOut,
    PossibleDuplicate,
    RecordKind,
    Status,
)
from models.specialty import Specialty
from registry import dedup, events, lifecycle, personal
from registry.catalog import parse_code
from registry.codes import catalog_prefix, region_in_subtree, region_prefix
from registry.commodity_specs import load_spec_table
from registry.errors import Conflict, Forbidden, NotFound, Unprocessable
from registry.identifiers import (
    IdentifierError,
    Sex,
    check_resident_id_facts,
    uscc_region,
    validate_resident_id,
    validate_uscc,
)
from registry.ids import new_id
from registry.masking import restricted_fields, shown
from registry.normalize import commodity_key, normalize_brand
from registry.regions import require_current_region
from registry.validation import identifier_or_422, validate_or_422
from search import documents as search_documents

ID_PREFIX = {
    RecordKind.purchaser: "pur",
    RecordKind.agent: "agt",
    RecordKind.supplier: "sup",
    RecordKind.expert: "exp",
    RecordKind.commodity: "com",
}
KIND_LABEL = {
    RecordKind.purchaser: "采购人",
    RecordKind.agent: "代理机构",
    RecordKind.supplier: "供应商",
    RecordKind.expert: "评审专家",
    RecordKind.commodity: "商品",
}


# --- policy helpers ---------------------------------------------------------------------------


def target(org: Organization) -> Target:
    return Target(
        region_code=org.region_code,
        entity_kind=org.kind,
        entity_id=org.id,
        published=org.approved_at is not None,
    )


def _visible(actor: Principal, action: Action = Action.read) -> ColumnElement[bool]:
    return visible_filter(
        actor,
        action,
        region_code=col(Organization.region_code),
        published=col(Organization.approved_at).is_not(None),
        entity_kind=col(Organization.kind),
        entity_id=col(Organization.id),
    )


def require_may(actor: Principal | None, action: Action, org: Organization, what: str) -> None:
    """`actor=None` is the operator at the command line, outside the jurisdiction policy."""
    if actor is not None and not may(actor, action, target(org)):
        raise Forbidden(f"无权{what}:该记录不在您的管辖范围内,或您的角色不允许此操作")


# --- derived facts (computed in SQL, with the row) ---------------------------------------------


def debarred_expr() -> ColumnElement[bool]:
    today = func.current_date()
    return exists().where(
        col(Debarment.organization_id) == Organization.id,
        col(Debarment.revoked_at).is_(None),
        col(Debarment.starts_on) <= today,
        or_(col(Debarment.ends_on).is_(None), col(Debarment.ends_on) >= today),
    )


def eligible_expr() -> ColumnElement[bool]:
    """Active, not debarred, and (experts) within the term of appointment — also before the
    scheduled check has marked an ended term `expired`."""
    return (
        (col(Organization.status) == Status.active.value)
        & ~debarred_expr()
        & (
            col(Organization.term_ends_on).is_(None)
            | (col(Organization.term_ends_on) >= func.current_date())
        )
    )


def is_eligible(org: Organization, debarred: bool) -> bool:
    """`eligible_expr`, for a loaded row."""
    in_term = org.term_ends_on is None or org.term_ends_on >= date.today()
    return org.status == Status.active.value and not debarred and in_term


def _pending_expr() -> Any:
    return (
        select(ChangeRequest.id)
        .where(
            ChangeRequest.organization_id == Organization.id, col(ChangeRequest.status) == "pending"
        )
        .limit(1)
        .scalar_subquery()
    )


@dataclass
class OrgRow:
    org: Organization
    debarred: bool
    pending_change_request: str | None
    warnings: list[str] = field(default_factory=list)
    possible_duplicates: list[dedup.Found] = field(default_factory=list)
    resolved_from: str | None = None  # the merged record that was asked for


def _rows(kind: RecordKind) -> Any:
    return select(
        Organization, debarred_expr().label("debarred"), _pending_expr().label("pending")
    ).where(col(Organization.kind) == kind.value)


def to_out(row: OrgRow, actor: Principal) -> OrganizationOut:
    org = row.org
    kind = RecordKind(org.kind)
    clear = may(actor, Action.read_restricted, target(org))
    # built from the stored, validated row: no second validation (batch answers hold 1,000)
    return OrganizationOut.model_construct(
        id=org.id,
        kind=kind,
        status=Status(org.status),
        status_reason=org.status_reason,
        suspended_until=org.suspended_until,
        eligible=is_eligible(org, row.debarred),
        debarred=row.debarred,
        version=org.version,
        data=shown(kind, org.data, clear),
        restricted_visible=clear,
        pending_change_request=row.pending_change_request,
        warnings=row.warnings,
        possible_duplicates=[
            PossibleDuplicate.model_construct(
                id=found.record.id,
                name=found.record.name,
                score=found.score,
                evidence=found.evidence,
            )
            for found in row.possible_duplicates
            if found.record.readable_by(actor)  # (never a record the caller may not read)
        ]
        if may(actor, Action.review, target(org))
        else [],
        resolved_from=row.resolved_from,
        submitted_at=org.submitted_at,
        approved_at=org.approved_at,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


# --- validation -------------------------------------------------------------------------------


# --- kind rules: validation, key, projections --------------------------------------------------


def validate_data(session: Session, kind: RecordKind, payload: dict[str, Any]) -> dict[str, Any]:
    """The kind's schema, then its references (region, catalogue, specialties) and cross-field
    rules; every problem is reported with the field it concerns."""
    data: dict[str, Any] = validate_or_422(DATA_MODELS[kind], payload).model_dump(mode="json")
    try:
        require_current_region(session, data["region_code"])
    except (NotFound, Unprocessable) as exc:  # unknown or retired: a bad field of this body
        raise Unprocessable(
            exc.detail,
            code=exc.code,
            errors=[{"field": "region_code", "code": exc.code, "message": exc.detail}],
        ) from exc
    if kind is RecordKind.expert:
        errors = _expert_errors(session, data)
    elif kind is RecordKind.commodity:
        errors = _commodity_errors(session, data)
    else:
        errors = _scope_errors(session, data.get("business_scope") or [])
    if errors:
        raise Unprocessable(
            "；".join(e["message"] for e in errors[:5]), code="validation_failed", errors=errors
        )
    return data


def _current_catalog_codes(session: Session, codes: Sequence[str]) -> set[str]:
    return set(
        session.exec(
            select(CatalogItem.code).where(
                col(CatalogItem.code).in_(list(codes)), col(CatalogItem.valid_to).is_(None)
            )
        ).all()
    )


def _scope_errors(session: Session, scope: list[str]) -> list[dict[str, str]]:
    known = _current_catalog_codes(session, scope) if scope else set()
    return [
        {
            "field": "business_scope",
            "code": "unknown_code",
            "message": f"经营范围中的品目 {c} 不在现行目录中",
        }
        for c in scope
        if c not in known
    ]


def _expert_errors(session: Session, data: dict[str, Any]) -> list[dict[str, str]]:
    errors = [
        {"field": field, "code": "disagrees_with_id_number", "message": message}
        for field, message in check_resident_id_facts(
            data["id_number"],
            birth_date=date.fromisoformat(data["birth_date"]),
            sex=Sex(data["sex"]),
        )
    ]
    codes = data["specialties"]
    rows = session.exec(select(Specialty).where(col(Specialty.code).in_(codes))).all()
    parents = set(
        session.exec(
            select(Specialty.parent_code).where(col(Specialty.parent_code).in_(codes))
        ).all()
    )
    known = {r.code for r in rows}
    for code in codes:
        if code not in known:
            errors.append(
                {
                    "field": "specialties",
                    "code": "unknown_code",
                    "message": f"评审专业 {code} 不在专业分类中",
                }
            )
        elif code in parents:
            errors.append(
                {
                    "field": "specialties",
                    "code": "not_a_leaf",
                    "message": f"评审专业 {code} 不是末级分类,请选择其下级专业",
                }
            )
    return errors


def _commodity_errors(session: Session, data: dict[str, Any]) -> list[dict[str, str]]:
    code = data["catalog_code"]
    errors: list[dict[str, str]] = []
    if not _current_catalog_codes(session, [code]):
        errors.append(
            {
                "field": "catalog_code",
                "code": "unknown_code",
                "message": f"品目 {code} 不在现行目录中",
            }
        )
    elif session.exec(
        select(CatalogItem.code).where(
            col(CatalogItem.parent_code) == code, col(CatalogItem.valid_to).is_(None)
        )
    ).first():
        errors.append(
            {
                "field": "catalog_code",
                "code": "not_a_leaf",
                "message": f"品目 {code} 不是末级品目,请选择其下级品目",
            }
        )
    specs, spec_errors = load_spec_table().validate(code, data.get("specs") or {})
    data["specs"] = specs
    return errors + spec_errors


def natural_key(kind: RecordKind, data: dict[str, Any]) -> str | None:
    """What makes a record one of a kind, besides the organizations' code (`uscc`)."""
    if kind is RecordKind.expert:
        return personal.blind_index(kind, "id_number", data["id_number"])
    if kind is RecordKind.commodity:
        return commodity_key(data["catalog_code"], data["brand"], data["model"])
    return None


def region_warnings(data: dict[str, Any]) -> list[str]:
    """The code's region digits should agree with the stated region (a hint, never an error)."""
    if "uscc" not in data:
        return []
    code_region, stated = uscc_region(data["uscc"]), data["region_code"]
    related = region_in_subtree(stated, code_region) or region_in_subtree(code_region, stated)
    if related:
        return []
    return [
        f"统一社会信用代码中的登记机关地区码 {code_region} 与所填地区 {stated} 不一致,请核对(可能是迁入或代码填写有误)"
    ]


def _project(org: Organization, data: dict[str, Any]) -> None:
    """Store the (plain) document sealed, and copy its key and filter fields to their columns."""
    kind = RecordKind(org.kind)
    org.data = personal.seal(kind, data, previous=org.data or None)
    org.name = data["name"]
    org.region_code = data["region_code"]
    org.natural_key = natural_key(kind, data)
    if kind in ORGANIZATION_KINDS:
        org.uscc = data["uscc"]
        org.size = data.get("size")
        org.business_scope = list(data.get("business_scope") or [])
    elif kind is RecordKind.expert:
        org.specialties = list(data["specialties"])
        org.term_ends_on = date.fromisoformat(data["term"]["ends_on"])
    elif kind is RecordKind.commodity:
        org.catalog_code = data["catalog_code"]
        org.brand = normalize_brand(data["brand"])
        org.price = Decimal(str(data["reference_price"]["amount"]))


def _snapshot(org: Organization) -> dict[str, Any]:
    return {
        "status": org.status,
        "status_reason": org.status_reason,
        "suspended_until": org.suspended_until.isoformat() if org.suspended_until else None,
        "version": org.version,
        "approved": org.approved_at is not None,
        "data": org.data,
        **({"merged_into": org.merged_into} if org.merged_into else {}),
    }


def record_event(
    session: Session,
    org: Organization,
    type: str,
    actor: Principal | None,
    *,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
) -> list[dedup.Found]:
    """Append the event, and keep what is derived from the record in the same transaction: its
    search document and its dedup keys (returning the near-duplicates a change revealed)."""
    events.record(
        session,
        entity_kind=org.kind,
        entity_id=org.id,
        type=type,
        actor=actor,
        snapshot=_snapshot(org),
        changes=changes,
        reason=reason,
    )
    # the search document (and its outbox row) changes in the same transaction as the record
    search_documents.refresh(session, org)
    return dedup.on_write(session, org, type)


def _already_registered(session: Session, kind: RecordKind, data: dict[str, Any]) -> Conflict:
    key = natural_key(kind, data)
    keyed = (
        col(Organization.natural_key) == key
        if key is not None
        else col(Organization.uscc) == data["uscc"]
    )
    existing = session.exec(
        select(Organization.id).where(
            col(Organization.kind) == kind.value,
            keyed,
            col(Organization.status) != Status.cancelled.value,
        )
    ).first()
    if kind is RecordKind.expert:  # never repeat the ID number in an error
        what = "持该身份证号码的评审专家"
    elif kind is RecordKind.commodity:
        what = f"品目 {data['catalog_code']} 下品牌“{data['brand']}”型号“{data['model']}”的商品"
    else:
        what = f"统一社会信用代码 {data['uscc']} 的{KIND_LABEL[kind]}"
    extra = (
        ",请为其添加报价" if kind is RecordKind.commodity else ",一处注册、全区有效,无需重复注册"
    )
    return Conflict(
        f"{what}已登记(编号 {existing}){extra}",
        code="already_registered",
        existing_id=existing,
    )


# --- writes -----------------------------------------------------------------------------------


def register(
    session: Session,
    *,
    kind: RecordKind,
    payload: dict[str, Any],
    actor: Principal | None,
    owner_account_id: str | None = None,
    org_id: str | None = None,
) -> OrgRow:
    """A new draft. Exactly one live record per code: the unique index decides under concurrency."""
    data = validate_data(session, kind, payload)
    if (
        actor is not None
        and owner_account_id is None
        and not may(actor, Action.edit, Target(region_code=data["region_code"]))
    ):
        raise Forbidden(
            f"只能在本辖区内登记{KIND_LABEL[kind]}(所填地区 {data['region_code']} 不在您的管辖范围内)"
        )
    org = Organization(
        id=org_id or new_id(ID_PREFIX[kind]),
        kind=kind.value,
        status=Status.draft.value,
        owner_account_id=owner_account_id,
        data={},
        name="",
        region_code="",
    )
    _project(org, data)
    try:
        with session.begin_nested():
            session.add(org)
    except IntegrityError as exc:
        raise _already_registered(session, kind, data) from exc
    found = record_event(session, org, "created", actor)
    session.refresh(org)
    return OrgRow(
        org,
        debarred=False,
        pending_change_request=None,
        warnings=region_warnings(data) + _duplicate_warning(found),
        possible_duplicates=found,
    )


def _duplicate_warning(found: list[dedup.Found]) -> list[str]:
    if not found:
        return []
    return ["与已登记的记录疑似重复,已提交审核人员核实(如系同一主体,无需重复登记)"]


def lock_visible(
    session: Session, kind: RecordKind, org_id: str, actor: Principal | None
) -> Organization:
    """The record, locked for this transaction; 404 if the caller cannot see it (the operator,
    `actor=None`, sees everything)."""
    query = select(Organization).where(
        col(Organization.id) == org_id, col(Organization.kind) == kind.value
    )
    if actor is not None:
        query = query.where(_visible(actor))
    org = session.exec(query.with_for_update()).first()
    if org is None:
        raise NotFound(f"{KIND_LABEL[kind]} {org_id} 不存在", code="not_found")
    if org.status == Status.merged.value:  # a tombstone only resolves; unmerge has its own path
        raise Conflict(
            f"{KIND_LABEL[kind]} {org_id} 已合并到 {org.merged_into},请对存续记录操作",
            code="merged",
            merged_into=org.merged_into,
        )
    return org


def apply_data(session: Session, org: Organization, data: dict[str, Any], kind: RecordKind) -> None:
    """Make the (plain) document the version in force."""
    key_changes = (org.uscc, org.natural_key) != (data.get("uscc"), natural_key(kind, data))
    try:
        # the change is written inside the savepoint: a key taken by another record fails
        # only the savepoint, and the request can still answer 409
        with session.begin_nested():
            _project(org, data)
            org.version += 1
            session.add(org)
            session.flush()
    except IntegrityError as exc:
        if key_changes:
            raise _already_registered(session, kind, data) from exc
        raise


def edit(
    session: Session,
    *,
    kind: RecordKind,
    org_id: str,
    patch: dict[str, Any],
    actor: Principal,
    check_version: Callable[[int], None],
) -> OrgRow:
    """Drafts and returned records change at once. On active and suspended records unreviewed
    fields (contacts) change at once and reviewed ones become (or join) the pending change request;
    the approved version stays in force until a reviewer approves it."""
    org = lock_visible(session, kind, org_id, actor)
    require_may(actor, Action.edit, org, "修改")
    check_version(org.version)
    status = Status(org.status)
    if status not in lifecycle.DIRECTLY_EDITABLE | lifecycle.EDITABLE_WITH_REVIEW:
        raise Conflict(
            f"状态为“{lifecycle.STATUS_LABELS[status]}”的记录不能修改",
            code="not_editable",
            status_now=status.value,
        )
    pending = _pending(session, org.id)
    current = personal.unseal(kind, org.data)
    base = {**current, **(personal.unseal(kind, pending.changes) if pending else {})}
    data = validate_data(session, kind, {**base, **patch})
    # staff may move a record only within their jurisdiction; the entity itself may report a
    # move anywhere (on an active record it is a change request, reviewed where it is managed now)
    moved = data["region_code"] != org.region_code
    if (
        moved
        and actor.is_staff
        and not may(actor, Action.edit, Target(region_code=data["region_code"]))
    ):
        raise Forbidden(f"不能把记录迁移到您管辖范围以外的地区 {data['region_code']}")
    sealed = personal.seal(kind, data, previous=org.data)
    changed = events.diff(org.data, sealed)
    warnings = region_warnings(data) if "uscc" in changed or "region_code" in changed else []
    if status in lifecycle.DIRECTLY_EDITABLE:
        found: list[dedup.Found] = []
        if changed:
            apply_data(session, org, data, kind)
            found = record_event(session, org, "updated", actor, changes=changed)
        row = reread(session, org, warnings + _duplicate_warning(found))
        row.possible_duplicates = found
        return row

    unreviewed = DATA_MODELS[kind].UNREVIEWED
    immediate = {k: data[k] for k in changed if k in unreviewed}
    reviewed = {k: sealed[k] for k in changed if k not in unreviewed}
    if immediate:
        apply_data(session, org, {**current, **immediate}, kind)
        record_event(session, org, "updated", actor, changes={k: changed[k] for k in immediate})
    if reviewed or pending:
        _upsert_change_request(session, org, pending, reviewed, actor)
    return reread(session, org, warnings)


def _pending(session: Session, org_id: str) -> ChangeRequest | None:
    return session.exec(
        select(ChangeRequest).where(
            col(ChangeRequest.organization_id) == org_id, col(ChangeRequest.status) == "pending"
        )
    ).first()


def _bump(session: Session, org: Organization) -> None:
    """The record's version (its ETag) moves with its pending change request too, so two people
    editing the same record cannot silently overwrite each other's request."""
    org.version += 1
    session.add(org)
    session.flush()


def _upsert_change_request(
    session: Session,
    org: Organization,
    pending: ChangeRequest | None,
    reviewed: dict[str, Any],
    actor: Principal,
) -> None:
    if pending is None:
        if not reviewed:
            return
        pending = ChangeRequest(
            id=new_id("chg"),
            organization_id=org.id,
            changes=reviewed,
            requested_by=actor.subject,
            requested_by_name=actor.name[:100],
        )
        session.add(pending)
        _bump(session, org)
        record_event(
            session,
            org,
            "change_requested",
            actor,
            changes={k: [org.data.get(k), v] for k, v in reviewed.items()},
        )
        return
    # a later edit joins the pending request; fields edited back to the approved value drop out
    if not reviewed:
        pending.status = ChangeRequestStatus.withdrawn.value
        pending.decided_by, pending.decided_at = actor.subject, datetime.now(UTC)
        pending.reason = "修改后与现行版本一致"
        session.add(pending)
        _bump(session, org)
        record_event(session, org, "change_withdrawn", actor, reason=pending.reason)
        return
    if pending.changes != reviewed:
        pending.changes = reviewed
        session.add(pending)
        _bump(session, org)
        record_event(
            session,
            org,
            "change_requested",
            actor,
            changes={k: [org.data.get(k), v] for k, v in reviewed.items()},
        )


def decide_change_request(
    session: Session,
    *,
    kind: RecordKind,
    org_id: str,
    request_id: str,
    decision: str,
    actor: Principal,
    reason: str | None,
) -> OrgRow:
    """approve (reviewers), reject (reviewers, with a reason) or withdraw (the requester's side)."""
    org = lock_visible(session, kind, org_id, actor)
    request = session.exec(
        select(ChangeRequest).where(
            col(ChangeRequest.id) == request_id, col(ChangeRequest.organization_id) == org.id
        )
    ).first()
    if request is None:
        raise NotFound(f"变更申请 {request_id} 不存在", code="change_request_not_found")
    if decision == "withdraw":
        require_may(actor, Action.edit, org, "撤回变更申请")
    else:
        require_may(actor, Action.review, org, "审核变更申请")
    if request.status != ChangeRequestStatus.pending.value:
        raise Conflict("该变更申请已处理", code="change_request_closed", status_now=request.status)
    if decision == "reject" and not (reason and reason.strip()):
        raise Unprocessable("驳回变更申请需要填写理由", code="reason_required")
    if decision == "approve":
        data = validate_data(
            session,
            kind,
            {**personal.unseal(kind, org.data), **personal.unseal(kind, request.changes)},
        )
        changed = events.diff(org.data, personal.seal(kind, data, previous=org.data))
        apply_data(session, org, data, kind)
        record_event(session, org, "change_approved", actor, changes=changed, reason=reason)
    request.status = {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn"}[
        decision
    ]
    request.decided_by, request.decided_at, request.reason = (
        actor.subject,
        datetime.now(UTC),
        reason,
    )
    session.add(request)
    session.flush()
    if decision != "approve":
        _bump(session, org)
        record_event(session, org, f"change_{request.status}", actor, reason=reason)
    return reread(session, org)


def transition(
    session: Session,
    *,
    kind: RecordKind,
    org_id: str,
    name: str,
    actor: Principal | None,
    reason: str | None = None,
    until: date | None = None,
) -> OrgRow:
    org = lock_visible(session, kind, org_id, actor)
    # permission first: a caller who may not act learns nothing about the record's state
    moves = lifecycle.transitions_for(kind)
    if name not in moves:
        raise NotFound(f"{KIND_LABEL[kind]}没有“{name}”操作", code="not_found")
    require_may(actor, moves[name].action, org, moves[name].label)
    move = lifecycle.check(name, Status(org.status), reason, kind)
    if name == "reappoint" and (org.term_ends_on is None or org.term_ends_on < date.today()):
        raise Conflict(
            "聘期已结束,请先修改聘期(经审核生效)后再续聘", code="term_ended", status_now=org.status
        )
    if until is not None and name != "suspend":
        raise Unprocessable("只有暂停可以指定截止日期", code="until_not_applicable")
    if until is not None and until < date.today():
        raise Unprocessable("暂停截止日期不能早于今天", code="validation_failed")
    before = org.status
    now = datetime.now(UTC)
    org.status = move.target.value
    org.status_reason = reason.strip() if reason and reason.strip() else None
    org.suspended_until = until if name == "suspend" else None
    if name == "submit":
        org.submitted_at = now
    if name == "approve" and org.approved_at is None:
        org.approved_at = now
    org.version += 1
    session.add(org)
    session.flush()
    if move.target is Status.cancelled:
        pending = _pending(session, org.id)
        if pending is not None:
            pending.status, pending.decided_at = "withdrawn", now
            pending.decided_by = actor.subject if actor else events.OPERATOR
            pending.reason = "记录已注销"
            session.add(pending)
    record_event(
        session,
        org,
        name,
        actor,
        changes={"status": [before, org.status]},
        reason=org.status_reason,
    )
    return reread(session, org)


# --- reads ------------------------------------------------------------------------------------


def reread(session: Session, org: Organization, warnings: list[str] | None = None) -> OrgRow:
    """The record's row as reads answer it, after a write in this transaction."""
    session.flush()
    session.refresh(org)
    result = session.execute(
        _rows(RecordKind(org.kind)).where(col(Organization.id) == org.id)
    ).one()
    return OrgRow(result[0], bool(result[1]), result[2], warnings or [])


# Lookups by key are the hottest reads (other systems call them all day): their statements are
# built once, so a request skips building and cache-keying a new SQL expression, and the
# jurisdiction rule is applied to the fetched row with `may()` (the twin of `visible_filter`).
_BY_ID = {kind: _rows(kind).where(col(Organization.id) == bindparam("key")) for kind in RecordKind}
_BY_USCC = {
    kind: _rows(kind).where(
        col(Organization.uscc) == bindparam("key"),
        col(Organization.status) != Status.cancelled.value,
    )
    for kind in RecordKind
}
_BY_NATURAL_KEY = {
    kind: _rows(kind).where(
        col(Organization.natural_key) == bindparam("key"),
        col(Organization.status) != Status.cancelled.value,
    )
    for kind in RecordKind
}
_BY_IDS = {
    kind: _rows(kind).where(col(Organization.id) == func.any(bindparam("ids", type_=ARRAY(String))))
    for kind in RecordKind
}
_BATCH = {
    kind: _rows(kind).where(
        or_(
            col(Organization.id) == func.any(bindparam("ids", type_=ARRAY(String))),
            (
                col(Organization.uscc if kind in ORGANIZATION_KINDS else Organization.natural_key)
                == func.any(bindparam("codes", type_=ARRAY(String)))
            )
            & (col(Organization.status) != Status.cancelled.value),
        )
    )
    for kind in RecordKind
}


def _readable(actor: Principal, org: Organization) -> bool:
    return may(actor, Action.read, target(org))


MAX_MERGE_CHAIN = 20  # a tombstone points at a survivor that may itself have been merged since


def _resolve_all(session: Session, kind: RecordKind, results: Sequence[Any]) -> list[OrgRow | None]:
    """The rows of found records; for a merged record's tombstone, the row of the record it was
    merged into (following later merges), marked with the id that was asked for. One query per
    step of the longest merge chain, however many records (a batch holds 1,000)."""
    rows = [OrgRow(r[0], bool(r[1]), r[2]) for r in results]
    out: list[OrgRow | None] = list(rows)
    merged = Status.merged.value
    pending = {i: row.org.merged_into for i, row in enumerate(rows) if row.org.status == merged}
    for _ in range(MAX_MERGE_CHAIN):
        if not pending:
            break
        ids = sorted({target for target in pending.values() if target})
        fetched = {r[0].id: r for r in session.execute(_BY_IDS[kind], {"ids": ids}).all()}
        following: dict[int, str | None] = {}
        for i, target in pending.items():
            found = fetched.get(target or "")
            if found is not None and found[0].status == merged:
                following[i] = found[0].merged_into
            elif found is not None:
                asked = rows[i].org.id
                out[i] = OrgRow(found[0], bool(found[1]), found[2], resolved_from=asked)
            else:
                out[i] = None
        pending = following
    for i in pending:  # a chain longer than MAX_MERGE_CHAIN
        out[i] = None
    return out


def _resolve(session: Session, kind: RecordKind, result: Any) -> OrgRow | None:
    return _resolve_all(session, kind, [result])[0]


def get(session: Session, *, kind: RecordKind, org_id: str, actor: Principal) -> OrgRow:
    result = session.execute(_BY_ID[kind], {"key": org_id}).first()
    row = _resolve(session, kind, result) if result is not None else None
    if row is None or not _readable(actor, row.org):
        raise NotFound(f"{KIND_LABEL[kind]} {org_id} 不存在", code="not_found")
    return row


def by_uscc(session: Session, *, kind: RecordKind, uscc: str, actor: Principal) -> OrgRow:
    code = identifier_or_422(validate_uscc, uscc, field="uscc", code="invalid_uscc")
    result = session.execute(_BY_USCC[kind], {"key": code}).first()
    row = _resolve(session, kind, result) if result is not None else None
    if row is None or not _readable(actor, row.org):
        raise NotFound(f"统一社会信用代码为 {code} 的{KIND_LABEL[kind]}不存在", code="not_found")
    return row


def by_id_number(session: Session, *, id_number: str, actor: Principal) -> OrgRow:
    """An expert by resident ID number, through its keyed hash. Only for those who may read the
    expert's restricted fields; everyone else is told nothing (404)."""
    number = identifier_or_422(
        validate_resident_id, id_number, field="id_number", code="invalid_id_number"
    )
    key = personal.blind_index(RecordKind.expert, "id_number", number)
    result = session.execute(_BY_NATURAL_KEY[RecordKind.expert], {"key": key}).first()
    row = _resolve(session, RecordKind.expert, result) if result is not None else None
    if row is None or not may(actor, Action.read_restricted, target(row.org)):
        raise NotFound("没有持该身份证号码的评审专家(或您无权按身份证号码查询)", code="not_found")
    return row


def by_commodity_key(
    session: Session, *, catalog_code: str, brand: str, model: str, actor: Principal
) -> OrgRow:
    """A commodity by catalog code, brand and model, compared after normalization."""
    code = parse_code(catalog_code)
    try:
        key = commodity_key(code, brand, model)
    except ValueError as exc:
        raise Unprocessable(str(exc), code="invalid_commodity_key") from exc
    result = session.execute(_BY_NATURAL_KEY[RecordKind.commodity], {"key": key}).first()
    row = _resolve(session, RecordKind.commodity, result) if result is not None else None
    if row is None or not _readable(actor, row.org):
        raise NotFound(f"品目 {code} 下没有品牌“{brand}”型号“{model}”的商品", code="not_found")
    return row


def batch(
    session: Session,
    *,
    kind: RecordKind,
    ids: Sequence[str],
    usccs: Sequence[str] = (),
    id_numbers: Sequence[str] = (),
    actor: Principal,
) -> tuple[dict[str, OrgRow], list[str]]:
    """Up to 1,000 ids and codes (organizations) or ID numbers (experts, matched only for those
    who may read them) in one query; the answer is keyed by what was asked."""
    if usccs and kind not in ORGANIZATION_KINDS:
        raise Unprocessable(
            f"{KIND_LABEL[kind]}没有统一社会信用代码,请按编号查询", code="not_applicable"
        )
    if id_numbers and kind is not RecordKind.expert:
        raise Unprocessable("只有评审专家可以按身份证号码查询", code="not_applicable")
    codes: dict[str, str] = {}
    for raw in usccs:
        try:
            codes[validate_uscc(raw)] = raw
        except IdentifierError:
            continue
    restricted_keys = set()
    for raw in id_numbers:
        try:
            key = personal.blind_index(kind, "id_number", validate_resident_id(raw))
        except IdentifierError:
            continue
        codes[key] = raw
        restricted_keys.add(key)
    result = session.execute(_BATCH[kind], {"ids": list(ids), "codes": list(codes)}).all()
    found: dict[str, OrgRow] = {}
    wanted_ids = set(ids)
    for found_row, resolved in zip(result, _resolve_all(session, kind, result), strict=True):
        org = found_row[0]  # the record asked for (maybe a merged record's tombstone)
        if resolved is None or not _readable(actor, resolved.org):
            continue
        if org.id in wanted_ids:
            found[org.id] = resolved
        key = org.uscc if kind in ORGANIZATION_KINDS else org.natural_key
        if key in codes and org.status != Status.cancelled.value:
            if key in restricted_keys and not may(
                actor, Action.read_restricted, target(resolved.org)
            ):
                continue
            found[codes[key]] = resolved
    asked = [*ids, *usccs, *id_numbers]
    return found, [key for key in dict.fromkeys(asked) if key not in found]


@dataclass
class OrgFilters:
    within: str | None = None  # region subtree
    status: list[Status] | None = None
    size: list[EnterpriseSize] | None = None
    scope: str | None = None  # catalogue prefix: business scope contains a code below it
    eligible: bool | None = None
    name: str | None = None
    specialty: str | None = None  # experts: specialty code prefix
    catalog: str | None = None  # commodities: catalogue prefix
    brand: str | None = None  # commodities: brand (normalized, aliases folded)
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    supplier: str | None = None  # commodities with a current offer of this supplier


def _has_element_starting_with(array: Any, prefix: str) -> ColumnElement[bool]:
    """EXISTS (SELECT 1 FROM unnest(array) AS anon(value) WHERE value LIKE 'prefix%')."""
    item = func.unnest(array).table_valued("value").render_derived()
    return exists(
        select(literal_column("1")).select_from(item).where(item.c.value.startswith(prefix))
    )


def list_orgs(
    session: Session,
    *,
    kind: RecordKind,
    actor: Principal,
    filters: OrgFilters,
    after: str | None,
    limit: int,
) -> list[OrgRow]:
    """Ordered by id (opaque, stable): keyset pages never skip or repeat a record."""
    query = _rows(kind).where(_visible(actor))
    if filters.within:
        query = query.where(col(Organization.region_code).startswith(region_prefix(filters.within)))
    if filters.status:
        query = query.where(col(Organization.status).in_([s.value for s in filters.status]))
    else:  # merged records' tombstones only when asked for by status
        query = query.where(col(Organization.status) != Status.merged.value)
    if filters.size:
        query = query.where(col(Organization.size).in_([s.value for s in filters.size]))
    if filters.scope:
        query = query.where(
            _has_element_starting_with(Organization.business_scope, catalog_prefix(filters.scope))
        )
    if filters.specialty:
        query = query.where(_has_element_starting_with(Organization.specialties, filters.specialty))
    if filters.catalog:
        query = query.where(
            col(Organization.catalog_code).startswith(catalog_prefix(filters.catalog))
        )
    if filters.brand:
        query = query.where(col(Organization.brand) == normalize_brand(filters.brand))
    if filters.price_min is not None:
        query = query.where(col(Organization.price) >= filters.price_min)
    if filters.price_max is not None:
        query = query.where(col(Organization.price) <= filters.price_max)
    if filters.supplier:
        query = query.where(
            exists().where(
                col(Offer.commodity_id) == Organization.id,
                col(Offer.supplier_id) == filters.supplier,
                col(Offer.withdrawn_at).is_(None),
                col(Offer.valid_from) <= func.current_date(),
                or_(col(Offer.valid_to).is_(None), col(Offer.valid_to) >= func.current_date()),
            )
        )
    if filters.eligible is not None:
        query = query.where(eligible_expr() if filters.eligible else ~eligible_expr())
    if filters.name:
        query = query.where(col(Organization.name).contains(filters.name, autoescape=True))
    if after is not None:
        query = query.where(col(Organization.id) > after)
    result = session.execute(query.order_by(col(Organization.id)).limit(limit)).all()
    return [OrgRow(org, bool(debarred), pending) for org, debarred, pending in result]


def _itself(session: Session, kind: RecordKind, org_id: str, actor: Principal) -> Organization:
    """The record with this id as it is — a merged record's tombstone is not resolved — for the
    reads of its own past (history, `as_of`): they are judged on it, not on its survivor."""
    result = session.execute(_BY_ID[kind], {"key": org_id}).first()
    if result is None or not _readable(actor, result[0]):
        raise NotFound(f"{KIND_LABEL[kind]} {org_id} 不存在", code="not_found")
    org: Organization = result[0]
    return org


def history(session: Session, *, kind: RecordKind, org_id: str, actor: Principal) -> list[EventOut]:
    org = _itself(session, kind, org_id, actor)
    clear = may(actor, Action.read_restricted, target(org))
    hidden = restricted_fields(kind)
    out = []
    for event in events.history(session, entity_kind=kind.value, entity_id=org_id):
        changes = {
            k: [shown(kind, {k: v[0]}, clear).get(k), shown(kind, {k: v[1]}, clear).get(k)]
            if k in hidden
            else v
            for k, v in event.changes.items()
        }
        out.append(
            EventOut(
                seq=event.seq or 0,
                at=event.at or datetime.now(UTC),
                type=event.type,
                actor_kind=event.actor_kind,
                actor_name=event.actor_name,
                reason=event.reason,
                request_id=event.request_id,
                changes=changes,
                status=(event.snapshot or {}).get("status"),
            )
        )
    return out


def as_of(
    session: Session, *, kind: RecordKind, org_id: str, actor: Principal, at: datetime
) -> OrganizationOut:
    """The record as it stood at `at`, from the event log (same visibility as a current read)."""
    current = _itself(session, kind, org_id, actor)
    event = events.state_as_of(session, entity_kind=kind.value, entity_id=org_id, at=at)
    if event is None or event.snapshot is None:
        raise NotFound(
            f"{KIND_LABEL[kind]} {org_id} 在 {at.isoformat()} 尚未登记", code="not_found_at_time"
        )
    snap = event.snapshot
    clear = may(actor, Action.read_restricted, target(current))
    return OrganizationOut(
        id=org_id,
        kind=kind,
        status=Status(snap["status"]),
        status_reason=snap.get("status_reason"),
        suspended_until=date.fromisoformat(snap["suspended_until"])
        if snap.get("suspended_until")
        else None,
        eligible=False,
        debarred=False,
        version=snap["version"],
        data=shown(kind, snap["data"], clear),
        restricted_visible=clear,
        warnings=["历史版本:eligible 与 debarred 只对现行记录计算"],
    )


def change_requests(
    session: Session, *, kind: RecordKind, org_id: str, actor: Principal
) -> list[ChangeRequestOut]:
    row = get(session, kind=kind, org_id=org_id, actor=actor)
    clear = may(actor, Action.read_restricted, target(row.org))
    requests = session.exec(
        select(ChangeRequest)
        .where(col(ChangeRequest.organization_id) == row.org.id)  # (a merged id: the survivor's)
        .order_by(col(ChangeRequest.created_at).desc())
    ).all()

    def show(data: dict[str, Any]) -> dict[str, Any]:
        return shown(kind, data, clear)

    return [
        ChangeRequestOut(
            id=r.id,
            organization_id=r.organization_id,
            status=ChangeRequestStatus(r.status),
            changes=show(r.changes),
            current=show({k: row.org.data.get(k) for k in r.changes}),
            requested_by_name=r.requested_by_name,
            created_at=r.created_at,
            decided_at=r.decided_at,
            reason=r.reason,
        )
        for r in requests
    ]
