"""The engine search backend (Elasticsearch 8 or OpenSearch 2): the read side.

`EngineBackend` answers `search` and `suggest` with the semantics of the PostgreSQL backend
(`search/postgres.py`, whose module docstring is the reference for tiers and scores), from the
index `search/engine.py` builds out of `search_documents`. Request bodies are plain JSON, the
same for both engines, and use only what every Elasticsearch 8 / OpenSearch 2 node has in its
core: `bool`, `dis_max`, `constant_score`, `function_score` (`field_value_factor`, `weight`),
`term(s)`, `prefix`, `range`, `exists`, `terms` aggregations and `search_after` — no scripts (the
Painless module is not in every node: the test Elasticsearch node has none), no analyzers
besides the index's own.

How a query becomes a request body
----------------------------------

Every tier of the PostgreSQL backend is one member of a `dis_max` (tie breaker 0), so a hit's
score is the best tier it reaches, as `greatest(...)` there; the tiers keep PostgreSQL's bands:

| tier | member |
|---|---|
| identifier 100, catalogue subtree 60 | `constant_score` of `terms` on `identifiers` / `term` on `codes` |
| exact name 55, former 45 | `constant_score` of `terms` on `terms_a` / `terms_b` (`^name$` lexemes) |
| name prefix 30–40, query core 9–10 | `prefix` on `name_key` and on `core_key`, each worth 1.0 |
| former name prefix 22–25, full text 10–20, pinyin 8–9 | the tier's condition (`term` / `prefix` on `terms_a/b/c`) as a filter, plus a `constant_score` per query lexeme and field, worth the field's weight (A 1.0, B 0.4, C 0.2) |

The ranked tiers: PostgreSQL scores `base + factor * r / (r + 1)` with r = ts_rank_cd's sum
(for the OR-queries it ranks with, every matched position is a cover worth its weight) divided
by ln(1 + number of positions). The engine sums the same weights (S), multiplies by the
document's `rank_norm` = 1 / ln(1 + positions) (`field_value_factor`) and maps r into the band
linearly, `base + factor * min(r / cap, 0.999)` (nested `function_score`: boost modes
multiply, min, sum). r / (r + 1) is monotonic, so the order inside a tier is PostgreSQL's; a
hit shows PostgreSQL's score, recomputed from r (`display_score`). A prefix in a ranked tier
(the last Latin run or lone CJK character typed, a pinyin prefix) stands for every lexeme it
begins: one `size: 0` request first collects those lexemes from the matching documents
(`terms` aggregations with an `include` pattern, `Plan.expansion`), so each counts as in
PostgreSQL; a prefix standing for more than EXPANSION_MAX lexemes counts once per field.
Required terms of full text (every CJK bigram, a lone character as a prefix, every Latin/digit
run, the last as a prefix) are filters on any of the three arrays.

The fuzzy pass runs only when the strict members found nothing, as in PostgreSQL. Its
candidates (a homophone: the query's pinyin as a prefix of a B lexeme; or at least half of the
query's pg_trgm trigrams in `trigrams`, which pg_trgm's word similarity ≥ 0.5 requires) are
few, so they are fetched (up to FUZZY_CANDIDATES) and scored here exactly as PostgreSQL does
(`word_similarity` is pg_trgm's algorithm; `fuzzy_score`), then sorted, counted and paged in
Python. More candidates than that: the engine ranks them (homophone as a ranked tier, trigrams
by the share of the query's present — a superset of PostgreSQL's matches, approximately
ordered).

Filters are `filter` clauses (no score): visibility (`visible_query`, the query-DSL twin of
`auth.policy.visible_filter`, proved equal to `auth.policy.may` by a property test), kinds,
region subtree (`prefix` on `region_code`), status, size, catalogue and specialty (`term` on
`codes`), price range, and eligibility as of PostgreSQL's `current_date` (status active, no
debarment period containing today, no ended term). Facets are `terms` aggregations over every
hit (aggregations ignore `search_after`); `total` is the exact hit count. Pages use
`search_after` on (score, record_id); the cursor (`search.query`'s format) carries the engine's
own float32 score exactly, so a page never repeats or skips a hit.

Where the engine's order can still differ from PostgreSQL's (tests/test_search_backends.py and
`bench/search_quality.py --engine` compare them):

* a prefix standing for more than EXPANSION_MAX lexemes in the matching documents, and a former
  name's prefix, count once per field (PostgreSQL: once per lexeme);
* the pinyin tier's syllable-group form (`meng cao`) is ranked as separate covers; PostgreSQL's
  cover for that AND spans positions the index does not hold;
* float32: scores PostgreSQL keeps apart by less than float32's resolution (about 1e-6 of r)
  tie in the engine, and ties fall back to id order; more than 1000 fuzzy candidates (above).
"""

