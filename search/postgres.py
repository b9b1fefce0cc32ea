"""The PostgreSQL search backend: `search_documents` (tsvector + pg_trgm) joined to the records.

Matching, for a query analyzed by `search.text.query_terms`, in this order of score:

| tier | score | how |
|---|---|---|
| identifier | 100 | the query is a code and equals one of the document's `identifiers` (USCC, catalogue code, commodity model …) |
| catalogue subtree | 60 | a catalogue code: business scope or commodity code below it (`codes`) |
| exact name | 55 (45 former name) | the folded query is the whole name or the core name (`^…$` lexemes) |
| name prefix | 30–40 (22–25 former) | the name or core name starts with the query (`'^…':*`), ranked by `ts_rank_cd` |
| full text | 10–20 | every bigram of the query's CJK text and every Latin/digit run (the last one as a prefix, for as-you-type), ranked by `ts_rank_cd` over words and bigrams (weights A name, B pinyin/former names, C other text) |
| query core | 9–10 | the query's core name (region and legal form dropped) is, or begins, a core name |
| pinyin | 8–9 | a pinyin-only query: prefix of the name's or core's pinyin or initials, or its syllable groups as pinyin words |
| fuzzy | 0–7 | only when nothing above matched: the query's pinyin as a prefix of pinyin lexemes (homophone typos, 蒙曹 → 蒙草) and pg_trgm word similarity of the folded query to the folded names (typos) |

Catalogue codes typed among other words (`A02010000 戴尔`) filter by class instead.

Scores are rounded to six decimals; hits are ordered by (score desc, id), which is also the
keyset of the cursor. Visibility is the registries' own rule (`auth.policy.visible_filter` on
the joined record), eligibility `registry.organizations.eligible_expr()` (so debarments and ended
terms count as of now), facets are counted over every hit before paging.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.types import Text
from sqlmodel import Session, col, select

from auth.policy import Action, visible_filter
from auth.principals import Principal
from models.organization import Organization, RecordKind, Status
from models.search import SearchDocument
from registry.codes import catalog_prefix, normalize_catalog_code, region_prefix
from registry.organizations import eligible_expr
from search import documents
from search.highlight import highlight
from search.query import (
    Facets,
    Hit,
    SearchQuery,
    SearchResult,
    Suggestion,
    catalog_words,
    decode_cursor,
    encode_cursor,
)
from search.text import CodeKind, QueryAnalysis, query_terms

WORD_SIMILARITY_THRESHOLD = 0.5
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{_HAN}]")
_ALNUM_RUN = re.compile(rf"[^\W_{_HAN}]+(?:\.\d+[^\W_{_HAN}]*)*")
_SPACE_NEAR_CJK = re.compile(r" (?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) ")
_SCORE = Numeric(12, 6)

SD = SearchDocument
O = Organization  # noqa: E741 - the joined record, as in SQL


# --- tsquery literals ---------------------------------------------------------------------------


def _lexeme(term: str, *, prefix: bool = False, weights: str = "") -> str:
    quoted = "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"
    label = ("*" if prefix else "") + weights
    return f"{quoted}:{label}" if label else quoted


def _any(parts: Sequence[str]) -> str:
    return " | ".join(f"( {p} )" for p in parts)


def _all(parts: Sequence[str]) -> str:
    return " & ".join(f"( {p} )" for p in parts)


def _matches(tsquery: str) -> ColumnElement[bool]:
    return col(SD.terms).op("@@")(cast(literal(tsquery, Text), TSQUERY))


def _rank(tsquery: str) -> ColumnElement[Any]:
    # 1: divided by 1 + log(document length), 32: rank / (rank + 1), so within [0, 1)
    return func.ts_rank_cd(col(SD.terms), cast(literal(tsquery, Text), TSQUERY), 33)


def _is_han(term: str) -> bool:
    return bool(_HAN_RE.search(term))


class _Plan:
    """The SQL conditions and scores of one analyzed query."""

    def __init__(self, analysis: QueryAnalysis) -> None:
        a = analysis
        self.analysis = a
        strict: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []
        fuzzy: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []

        if a.is_code and a.code and a.code_kind is not CodeKind.resident_id:
            codes = [a.code]
            official = normalize_catalog_code(a.code) if a.code_kind is CodeKind.catalog else None
            if official:
                codes.append(official)
            strict.append((col(SD.identifiers).op("&&")(cast(codes, ARRAY(Text))), literal(100)))
            if official:
                scope = documents.CATALOG_CODE + catalog_prefix(official)
                strict.append((col(SD.codes).contains(cast([scope], ARRAY(Text))), literal(60)))

        # the query as typed (and without the spaces a Chinese name does not have) against the
        # whole name or core name: exact, then prefix; current names (A) before former ones (B)
        names = list(dict.fromkeys(n for n in (a.text, _SPACE_NEAR_CJK.sub("", a.text)) if n))
        if names:
            exact_a = _any([_lexeme(documents.name_lexeme(n), weights="A") for n in names])
            exact_b = _any([_lexeme(documents.name_lexeme(n), weights="B") for n in names])
            strict.append((_matches(exact_a), literal(55)))
            strict.append((_matches(exact_b), literal(45)))
            starts = [documents.NAME_START + n for n in names]
            prefix_a = _any([_lexeme(s, prefix=True, weights="A") for s in starts])
            prefix_b = _any([_lexeme(s, prefix=True, weights="B") for s in starts])
            strict.append((_matches(prefix_a), 30 + 10 * _rank(prefix_a)))
            strict.append((_matches(prefix_b), 22 + 3 * _rank(prefix_b)))
        # the query's core (without the region and legal form it names) against core names: it
        # drops what the user typed, so it ranks below a full-text match of the whole query
        # (`正镶白旗 第一中学` must not put every 第一中学 first)
        if a.core and a.core not in names:
            core = _any(
                [
                    _lexeme(documents.name_lexeme(a.core), weights="A"),
                    _lexeme(documents.NAME_START + a.core, prefix=True, weights="A"),
                ]
            )
            strict.append((_matches(core), 9 + _rank(core)))

        required = self._required_terms(a)
        if required:
            everything = _all(required)
            ranked = _any([*required, *(_lexeme(t) for t in a.terms)])
            strict.append((_matches(everything), 10 + 10 * _rank(ranked)))

        if a.is_pinyin and a.pinyin:
            forms = [_lexeme(a.pinyin, prefix=True, weights="B")]
            groups = [g for g in a.text.replace("'", " ").split() if g]
            if len(groups) > 1:
                *head, last = groups
                forms.append(
                    _all(
                        [
                            *(_lexeme(g, weights="B") for g in head),
                            _lexeme(last, prefix=True, weights="B"),
                        ]
                    )
                )
            pinyin = _any(forms)
            strict.append((_matches(pinyin), 8 + _rank(pinyin)))

        han = len(_HAN_RE.findall(a.text))
        if not a.is_pinyin and a.pinyin and han >= 2:
            homophone = _lexeme(a.pinyin, prefix=True, weights="B")
            fuzzy.append((_matches(homophone), 5 + 2 * _rank(homophone)))
        if len(a.text.replace(" ", "")) >= 3:
            similarity = func.word_similarity(literal(a.text, Text), col(SD.folded))
            fuzzy.append((literal(a.text, Text).op("<%")(col(SD.folded)), 5 * similarity))
        self.strict = strict
        self.fuzzy = fuzzy

    @staticmethod
    def _required_terms(a: QueryAnalysis, weights: str = "") -> list[str]:
        """Every bigram (a lone character as a prefix) and every Latin/digit run, the one that
        ends the query as a prefix: what a document must hold to match in full text (in the
        fields of `weights`, default all)."""
        runs = _ALNUM_RUN.findall(a.text)
        required: list[str] = []
        ends_with_run = bool(runs) and a.text.endswith(runs[-1])
        for i, run in enumerate(runs):
            last = ends_with_run and i == len(runs) - 1
            required.append(_lexeme(run, prefix=last, weights=weights))
        cjk = [b for b in a.bigrams if _is_han(b)]
        for bigram in cjk:
            alone = len(bigram) == 1  # a one-character run: any bigram starting with it
            required.append(_lexeme(bigram, prefix=alone, weights=weights))
        return list(dict.fromkeys(required))

    @staticmethod
    def _score(parts: list[tuple[ColumnElement[bool], ColumnElement[Any]]]) -> ColumnElement[Any]:
        if not parts:
            return cast(literal(0), _SCORE)
        if len(parts) == 1:
            condition, score = parts[0]
            return func.round(cast(case((condition, score), else_=0), _SCORE), 6)
        scores = [case((condition, score), else_=0) for condition, score in parts]
        return func.round(cast(func.greatest(*scores), _SCORE), 6)

    def match(self, fuzzy: bool) -> tuple[ColumnElement[bool], ColumnElement[Any]]:
        parts = self.fuzzy if fuzzy else self.strict
        if not parts:
            return false(), cast(literal(0), _SCORE)
        return or_(*(condition for condition, _ in parts)), self._score(parts)


# --- filters ------------------------------------------------------------------------------------


def _filters(query: SearchQuery, actor: Principal) -> list[ColumnElement[bool]]:
    # visibility on the document's copies of the record's facts (written in the same
    # transaction as the record): no join to `organizations` unless eligibility is asked for
    where: list[ColumnElement[bool]] = [
        visible_filter(
            actor,
            Action.read,
            region_code=col(SD.region_code),
            published=col(SD.published),
            entity_kind=col(SD.kind),
            entity_id=col(SD.record_id),
        ),
        col(SD.status) != Status.merged.value,  # tombstones keep resolving, not searchable
    ]
    if query.kinds:
        where.append(col(SD.kind).in_([k.value for k in query.kinds]))
    if query.within:
        where.append(col(SD.region_code).startswith(region_prefix(query.within)))
    if query.status:
        where.append(col(SD.status).in_([s.value for s in query.status]))
    if query.size:
        where.append(col(SD.size).in_([s.value for s in query.size]))
    if query.catalog:
        code = documents.CATALOG_CODE + catalog_prefix(query.catalog)
        where.append(col(SD.codes).contains(cast([code], ARRAY(Text))))
    if query.specialty:
        code = documents.SPECIALTY_CODE + query.specialty
        where.append(col(SD.codes).contains(cast([code], ARRAY(Text))))
    if query.price_min is not None:
        where.append(col(SD.price) >= query.price_min)
    if query.price_max is not None:
        where.append(col(SD.price) <= query.price_max)
    if query.eligible is not None:  # the registries' own rule, as of now
        where.append(eligible_expr() if query.eligible else ~eligible_expr())
    return where


def _league(region_code: Any) -> Any:
    return func.substr(region_code, 1, 4) + "00"


# --- the backend --------------------------------------------------------------------------------


def _joined(*columns: Any, record: bool = False) -> Any:
    """SELECT columns FROM search_documents, joined to the record only when a filter needs it
    (eligibility, computed from the record and its debarments)."""
    query = select(*columns).select_from(SD)
    return query.join(O, col(O.id) == col(SD.record_id)) if record else query


# Parallel workers cost a few ms each to start and, on a small machine, compete with the other
# requests; a search reads few rows once its indexes are used. Per transaction (a request).
_SERIAL = text("SET LOCAL max_parallel_workers_per_gather = 0")


# the outbox row carries the next version, so an engine using external versions applies it
_DELETE = text(
    """
    WITH gone AS (DELETE FROM search_documents WHERE record_id = :id RETURNING version)
    INSERT INTO search_outbox (record_id, version, op)
    SELECT :id, version + 1, 'delete' FROM gone
    """
)


class PostgresBackend:
    """Search on PostgreSQL: nothing to run besides the database (see the module docstring)."""

    def _facets(
        self, session: Session, where: list[ColumnElement[bool]], record: bool
    ) -> tuple[int, Facets]:
        matched = _joined(
            col(SD.kind).label("kind"),
            _league(col(SD.region_code)).label("league"),
            col(SD.status).label("status"),
            record=record,
        ).where(*where)
        sub = matched.subquery()
        rows = session.execute(
            select(sub.c.kind, sub.c.league, sub.c.status, func.count()).group_by(
                func.grouping_sets(tuple_(sub.c.kind), tuple_(sub.c.league), tuple_(sub.c.status))
            )
        ).all()
        facets = Facets()
        for kind, league, status, count in rows:
            if kind is not None:
                facets.kind[kind] = count
            elif league is not None:
                facets.region[league] = count
            elif status is not None:
                facets.status[status] = count
        facets.kind = dict(sorted(facets.kind.items(), key=lambda kv: (-kv[1], kv[0])))
        facets.region = dict(sorted(facets.region.items(), key=lambda kv: (-kv[1], kv[0])))
        facets.status = dict(sorted(facets.status.items(), key=lambda kv: (-kv[1], kv[0])))
        return sum(facets.kind.values()), facets

    def search(self, session: Session, query: SearchQuery, actor: Principal) -> SearchResult:
        after = decode_cursor(query.cursor) if query.cursor else None
        session.execute(_SERIAL)
        filters = _filters(query, actor)
        record = query.eligible is not None
        typed, classes = catalog_words(query.q or "")
        if classes:
            filters.append(or_(*(col(SD.codes).contains(cast([c], ARRAY(Text))) for c in classes)))
        analysis = query_terms(typed) if typed.strip() else None
        plan = _Plan(analysis) if analysis is not None else None
        fuzzy = False
        if plan is None:
            condition: ColumnElement[bool] = true()
            score: ColumnElement[Any] = cast(literal(0), _SCORE)
        else:
            condition, score = plan.match(fuzzy=False)
        total, facets = self._facets(session, [*filters, condition], record)
        if total == 0 and plan is not None and plan.fuzzy:
            session.execute(
                text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
                {"t": str(WORD_SIMILARITY_THRESHOLD)},
            )
            condition, score = plan.match(fuzzy=True)
            total, facets = self._facets(session, [*filters, condition], record)
            fuzzy = total > 0
        hits: list[Hit] = []
        next_cursor = None
        if total:
            ranked = (
                _joined(
                    col(SD.record_id).label("id"),
                    col(SD.kind).label("kind"),
                    col(SD.name).label("name"),
                    col(SD.status).label("status"),
                    col(SD.region_code).label("region_code"),
                    score.label("score"),
                    record=record,
                )
                .where(*filters, condition)
                .subquery()
            )
            page = select(ranked)
            if after is not None:
                page = page.where(
                    or_(
                        ranked.c.score < after[0],
                        and_(ranked.c.score == after[0], ranked.c.id > after[1]),
                    )
                )
            rows = session.execute(
                page.order_by(ranked.c.score.desc(), ranked.c.id).limit(query.limit + 1)
            ).all()
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            for row in rows:
                hits.append(
                    Hit(
                        id=row.id,
                        kind=RecordKind(row.kind),
                        name=row.name,
                        score=float(row.score),
                        highlight=highlight(row.name, analysis)
                        if analysis is not None
                        else html.escape(row.name),
                        status=Status(row.status),
                        region_code=row.region_code,
                    )
                )
            if more and rows:
                next_cursor = encode_cursor(Decimal(rows[-1].score), rows[-1].id)
        return SearchResult(
            hits=hits, total=total, facets=facets, fuzzy=fuzzy, next_cursor=next_cursor
        )

    def suggest(
        self,
        session: Session,
        prefix: str,
        kinds: Sequence[RecordKind],
        actor: Principal,
        limit: int,
    ) -> list[Suggestion]:
        """Names (or cores) starting with `prefix`, then names whose pinyin or initials do
        (a pinyin-only prefix), then names holding it anywhere (its bigrams), shortest first."""
        a = query_terms(prefix)
        if not a.text:
            return []
        session.execute(_SERIAL)
        names = list(dict.fromkeys(n for n in (a.text, a.core) if n))
        starts = _any([_lexeme(documents.NAME_START + n, prefix=True, weights="A") for n in names])
        tiers: list[tuple[ColumnElement[bool], int]] = [(_matches(starts), 3)]
        if a.is_pinyin and a.pinyin:
            tiers.append((_matches(_lexeme(a.pinyin, prefix=True, weights="B")), 2))
        required = _Plan._required_terms(a, weights="A")
        if required:
            tiers.append((_matches(_all(required)), 1))
        condition = or_(*(c for c, _ in tiers))
        score = case(*((c, s) for c, s in tiers), else_=0)
        where = [
            *_filters(SearchQuery(kinds=tuple(kinds)), actor),
            condition,
        ]
        rows = session.execute(
            _joined(col(SD.record_id), col(SD.kind), col(SD.name))
            .where(*where)
            .order_by(
                score.desc(),
                (col(SD.status) == Status.cancelled.value),
                func.length(col(SD.name)),
                col(SD.record_id),
            )
            .limit(limit)
        ).all()
        return [
            Suggestion(id=r[0], kind=RecordKind(r[1]), name=r[2], highlight=highlight(r[2], a))
            for r in rows
        ]

    def upsert(self, session: Session, document: SearchDocument) -> None:
        documents.store(session, document)

    def delete(self, session: Session, record_id: str) -> None:
        """Records are never deleted (cancelled ones stay searchable by status); this removes a
        document for good, e.g. of a merged record, and tells the engine worker. (A document
        written again later starts over at version 1: not for records that come back.)"""
        session.execute(_DELETE, {"id": record_id})
