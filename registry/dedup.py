"""Dedup: blocking keys, candidate pairs, the review queue and the judgement log (issue 6).

Every write of a record keeps its blocking keys (`dedup_keys`) and, when the fields a matcher
reads may have changed (`REMATCH_EVENTS`), compares the record with the records sharing a key:
pairs at or above the kind's review threshold become candidates, with the evidence per field.
That is the incremental half of dedup; `registry dedup scan` is the batch half and writes
through the same `store_candidates`.

A reviewer's decisions are judgements appended to `dedup_judgements`; a pair's state is its
latest judgement and clusters are the connected components of the positive pairs
(`clusters`, a pure function of the log). A pair judged "not the same" is never written as a
candidate again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import Boolean, String, literal_column, or_, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlmodel import Session

from auth.policy import Action, Target, may, reach, visible_filter
from auth.principals import Principal
from models.dedup import Judgement
from models.organization import Organization, RecordKind, Status
from registry import events, matching, personal
from registry.codes import region_prefix
from registry.errors import Conflict, Forbidden, NotFound, Unprocessable

# events after which a record's matched fields may differ from what its keys were made of
REMATCH_EVENTS = frozenset({"created", "updated", "change_approved", "merged", "unmerged"})
# records that are never candidates: gone for good or absorbed by another record
DEAD_STATUSES = (Status.cancelled.value, Status.merged.value)
# a new record is compared with at most this many records per key it shares with them: the cap
# bounds a write's cost on an oversized block (the batch scan compares those by sorted
# neighbourhood instead)
PER_KEY = 100


# a pair's state: its latest judgement (`{left}`, `{right}`: the pair's id columns)
LATEST_JUDGEMENT = (
    "(SELECT judgement FROM dedup_judgements WHERE left_id = {left} AND right_id = {right}"
    " ORDER BY seq DESC LIMIT 1)"
)
# for conditions inlined into text() queries (named parameters: no doubled percent signs)
_INLINE = postgresql.dialect(paramstyle="named")
# `DEAD_STATUSES` as an SQL list
_DEAD_SQL = "(" + ", ".join(f"'{s}'" for s in DEAD_STATUSES) + ")"


def ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def plain_record(kind: str, record_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What a matcher reads: the record's data with personal values in clear, and its id."""
    return {**personal.unseal(RecordKind(kind), dict(data)), "id": record_id}


# --- candidates -------------------------------------------------------------------------------

_STORE = text(
    """
    INSERT INTO dedup_candidates
        (kind, left_id, right_id, score, evidence, vetoed, matcher_version, source)
    SELECT CAST(:kind AS varchar), CAST(:left_id AS varchar), CAST(:right_id AS varchar),
           :score, CAST(:evidence AS jsonb), CAST(:vetoed AS varchar), :version,
           CAST(:source AS varchar)
    WHERE {latest} IS DISTINCT FROM 'negative'
    ON CONFLICT (left_id, right_id) DO UPDATE SET
        score = EXCLUDED.score, evidence = EXCLUDED.evidence, vetoed = EXCLUDED.vetoed,
        matcher_version = EXCLUDED.matcher_version, scored_at = now()
    RETURNING id
    """.format(latest=LATEST_JUDGEMENT.format(left=":left_id", right=":right_id"))  # noqa: S608
)


def store_candidates(
    db: Session | Connection,
    kind: str,
    pairs: Iterable[tuple[str, str, matching.Match]],
    *,
    source: str,
    matcher_version: int,
) -> int:
    """Write (or re-score) candidate pairs; pairs judged "not the same" are skipped. Returns
    the number written."""
    written = 0
    for a, b, match in pairs:
        left, right = ordered(a, b)
        row = db.execute(
            _STORE,
            {
                "kind": kind,
                "left_id": left,
                "right_id": right,
                "score": match.score,
                "evidence": orjson.dumps(match.evidence_json()).decode(),
                "vetoed": match.vetoed,
                "version": matcher_version,
                "source": source,
            },
        ).first()
        written += row is not None
    return written


# --- keys and the incremental match -----------------------------------------------------------

