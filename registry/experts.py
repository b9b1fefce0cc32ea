"""What only experts have: conflict-of-interest avoidance and the end of the term of appointment.

Avoidance (回避): other systems ask whether an expert may evaluate bids of a supplier or for a
purchaser, by its unified social credit code. An expert conflicts with the current employer,
a former employer left less than three years ago, and the employers of close relatives (and any
other declared relationship) while the relationship lasts.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, col, select

from auth.principals import Principal
from models.expert import FORMER_EMPLOYER_YEARS, Relation
from models.organization import Organization, RecordKind, Status
from registry import merge, organizations
from registry.identifiers import validate_uscc
from registry.validation import identifier_or_422


class ConflictReason(BaseModel):
    relation: str = Field(
        description="employer 现工作单位 / former_employer / relative_employer / other"
    )
    name: str = Field(description="单位名称")
    until: date | None = Field(default=None, description="关系截止日期")


class ConflictAnswer(BaseModel):
    expert_id: str
    uscc: str
    conflict: bool = Field(description="须回避")
    reasons: list[ConflictReason]


class ConflictQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expert_ids: list[str] = Field(min_length=1, max_length=1000, description="专家编号")
    usccs: list[str] = Field(
        min_length=1, max_length=100, description="供应商、采购人等的统一社会信用代码"
    )

    @model_validator(mode="after")
    def _not_too_many(self) -> ConflictQuery:
        if len(self.expert_ids) * len(self.usccs) > 20000:
            raise ValueError("一次最多查询 20000 个专家与单位的组合")
        return self


def _cutoff(today: date) -> date:
    """The day three years ago (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - FORMER_EMPLOYER_YEARS)
    except ValueError:
        return today.replace(year=today.year - FORMER_EMPLOYER_YEARS, day=28)


def reasons_to_avoid(
    data: dict[str, Any], usccs: Collection[str], today: date | None = None
) -> list[ConflictReason]:
    """Why an expert (their record's data) must not evaluate for the organization known by
    `usccs` (its code, and the codes of the records merged into it)."""
    today = today or date.today()
    reasons = []
    employer = data.get("employer") or {}
    if employer.get("uscc") in usccs:
        reasons.append(ConflictReason(relation="employer", name=employer.get("name", "")))
    for rel in data.get("relationships") or []:
        if rel.get("uscc") not in usccs:
            continue
        until = date.fromisoformat(rel["until"]) if rel.get("until") else None
        if rel["relation"] == Relation.former_employer.value:
            lasts = until is not None and until >= _cutoff(today)
        else:
            lasts = until is None or until >= today
        if lasts:
            reasons.append(ConflictReason(relation=rel["relation"], name=rel["name"], until=until))
    return reasons


def _code(raw: str) -> str:
    return identifier_or_422(validate_uscc, raw, field="uscc", code="invalid_uscc")


def conflicts(session: Session, *, expert_id: str, uscc: str, actor: Principal) -> ConflictAnswer:
    code = _code(uscc)
    row = organizations.get(session, kind=RecordKind.expert, org_id=expert_id, actor=actor)
    reasons = reasons_to_avoid(row.org.data, merge.same_entity_codes(session, [code])[code])
    return ConflictAnswer(expert_id=expert_id, uscc=code, conflict=bool(reasons), reasons=reasons)


def conflicts_batch(
    session: Session, *, query: ConflictQuery, actor: Principal
) -> list[ConflictAnswer]:
    """Every (expert, organization) pair that must be avoided, for an expert draw: one query."""
    codes = list(dict.fromkeys(_code(raw) for raw in query.usccs))
    ids = list(dict.fromkeys(query.expert_ids))
    found, _ = organizations.batch(session, kind=RecordKind.expert, ids=ids, actor=actor)
    families = merge.same_entity_codes(session, codes)
    answers = []
    for expert_id in ids:
        row = found.get(expert_id)
        if row is None:
            continue
        for code in codes:
            reasons = reasons_to_avoid(row.org.data, families[code])
            if reasons:
                answers.append(
                    ConflictAnswer(expert_id=expert_id, uscc=code, conflict=True, reasons=reasons)
                )
    return answers


def _due(session: Session, status: list[Status], ended: Any, today: date) -> Sequence[str]:
    return session.exec(
        select(Organization.id)
        .where(
            col(Organization.kind) == RecordKind.expert.value,
            col(Organization.status).in_([s.value for s in status]),
            ended < today,
        )
        .order_by(col(Organization.id))
        .with_for_update(skip_locked=True)
    ).all()


def end_suspensions(session: Session, *, today: date | None = None) -> list[str]:
    """The scheduled check, part one: a suspension with a period ends the day after `until`."""
    today = today or date.today()
    ids = _due(session, [Status.suspended], col(Organization.suspended_until), today)
    for expert_id in ids:
        organizations.transition(
            session,
            kind=RecordKind.expert,
            org_id=expert_id,
            name="reinstate",
            actor=None,
            reason="暂停期满(定期检查)",
        )
    return list(ids)


def expire_ended_terms(session: Session, *, today: date | None = None) -> list[str]:
    """The scheduled check: experts whose term has ended become `expired` (one event each).
    Rows another transaction holds are skipped and caught by the next run."""
    today = today or date.today()
    ids = _due(session, [Status.active, Status.suspended], col(Organization.term_ends_on), today)
    for expert_id in ids:
        organizations.transition(
            session,
            kind=RecordKind.expert,
            org_id=expert_id,
            name="expire",
            actor=None,
            reason="聘期届满(定期检查)",
        )
    return list(ids)
