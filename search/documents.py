"""A record's search document: what search may know about it, built from the stored record.

`refresh(session, org)` is called by `registry.organizations.record_event`, i.e. in the same
transaction as every change of every record: it rebuilds the document, writes it to
`search_documents` when it changed, and then appends a row to `search_outbox` for the engine
worker. PostgreSQL stays the source of truth; every document can be rebuilt from `organizations`
(`backfill`, and the coming `registry reindex`).

What goes in, and what never does:

* only public values: the record's data with the kind's restricted paths (`RESTRICTED` of its
  schema in `models/kinds.py`: ID numbers, personal and contact phones, bank account numbers)
  **removed**, not masked — masking an expert's encrypted ID number would decrypt it, and a
  masked value still carries digits. Nothing here ever decrypts.
* the name, the core name (`strip_company_suffix`) and the former names: when a published
  record changes its name, the name it had is kept as a former name (a name the public knew it
  by); a draft's earlier names are not kept;
* identifiers (exact-match codes, in the form `search.text.query_terms` gives a code query:
  upper case, separators removed): the unified social credit code, budget unit code and
  qualification numbers of organizations; catalogue code, commodity key, brand + model and
  model of commodities. Experts have none (their key is the blind index of the ID number);
* codes for prefix filters: every prefix of each catalogue code of the business scope or of a
  commodity (`cat:A`, `cat:A02`, `cat:A0201`, …) and of each specialty code (`spec:A`,
  `spec:A0`, `spec:A01`, …), so that a prefix filter is one GIN-indexed containment test;
* weighted terms from `search.text.index_terms`: A the name (words, bigrams, core, and the whole
  name and core as marked lexemes `^…$` for exact and prefix matches), B its pinyin, pinyin
  words and initials and everything of the former names, C the address and other text (legal
  representative's name, title, employer, brand, model). The lexemes are stored as the analyzer
  made them, with positions (weights live on positions), via a `tsvector` literal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Connection, func, text
from sqlmodel import Session, col, select

from models.commodity import Offer
from models.debarment import Debarment
from models.kinds import DATA_MODELS
from models.organization import ORGANIZATION_KINDS, Organization, RecordKind
from models.search import SearchDocument
from registry.codes import catalog_prefix
from registry.normalize import brand_aliases, normalize_brand, normalize_model
from search.text import ANALYZER_VERSION, fold, index_terms, strip_company_suffix

MAX_FORMER_NAMES = 10
# the shape of `SearchDocument.document`; raise it when a field is added, so that
# `registry reindex --check` reports older documents as stale and `registry reindex` rebuilds them
DOCUMENT_FORMAT = 2
# marks the whole (folded) name or core as one lexeme: `^name$`; a prefix query is `'^pre':*`
NAME_START, NAME_END = "^", "$"
CATALOG_CODE, SPECIALTY_CODE = "cat:", "spec:"

# the compact form of a code, exactly as `search.text.query_terms` makes `QueryAnalysis.code`
_CODE_SEPARATORS = re.compile(r"[\s\-_/.·]+")
_MAX_LEXEME_BYTES = 2000  # PostgreSQL refuses lexemes of 2 KB and more


def compact_code(value: str) -> str:
    """`ma-0n 1234` → `MA0N1234`: how identifiers are stored and code queries compared."""
    return _CODE_SEPARATORS.sub("", fold(value)).upper()


def name_lexeme(folded: str) -> str:
    return f"{NAME_START}{folded}{NAME_END}"


# --- public data ------------------------------------------------------------------------------


def _drop(node: Any, paths: Iterable[list[str]]) -> Any:
    """`node` without the values at `paths` (each a list of keys; `key[]` walks a list)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    by_head: dict[str, list[list[str]]] = {}
    for path in paths:
        by_head.setdefault(path[0], []).append(path[1:])
    for head, rests in by_head.items():
        key = head.removesuffix("[]")
        if key not in out:
            continue
        if any(not rest for rest in rests):  # the value itself is restricted
            del out[key]
            continue
        if head.endswith("[]"):
            items = out[key]
            if isinstance(items, list):
                out[key] = [_drop(item, rests) for item in items]
        else:
            out[key] = _drop(out[key], rests)
    return out