from __future__ import annotations

import html
import logging
import math
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from auth.policy import Action, Grant, reach
from auth.principals import Principal
from models.organization import RecordKind, Status
from models.search import SearchDocument
from registry.codes import catalog_prefix, normalize_catalog_code, region_prefix
from registry.errors import ServiceUnavailable
from search import documents
from search.engine import (
    EngineClient,
    EngineError,
    EngineUnavailable,
    IndexNames,
    pg_trigrams,
)
from search.highlight import ALNUM_RUN, highlight
from search.postgres import WORD_SIMILARITY_THRESHOLD, PostgresBackend
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

log = logging.getLogger(__name__)

_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_SPACE_NEAR_CJK = re.compile(r" (?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) ")
FACET_SIZE = 500  # more than there are kinds, leagues or statuses
FIELDS = ("a", "b", "c")


def _float4(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


# ts_rank_cd's default weights are float4 {D 0.1, C 0.2, B 0.4, A 1.0}; a one-position cover is
# worth its weight
COVER = {f: _float4(w) for f, w in zip(FIELDS, (1.0, 0.4, 0.2), strict=True)}
# the most rank clauses one tier may add (the engines refuse queries of more than 1024 clauses
# in all; a query of 100 characters has about 150 terms, each in three fields)
RANK_CLAUSES = 450
CAP_FRACTION = 0.999


@dataclass(frozen=True)
class Tier:
    """A ranked tier: PostgreSQL scores `base + factor * r / (r + 1)`; the engine scores
    `base + factor * min(r / cap, CAP_FRACTION)`: the same order, in the same band."""

    base: float
    factor: float
    cap: float  # the r at which the engine's order saturates (far above what names reach)

    def pg_score(self, score: float) -> float:
        """The PostgreSQL backend's score for an engine score of this tier."""
        r = (score - self.base) / self.factor * self.cap
        return self.base + self.factor * _float4(r / (r + 1))


# name prefix (the name and the core can both match, r ≤ 2 / ln 3), former name prefix, query
# core, full text, pinyin, homophone
PREFIX_A, PREFIX_B, CORE = Tier(30, 10, 2), Tier(22, 3, 8), Tier(9, 1, 2)
FULL_TEXT, PINYIN, HOMOPHONE = Tier(10, 10, 16), Tier(8, 1, 2), Tier(5, 2, 2)
TIERS = sorted((PREFIX_A, PREFIX_B, CORE, FULL_TEXT, PINYIN, HOMOPHONE), key=lambda t: t.base)
TRIGRAM_FACTOR = 5.0


def display_score(score: float) -> float:
    """The score a hit shows: the PostgreSQL backend's, recomputed from r, for the ranked tiers;
    the engine's own for the constant tiers and trigrams."""
    for tier in reversed(TIERS):
        if tier.base < score < tier.base + tier.factor:
            return round(tier.pg_score(score), 6)
    return round(score, 6)


# --- visibility ---------------------------------------------------------------------------------

MATCH_NONE: dict[str, Any] = {"match_none": {}}


def _any_of(*queries: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"should": list(queries), "minimum_should_match": 1}}


def visible_query(principal: Principal, action: Action = Action.read) -> dict[str, Any]:
    """Query-DSL twin of `auth.policy.visible_filter` over the index's `region_code`,
    `published`, `kind` and `record_id`: the grants of `auth.policy.reach`, translated, so it
    matches exactly the documents `may` allows (checked by a property test on a real engine)."""

    def in_subtree() -> dict[str, Any]:
        assert principal.jurisdiction_prefix is not None
        return {"prefix": {"region_code": principal.jurisdiction_prefix}}

    def owns() -> dict[str, Any]:
        if principal.entity_id is None or principal.entity_kind is None:
            return MATCH_NONE
        return {
            "bool": {
                "filter": [
                    {"term": {"record_id": principal.entity_id}},
                    {"term": {"kind": str(principal.entity_kind)}},
                ]
            }
        }

    conditions = {
        Grant.subtree: in_subtree,
        Grant.published: lambda: {"term": {"published": True}},
        Grant.own: owns,
    }
    grants = [conditions[g]() for g in Grant if g in reach(principal, action)]
    if not grants:
        return MATCH_NONE
    return grants[0] if len(grants) == 1 else _any_of(*grants)


# --- filters ------------------------------------------------------------------------------------


