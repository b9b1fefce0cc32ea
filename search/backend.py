"""The search backend protocol, and the choice of backend.

Two implementations are planned over the same query model (`search/query.py`) and the same
documents (`search/documents.py`): PostgreSQL (`search/postgres.py`, the default and, in this
version, the only one) and Elasticsearch/OpenSearch (next, fed from `search_outbox` by a
worker). Whatever serves a search, visibility is the registries' rule (`auth.policy`).
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
    """The PostgreSQL backend. `ELASTICSEARCH_URL` will select the engine backend once it exists;
    until then it is ignored (with a warning), and search keeps working on PostgreSQL."""
    from search.postgres import PostgresBackend

    if settings.elasticsearch_url:
        log.warning(
            "ELASTICSEARCH_URL is set but the engine backend is not built yet: using PostgreSQL"
        )
    return PostgresBackend()