# the records sharing a key, at most PER_KEY per key (the first ones by id): a crowded key (a
# switchboard number many companies list) cannot crowd out the key the duplicate shares
_NEIGHBOURS = text(
    f"""
    SELECT o.id, o.name, o.region_code, o.status, o.kind, o.approved_at IS NOT NULL, o.data
    FROM organizations o
    WHERE o.id IN (
        SELECT n.record_id FROM unnest(CAST(:keys AS varchar[])) AS wanted(key)
        CROSS JOIN LATERAL (
            SELECT k.record_id FROM dedup_keys k
            WHERE k.kind = :kind AND k.key = wanted.key AND k.record_id <> :id
            ORDER BY k.record_id LIMIT :per_key
        ) n
    ) AND o.status NOT IN {_DEAD_SQL}
    """  # noqa: S608 - constants
)


@dataclass(frozen=True)
class Side:
    id: str
    name: str
    region_code: str
    status: str
    kind: str
    published: bool

    def readable_by(self, actor: Principal) -> bool:
        target = Target(region_code=self.region_code, published=self.published)
        return may(actor, Action.read, target)


@dataclass(frozen=True)
class Found:
    """A near-duplicate of a record, as its registration answer shows it."""

    record: Side
    score: float
    evidence: str


def stored_key(kind: str, key: str) -> str:
    """A blocking key as `dedup_keys` holds it. Keys are only compared for equality; those of
    kinds with personal data at rest (experts: made of the ID number, phone, birth date) are
    stored as keyed hashes, never in clear. The others stay readable."""
    if personal.encrypted_fields(RecordKind(kind)):
        return personal.keyed_hash("dedup.key", key)
    return key[:120]


def _replace_keys(db: Session, org: Organization, keys: Iterable[str]) -> None:
    db.execute(text("DELETE FROM dedup_keys WHERE record_id = :id"), {"id": org.id})
    rows = [{"id": org.id, "key": key, "kind": org.kind} for key in sorted(set(keys))]
    if rows:
        # (a scan merging keys at the same time may have written one of them already)
        db.execute(
            text(
                "INSERT INTO dedup_keys (record_id, key, kind) VALUES (:id, :key, :kind)"
                " ON CONFLICT DO NOTHING"
            ),
            rows,
        )


# an edited record's undecided pairs leave the queue when the other record was compared again
# and no longer scores for review, or no longer shares a blocking key with it (pairs with
# judgements stay: they are the context of the log; a pair left out of the comparison by the
# per-key cap stays)
_STALE = text(
    """
    DELETE FROM dedup_candidates c
    WHERE (c.left_id = :id OR c.right_id = :id)
      AND (
          (CASE WHEN c.left_id = :id THEN c.right_id ELSE c.left_id END) = ANY(:parted)
          OR NOT EXISTS (
              SELECT 1 FROM dedup_keys mine JOIN dedup_keys theirs
                ON theirs.key = mine.key AND theirs.kind = mine.kind
              WHERE mine.record_id = :id
                AND theirs.record_id = (CASE WHEN c.left_id = :id THEN c.right_id ELSE c.left_id END)
          )
      )
      AND NOT EXISTS (
          SELECT 1 FROM dedup_judgements j WHERE j.left_id = c.left_id AND j.right_id = c.right_id
      )
    """
)


def on_write(session: Session, org: Organization, event_type: str) -> list[Found]:
    """Keep the record's blocking keys and, after a change of its matched fields, compare it
    with the records sharing a key (called by `record_event` in the writing transaction)."""
    if org.status in DEAD_STATUSES:
        session.execute(text("DELETE FROM dedup_keys WHERE record_id = :id"), {"id": org.id})
        return []
    if event_type not in REMATCH_EVENTS:
        return []
    matcher = matching.matcher_for(org.kind)
    record = plain_record(org.kind, org.id, org.data)
    keys = {stored_key(org.kind, k) for k in matcher.blocking_keys(record)}
    _replace_keys(session, org, keys)
    neighbours = session.execute(
        _NEIGHBOURS, {"kind": org.kind, "keys": sorted(keys), "id": org.id, "per_key": PER_KEY}
    ).all()
    found: list[tuple[str, str, matching.Match]] = []
    others: dict[str, Side] = {}
    for *placed, data in neighbours:
        other = Side(*placed)
        match = matcher.compare(record, plain_record(org.kind, other.id, data))
        if match.for_review:
            found.append((org.id, other.id, match))
            others[other.id] = other
    source = "registration" if event_type == "created" else "edit"
    store_candidates(session, org.kind, found, source=source, matcher_version=matcher.version)
    if event_type != "created":  # pairs compared now and no longer for review
        parted = [row[0] for row in neighbours if row[0] not in others]
        session.execute(_STALE, {"id": org.id, "parted": parted})
    if found:
        structlog.get_logger().info("dedup.flagged", record=org.id, candidates=len(found))
    found.sort(key=lambda f: -f[2].score)
    return [Found(others[b], m.score, m.explain()) for _, b, m in found]


