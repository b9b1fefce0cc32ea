"""Merge and unmerge (issue 6): one record absorbs a duplicate, and any merge can be undone.

A merge keeps the survivor, gives it field by field the better value of the two
(`survivorship`), moves every reference (debarments, change requests, offers, self-service
accounts) to it, and leaves the loser as a tombstone: `status = 'merged'`, `merged_into` the
survivor, so reads by the loser's id or key keep resolving. Both records get an event
(`merged` on the survivor, `merged_into` on the loser): the audit history and the change feed
say what happened. The pair gets a positive judgement.

Everything the merge changed is kept in its `merges` row (`before`): the two records' columns as
they were (as JSON made by PostgreSQL itself, so restoring is exact, ciphertexts included) and,
for every reference row it touched, the columns it changed. Unmerge writes those back: the loser
comes back as it was, with its references. The survivor comes back as it was too when nobody
changed it since; otherwise only the fields that still hold what the merge gave them are set
back. Versions only move forward (an ETag from before the merge stays stale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlmodel import Session, col, select

from auth.policy import Action, may
from auth.principals import Principal
from models.dedup import Judgement, Merge
from models.organization import Organization, RecordKind, Status
from registry import dedup, events, lifecycle, organizations, personal
from registry.errors import Conflict, Forbidden, NotFound, Unprocessable
from registry.ids import new_id
from search import documents as search_documents

# fields that identify a record or place it: they stay the survivor's (the loser's tombstone
# keeps its own codes, so reads by them keep resolving, and the unique keys cannot collide)
FIXED_FIELDS: dict[RecordKind, frozenset[str]] = {
    **dict.fromkeys(
        (RecordKind.supplier, RecordKind.agent, RecordKind.purchaser),
        frozenset({"uscc", "region_code"}),
    ),
    # an expert's sex and birth date are read from the ID number: they follow it
    RecordKind.expert: frozenset({"id_number", "sex", "birth_date", "region_code"}),
    RecordKind.commodity: frozenset({"catalog_code", "brand", "model", "region_code"}),
}
# lists a merge keeps whole from both sides by default: an expert's conflict-of-interest
# relationships (losing one would let the expert evaluate a bid they must avoid)
UNION_FIELDS: dict[RecordKind, frozenset[str]] = {RecordKind.expert: frozenset({"relationships"})}
SIDES = ("survivor", "loser")
# the columns a merge may change and an unmerge restores (all but identity and bookkeeping)
_RECORD_COLUMNS = tuple(
    c.name
    for c in Organization.__table__.columns  # type: ignore[attr-defined]
    if c.name not in {"id", "kind", "version", "created_at", "updated_at"}
)


@dataclass(frozen=True)
class Reference:
    """A column of another table that points at a record."""

    table: str
    column: str


REFERENCES = (
    Reference("debarments", "organization_id"),
    Reference("change_requests", "organization_id"),
    Reference("commodity_offers", "supplier_id"),
    Reference("commodity_offers", "commodity_id"),
    Reference("accounts", "entity_id"),
)


@dataclass
class Choice:
    source: str  # "survivor" | "loser" | "both" (lists kept whole from both sides)
    rule: str  # why (a default rule, or the reviewer's choice)


def moved(row: Merge) -> dict[str, int]:
    """How many rows of each referencing table a merge pointed at the survivor (read from its
    undo record: the rows whose reference column it changed)."""
    columns = {(ref.table, ref.column) for ref in REFERENCES}
    counts: dict[str, int] = {}
    for entry in row.before.get("references", []):
        if any((entry["table"], name) in columns for name in entry["before"]):
            counts[entry["table"]] = counts.get(entry["table"], 0) + 1
    return counts


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def survivorship(
    kind: RecordKind,
    survivor: Organization,
    loser: Organization,
    survivor_data: Mapping[str, Any],
    loser_data: Mapping[str, Any],
    overrides: Mapping[str, str] | None = None,
) -> dict[str, Choice]:
    """Where each field that differs should come from. Defaults, in order: identifying fields
    stay the survivor's; non-empty over empty; verified (approved) over unverified; newer over
    older (the record changed last). A reviewer's override names the side per field."""
    overrides = dict(overrides or {})
    fixed = FIXED_FIELDS[kind]
    for name, side in overrides.items():
        if side not in SIDES:
            raise Unprocessable(
                f"字段 {name} 的取值来源应为 survivor 或 loser", code="invalid_survivorship"
            )
        if name in fixed and side == "loser":
            raise Unprocessable(
                f"字段 {name} 标识或归属记录,合并时保留存续记录的值;如需以另一条记录为准,"
                "请把它选为存续记录",
                code="fixed_field",
            )
    choices: dict[str, Choice] = {}
    for name in dict.fromkeys([*survivor_data, *loser_data]):
        if name == "id":
            continue
        mine, theirs = survivor_data.get(name), loser_data.get(name)
        if mine == theirs:
            continue
        if name in overrides:
            choices[name] = Choice(overrides[name], "审核人员指定")
        elif name in fixed:
            choices[name] = Choice("survivor", "标识字段保留存续记录的值")
        elif name in UNION_FIELDS.get(kind, ()):
            choices[name] = Choice("both", "两侧合并(回避关系不丢失)")
        elif _empty(theirs):
            choices[name] = Choice("survivor", "非空优先")
        elif _empty(mine):
            choices[name] = Choice("loser", "非空优先")
        elif (loser.approved_at is not None) != (survivor.approved_at is not None):
            side = "loser" if loser.approved_at is not None else "survivor"
            choices[name] = Choice(side, "已审核优先")
        elif loser.updated_at and survivor.updated_at and loser.updated_at > survivor.updated_at:
            choices[name] = Choice("loser", "较新优先")
        else:
            choices[name] = Choice("survivor", "较新优先")
    unknown = set(overrides) - set(choices)
    if unknown:
        raise Unprocessable(
            f"两条记录的这些字段相同或不存在,无需指定:{', '.join(sorted(unknown))}",
            code="invalid_survivorship",
        )
    return choices