def eligible_query(today: date) -> dict[str, Any]:
    """`registry.organizations.eligible_expr()` as of `today`: active, no debarment period
    (not revoked) containing today, and no term of appointment ended before today."""
    day = today.isoformat()
    return {
        "bool": {
            "filter": [
                {"term": {"status": Status.active.value}},
                _any_of(
                    {"bool": {"must_not": [{"exists": {"field": "term_ends_on"}}]}},
                    {"range": {"term_ends_on": {"gte": day}}},
                ),
            ],
            "must_not": [
                {"range": {"debarred": {"gte": day, "lte": day, "relation": "intersects"}}}
            ],
        }
    }


def filters(query: SearchQuery, actor: Principal, today: date | None) -> list[dict[str, Any]]:
    """The filter clauses of a search (the PostgreSQL backend's `_filters`). `today` is needed
    (only) when `query.eligible` is set."""
    out: list[dict[str, Any]] = [
        visible_query(actor, Action.read),
        # merged records' tombstones keep resolving by id and key, but are not searchable
        {"bool": {"must_not": [{"term": {"status": Status.merged.value}}]}},
    ]
    if query.kinds:
        out.append({"terms": {"kind": [k.value for k in query.kinds]}})
    if query.within:
        out.append({"prefix": {"region_code": region_prefix(query.within)}})
    if query.status:
        out.append({"terms": {"status": [s.value for s in query.status]}})
    if query.size:
        out.append({"terms": {"size": [s.value for s in query.size]}})
    if query.catalog:
        out.append({"term": {"codes": documents.CATALOG_CODE + catalog_prefix(query.catalog)}})
    if query.specialty:
        out.append({"term": {"codes": documents.SPECIALTY_CODE + query.specialty}})
    price: dict[str, float] = {}
    if query.price_min is not None:
        price["gte"] = float(query.price_min)
    if query.price_max is not None:
        price["lte"] = float(query.price_max)
    if price:
        out.append({"range": {"price": price}})
    if query.eligible is not None:
        assert today is not None
        eligible = eligible_query(today)
        out.append(eligible if query.eligible else {"bool": {"must_not": [eligible]}})
    return out


# --- the tiers ----------------------------------------------------------------------------------


def constant(condition: dict[str, Any], score: float) -> dict[str, Any]:
    return {"constant_score": {"filter": condition, "boost": score}}


@dataclass(frozen=True, slots=True)
class Item:
    """One lexeme of a tsquery: exact or a prefix (`:*`), in the fields of some weights."""

    term: str
    prefix: bool = False
    fields: tuple[str, ...] = FIELDS

    def query(self) -> dict[str, Any]:
        kind = "prefix" if self.prefix else "term"
        parts = [{kind: {f"terms_{f}": self.term}} for f in self.fields]
        return parts[0] if len(parts) == 1 else _any_of(*parts)


def required_items(a: QueryAnalysis, fields: tuple[str, ...] = FIELDS) -> list[Item]:
    """The PostgreSQL backend's `_Plan._required_terms`: every Latin/digit run (the one ending
    the query as a prefix) and every CJK bigram (a lone character as a prefix)."""
    runs = ALNUM_RUN.findall(a.text)
    items: list[Item] = []
    ends_with_run = bool(runs) and a.text.endswith(runs[-1])
    for i, run in enumerate(runs):
        items.append(Item(run, ends_with_run and i == len(runs) - 1, fields))
    for bigram in (b for b in a.bigrams if _HAN_RE.search(b)):
        items.append(Item(bigram, len(bigram) == 1, fields))
    return list(dict.fromkeys(items))


Expansions = dict[tuple[str, str], list[str]]  # (prefix, field) → the lexemes it stands for


def _rank_clauses(items: Sequence[Item], expanded: Expansions) -> list[dict[str, Any]]:
    """Clauses whose scores add up to ts_rank_cd's sum over the positions the items match: each
    lexeme present in a field counts the field's weight. A prefix counts each lexeme it stands
    for (`expanded`, found in the matching documents), or else once per field where some lexeme
    starts with it; an exact lexeme that a prefix covers is left to the prefix."""
    clauses: list[dict[str, Any]] = []
    for f in FIELDS:
        prefixes = _prefixes(items, f)
        exact = dict.fromkeys(
            i.term
            for i in items
            if not i.prefix and f in i.fields and not any(i.term.startswith(p) for p in prefixes)
        )
        clauses += [constant({"term": {f"terms_{f}": t}}, COVER[f]) for t in exact]
        for p in prefixes:
            lexemes = expanded.get((p, f))
            if lexemes is None:
                clauses.append(constant({"prefix": {f"terms_{f}": p}}, COVER[f]))
            else:
                clauses += [constant({"term": {f"terms_{f}": t}}, COVER[f]) for t in lexemes]
    return clauses[:RANK_CLAUSES]