def public_data(kind: RecordKind, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored document without any restricted value (removed, never decrypted)."""
    paths = [path.split(".") for path in DATA_MODELS[kind].RESTRICTED]
    result: dict[str, Any] = _drop(dict(data), paths)
    return result


# --- terms ------------------------------------------------------------------------------------


class _Terms:
    """Lexemes with positions and weights, rendered as a `tsvector` literal."""

    def __init__(self) -> None:
        self._positions: dict[str, list[str]] = {}
        self._weights: dict[str, set[str]] = {}
        self._next = 1

    def add(self, weight: str, terms: Iterable[str]) -> None:
        for term in terms:
            if not term or len(term.encode()) >= _MAX_LEXEME_BYTES:
                continue
            seen = self._weights.setdefault(term, set())
            if weight in seen or self._next > 16383:
                continue
            seen.add(weight)
            self._positions.setdefault(term, []).append(f"{self._next}{weight}")
            self._next += 1

    def literal(self) -> str:
        def quoted(term: str) -> str:
            return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"

        return " ".join(
            f"{quoted(term)}:{','.join(positions)}" for term, positions in self._positions.items()
        )


def _name_terms(out: _Terms, name: str, weight: str, *, person: bool) -> tuple[str, str]:
    """Terms of a name; returns (folded name, core)."""
    terms = index_terms({"name": name}, person_fields=("name",) if person else ())
    folded = terms["name_folded"][0] if terms["name_folded"] else ""
    core = terms.get("name_core", [""])[0] if terms.get("name_core") else ""
    out.add(weight, [name_lexeme(f) for f in (folded, core) if f])
    out.add(weight, terms["name_words"])
    out.add(weight, terms["name_bigrams"])
    out.add(weight, terms.get("name_core", []))
    pinyin_weight = "B"
    out.add(pinyin_weight, terms["name_pinyin"])
    out.add(pinyin_weight, terms["name_pinyin_words"])
    out.add(pinyin_weight, terms["name_initials"])
    return folded, core


@cache
def _brand_spellings() -> dict[str, tuple[str, ...]]:
    spellings: dict[str, list[str]] = {}
    for spelling, canonical in brand_aliases().items():
        spellings.setdefault(canonical, []).append(spelling)
    return {canonical: tuple(names) for canonical, names in spellings.items()}


def _spellings(brand_key: str) -> tuple[str, ...]:
    return _brand_spellings().get(brand_key, ())


_OTHER_FIELDS = (
    "address",
    "representative",
    "title",
    "employer",
    "brand",
    "brand_key",
    "brand_aliases",
    "model",
)


def _other_text(kind: RecordKind, data: Mapping[str, Any]) -> dict[str, str | None]:
    """Text besides the name that search should find (weight C)."""
    fields: dict[str, str | None] = {"address": data.get("address")}
    if kind in ORGANIZATION_KINDS:
        representative = data.get("legal_representative") or {}
        fields["representative"] = representative.get("name")
    elif kind is RecordKind.expert:
        fields["title"] = data.get("title")
        fields["employer"] = (data.get("employer") or {}).get("name")
    elif kind is RecordKind.commodity:
        fields["brand"] = data.get("brand")
        brand_key = normalize_brand(data["brand"]) if data.get("brand") else None
        fields["brand_key"] = brand_key
        # every spelling of the brand (惠普 = HP = Hewlett-Packard), so any of them finds it
        fields["brand_aliases"] = " ".join(_spellings(brand_key)) if brand_key else None
        fields["model"] = data.get("model")
    return fields


# --- identifiers and codes --------------------------------------------------------------------


def _catalog_codes(codes: Iterable[str]) -> list[str]:
    out: list[str] = []
    for code in codes:
        prefix = catalog_prefix(code)
        out.append(CATALOG_CODE + prefix[:1])
        out.extend(CATALOG_CODE + prefix[:end] for end in range(3, len(prefix) + 1, 2))
    return list(dict.fromkeys(out))


def _specialty_codes(codes: Iterable[str]) -> list[str]:
    out = [SPECIALTY_CODE + code[:end] for code in codes for end in range(1, len(code) + 1)]
    return list(dict.fromkeys(out))


def _identifiers(org: Organization, data: Mapping[str, Any]) -> list[str]:
    kind = RecordKind(org.kind)
    values: list[str] = []
    if kind in ORGANIZATION_KINDS:
        values.append(org.uscc or "")
        values.append(data.get("budget_unit_code") or "")
        values.extend(q.get("number") or "" for q in data.get("qualifications") or [])
    elif kind is RecordKind.commodity:
        values.append(data.get("catalog_code") or "")
        brand, model = data.get("brand") or "", data.get("model") or ""
        key_brand = normalize_brand(brand) if brand else ""
        key_model = normalize_model(model, key_brand) if model else ""
        values += [key_model, key_brand + key_model, model, brand + model]
    out = [compact_code(v) for v in values if v]
    if kind is RecordKind.commodity and org.natural_key:
        out.append(org.natural_key)  # `A02020000|HP|LASERJETPROM404DN`
    return [v for v in dict.fromkeys(out) if v]


def _codes(org: Organization) -> list[str]:
    kind = RecordKind(org.kind)
    if kind is RecordKind.expert:
        return _specialty_codes(org.specialties or [])
    if kind is RecordKind.commodity:
        return _catalog_codes([org.catalog_code] if org.catalog_code else [])
    return _catalog_codes(org.business_scope or [])


# --- the document -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Previous:
    """What a new document keeps of the one it replaces."""

    name: str
    former_names: list[str]
    published: bool


@dataclass(frozen=True, slots=True)
class Debarred:
    """A debarment not revoked: ineligible from `starts_on` to `ends_on` (open: until revoked)."""

    starts_on: date
    ends_on: date | None


@dataclass(frozen=True, slots=True)
class OfferSummary:
    count: int
    lowest_price: Decimal | None


def _former_names(name: str, previous: Previous | None) -> list[str]:
    if previous is None:
        return []
    names = list(previous.former_names)
    if previous.published and previous.name != name:
        names.append(previous.name)
    kept = [n for n in dict.fromkeys(names) if fold(n) != fold(name)]
    return kept[-MAX_FORMER_NAMES:]


def build_document(
    org: Organization,
    *,
    previous: Previous | None = None,
    offers: OfferSummary | None = None,
    debarred: Sequence[Debarred] = (),
) -> SearchDocument:
    """The search document of a stored record (not yet written). `previous` carries the former
    names over; `offers` summarizes a commodity's offers (see `refresh`); `debarred` are its
    debarments not revoked.

    `eligibility` holds the dated facts eligibility depends on (the term's end, the debarment
    periods), not whether it is eligible today, so an engine can answer "eligible now" without
    the document being rebuilt when a date passes."""
    kind = RecordKind(org.kind)
    data = public_data(kind, org.data)
    former = _former_names(org.name, previous)
    person = kind is RecordKind.expert
    terms = _Terms()
    folded, core = _name_terms(terms, org.name, "A", person=person)
    folded_names = [folded, core]
    for former_name in former:
        folded_names.extend(_name_terms(terms, former_name, "B", person=person))
    other = index_terms(_other_text(kind, data), name_fields=())
    for field in _OTHER_FIELDS:
        terms.add("C", other.get(f"{field}_words", []))
        terms.add("C", other.get(f"{field}_bigrams", []))
    document: dict[str, Any] = {
        "format": DOCUMENT_FORMAT,
        "name": org.name,
        "core_name": strip_company_suffix(org.name) if not person else org.name,
        "former_names": former,
        "data": data,
        "eligibility": {
            "term_ends_on": org.term_ends_on.isoformat() if org.term_ends_on else None,
            "debarred": [
                [d.starts_on.isoformat(), d.ends_on.isoformat() if d.ends_on else None]
                for d in sorted(debarred, key=lambda d: (d.starts_on, d.ends_on or date.max))
            ],
        },
    }
    if offers is not None:
        document["offers"] = {
            "count": offers.count,
            "lowest_price": f"{offers.lowest_price:.2f}" if offers.lowest_price else None,
        }
    return SearchDocument(
        record_id=org.id,
        kind=org.kind,
        region_code=org.region_code,
        status=org.status,
        published=org.approved_at is not None,
        version=1,
        name=org.name,
        document=document,
        identifiers=_identifiers(org, data),
        codes=_codes(org),
        size=org.size,
        price=org.price,
        terms=terms.literal(),
        folded=" | ".join(dict.fromkeys(f for f in folded_names if f)),
        analyzer_version=ANALYZER_VERSION,
    )


# --- storage ----------------------------------------------------------------------------------

_COLUMNS = (
    "kind",
    "region_code",
    "status",
    "published",
    "name",
    "document",
    "identifiers",
    "codes",
    "size",
    "price",
    "terms",
    "folded",
    "analyzer_version",
)
# One statement: write the document if it changed, and then (only then) its outbox row.
_STORE = text(
    f"""
    WITH written AS (
        INSERT INTO search_documents (record_id, version, {", ".join(_COLUMNS)})
        VALUES (:record_id, 1, :kind, :region_code, :status, :published, :name,
                CAST(:document AS jsonb), CAST(:identifiers AS text[]), CAST(:codes AS text[]),
                :size, :price, CAST(:terms AS tsvector), :folded, :analyzer_version)
        ON CONFLICT (record_id) DO UPDATE SET
            {", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)},
            version = search_documents.version + 1,
            updated_at = now()
        WHERE ({", ".join(f"search_documents.{c}" for c in _COLUMNS)})
              IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _COLUMNS)})
        RETURNING record_id, version
    )
    INSERT INTO search_outbox (record_id, version, op)
    SELECT record_id, version, 'upsert' FROM written
    """  # noqa: S608 - column names are constants
)
_PREVIOUS = text(
    "SELECT name, document -> 'former_names', published FROM search_documents"
    " WHERE record_id = :record_id"
)


def _params(doc: SearchDocument) -> dict[str, Any]:
    return {
        "record_id": doc.record_id,
        "kind": doc.kind,
        "region_code": doc.region_code,
        "status": doc.status,
        "published": doc.published,
        "name": doc.name,
        "document": orjson.dumps(doc.document, default=str).decode(),
        "identifiers": doc.identifiers,
        "codes": doc.codes,
        "size": doc.size,
        "price": doc.price,
        "terms": doc.terms,
        "folded": doc.folded,
        "analyzer_version": doc.analyzer_version,
    }


def store(db: Session | Connection, doc: SearchDocument) -> None:
    """Write `doc` unless the stored one is the same; a written document gets an outbox row."""
    db.execute(_STORE, _params(doc))


def _previous(db: Session | Connection, record_id: str) -> Previous | None:
    row = db.execute(_PREVIOUS, {"record_id": record_id}).first()
    if row is None:
        return None
    return Previous(name=row[0], former_names=list(row[1] or []), published=bool(row[2]))


def offer_summary(db: Session | Connection, commodity_id: str) -> OfferSummary:
    """Offers not withdrawn (whatever their dates: the document is rebuilt on writes only)."""
    row = db.execute(
        select(func.count(), func.min(Offer.price)).where(
            col(Offer.commodity_id) == commodity_id, col(Offer.withdrawn_at).is_(None)
        )
    ).one()
    return OfferSummary(count=int(row[0]), lowest_price=row[1])


def debarments(db: Session | Connection, record_id: str) -> list[Debarred]:
    rows = db.execute(
        select(col(Debarment.starts_on), col(Debarment.ends_on)).where(
            col(Debarment.organization_id) == record_id, col(Debarment.revoked_at).is_(None)
        )
    ).all()
    return [Debarred(starts_on=r[0], ends_on=r[1]) for r in rows]


def refresh(session: Session, org: Organization) -> None:
    """Rebuild the record's document in the caller's transaction (see the module docstring)."""
    offers = offer_summary(session, org.id) if org.kind == RecordKind.commodity.value else None
    doc = build_document(
        org,
        previous=_previous(session, org.id),
        offers=offers,
        debarred=debarments(session, org.id),
    )
    store(session, doc)


def backfill(connection: Connection, *, batch: int = 500) -> int:
    """Documents for every record that has none (migration 0004; safe to repeat). Former names
    are not reconstructed. Returns the number written."""
    written = 0
    last = ""
    while True:
        # the next batch of records first, then which of them lack a document: a NOT EXISTS
        # over the keyset alone is planned as a merge or hash anti join that reads every
        # document written so far, for each batch (quadratic: on 1,000,000 records the
        # migration slowed from 700 to under 200 records a second by the 400,000th)
        ids = list(
            connection.execute(
                text("SELECT id FROM organizations WHERE id > :last ORDER BY id LIMIT :batch"),
                {"last": last, "batch": batch},
            ).scalars()
        )
        if not ids:
            return written
        rows = connection.execute(
            text(
                "SELECT o.id, o.kind, o.uscc, o.natural_key, o.name, o.region_code, o.status,"
                " o.size, o.business_scope, o.specialties, o.catalog_code, o.price, o.data,"
                " o.term_ends_on,"
                " o.version, o.approved_at FROM organizations o"
                " WHERE o.id = ANY(:ids) AND NOT EXISTS"
                " (SELECT 1 FROM search_documents d WHERE d.record_id = o.id)"
                " ORDER BY o.id"
            ),
            {"ids": ids},
        ).all()
        for row in rows:
            org = Organization(**row._asdict())
            offers = offer_summary(connection, org.id) if org.kind == "commodity" else None
            doc = build_document(org, offers=offers, debarred=debarments(connection, org.id))
            store(connection, doc)
            written += 1
        last = ids[-1]


@dataclass(frozen=True)
class IndexCheck:
    """What `registry reindex --check` found: records without a document, documents without a
    record, and documents whose key facts differ from their record or come from an older
    analyzer (ids, at most `limit` of each)."""

    missing: list[str]
    orphaned: list[str]
    stale: list[str]

    @property
    def clean(self) -> bool:
        return not (self.missing or self.orphaned or self.stale)


def check(connection: Connection, *, limit: int = 100) -> IndexCheck:
    def ids(sql: str) -> list[str]:
        rows = connection.execute(
            text(sql + " ORDER BY 1 LIMIT :limit"),
            {"limit": limit, "analyzer": ANALYZER_VERSION, "format": str(DOCUMENT_FORMAT)},
        )
        return [str(r[0]) for r in rows]

    return IndexCheck(
        missing=ids(
            "SELECT o.id FROM organizations o LEFT JOIN search_documents d"
            " ON d.record_id = o.id WHERE d.record_id IS NULL"
        ),
        orphaned=ids(
            "SELECT d.record_id FROM search_documents d LEFT JOIN organizations o"
            " ON o.id = d.record_id WHERE o.id IS NULL"
        ),
        stale=ids(
            "SELECT o.id FROM organizations o JOIN search_documents d ON d.record_id = o.id"
            " WHERE (d.name, d.status, d.region_code, d.published, d.kind)"
            " IS DISTINCT FROM (o.name, o.status, o.region_code, o.approved_at IS NOT NULL, o.kind)"
            " OR d.analyzer_version <> :analyzer"
            " OR (d.document ->> 'format') IS DISTINCT FROM :format"
        ),
    )


def rebuild(session: Session, record_ids: Iterable[str]) -> int:
    """Rebuild the documents of these records (stale ones; see `check`). Returns how many."""
    done = 0
    for record_id in record_ids:
        org = session.get(Organization, record_id)
        if org is not None:
            refresh(session, org)
            done += 1
    return done
