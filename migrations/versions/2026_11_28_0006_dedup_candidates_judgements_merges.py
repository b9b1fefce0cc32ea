"""dedup: candidate pairs, the judgement log, merges, blocking keys; merged tombstones

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

A merged record stays in `organizations` as a tombstone: `status = 'merged'` and `merged_into`
pointing at the survivor, so reads by its id or key keep resolving. `dedup_keys` starts empty:
`registry dedup scan` fills it (and every write keeps it from then on).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = (
    "'draft', 'submitted', 'returned', 'active', 'suspended', 'cancelled', 'expired',"
    " 'dismissed', 'delisted'"
)


def _record(name: str) -> sa.Column:
    return sa.Column(name, sa.String(length=24), nullable=False)


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["organizations.id"], name=op.f(f"fk_{table}_{column}_organizations")
    )


def upgrade() -> None:
    op.add_column("organizations", sa.Column("merged_into", sa.String(length=24), nullable=True))
    op.create_foreign_key(
        op.f("fk_organizations_merged_into_organizations"),
        "organizations",
        "organizations",
        ["merged_into"],
        ["id"],
    )
    op.create_index(
        "ix_organizations_merged_into",
        "organizations",
        ["merged_into"],
        postgresql_where=sa.text("merged_into IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_organizations_status"), "organizations", type_="check")
    op.create_check_constraint(
        op.f("ck_organizations_status"), "organizations", f"status IN ({_STATUSES}, 'merged')"
    )

    op.create_table(
        "dedup_candidates",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _record("left_id"),
        _record("right_id"),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("vetoed", sa.String(length=200), nullable=True),
        sa.Column("matcher_version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        _now("found_at"),
        _now("scored_at"),
        sa.CheckConstraint("left_id < right_id", name=op.f("ck_dedup_candidates_ordered_pair")),
        sa.CheckConstraint(
            "source IN ('registration', 'edit', 'scan')", name=op.f("ck_dedup_candidates_source")
        ),
        _fk("dedup_candidates", "left_id"),
        _fk("dedup_candidates", "right_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedup_candidates")),
    )
    op.create_index(
        "uq_dedup_candidates_left_id_right_id",
        "dedup_candidates",
        ["left_id", "right_id"],
        unique=True,
    )
    op.create_index("ix_dedup_candidates_right_id", "dedup_candidates", ["right_id"])
    op.create_index("ix_dedup_candidates_kind_score", "dedup_candidates", ["kind", "score"])

    op.create_table(
        "dedup_judgements",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        _record("left_id"),
        _record("right_id"),
        sa.Column("judgement", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("actor_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        _now("at"),
        sa.CheckConstraint("left_id < right_id", name=op.f("ck_dedup_judgements_ordered_pair")),
        sa.CheckConstraint(
            "judgement IN ('positive', 'negative', 'unsure', 'no_judgement')",
            name=op.f("ck_dedup_judgements_judgement"),
        ),
        _fk("dedup_judgements", "left_id"),
        _fk("dedup_judgements", "right_id"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_dedup_judgements")),
    )
    op.create_index(
        "ix_dedup_judgements_left_id_right_id_seq",
        "dedup_judgements",
        ["left_id", "right_id", "seq"],
    )
    op.create_index("ix_dedup_judgements_right_id", "dedup_judgements", ["right_id"])

    op.create_table(
        "merges",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _record("survivor_id"),
        _record("loser_id"),
        sa.Column("survivorship", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("survivor_version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("merged_by", sa.String(length=128), nullable=False),
        sa.Column("merged_by_name", sa.String(length=100), server_default="", nullable=False),
        _now("merged_at"),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=128), nullable=True),
        sa.Column("undo_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("survivor_id <> loser_id", name=op.f("ck_merges_two_records")),
        _fk("merges", "survivor_id"),
        _fk("merges", "loser_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    op.create_index(
        "uq_merges_loser_id_live",
        "merges",
        ["loser_id"],
        unique=True,
        postgresql_where=sa.text("undone_at IS NULL"),
    )
    op.create_index("ix_merges_survivor_id", "merges", ["survivor_id"])

    op.create_table(
        "dedup_keys",
        sa.Column("record_id", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["organizations.id"],
            name=op.f("fk_dedup_keys_record_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "key", name=op.f("pk_dedup_keys")),
    )
    op.create_index("ix_dedup_keys_kind_key", "dedup_keys", ["kind", "key"])


def downgrade() -> None:
    op.drop_table("dedup_keys")
    op.drop_table("merges")
    op.drop_table("dedup_judgements")
    op.drop_table("dedup_candidates")
    # tombstones cannot be expressed without the merge tables: they become cancelled records
    op.execute(
        "UPDATE organizations SET status = 'cancelled', status_reason = '已合并(撤销迁移)'"
        " WHERE status = 'merged'"
    )
    op.drop_constraint(op.f("ck_organizations_status"), "organizations", type_="check")
    op.create_check_constraint(
        op.f("ck_organizations_status"), "organizations", f"status IN ({_STATUSES})"
    )
    op.drop_index("ix_organizations_merged_into", table_name="organizations")
    op.drop_constraint(
        op.f("fk_organizations_merged_into_organizations"), "organizations", type_="foreignkey"
    )
    op.drop_column("organizations", "merged_into")