def _prefixes(items: Sequence[Item], f: str) -> list[str]:
    """The prefixes of `items` in field `f`, without those another one covers."""
    prefixes = sorted({i.term for i in items if i.prefix and f in i.fields})
    return [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]


def _banded(summed: dict[str, Any], tier: Tier) -> dict[str, Any]:
    """`tier.base + tier.factor * min(S * rank_norm / tier.cap, CAP_FRACTION)` for documents
    matching `summed`, which scores S."""
    r = {
        "function_score": {
            "query": summed,
            "functions": [
                {
                    "field_value_factor": {
                        "field": "rank_norm",
                        "factor": tier.factor / tier.cap,
                        "missing": 1.0,
                    }
                }
            ],
            "boost_mode": "multiply",
        }
    }
    capped = {
        "function_score": {
            "query": r,
            "functions": [{"weight": tier.factor * CAP_FRACTION}],
            "boost_mode": "min",
        }
    }
    return {
        "function_score": {
            "query": capped,
            "functions": [{"weight": tier.base}],
            "boost_mode": "sum",
        }
    }


@dataclass(frozen=True)
class Ranked:
    """A ranked tier's member: documents matching `condition`, scored in `tier` by ts_rank_cd
    of `items` (built once the prefixes among them are expanded: `Plan.expansion`)."""

    condition: dict[str, Any]
    items: tuple[Item, ...]
    tier: Tier
    expand: bool = True  # expand its prefixes (not worth a request for former names)

    def query(self, expanded: Expansions) -> dict[str, Any]:
        summed = {
            "bool": {"filter": [self.condition], "should": _rank_clauses(self.items, expanded)}
        }
        return _banded(summed, self.tier)


def ranked(condition: dict[str, Any], items: Sequence[Item], tier: Tier) -> dict[str, Any]:
    """Documents matching `condition`, scored in `tier` by ts_rank_cd of `items` (prefixes
    counted once per field)."""
    return Ranked(condition, tuple(items), tier).query({})


EXPANSION_MAX = 64  # lexemes a prefix may stand for in the ranking (else: counted once)
_REGEX_PLAIN = re.compile(r"[0-9A-Za-z\u0080-\U0010ffff]")


def _regex_prefix(prefix: str) -> str:
    """A Lucene regular expression matching the terms that start with `prefix`."""
    return "".join(c if _REGEX_PLAIN.fullmatch(c) else "\\" + c for c in prefix) + ".*"


def name_prefix(starts: Sequence[str], tier: Tier) -> dict[str, Any]:
    """A current name or core starting with one of `starts` (`^…`), ranked by how many of the
    two do (`name_key`, `core_key`: the two `^…$` lexemes of terms_a apart)."""
    per_key = [
        constant(_any_of(*({"prefix": {key: s}} for s in starts)), COVER["a"])
        for key in ("name_key", "core_key")
    ]
    return _banded({"bool": {"should": per_key, "minimum_should_match": 1}}, tier)


def similar(text_: str) -> dict[str, Any] | None:
    """pg_trgm's `text <% folded` (word similarity ≥ 0.5), approximated: at least half the
    query's trigrams in the document (necessary for PostgreSQL's match, as its similarity is at
    most that share), scored 5 × the share."""
    trigrams = pg_trigrams(text_)
    if not trigrams:
        return None
    each = TRIGRAM_FACTOR / len(trigrams)
    return {
        "bool": {
            "should": [constant({"term": {"trigrams": t}}, each) for t in trigrams],
            "minimum_should_match": math.ceil(len(trigrams) * WORD_SIMILARITY_THRESHOLD),
        }
    }