# --- judgements and clusters ------------------------------------------------------------------

DECISIONS = {
    "same": Judgement.positive,
    "not_same": Judgement.negative,
    "unsure": Judgement.unsure,
    "retract": Judgement.no_judgement,
}


def latest_judgement(db: Session | Connection, a: str, b: str) -> Judgement | None:
    left, right = ordered(a, b)
    value = db.execute(
        text("SELECT " + LATEST_JUDGEMENT.format(left=":l", right=":r")), {"l": left, "r": right}
    ).scalar()
    return Judgement(value) if value else None


def append_judgement(
    session: Session,
    a: str,
    b: str,
    judgement: Judgement,
    actor: Principal | None,
    *,
    reason: str | None = None,
) -> None:
    left, right = ordered(a, b)
    session.execute(
        text(
            "INSERT INTO dedup_judgements"
            " (left_id, right_id, judgement, actor, actor_name, reason, request_id)"
            " VALUES (:l, :r, :j, :actor, :name, :reason, :request_id)"
        ),
        {
            "l": left,
            "r": right,
            "j": judgement.value,
            "actor": events.who(actor)[0],
            "name": events.who(actor)[1],
            "reason": reason,
            "request_id": structlog.contextvars.get_contextvars().get("request_id"),
        },
    )


def clusters(judgements: Iterable[tuple[str, str, Judgement]]) -> list[set[str]]:
    """The clusters a judgement log says: connected components of the pairs whose latest
    judgement is positive (the log is given in order; later entries overrule earlier ones).
    A pure function of the log, so the state can always be derived again."""
    latest: dict[tuple[str, str], Judgement] = {}
    for a, b, judgement in judgements:
        latest[ordered(a, b)] = judgement
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for (a, b), judgement in latest.items():
        if judgement is Judgement.positive:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, set[str]] = {}
    for x in list(parent):
        groups.setdefault(root(x), set()).add(x)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: min(g))


def cluster_of(session: Session, record_id: str) -> set[str]:
    """The records judged the same as `record_id`, directly or through others."""
    seen, frontier = {record_id}, {record_id}
    log: list[tuple[str, str, Judgement]] = []
    while frontier:
        rows = session.execute(
            text(
                "SELECT left_id, right_id, judgement FROM dedup_judgements"
                " WHERE left_id = ANY(:ids) OR right_id = ANY(:ids) ORDER BY seq"
            ),
            {"ids": sorted(frontier)},
        ).all()
        log.extend((a, b, Judgement(j)) for a, b, j in rows)
        component = next((c for c in clusters(log) if record_id in c), {record_id})
        frontier = component - seen
        seen |= component
    return next((c for c in clusters(log) if record_id in c), {record_id})


# --- the review queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    id: int
    kind: str
    score: float
    evidence: list[dict[str, Any]]
    vetoed: str | None
    source: str
    found_at: datetime
    judgement: Judgement | None
    left: Side
    right: Side


_QUEUE = f"""
    SELECT c.id, c.kind, c.score, c.evidence, c.vetoed, c.source, c.found_at, j.judgement,
           l.id, l.name, l.region_code, l.status, l.kind, l.approved_at IS NOT NULL,
           r.id, r.name, r.region_code, r.status, r.kind, r.approved_at IS NOT NULL
    FROM dedup_candidates c
    JOIN organizations l ON l.id = c.left_id
    JOIN organizations r ON r.id = c.right_id
    CROSS JOIN LATERAL (
        SELECT {LATEST_JUDGEMENT.format(left="c.left_id", right="c.right_id")} AS judgement
    ) j
"""  # noqa: S608 - constants

STATES = {
    # undecided pairs of live records: what a reviewer works through
    "open": "(j.judgement IS NULL OR j.judgement IN ('no_judgement', 'unsure'))"
    f" AND l.status NOT IN {_DEAD_SQL} AND r.status NOT IN {_DEAD_SQL}",
    "unsure": "j.judgement = 'unsure'",
    "same": "j.judgement = 'positive'",
    "not_same": "j.judgement = 'negative'",
    "all": "true",
}


def _candidate(row: Any) -> Candidate:
    return Candidate(
        id=row[0],
        kind=row[1],
        score=row[2],
        evidence=row[3],
        vetoed=row[4],
        source=row[5],
        found_at=row[6],
        judgement=Judgement(row[7]) if row[7] else None,
        left=Side(*row[8:14]),
        right=Side(*row[14:20]),
    )