def merged_data(
    survivor_data: Mapping[str, Any], loser_data: Mapping[str, Any], choices: Mapping[str, Choice]
) -> dict[str, Any]:
    out = dict(survivor_data)
    for name, choice in choices.items():
        if choice.source == "both":
            both = [*(survivor_data.get(name) or []), *(loser_data.get(name) or [])]
            out[name] = [item for i, item in enumerate(both) if item not in both[:i]]
        elif choice.source == "loser":
            if name in loser_data:
                out[name] = loser_data[name]
            else:
                out.pop(name, None)
    return out


# --- helpers on rows --------------------------------------------------------------------------


def _lock_pair(session: Session, ids: tuple[str, ...]) -> dict[str, Organization]:
    """Both records, locked in id order (two merges of overlapping pairs cannot deadlock)."""
    rows = session.exec(
        select(Organization)
        .where(col(Organization.id).in_(sorted(ids)))
        .order_by(col(Organization.id))
        .with_for_update()
    ).all()
    return {org.id: org for org in rows}


def _snapshot(session: Session, record_id: str) -> dict[str, Any]:
    row = session.execute(
        text("SELECT to_jsonb(o) FROM organizations o WHERE id = :id"), {"id": record_id}
    ).scalar_one()
    return {k: row[k] for k in _RECORD_COLUMNS}


def _restore_columns(session: Session, record_id: str, snapshot: Mapping[str, Any]) -> None:
    """Write a snapshot back; PostgreSQL converts the JSON to the columns' own types."""
    names = ", ".join(_RECORD_COLUMNS)
    session.execute(
        text(
            f"UPDATE organizations SET ({names}) = (SELECT {names} FROM"  # noqa: S608 - constants
            " jsonb_populate_record(NULL::organizations, CAST(:snap AS jsonb))),"
            " version = version + 1, updated_at = now() WHERE id = :id"
        ),
        {"id": record_id, "snap": orjson.dumps(dict(snapshot)).decode()},
    )