@dataclass
class Plan:
    """The `dis_max` members of one analyzed query: strict ones, and fuzzy ones for when the
    strict ones find nothing (the PostgreSQL backend's `_Plan`)."""

    analysis: QueryAnalysis
    strict: list[dict[str, Any] | Ranked] = field(default_factory=list)
    fuzzy: list[dict[str, Any]] = field(default_factory=list)
    homophone: str | None = None  # the pinyin whose prefix finds homophones (fuzzy)
    trigram_text: str | None = None  # the text compared by trigram similarity (fuzzy)

    @classmethod
    def of(cls, a: QueryAnalysis) -> Plan:
        plan = cls(a)
        strict, fuzzy = plan.strict, plan.fuzzy
        if a.is_code and a.code and a.code_kind is not CodeKind.resident_id:
            codes = [a.code]
            official = normalize_catalog_code(a.code) if a.code_kind is CodeKind.catalog else None
            if official:
                codes.append(official)
            strict.append(constant({"terms": {"identifiers": codes}}, 100))
            if official:
                scope = documents.CATALOG_CODE + catalog_prefix(official)
                strict.append(constant({"term": {"codes": scope}}, 60))

        # the query as typed (and without the spaces a Chinese name does not have) against the
        # whole name or core name: exact, then prefix; current names (A) before former ones (B)
        names = list(dict.fromkeys(n for n in (a.text, _SPACE_NEAR_CJK.sub("", a.text)) if n))
        if names:
            exact = [documents.name_lexeme(n) for n in names]
            strict.append(constant({"terms": {"terms_a": exact}}, 55))
            strict.append(constant({"terms": {"terms_b": exact}}, 45))
            starts = [documents.NAME_START + n for n in names]
            strict.append(name_prefix(starts, PREFIX_A))
            former = tuple(Item(s, True, ("b",)) for s in starts)
            strict.append(Ranked(_any_of(*(f.query() for f in former)), former, PREFIX_B, False))
        # the query's core against core names, below full text (see the PostgreSQL backend)
        if a.core and a.core not in names:
            strict.append(name_prefix([documents.NAME_START + a.core], CORE))

        required = required_items(a)
        if required:
            every = {"bool": {"filter": [r.query() for r in required]}}
            strict.append(Ranked(every, (*required, *(Item(t) for t in a.terms)), FULL_TEXT))

        if a.is_pinyin and a.pinyin:
            whole = Item(a.pinyin, True, ("b",))
            forms: list[dict[str, Any]] = [whole.query()]
            rank = [whole]
            groups = [g for g in a.text.replace("'", " ").split() if g]
            if len(groups) > 1:
                *head, last = groups
                parts = [*(Item(g, False, ("b",)) for g in head), Item(last, True, ("b",))]
                forms.append({"bool": {"filter": [p.query() for p in parts]}})
                rank += parts  # ranked as separate covers (see the module docstring)
            strict.append(Ranked(_any_of(*forms), tuple(rank), PINYIN))

        han = len(_HAN_RE.findall(a.text))
        if not a.is_pinyin and a.pinyin and han >= 2:
            homophone = Item(a.pinyin, True, ("b",))
            fuzzy.append(ranked(homophone.query(), [homophone], HOMOPHONE))
            plan.homophone = a.pinyin
        if len(a.text.replace(" ", "")) >= 3:
            trigram = similar(a.text)
            if trigram is not None:
                fuzzy.append(trigram)
                plan.trigram_text = a.text
        return plan

    def fuzzy_candidates(self) -> list[dict[str, Any]]:
        """What a fuzzy match needs: the homophone prefix, or half the query's trigrams."""
        out: list[dict[str, Any]] = []
        if self.homophone:
            out.append(Item(self.homophone, True, ("b",)).query())
        if self.trigram_text:
            trigrams = similar(self.trigram_text)
            if trigrams is not None:
                out.append(trigrams)
        return out

    def _expandable(self) -> list[tuple[Ranked, str, str]]:
        return [
            (member, p, f)
            for member in self.strict
            if isinstance(member, Ranked) and member.expand
            for f in FIELDS
            for p in _prefixes(member.items, f)
        ]

    def expansion(self, where: list[dict[str, Any]]) -> dict[str, Any] | None:
        """A request for the lexemes each prefix of the ranked members stands for in the
        documents those members match (None: no prefix to expand)."""
        wanted = self._expandable()
        if not wanted:
            return None
        aggs = {
            f"x{i}": {
                "filter": member.condition,
                "aggs": {
                    "lexemes": {
                        "terms": {
                            "field": f"terms_{f}",
                            "include": _regex_prefix(p),
                            "size": EXPANSION_MAX + 1,
                        }
                    }
                },
            }
            for i, (member, p, f) in enumerate(wanted)
        }
        conditions = list({id(m): m.condition for m, _, _ in wanted}.values())
        return {
            "size": 0,
            "track_total_hits": False,
            "query": {"bool": {"filter": [*where, _any_of(*conditions)]}},
            "aggs": aggs,
        }

    def expanded(self, answer: dict[str, Any]) -> Expansions:
        out: Expansions = {}
        for i, (_, p, f) in enumerate(self._expandable()):
            buckets = answer["aggregations"][f"x{i}"]["lexemes"]["buckets"]
            if len(buckets) <= EXPANSION_MAX:
                out[(p, f)] = sorted(str(b["key"]) for b in buckets)
        return out

    def query(self, fuzzy: bool, expanded: Expansions | None = None) -> dict[str, Any]:
        parts = (
            self.fuzzy
            if fuzzy
            else [m.query(expanded or {}) if isinstance(m, Ranked) else m for m in self.strict]
        )
        if not parts:
            return MATCH_NONE
        return {"dis_max": {"queries": parts, "tie_breaker": 0.0}}


