"""The search engine (Elasticsearch 8 or OpenSearch 2): client, index layout, documents, writes.

One client interface over the two official Python clients (`elasticsearch` for Elasticsearch,
`opensearch-py` for OpenSearch): the request bodies are this module's JSON, the same for both;
only the transport differs. `connect(url)` asks the node what it is (`GET /`) and picks the
client.

Index layout: searches read the alias `<prefix>` (setting `SEARCH_INDEX`, default
`registry-search`), which points at exactly one concrete index
`<prefix>-a<analyzer version>m<mapping version>-<time>`.
`registry reindex` builds a new index, points the alias `<prefix>-building` at it while it
loads (the outbox worker writes to both, see `write_targets`), then moves `<prefix>` to it in
one `_aliases` call and drops the old index: searches never see a missing or half-built index.

Documents are made from `search_documents` (`engine_documents`), never from the records
directly: the terms are the shared pipeline's (`search.text`), taken out of the stored
`tsvector` by weight, so both backends search the same tokens. Restricted values are not in
`search_documents` and so never reach the engine.

Writes use the document's version as the engine's external version: an older version never
overwrites a newer one, and writing the same version twice is a no-op (a 409 the writer counts
as done). That makes every write idempotent and order-independent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import orjson
from sqlalchemy import Connection, text
from sqlmodel import Session

from search.documents import NAME_END, NAME_START, name_lexeme
from search.text import ANALYZER_VERSION, fold

log = logging.getLogger(__name__)

Flavor = Literal["elasticsearch", "opensearch"]
DEFAULT_PREFIX = "registry-search"
# raise it with any change of `index_settings()` or `_source()`: an index built before is then
# reported by `registry reindex --check` and the worker until `registry reindex` replaces it
MAPPING_VERSION = 2
REQUEST_TIMEOUT = 30.0


class EngineUnavailable(RuntimeError):
    """The engine cannot be reached or is overloaded (connection refused, timeout, 429, 5xx):
    retry later."""


class EngineError(RuntimeError):
    """The engine refused a request (4xx): a defect, not a reason to retry."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"engine refused the request ({status}): {str(body)[:500]}")
        self.status = status
        self.body = body


# --- the client -------------------------------------------------------------------------------


class EngineClient:
    """JSON over one of the two official clients. `request` returns the parsed body."""

    def __init__(self, url: str, flavor: Flavor, version: str) -> None:
        self.url = url
        self.flavor = flavor
        self.version = version
        self._client: Any
        if flavor == "opensearch":
            from opensearchpy import OpenSearch

            self._client = OpenSearch(
                [url], timeout=REQUEST_TIMEOUT, max_retries=0, retry_on_timeout=False
            )
        else:
            from elasticsearch import Elasticsearch

            self._client = Elasticsearch(
                url, request_timeout=REQUEST_TIMEOUT, max_retries=0, retry_on_timeout=False
            )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        ndjson: bool = False,
    ) -> Any:
        content_type = "application/x-ndjson" if ndjson else "application/json"
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = content_type
        try:
            if self.flavor == "opensearch":
                payload = _ndjson(body) if ndjson else body
                return self._client.transport.perform_request(
                    method, path, params=dict(params or {}), body=payload, headers=headers
                )
            payload = _ndjson(body).encode() if ndjson else body
            return self._client.perform_request(
                method, path, params=dict(params or {}), headers=headers, body=payload
            ).body
        except Exception as exc:  # both libraries' errors, mapped to ours
            raise _mapped(exc) from exc

    def close(self) -> None:
        self._client.close()


def _ndjson(lines: Iterable[Any]) -> str:
    return "".join(orjson.dumps(line).decode() + "\n" for line in lines)


def _mapped(exc: Exception) -> Exception:
    status = getattr(exc, "status_code", None)  # opensearch-py
    if status is None:
        meta = getattr(exc, "meta", None)  # elasticsearch 8 (ApiError)
        status = getattr(meta, "status", None)
    if isinstance(status, int) and 400 <= status < 500 and status != 429:
        body = getattr(exc, "info", None) or getattr(exc, "body", None)
        return EngineError(status, body)
    return EngineUnavailable(f"search engine unavailable: {type(exc).__name__}: {exc}"[:500])


