"""Search documents and the search outbox: derived data, rebuilt from `organizations` at will.

`search_documents` holds one row per record (every kind): its public document and the terms
`search.text` made of it, written in the same transaction as every change of the record
(`search.documents.refresh`, called by `registry.organizations.record_event`). The PostgreSQL
search backend queries it directly; a search engine backend is fed from it.

`search_outbox` is the transactional outbox of those changes: one row per changed document, in
the writing transaction, so the (coming) engine worker never misses or invents a change. Like
the event log it carries the writing transaction's id, so a worker can read it gap-free
(`xid < pg_snapshot_xmin(pg_current_snapshot())`, as the change feed does).

Restricted values (ID numbers, personal phones, bank accounts) never reach either table.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel


class SearchDocument(SQLModel, table=True):
    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_terms", "terms", postgresql_using="gin"),
        Index(
            "ix_search_documents_folded",
            "folded",
            postgresql_using="gin",
            postgresql_ops={"folded": "gin_trgm_ops"},
        ),
        Index("ix_search_documents_identifiers", "identifiers", postgresql_using="gin"),
        Index("ix_search_documents_codes", "codes", postgresql_using="gin"),
        Index(
            "ix_search_documents_kind_region_code",
            "kind",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
    )

    record_id: str = SQLField(
        sa_column=Column(String(24), ForeignKey("organizations.id"), primary_key=True)
    )
    kind: str = SQLField(sa_column=Column(String(16), nullable=False))
    region_code: str = SQLField(sa_column=Column(String(6), nullable=False))
    status: str = SQLField(sa_column=Column(String(16), nullable=False))
    published: bool = SQLField(sa_column=Column(Boolean, nullable=False))
    # the document's own revision: +1 each time the document changes (offers change it without
    # moving the record's version); what an engine uses as its external version
    version: int = SQLField(sa_column=Column(Integer, nullable=False))
    name: str = SQLField(sa_column=Column(Text, nullable=False))
    # the public document: the record's data without its restricted values, plus derived facts
    document: dict[str, Any] = SQLField(sa_column=Column(JSONB, nullable=False))
    # exact-match codes, upper case without separators: USCC, catalogue code, commodity key …
    identifiers: list[str] = SQLField(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'")),
    )
    # prefix filters as element tests: every prefix of each catalogue code (`cat:A02`, …) and
    # specialty code (`spec:A01`, …), so a prefix filter is `codes @> ARRAY['cat:A0201']`
    codes: list[str] = SQLField(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'")),
    )
    size: str | None = SQLField(default=None, sa_column=Column(String(8), nullable=True))
    price: Decimal | None = SQLField(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    # weighted terms: A name, B pinyin / initials / former names, C address and other text
    terms: str = SQLField(sa_column=Column(TSVECTOR, nullable=False))
    # name, core name and former names, folded: for pg_trgm similarity (typos)
    folded: str = SQLField(sa_column=Column(Text, nullable=False))
    analyzer_version: int = SQLField(sa_column=Column(Integer, nullable=False))
    updated_at: datetime | None = SQLField(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class SearchOutbox(SQLModel, table=True):
    __tablename__ = "search_outbox"
    __table_args__ = (
        CheckConstraint("op IN ('upsert', 'delete')", name="op"),
        Index("ix_search_outbox_xid_seq", "xid", "seq"),
    )

    seq: int | None = SQLField(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    record_id: str = SQLField(sa_column=Column(String(24), nullable=False))
    version: int = SQLField(sa_column=Column(Integer, nullable=False))
    op: str = SQLField(sa_column=Column(String(8), nullable=False))
    # the writing transaction's xid8, as bigint (see the change feed in registry/events.py)
    xid: int | None = SQLField(
        default=None,
        sa_column=Column(
            BigInteger, nullable=False, server_default=text("(pg_current_xact_id()::text)::bigint")
        ),
    )
    created_at: datetime | None = SQLField(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