def _readable_or_404(actor: Principal, org: Organization | None, record_id: str) -> Organization:
    if org is None or not may(actor, Action.read, organizations.target(org)):
        raise NotFound(f"记录 {record_id} 不存在", code="not_found")
    return org


def _require_both(actor: Principal, *records: Organization) -> None:
    outside = [r.id for r in records if not may(actor, Action.sanction, organizations.target(r))]
    if outside:
        raise Forbidden(
            f"记录 {', '.join(outside)} 不在您的管辖范围内:合并(或撤销合并)跨辖区的记录,"
            "需要由同时管辖两条记录的上级财政部门审核人员办理",
            code="outside_jurisdiction",
        )


# --- references -------------------------------------------------------------------------------


# the columns a merge may change in referencing tables (and an unmerge may set back)
_RESTORABLE = {
    "debarments": {"organization_id"},
    "change_requests": {"organization_id", "status", "decided_by", "decided_at", "reason"},
    "commodity_offers": {"supplier_id", "commodity_id", "withdrawn_at"},
    "accounts": {"entity_id"},
}


def _set(session: Session, table: str, row_id: str, values: Mapping[str, Any]) -> None:
    if not set(values) <= _RESTORABLE.get(table, set()):
        raise ValueError(f"not a merge's column: {table}.{sorted(values)}")
    assignments = ", ".join(f"{name} = :v_{name}" for name in values)
    session.execute(
        text(f"UPDATE {table} SET {assignments} WHERE id::text = :id"),  # noqa: S608 - checked
        {"id": row_id, **{f"v_{k}": v for k, v in values.items()}},
    )


def _move_references(
    session: Session, survivor: Organization, loser: Organization
) -> list[dict[str, Any]]:
    """Point every reference at the survivor; returns, per touched row, the columns it had."""
    changed: list[dict[str, Any]] = []

    def note(table: str, row_id: str, before: dict[str, Any]) -> None:
        changed.append({"table": table, "id": row_id, "before": before})

    # a loser's pending change request cannot become the survivor's: it is withdrawn
    for row_id, status, decided_by, decided_at, why in session.execute(
        text(
            "SELECT id, status, decided_by, decided_at, reason FROM change_requests"
            " WHERE organization_id = :loser AND status = 'pending'"
        ),
        {"loser": loser.id},
    ).all():
        note(
            "change_requests",
            row_id,
            {
                "status": status,
                "decided_by": decided_by,
                "decided_at": decided_at.isoformat() if decided_at else None,
                "reason": why,
            },
        )
        session.execute(
            text(
                "UPDATE change_requests SET status = 'withdrawn', decided_at = now(),"
                " decided_by = :by, reason = :reason WHERE id = :id"
            ),
            {"id": row_id, "by": "merge", "reason": f"记录已合并到 {survivor.id}"},
        )
    # one live offer per (commodity, supplier): a loser's offer the survivor already makes is
    # withdrawn rather than moved next to it
    for column, other in (("supplier_id", "commodity_id"), ("commodity_id", "supplier_id")):
        for (row_id,) in session.execute(
            text(
                f"SELECT o.id FROM commodity_offers o WHERE o.{column} = :loser"  # noqa: S608 - constants
                " AND o.withdrawn_at IS NULL AND EXISTS (SELECT 1 FROM commodity_offers s"
                f" WHERE s.{column} = :survivor AND s.{other} = o.{other}"
                " AND s.withdrawn_at IS NULL)"
            ),
            {"loser": loser.id, "survivor": survivor.id},
        ).all():
            note("commodity_offers", row_id, {"withdrawn_at": None})
            session.execute(
                text("UPDATE commodity_offers SET withdrawn_at = now() WHERE id = :id"),
                {"id": row_id},
            )
    for ref in REFERENCES:
        ids = session.execute(
            text(
                f"UPDATE {ref.table} SET {ref.column} = :survivor WHERE {ref.column} = :loser"  # noqa: S608 - constants
                " RETURNING id::text"
            ),
            {"survivor": survivor.id, "loser": loser.id},
        ).scalars()
        for row_id in ids:
            note(ref.table, row_id, {ref.column: loser.id})
    return changed