# --- the fuzzy pass, exactly -------------------------------------------------------------------

FUZZY_CANDIDATES = 1000  # more candidates than this: the engine's approximate ranking
_SIX = Decimal("0.000001")


def pg_round6(value: float) -> Decimal:
    """`round(value::numeric(12, 6), 6)` as PostgreSQL computes it: through 15 significant
    digits (float8 → numeric), then half away from zero."""
    return Decimal(format(value, ".15g")).quantize(_SIX, rounding=ROUND_HALF_UP)


def _positional_trigrams(text_: str) -> list[str]:
    """pg_trgm's trigrams of `text_` in order, repeats kept (`generate_trgm_only`)."""
    out: list[str] = []
    word: list[str] = []
    for char in [*text_, " "]:
        if char.isalpha() or char.isdecimal():
            word.append(char.lower())
            continue
        if word:
            padded = [" ", " ", *word, " "]
            out += ["".join(padded[k : k + 3]) for k in range(len(padded) - 2)]
            word = []
    return out


def word_similarity(query: str, text_: str) -> float:
    """pg_trgm's `word_similarity(query, text_)`: the greatest Jaccard similarity (float4) of
    the query's trigrams and a contiguous extent of the text's (`iterate_word_similarity`)."""
    index = {t: i for i, t in enumerate(pg_trigrams(query))}
    ulen1 = len(index)
    if not ulen1:
        return 0.0
    sequence = [index.setdefault(t, len(index)) for t in _positional_trigrams(text_)]
    lastpos = [-1] * len(index)
    ulen2 = count = 0
    upper = lower = -1
    best = 0.0
    for i, trigram in enumerate(sequence):
        found = trigram < ulen1
        if lower >= 0 or found:
            if lastpos[trigram] < 0:
                ulen2 += 1
                count += found
            lastpos[trigram] = i
        if not found:
            continue
        upper = i
        if lower == -1:
            lower, ulen2 = i, 1
        current = _float4(count / (ulen1 + ulen2 - count))
        tmp_count, tmp_ulen2, prev_lower = count, ulen2, lower
        for tmp_lower in range(lower, upper + 1):
            tmp = _float4(tmp_count / (ulen1 + tmp_ulen2 - tmp_count))
            if tmp > current:
                current, ulen2, lower, count = tmp, tmp_ulen2, tmp_lower, tmp_count
            at = sequence[tmp_lower]
            if lastpos[at] == tmp_lower:
                tmp_ulen2 -= 1
                tmp_count -= at < ulen1
        best = max(best, current)
        for tmp_lower in range(prev_lower, lower):
            at = sequence[tmp_lower]
            if lastpos[at] == tmp_lower:
                lastpos[at] = -1
    return best


def fuzzy_score(plan: Plan, source: dict[str, Any]) -> Decimal | None:
    """The PostgreSQL backend's fuzzy score of a candidate (None: not a fuzzy match): the
    homophone tier, 5 + 2 * ts_rank_cd of the pinyin prefix over B, and the trigram tier,
    5 * word similarity when it is at least 0.5; the greater."""
    scores: list[float] = []
    if plan.homophone:
        matched = sum(1 for t in source.get("terms_b") or () if t.startswith(plan.homophone))
        if matched:
            r = matched * COVER["b"] * float(source.get("rank_norm") or 1.0)
            scores.append(HOMOPHONE.base + HOMOPHONE.factor * _float4(r / (r + 1)))
    if plan.trigram_text:
        similarity = word_similarity(plan.trigram_text, source.get("folded") or "")
        if similarity >= WORD_SIMILARITY_THRESHOLD:
            scores.append(TRIGRAM_FACTOR * similarity)
    return pg_round6(max(scores)) if scores else None


# --- the backend --------------------------------------------------------------------------------

_SOURCE = ["record_id", "kind", "name", "status", "region_code"]
_AGGS = {
    name: {"terms": {"field": source, "size": FACET_SIZE}}
    for name, source in (("kind", "kind"), ("region", "league"), ("status", "status"))
}


def _sorted(buckets: list[dict[str, Any]]) -> dict[str, int]:
    counts = {str(b["key"]): int(b["doc_count"]) for b in buckets}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _sort_key(value: Any) -> Decimal:
    """The engine's score as the cursor keeps it: exactly (its float32 value's shortest repr),
    so that `search_after` starts right after the hit."""
    return Decimal(repr(float(value or 0.0)))


