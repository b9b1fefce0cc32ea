"""organizations, change requests, debarments, event log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "xid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("entity_kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
    )
    op.create_index("ix_events_entity", "events", ["entity_kind", "entity_id", "seq"], unique=False)
    op.create_index("ix_events_feed", "events", ["xid", "seq"], unique=False)
    # The event log is append-only: the database itself refuses to change or remove history.
    op.execute(
        """
        CREATE FUNCTION refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the event log is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION refuse_event_change();
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_event_change();
        """
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("suspended_until", sa.Date(), nullable=True),
        sa.Column("size", sa.String(length=8), nullable=True),
        sa.Column(
            "business_scope",
            postgresql.ARRAY(sa.String(length=16)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner_account_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('purchaser', 'agent', 'supplier')", name=op.f("ck_organizations_kind")
        ),
        sa.CheckConstraint(
            "size IS NULL OR size IN ('micro', 'small', 'medium', 'large')",
            name=op.f("ck_organizations_size"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'returned', 'active', 'suspended', 'cancelled')",
            name=op.f("ck_organizations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_organizations_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_index(
        "ix_organizations_business_scope",
        "organizations",
        ["business_scope"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_organizations_kind_region",
        "organizations",
        ["kind", "region_code"],
        unique=False,
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_index(
        "ix_organizations_kind_status", "organizations", ["kind", "status"], unique=False
    )
    op.create_index(
        "uq_organizations_kind_uscc_live",
        "organizations",
        ["kind", "uscc"],
        unique=True,
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_table(
        "change_requests",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("organization_id", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_by_name", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_change_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_change_requests_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
    )
    op.create_index(
        op.f("ix_change_requests_organization_id"),
        "change_requests",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        "uq_change_requests_pending",
        "change_requests",
        ["organization_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "debarments",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("organization_id", sa.String(length=24), nullable=False),
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column("issued_in_region", sa.String(length=6), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on", name=op.f("ck_debarments_period")
        ),
        sa.ForeignKeyConstraint(
            ["issued_in_region"],
            ["regions.code"],
            name=op.f("fk_debarments_issued_in_region_regions"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_debarments_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debarments")),
    )
    op.create_index(
        op.f("ix_debarments_organization_id"), "debarments", ["organization_id"], unique=False
    )

    # Registered records, their change requests and debarments are never deleted: they are
    # cancelled, withdrawn or revoked, so ids are never reused and history stays whole.
    op.execute(
        """
        CREATE FUNCTION refuse_record_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are never deleted (cancel, withdraw or revoke instead)', TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END $$;
        CREATE TRIGGER organizations_no_delete BEFORE DELETE ON organizations
            FOR EACH ROW EXECUTE FUNCTION refuse_record_delete();
        CREATE TRIGGER change_requests_no_delete BEFORE DELETE ON change_requests
            FOR EACH ROW EXECUTE FUNCTION refuse_record_delete();
        CREATE TRIGGER debarments_no_delete BEFORE DELETE ON debarments
            FOR EACH ROW EXECUTE FUNCTION refuse_record_delete();
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER debarments_no_delete ON debarments; "
        "DROP TRIGGER change_requests_no_delete ON change_requests; "
        "DROP TRIGGER organizations_no_delete ON organizations; "
        "DROP FUNCTION refuse_record_delete();"
    )
    op.drop_index(op.f("ix_debarments_organization_id"), table_name="debarments")
    op.drop_table("debarments")
    op.drop_index(
        "uq_change_requests_pending",
        table_name="change_requests",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index(op.f("ix_change_requests_organization_id"), table_name="change_requests")
    op.drop_table("change_requests")
    op.drop_index(
        "uq_organizations_kind_uscc_live",
        table_name="organizations",
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.drop_index("ix_organizations_kind_status", table_name="organizations")
    op.drop_index(
        "ix_organizations_kind_region",
        table_name="organizations",
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.drop_index(
        "ix_organizations_business_scope", table_name="organizations", postgresql_using="gin"
    )
    op.drop_table("organizations")
    op.execute(
        "DROP TRIGGER events_no_truncate ON events; DROP TRIGGER events_append_only ON events; "
        "DROP FUNCTION refuse_event_change();"
    )
    op.drop_index("ix_events_feed", table_name="events")
    op.drop_index("ix_events_entity", table_name="events")
    op.drop_table("events")