def _restore_references(session: Session, changed: list[dict[str, Any]]) -> None:
    for entry in reversed(changed):
        _set(session, entry["table"], entry["id"], entry["before"])


def _offer_commodities(session: Session, changed: list[dict[str, Any]]) -> list[str]:
    """Commodities whose offers a merge withdrew (or an unmerge put back): their search
    documents count live offers. (An offer moved to another supplier changes no count.)"""
    ids = [
        e["id"]
        for e in changed
        if e["table"] == "commodity_offers" and "withdrawn_at" in e["before"]
    ]
    if not ids:
        return []
    return list(
        session.execute(
            text("SELECT DISTINCT commodity_id FROM commodity_offers WHERE id = ANY(:ids)"),
            {"ids": ids},
        ).scalars()
    )


# --- one entity, several codes ------------------------------------------------------------------

_FAMILIES = text(
    """
    WITH RECURSIVE up AS (  -- from each asked code's record to the record it was merged into
        SELECT id, merged_into, uscc AS asked FROM organizations
        WHERE uscc = ANY(:codes) AND status <> 'cancelled'
        UNION
        SELECT o.id, o.merged_into, up.asked FROM organizations o JOIN up ON o.id = up.merged_into
    ), down AS (  -- and from that survivor to every record merged into it
        SELECT asked, id FROM up WHERE merged_into IS NULL
        UNION
        SELECT down.asked, o.id FROM organizations o JOIN down ON o.merged_into = down.id
        WHERE o.status = 'merged'
    )
    SELECT down.asked, o.uscc FROM down JOIN organizations o ON o.id = down.id
    WHERE o.uscc IS NOT NULL
    """
)


def same_entity_codes(session: Session, codes: Sequence[str]) -> dict[str, frozenset[str]]:
    """For each credit code, every code the same entity is known by: the survivor's and those of
    the records merged into it. An expert related to a merged record's code must still avoid the
    survivor (conflict-of-interest checks ask by code)."""
    family: dict[str, set[str]] = {code: {code} for code in codes}
    for asked, code in session.execute(_FAMILIES, {"codes": list(codes)}).all():
        family.setdefault(asked, {asked}).add(code)
    return {code: frozenset(members) for code, members in family.items()}


# --- merge ------------------------------------------------------------------------------------


# statuses a bureau imposed on a record: a merge must not make them disappear
SANCTIONED = frozenset({Status.suspended.value, Status.dismissed.value, Status.delisted.value})


def _require_compatible(survivor: Organization, loser: Organization) -> None:
    """The survivor must not be less established than the loser: an approved loser cannot be
    absorbed by a record still under review, and a suspended (dismissed, delisted) loser only by
    a record in the same state — else its id and code would resolve to a record that is
    unpublished, or eligible when it was not."""
    if loser.approved_at is not None and survivor.approved_at is None:
        raise Conflict(
            f"记录 {loser.id} 已审核入库,而 {survivor.id} 尚未审核:请以已入库的记录为存续记录",
            code="survivor_not_approved",
        )
    if loser.status in SANCTIONED and survivor.status != loser.status:
        label = lifecycle.STATUS_LABELS[Status(loser.status)]
        raise Conflict(
            f"记录 {loser.id} 处于“{label}”状态,合并会使该限制失效:请先处理,或以它为存续记录",
            code="loser_sanctioned",
            status_now=loser.status,
        )


