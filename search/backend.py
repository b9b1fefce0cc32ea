"""The search backend protocol, and the choice of backend.

Two implementations over the same query model (`search/query.py`) and the same documents
(`search/documents.py`): PostgreSQL (`search/postgres.py`, the default) and Elasticsearch 8 /
OpenSearch 2 (`search/engine_query.py`, selected by `ELASTICSEARCH_URL`, its index fed from
`search_outbox` by the worker). They answer alike (`tests/test_search_backends.py` runs the same
queries through both). Whatever serves a search, visibility is the registries' rule
(`auth.policy`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sqlmodel import Session

from auth.principals import Principal
from models.organization import RecordKind
from models.search import SearchDocument
from registry.config import Settings
from search.query import SearchQuery, SearchResult, Suggestion

log = logging.getLogger(__name__)


class SearchBackend(Protocol):
    def search(self, session: Session, query: SearchQuery, actor: Principal) -> SearchResult:
        """Hits visible to `actor`, best first, with facets over all of them."""
        ...

    def suggest(
        self,
        session: Session,
        prefix: str,
        kinds: Sequence[RecordKind],
        actor: Principal,
        limit: int,
    ) -> list[Suggestion]:
        """Names starting with `prefix` (or whose pinyin or initials do), for as-you-type boxes."""
        ...

    def upsert(self, session: Session, document: SearchDocument) -> None:
        """Make `document` searchable (in `session`'s transaction where the backend can)."""
        ...

    def delete(self, session: Session, record_id: str) -> None:
        """Make the record unsearchable."""
        ...


def get_backend(settings: Settings) -> SearchBackend:
    """The engine backend when `ELASTICSEARCH_URL` is set (it connects on its first search, and
    answers 503 `search_unavailable` while the engine cannot be reached), else PostgreSQL."""
    if settings.elasticsearch_url:
        from search.engine import IndexNames, connect
        from search.engine_query import EngineBackend

        url = settings.elasticsearch_url
        log.info("search served by the engine at %s (index %s)", url, settings.search_index)
        return EngineBackend(lambda: connect(url), IndexNames(settings.search_index))
    from search.postgres import PostgresBackend

    return PostgresBackend()