class EngineBackend:
    """Search on Elasticsearch/OpenSearch (see the module docstring). The index is fed from
    `search_documents` by the outbox worker, so `upsert` and `delete` write those documents,
    exactly as the PostgreSQL backend does."""

    def __init__(
        self, client: EngineClient | Callable[[], EngineClient], names: IndexNames
    ) -> None:
        self._client: EngineClient | None = client if isinstance(client, EngineClient) else None
        self._connect = None if isinstance(client, EngineClient) else client
        self.names = names
        self._documents = PostgresBackend()

    @property
    def client(self) -> EngineClient:
        """The engine's client, connected on first use (503 while the engine is unreachable)."""
        if self._client is None:
            assert self._connect is not None
            try:
                self._client = self._connect()
            except EngineUnavailable as exc:
                raise _unavailable(exc) from exc
        return self._client

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.client.request(
                "POST", f"/{self.names.alias}/_search", body
            )
        except EngineUnavailable as exc:
            raise _unavailable(exc) from exc
        except EngineError as exc:
            if exc.status == 404:  # no index behind the alias: `registry reindex` builds it
                log.error("search index %s missing: %s", self.names.alias, exc)
                raise ServiceUnavailable(
                    "检索索引尚未建立,请稍后重试", code="search_unavailable"
                ) from exc
            raise
        return answer

    @staticmethod
    def _today(session: Session) -> date:
        day: date = session.execute(text("SELECT current_date")).scalar_one()
        return day

    def search(self, session: Session, query: SearchQuery, actor: Principal) -> SearchResult:
        after = decode_cursor(query.cursor) if query.cursor else None
        today = self._today(session) if query.eligible is not None else None
        where = filters(query, actor, today)
        typed, classes = catalog_words(query.q or "")
        if classes:
            where.append(_any_of(*({"term": {"codes": c}} for c in classes)))
        analysis = query_terms(typed) if typed.strip() else None
        plan = Plan.of(analysis) if analysis is not None else None
        expanded: Expansions = {}
        if plan is not None:
            request = plan.expansion(where)
            if request is not None:
                expanded = plan.expanded(self._search(request))
        match = plan.query(False, expanded) if plan else None
        answer = self._page(match, where, query.limit, after)
        fuzzy = False
        if _total(answer) == 0 and plan is not None and plan.fuzzy:
            exact = self._fuzzy(plan, where, query.limit, after)
            if exact is not None:
                return exact
            answer = self._page(plan.query(True), where, query.limit, after)
            fuzzy = _total(answer) > 0
        aggs = answer.get("aggregations", {})
        facets = Facets(
            kind=_sorted(aggs.get("kind", {}).get("buckets", [])),
            region=_sorted(aggs.get("region", {}).get("buckets", [])),
            status=_sorted(aggs.get("status", {}).get("buckets", [])),
        )
        rows = answer["hits"]["hits"]
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        hits: list[Hit] = []
        for row in rows:
            source = row["_source"]
            hits.append(
                Hit(
                    id=source["record_id"],
                    kind=RecordKind(source["kind"]),
                    name=source["name"],
                    score=display_score(float(row["sort"][0] or 0.0)),
                    highlight=highlight(source["name"], analysis)
                    if analysis is not None
                    else html.escape(source["name"]),
                    status=Status(source["status"]),
                    region_code=source["region_code"],
                )
            )
        next_cursor = None
        if more and rows:
            next_cursor = encode_cursor(_sort_key(rows[-1]["sort"][0]), rows[-1]["sort"][1])
        return SearchResult(
            hits=hits, total=_total(answer), facets=facets, fuzzy=fuzzy, next_cursor=next_cursor
        )

    def _fuzzy(
        self,
        plan: Plan,
        where: list[dict[str, Any]],
        limit: int,
        after: tuple[Decimal, str] | None,
    ) -> SearchResult | None:
        """The fuzzy pass with PostgreSQL's scores, computed here over every candidate (a
        homophone, or half the query's trigrams present); None when there are more than
        FUZZY_CANDIDATES (then the engine ranks them, approximately)."""
        body = {
            "query": {"bool": {"filter": [*where, _any_of(*plan.fuzzy_candidates())]}},
            "sort": [{"record_id": {"order": "asc"}}],
            "size": FUZZY_CANDIDATES,
            "track_total_hits": FUZZY_CANDIDATES + 1,
            "_source": [*_SOURCE, "league", "folded", "terms_b", "rank_norm"],
        }
        answer = self._search(body)
        if _total(answer) > FUZZY_CANDIDATES:
            return None
        matched: list[tuple[Decimal, str, dict[str, Any]]] = []
        for row in answer["hits"]["hits"]:
            score = fuzzy_score(plan, row["_source"])
            if score is not None:
                matched.append((score, row["_source"]["record_id"], row["_source"]))
        matched.sort(key=lambda m: (-m[0], m[1]))
        facets = Facets(
            kind=_counted(m[2]["kind"] for m in matched),
            region=_counted(m[2]["league"] for m in matched),
            status=_counted(m[2]["status"] for m in matched),
        )
        page = [m for m in matched if after is None or _after(m, after)]
        more = len(page) > limit
        page = page[:limit]
        hits = [
            Hit(
                id=record_id,
                kind=RecordKind(source["kind"]),
                name=source["name"],
                score=float(score),
                highlight=highlight(source["name"], plan.analysis),
                status=Status(source["status"]),
                region_code=source["region_code"],
            )
            for score, record_id, source in page
        ]
        return SearchResult(
            hits=hits,
            total=len(matched),
            facets=facets,
            fuzzy=bool(matched),
            next_cursor=encode_cursor(page[-1][0], page[-1][1]) if more and page else None,
        )

    def _page(
        self,
        match: dict[str, Any] | None,
        where: list[dict[str, Any]],
        limit: int,
        after: tuple[Decimal, str] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "query": {"bool": {**({"must": [match]} if match else {}), "filter": where}},
            "sort": [{"_score": {"order": "desc"}}, {"record_id": {"order": "asc"}}],
            "size": limit + 1,
            "track_total_hits": True,
            "_source": _SOURCE,
            "aggs": _AGGS,
        }
        if after is not None:
            body["search_after"] = [float(after[0]), after[1]]
        return self._search(body)

    def suggest(
        self,
        session: Session,
        prefix: str,
        kinds: Sequence[RecordKind],
        actor: Principal,
        limit: int,
    ) -> list[Suggestion]:
        """The PostgreSQL backend's suggest: tiers 3 (name or core starts with it), 2 (pinyin or
        initials do), 1 (the name holds its bigrams); then live before cancelled, shorter
        names, ids. Scores here: tier × 10, + 1 for a record not cancelled."""
        a = query_terms(prefix)
        if not a.text:
            return []
        names = list(dict.fromkeys(n for n in (a.text, a.core) if n))
        starts = [Item(documents.NAME_START + n, True, ("a",)).query() for n in names]
        tiers = [constant(_any_of(*starts), 30)]
        if a.is_pinyin and a.pinyin:
            tiers.append(constant(Item(a.pinyin, True, ("b",)).query(), 20))
        required = required_items(a, ("a",))
        if required:
            tiers.append(constant({"bool": {"filter": [r.query() for r in required]}}, 10))
        gone = [Status.cancelled.value, Status.merged.value]
        live = {"bool": {"must_not": [{"terms": {"status": gone}}]}}
        body = {
            "query": {
                "bool": {
                    "must": [{"dis_max": {"queries": tiers, "tie_breaker": 0.0}}],
                    "should": [constant(live, 1)],
                    "filter": filters(SearchQuery(kinds=tuple(kinds)), actor, None),
                }
            },
            "sort": [
                {"_score": {"order": "desc"}},
                {"name_length": {"order": "asc"}},
                {"record_id": {"order": "asc"}},
            ],
            "size": limit,
            "_source": _SOURCE,
        }
        rows = self._search(body)["hits"]["hits"]
        return [
            Suggestion(
                id=r["_source"]["record_id"],
                kind=RecordKind(r["_source"]["kind"]),
                name=r["_source"]["name"],
                highlight=highlight(r["_source"]["name"], a),
            )
            for r in rows
        ]

    def upsert(self, session: Session, document: SearchDocument) -> None:
        """Write the document to `search_documents` (and its outbox row): the worker indexes it."""
        self._documents.upsert(session, document)

    def delete(self, session: Session, record_id: str) -> None:
        """Remove the document from `search_documents` (and tell the worker)."""
        self._documents.delete(session, record_id)


def _after(match: tuple[Decimal, str, Any], after: tuple[Decimal, str]) -> bool:
    """Whether a hit comes after the cursor in (score desc, id) order."""
    return match[0] < after[0] or (match[0] == after[0] and match[1] > after[1])


def _counted(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _total(answer: dict[str, Any]) -> int:
    total = answer["hits"]["total"]
    return int(total["value"] if isinstance(total, dict) else total)


def _unavailable(exc: Exception) -> ServiceUnavailable:
    log.error("search engine unavailable: %s", exc)
    return ServiceUnavailable(
        "检索服务暂时无法访问,请稍后重试",
        code="search_unavailable",
        headers={"Retry-After": "5"},
    )