def merge(
    session: Session,
    *,
    survivor_id: str,
    loser_id: str,
    overrides: Mapping[str, str] | None,
    reason: str | None,
    actor: Principal | None,
) -> Merge:
    """Merge `loser_id` into `survivor_id` (see the module docstring); `actor=None` is the
    operator at the command line."""
    if survivor_id == loser_id:
        raise Unprocessable("存续记录和被合并记录不能是同一条", code="same_record")
    locked = _lock_pair(session, (survivor_id, loser_id))
    survivor, loser = locked.get(survivor_id), locked.get(loser_id)
    if actor is not None:
        survivor = _readable_or_404(actor, survivor, survivor_id)
        loser = _readable_or_404(actor, loser, loser_id)
        _require_both(actor, survivor, loser)
    if survivor is None or loser is None:
        raise NotFound(f"记录 {survivor_id if survivor is None else loser_id} 不存在")
    if survivor.kind != loser.kind:
        raise Unprocessable("只能合并同一类的记录", code="different_kinds")
    for org in (survivor, loser):
        if org.status in dedup.DEAD_STATUSES:
            raise Conflict(
                f"记录 {org.id} 已{'合并' if org.status == Status.merged.value else '注销'},"
                "不能再合并",
                code="not_mergeable",
                status_now=org.status,
            )
    _require_compatible(survivor, loser)
    judged = dedup.latest_judgement(session, survivor.id, loser.id)
    if judged is Judgement.negative:
        raise Conflict(
            "这对记录已被判断为“不是同一主体”;如判断有误,请先撤回该判断", code="judged_not_same"
        )
    kind = RecordKind(survivor.kind)
    survivor_plain = personal.unseal(kind, survivor.data)
    loser_plain = personal.unseal(kind, loser.data)
    choices = survivorship(kind, survivor, loser, survivor_plain, loser_plain, overrides)
    data = organizations.validate_data(
        session, kind, merged_data(survivor_plain, loser_plain, choices)
    )
    before: dict[str, Any] = {
        "survivor": _snapshot(session, survivor.id),
        "loser": _snapshot(session, loser.id),
    }
    why = reason or "合并重复记录"
    changed = _move_references(session, survivor, loser)
    before["references"] = changed

    # the survivor takes the chosen values, the loser becomes its tombstone
    old_data = survivor.data
    organizations.apply_data(session, survivor, data, kind)
    loser_status = loser.status
    loser.status = Status.merged.value
    loser.status_reason = f"已合并到 {survivor.id}"
    loser.merged_into = survivor.id
    loser.version += 1
    session.add(loser)
    session.flush()
    organizations.record_event(
        session,
        survivor,
        "merged",
        actor,
        changes={**events.diff(old_data, survivor.data), "merged_from": [None, loser.id]},
        reason=why,
    )
    organizations.record_event(
        session,
        loser,
        "merged_into",
        actor,
        changes={"status": [loser_status, loser.status], "merged_into": [None, survivor.id]},
        reason=why,
    )
    if judged is not Judgement.positive:
        dedup.append_judgement(
            session, survivor.id, loser.id, Judgement.positive, actor, reason=why
        )
    search_documents.rebuild(session, _offer_commodities(session, changed))
    before["merged"] = _snapshot(session, survivor.id)
    row = Merge(
        id=new_id("mrg"),
        kind=kind.value,
        survivor_id=survivor.id,
        loser_id=loser.id,
        survivorship={k: vars(c) for k, c in choices.items()},
        before=before,
        survivor_version=survivor.version,
        reason=reason,
        merged_by=events.who(actor)[0],
        merged_by_name=events.who(actor)[1],
        # the clock, not the transaction's start: merges made in one transaction keep their order
        merged_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


# --- unmerge ----------------------------------------------------------------------------------


def get_merge(session: Session, merge_id: str, *, lock: bool = False) -> Merge:
    query = select(Merge).where(col(Merge.id) == merge_id)
    found = session.exec(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFound(f"合并记录 {merge_id} 不存在", code="not_found")
    return found


_LATER = text(
    """
    SELECT m.id FROM merges m
    WHERE m.undone_at IS NULL AND m.id <> :id AND m.merged_at > :at
      AND (m.survivor_id = ANY(:records) OR m.loser_id = ANY(:records)
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(m.before -> 'references') r
                      WHERE r ->> 'id' = ANY(:rows)))
    ORDER BY m.merged_at DESC
    """
)


def _later_merges(session: Session, row: Merge) -> list[str]:
    """Merges made after `row`, still in force, that touched one of its two records or one of
    the reference rows it changed: undoing `row` first would restore what they rely on (merges
    are undone last first)."""
    return list(
        session.execute(
            _LATER,
            {
                "id": row.id,
                "at": row.merged_at,
                "records": [row.survivor_id, row.loser_id],
                "rows": [str(e["id"]) for e in row.before.get("references", [])],
            },
        ).scalars()
    )


def unmerge(
    session: Session,
    *,
    merge_id: str,
    reason: str | None,
    not_same: bool,
    actor: Principal | None,
) -> Merge:
    """Undo a merge (see the module docstring). With `not_same`, the pair is also judged "not
    the same" so it is never suggested again; otherwise the earlier positive judgement is
    retracted and the pair may come back to the queue."""
    row = get_merge(session, merge_id, lock=True)
    if row.undone_at is not None:
        raise Conflict("该合并已撤销", code="already_undone")
    if not_same and not reason:
        raise Unprocessable("判断“不是同一主体”时请说明理由", code="reason_required")
    locked = _lock_pair(session, (row.survivor_id, row.loser_id))
    survivor, loser = locked[row.survivor_id], locked[row.loser_id]
    if actor is not None:  # (the tombstone keeps the loser's region: it is where it returns)
        _readable_or_404(actor, survivor, survivor.id)
        _require_both(actor, survivor, loser)
    later = _later_merges(session, row)
    if later:
        raise Conflict(
            f"此后的合并 {', '.join(later)} 涉及同一记录或同一关联数据,仍然有效:请先撤销(后合并的先撤销)",
            code="merged_again",
            later_merges=later,
        )
    why = reason or "撤销合并"
    kind = RecordKind(survivor.kind)

    _restore_references(session, row.before["references"])
    _restore_columns(session, loser.id, row.before["loser"])
    session.refresh(loser)

    old_data = survivor.data
    if survivor.version == row.survivor_version:  # untouched since: exactly as it was
        _restore_columns(session, survivor.id, row.before["survivor"])
        session.refresh(survivor)
    else:  # changed since: set back only the fields that still hold the merge's values
        current = personal.unseal(kind, survivor.data)
        given = personal.unseal(kind, row.before["merged"]["data"])
        prior = personal.unseal(kind, row.before["survivor"]["data"])
        data = dict(current)
        for name in row.survivorship:
            if current.get(name) == given.get(name):
                if name in prior:
                    data[name] = prior[name]
                else:
                    data.pop(name, None)
        if data != current:
            organizations.apply_data(
                session, survivor, organizations.validate_data(session, kind, data), kind
            )
    organizations.record_event(
        session,
        loser,
        "unmerged",
        actor,
        changes={"status": [Status.merged.value, loser.status], "merged_into": [survivor.id, None]},
        reason=why,
    )
    organizations.record_event(
        session,
        survivor,
        "unmerged",
        actor,
        changes={**events.diff(old_data, survivor.data), "merged_from": [loser.id, None]},
        reason=why,
    )
    dedup.append_judgement(
        session,
        survivor.id,
        loser.id,
        Judgement.negative if not_same else Judgement.no_judgement,
        actor,
        reason=why,
    )
    search_documents.rebuild(session, _offer_commodities(session, row.before["references"]))
    row.undone_at = datetime.now(UTC)
    row.undone_by = events.who(actor)[0]
    row.undo_reason = reason
    session.add(row)
    session.flush()
    return row