def _in_reach(actor: Principal) -> tuple[str, dict[str, Any]]:
    """Pairs with at least one record the reviewer may review: the policy's own SQL filter
    (`auth.policy.visible_filter`) on either side of the pair."""
    if not reach(actor, Action.review):
        raise Forbidden("只有审核人员可以处理疑似重复", code="forbidden")
    either = or_(
        *(
            visible_filter(
                actor,
                Action.review,
                region_code=literal_column(f"{side}.region_code", String),
                published=literal_column(f"{side}.approved_at IS NOT NULL", Boolean),
                entity_kind=literal_column(f"{side}.kind", String),
                entity_id=literal_column(f"{side}.id", String),
            )
            for side in ("l", "r")
        )
    )
    # (a text() query: the condition is inlined, its values are the principal's own codes)
    sql = either.compile(dialect=_INLINE, compile_kwargs={"literal_binds": True})
    return f"({sql})", {}


def list_candidates(
    session: Session,
    *,
    actor: Principal,
    kind: str | None = None,
    state: str = "open",
    record_id: str | None = None,
    within: str | None = None,
    min_score: float | None = None,
    limit: int = 50,
    after: tuple[float, int] | None = None,
) -> list[Candidate]:
    """The queue in the reviewer's jurisdiction, best score first (`after`: the last
    (score, id) of the previous page)."""
    where, params = _in_reach(actor)
    clauses = [where, STATES[state]]
    if kind:
        clauses.append("c.kind = :kind")
        params["kind"] = kind
    if record_id:
        clauses.append("(c.left_id = :record OR c.right_id = :record)")
        params["record"] = record_id
    if within:
        clauses.append("(l.region_code LIKE :within OR r.region_code LIKE :within)")
        params["within"] = region_prefix(within) + "%"
    if min_score is not None:
        clauses.append("c.score >= :min_score")
        params["min_score"] = min_score
    if after is not None:
        clauses.append("(c.score < :after_score OR (c.score = :after_score AND c.id > :after_id))")
        params["after_score"], params["after_id"] = after
    sql = f"{_QUEUE} WHERE {' AND '.join(clauses)} ORDER BY c.score DESC, c.id LIMIT :limit"
    params["limit"] = limit
    return [_candidate(r) for r in session.execute(text(sql), params).all()]


def get_candidate(session: Session, *, candidate_id: int, actor: Principal) -> Candidate:
    where, params = _in_reach(actor)
    row = session.execute(
        text(f"{_QUEUE} WHERE c.id = :cid AND {where}"), {**params, "cid": candidate_id}
    ).first()
    if row is None:
        raise NotFound(f"疑似重复 {candidate_id} 不存在", code="not_found")
    return _candidate(row)


def judgement_log(session: Session, a: str, b: str) -> list[dict[str, Any]]:
    left, right = ordered(a, b)
    rows = session.execute(
        text(
            "SELECT seq, judgement, actor_name, reason, at FROM dedup_judgements"
            " WHERE left_id = :l AND right_id = :r ORDER BY seq"
        ),
        {"l": left, "r": right},
    ).all()
    return [
        {"seq": s, "judgement": j, "actor_name": n, "reason": reason, "at": at}
        for s, j, n, reason, at in rows
    ]


def judge(
    session: Session,
    *,
    candidate_id: int,
    decision: str,
    reason: str | None,
    actor: Principal,
) -> Candidate:
    """Append the reviewer's decision on a candidate pair to the judgement log."""
    candidate = get_candidate(session, candidate_id=candidate_id, actor=actor)
    judgement = DECISIONS.get(decision)
    if judgement is None:
        raise Unprocessable(
            "判断应为 same(同一主体)、not_same(不是同一主体)、unsure(无法确定)或 retract(撤回)",
            code="invalid_decision",
        )
    if judgement is Judgement.negative and not reason:
        raise Unprocessable("判断“不是同一主体”时请说明理由", code="reason_required")
    merged = Status.merged.value in (candidate.left.status, candidate.right.status)
    if judgement is not Judgement.positive and merged:
        raise Conflict("这对记录已合并;如合并有误,请撤销合并", code="already_merged")
    append_judgement(
        session, candidate.left.id, candidate.right.id, judgement, actor, reason=reason
    )
    return get_candidate(session, candidate_id=candidate_id, actor=actor)
