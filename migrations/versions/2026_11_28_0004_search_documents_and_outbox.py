"""search documents (PostgreSQL search backend) and the search outbox (engine worker)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Existing records get their documents here (built with `search.documents.backfill`), so a
registry upgraded to this revision is searchable at once; records written later get theirs in
the transaction that writes them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # trigram similarity for typos; a trusted extension (PostgreSQL 13+): the database owner
    # may create it without superuser rights
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "search_documents",
        sa.Column("record_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "identifiers",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "codes", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("size", sa.String(length=8), nullable=True),
        sa.Column("price", sa.Numeric(14, 2), nullable=True),
        sa.Column("terms", postgresql.TSVECTOR(), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.Column("analyzer_version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["organizations.id"],
            name=op.f("fk_search_documents_record_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_search_documents")),
    )
    op.create_index(
        "ix_search_documents_terms", "search_documents", ["terms"], postgresql_using="gin"
    )
    op.create_index(
        "ix_search_documents_folded",
        "search_documents",
        ["folded"],
        postgresql_using="gin",
        postgresql_ops={"folded": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_search_documents_identifiers",
        "search_documents",
        ["identifiers"],
        postgresql_using="gin",
    )
    op.create_index(
        "ix_search_documents_codes", "search_documents", ["codes"], postgresql_using="gin"
    )
    op.create_index(
        "ix_search_documents_kind_region_code",
        "search_documents",
        ["kind", "region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )

    op.create_table(
        "search_outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("record_id", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column(
            "xid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("op IN ('upsert', 'delete')", name=op.f("ck_search_outbox_op")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_search_outbox")),
    )
    op.create_index("ix_search_outbox_xid_seq", "search_outbox", ["xid", "seq"])

    from search.documents import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_search_outbox_xid_seq", table_name="search_outbox")
    op.drop_table("search_outbox")
    op.drop_index("ix_search_documents_kind_region_code", table_name="search_documents")
    op.drop_index("ix_search_documents_codes", table_name="search_documents")
    op.drop_index("ix_search_documents_identifiers", table_name="search_documents")
    op.drop_index("ix_search_documents_folded", table_name="search_documents")
    op.drop_index("ix_search_documents_terms", table_name="search_documents")
    op.drop_table("search_documents")
    # pg_trgm stays: it holds no data, and later features (duplicate detection) or other
    # schemas of the database may use it; dropping it could fail or break them
