"""What a reviewer sees of the dedup queue: candidate pairs side by side, clusters, merges."""

from __future__ import annotations

from sqlmodel import Session, col, select

from auth.policy import Action, may
from auth.principals import Principal
from models.dedup import (
    CandidateOut,
    CandidatePairOut,
    CandidateSide,
    ClusterOut,
    EvidenceOut,
    FieldComparison,
    JudgementOut,
    Merge,
    MergeOut,
)
from models.organization import Organization, RecordKind
from registry import dedup, masking, merge, organizations, personal
from registry.errors import NotFound

HIDDEN_NAME = "(辖区外未公开的记录)"


def _side(side: dedup.Side, actor: Principal) -> CandidateSide:
    """A side of a pair as the reviewer may see it: a record of another jurisdiction that is not
    published shows its id, region and status, not its name."""
    return CandidateSide(
        id=side.id,
        kind=side.kind,
        name=side.name if side.readable_by(actor) else HIDDEN_NAME,
        region_code=side.region_code,
        status=side.status,
    )


def candidate_out(row: dedup.Candidate, actor: Principal) -> CandidateOut:
    evidence = [EvidenceOut(**e) for e in row.evidence]
    explanation = ", ".join(
        f"{e.note} {e.score:.2f}" if e.note else f"{e.field} {e.score:.2f}" for e in evidence
    )
    return CandidateOut(
        id=row.id,
        kind=row.kind,
        score=row.score,
        evidence=evidence,
        explanation=explanation,
        source=row.source,
        found_at=row.found_at,
        judgement=row.judgement,
        left=_side(row.left, actor),
        right=_side(row.right, actor),
    )


def _record(session: Session, record_id: str) -> Organization:
    org = session.get(Organization, record_id)
    if org is None:  # (foreign keys make this unreachable)
        raise NotFound(f"记录 {record_id} 不存在", code="not_found")
    return org


def _suggested_survivor(a: Organization, b: Organization) -> Organization:
    """Approved over not approved, then the one changed last."""
    return max((a, b), key=lambda o: (o.approved_at is not None, o.updated_at))


def pair(session: Session, *, candidate_id: int, actor: Principal) -> CandidatePairOut:
    """Both records field by field (masked as the reviewer may see them), the evidence, the
    default survivorship with the left record as survivor, and the pair's judgements."""
    row = dedup.get_candidate(session, candidate_id=candidate_id, actor=actor)
    left, right = _record(session, row.left.id), _record(session, row.right.id)
    kind = RecordKind(left.kind)
    shown = {  # masked as the reviewer may see them; nothing of an unreadable record
        o.id: masking.shown(
            kind, o.data, may(actor, Action.read_restricted, organizations.target(o))
        )
        if may(actor, Action.read, organizations.target(o))
        else {}
        for o in (left, right)
    }
    choices = merge.survivorship(
        kind, left, right, personal.unseal(kind, left.data), personal.unseal(kind, right.data)
    )
    fields = []
    for name in dict.fromkeys([*shown[left.id], *shown[right.id]]):
        a, b = shown[left.id].get(name), shown[right.id].get(name)
        choice = choices.get(name)
        fields.append(
            FieldComparison(
                field=name,
                left=a,
                right=b,
                same=choice is None,
                keep=choice.source if choice else "survivor",
                rule=choice.rule if choice else "相同",
            )
        )
    base = candidate_out(row, actor)
    return CandidatePairOut(
        **base.model_dump(),
        fields=fields,
        suggested_survivor=_suggested_survivor(left, right).id,
        judgements=[JudgementOut(**j) for j in dedup.judgement_log(session, left.id, right.id)],
    )


def cluster(session: Session, *, record_id: str, actor: Principal) -> ClusterOut:
    org = session.get(Organization, record_id)
    if org is None or not may(actor, Action.read, organizations.target(org)):
        raise NotFound(f"记录 {record_id} 不存在", code="not_found")
    return ClusterOut(record_id=record_id, members=sorted(dedup.cluster_of(session, record_id)))


def merge_out(row: Merge) -> MergeOut:
    return MergeOut(
        id=row.id,
        kind=row.kind,
        survivor_id=row.survivor_id,
        loser_id=row.loser_id,
        survivorship=row.survivorship,
        moved=merge.moved(row),
        references=len(row.before.get("references", [])),
        reason=row.reason,
        merged_by_name=row.merged_by_name,
        merged_at=row.merged_at,
        undone_at=row.undone_at,
        undo_reason=row.undo_reason,
    )


def merge_detail(session: Session, *, merge_id: str, actor: Principal) -> MergeOut:
    row = merge.get_merge(session, merge_id)
    records = session.exec(
        select(Organization).where(col(Organization.id).in_([row.survivor_id, row.loser_id]))
    ).all()
    if not any(may(actor, Action.review, organizations.target(o)) for o in records):
        raise NotFound(f"合并记录 {merge_id} 不存在", code="not_found")
    return merge_out(row)