def connect(url: str) -> EngineClient:
    """A client for the node at `url`, of the right flavor (asks `GET /`)."""
    try:
        info = httpx.get(url, timeout=10.0).raise_for_status().json()
    except httpx.HTTPError as exc:
        raise EngineUnavailable(f"search engine at {url} unavailable: {exc}") from exc
    version = info.get("version") or {}
    flavor: Flavor = (
        "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    )
    return EngineClient(url, flavor, str(version.get("number", "")))


# --- index layout -----------------------------------------------------------------------------


def index_settings() -> dict[str, Any]:
    """Settings and mappings of a new index. The pipeline's tokens arrive ready-made, so most
    fields are `keyword`s; the only analyzer is character trigrams on the folded names (typos)."""
    keyword = {"type": "keyword"}
    return {
        "settings": {
            "index": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
            "analysis": {
                "tokenizer": {
                    "trigram": {"type": "ngram", "min_gram": 3, "max_gram": 3, "token_chars": []}
                },
                "analyzer": {
                    "trigram": {"type": "custom", "tokenizer": "trigram", "filter": ["lowercase"]}
                },
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_source": {"enabled": True},
            "properties": {
                "record_id": keyword,  # the same as _id: for sorting (ES 8 refuses to sort on _id)
                "kind": keyword,
                "region_code": keyword,
                "league": keyword,
                "status": keyword,
                "published": {"type": "boolean"},
                "name": keyword,
                "name_length": {"type": "integer"},
                # the pipeline's terms by weight: A the name, B pinyin and former names, C the rest
                "terms_a": keyword,
                "terms_b": keyword,
                "terms_c": keyword,
                "lexemes": {"type": "integer"},
                "identifiers": keyword,
                "codes": keyword,
                "size": keyword,
                # (not scaled_float: Elasticsearch 8 no longer publishes the module it needs)
                "price": {"type": "double"},
                "folded": {"type": "text", "analyzer": "trigram"},
                # for search/engine_query.py: the `^name$` and `^core$` lexemes of terms_a apart
                # (a name prefix counts each), pg_trgm's trigrams of `folded` (fuzzy pass), and
                # 1 / ln(1 + number of term positions) — ts_rank_cd's length normalization
                "name_key": keyword,
                "core_key": keyword,
                "trigrams": keyword,
                "rank_norm": {"type": "double"},
                "term_ends_on": {"type": "date", "format": "strict_date"},
                "debarred": {"type": "date_range", "format": "strict_date"},
                "analyzer_version": {"type": "integer"},
            },
        },
    }


@dataclass(frozen=True)
class IndexNames:
    """The alias searches read, and the alias of an index being built."""

    alias: str

    @property
    def building(self) -> str:
        return f"{self.alias}-building"

    @property
    def version_tag(self) -> str:
        """The analyzer and mapping versions an index is built for, as its name carries them."""
        return f"a{ANALYZER_VERSION}m{MAPPING_VERSION}"

    def new_index(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        return f"{self.alias}-{self.version_tag}-{stamp}"

    def is_current(self, index: str) -> bool:
        return index.startswith(f"{self.alias}-{self.version_tag}-")


def aliased(client: EngineClient, alias: str) -> list[str]:
    """The indexes `alias` points at (none if it does not exist; `_cat` answers an empty list
    where `_alias` would answer 404, which both clients log as a warning)."""
    found = client.request("GET", f"/_cat/aliases/{alias}", params={"format": "json"})
    return sorted({row["index"] for row in found if row.get("alias") == alias})


def ensure_index(client: EngineClient, names: IndexNames) -> str:
    """The index behind the alias, created (empty) if there is none. Returns its name."""
    current = aliased(client, names.alias)
    if current:
        if not names.is_current(current[0]):
            log.warning(
                "search index %s was built for another analyzer or mapping version (now %s):"
                " run `registry reindex`",
                current[0],
                names.version_tag,
            )
        return current[0]
    index = names.new_index()
    body = index_settings()
    body["aliases"] = {names.alias: {}}
    client.request("PUT", f"/{index}", body)
    log.info("created search index %s behind alias %s", index, names.alias)
    return index


def write_targets(client: EngineClient, names: IndexNames) -> list[str]:
    """The aliases a change goes to: the one searches read, and the one of an index that
    `registry reindex` is building, if any (written through aliases: `require_alias`)."""
    return [names.alias, *([names.building] if aliased(client, names.building) else [])]


# --- documents --------------------------------------------------------------------------------

# the document of each record as stored in search_documents, with its terms split by weight
_DOCUMENTS = """
    SELECT d.record_id, d.version, d.kind, d.region_code, d.status, d.published, d.name,
           d.identifiers, d.codes, d.size, d.price, d.folded, d.analyzer_version,
           d.document -> 'eligibility' AS eligibility,
           t.a, t.b, t.c, t.n
    FROM search_documents d
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(lexeme) FILTER (WHERE 'A' = ANY(weights)), '{}') AS a,
               coalesce(array_agg(lexeme) FILTER (WHERE 'B' = ANY(weights)), '{}') AS b,
               coalesce(array_agg(lexeme) FILTER (WHERE 'C' = ANY(weights)), '{}') AS c,
               count(*) AS n
        FROM unnest(d.terms)
    ) t
"""


@dataclass(frozen=True, slots=True)
class EngineDocument:
    record_id: str
    version: int
    source: dict[str, Any]


def pg_trigrams(text: str) -> list[str]:
    """The trigrams pg_trgm makes of `text` (its `show_trgm`, unhashed): every word (a run of
    letters and digits), lower-cased and padded `  word `, cut into three-character pieces;
    unique, in order of first appearance. Queries are cut the same way (search/engine_query.py)."""
    out: dict[str, None] = {}
    word: list[str] = []
    for char in [*text, " "]:
        if char.isalpha() or char.isdecimal():
            word.append(char.lower())
            continue
        if word:
            padded = [" ", " ", *word, " "]
            out.update(dict.fromkeys("".join(padded[k : k + 3]) for k in range(len(padded) - 2)))
            word = []
    return list(out)


def rank_norm(positions: int) -> float:
    """`ts_rank_cd`'s normalization 1 as a factor: 1 / ln(1 + the document's number of term
    positions, i.e. of (lexeme, weight) pairs)."""
    return 1.0 / math.log(positions + 1) if positions > 0 else 1.0


def _is_name_lexeme(term: str) -> bool:
    return len(term) > 2 and term[0] == NAME_START and term[-1] == NAME_END


def _source(row: Any) -> EngineDocument:
    eligibility = row.eligibility or {}
    name_key = name_lexeme(fold(row.name))
    source: dict[str, Any] = {
        "record_id": row.record_id,
        "kind": row.kind,
        "region_code": row.region_code,
        "league": row.region_code[:4] + "00",
        "status": row.status,
        "published": row.published,
        "name": row.name,
        "name_length": len(row.name),
        "terms_a": list(row.a),
        "terms_b": list(row.b),
        "terms_c": list(row.c),
        "lexemes": int(row.n),
        "identifiers": list(row.identifiers),
        "codes": list(row.codes),
        "size": row.size,
        "price": float(row.price) if row.price is not None else None,
        "folded": row.folded,
        "name_key": name_key,
        "core_key": next((t for t in row.a if t != name_key and _is_name_lexeme(t)), None),
        "trigrams": pg_trigrams(row.folded or ""),
        "rank_norm": rank_norm(len(row.a) + len(row.b) + len(row.c)),
        "term_ends_on": eligibility.get("term_ends_on"),
        "debarred": [
            {"gte": start, **({"lte": end} if end else {})}
            for start, end in eligibility.get("debarred") or []
        ],
        "analyzer_version": row.analyzer_version,
    }
    return EngineDocument(record_id=row.record_id, version=int(row.version), source=source)


def engine_documents(db: Session | Connection, record_ids: Sequence[str]) -> list[EngineDocument]:
    """The engine documents of these records (those that have a search document)."""
    if not record_ids:
        return []
    rows = db.execute(
        text(_DOCUMENTS + " WHERE d.record_id = ANY(:ids)"), {"ids": list(record_ids)}
    ).all()
    return [_source(row) for row in rows]


def all_engine_documents(
    connection: Connection, *, batch: int = 2000
) -> Iterator[list[EngineDocument]]:
    """Every document, in batches by record id (keyset, so a long run holds no cursor open)."""
    last = ""
    while True:
        rows = connection.execute(
            text(_DOCUMENTS + " WHERE d.record_id > :last ORDER BY d.record_id LIMIT :batch"),
            {"last": last, "batch": batch},
        ).all()
        if not rows:
            return
        yield [_source(row) for row in rows]
        last = rows[-1].record_id


# --- writes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deletion:
    record_id: str
    version: int


def bulk_write(
    client: EngineClient,
    indexes: Sequence[str],
    documents: Sequence[EngineDocument],
    deletions: Sequence[Deletion] = (),
    *,
    refresh: bool = False,
    through_aliases: bool = False,
    optional: Sequence[str] = (),
) -> int:
    """Write documents and deletions to every index (or alias) in `indexes`, with external
    versions. A version conflict (the index already holds this version or a newer one) and
    deleting what is not there count as done, and so does a write to an alias of `optional`
    that has gone (a reindex swapped it away meanwhile); any other item failure raises.
    `through_aliases`: `indexes` are aliases and must exist (`require_alias`), so that a
    missing one does not auto-create an index.
    Returns the items applied."""
    lines: list[dict[str, Any]] = []
    for index in indexes:
        for doc in documents:
            lines.append(
                {
                    "index": {
                        "_index": index,
                        "_id": doc.record_id,
                        "version": doc.version,
                        "version_type": "external",
                        "require_alias": through_aliases,
                    }
                }
            )
            lines.append(doc.source)
        for gone in deletions:
            lines.append(
                {
                    "delete": {
                        "_index": index,
                        "_id": gone.record_id,
                        "version": gone.version,
                        "version_type": "external",
                    }
                }
            )
    if not lines:
        return 0
    params = {"refresh": "true"} if refresh else None
    answer = client.request("POST", "/_bulk", lines, params=params, ndjson=True)
    applied = 0
    unavailable: list[str] = []
    refused: list[str] = []
    for item in answer.get("items", []):
        ((op, result),) = item.items()
        status = int(result.get("status", 500))
        vanished = status == 404 and result.get("_index") in optional
        if status < 300 or status == 409 or (op == "delete" and status == 404) or vanished:
            applied += status < 300
            continue
        reason = f"{op} {result.get('_id')}: {status} {str(result.get('error'))[:200]}"
        error_type = (result.get("error") or {}).get("type")
        retry = status == 429 or status >= 500 or error_type == "index_not_found_exception"
        (unavailable if retry else refused).append(reason)
    if unavailable:
        raise EngineUnavailable("bulk items not written: " + "; ".join(unavailable[:5]))
    if refused:
        raise EngineError(400, "bulk items refused: " + "; ".join(refused[:5]))
    return applied
