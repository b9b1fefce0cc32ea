"""foundation: regions, bureaus, reference data loads, catalog, accounts, idempotency keys

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps(*, updated: bool = True) -> list[sa.Column]:
    cols = [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        )
    ]
    if updated:
        cols.append(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                server_default=sa.func.now(),
                nullable=False,
            )
        )
    return cols


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "former_names",
            postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        *_timestamps(),
        sa.CheckConstraint("code ~ '^[1-8][0-9]{5}$'", name=op.f("ck_regions_code_format")),
        sa.CheckConstraint(
            "level IN ('province', 'prefecture', 'county')", name=op.f("ck_regions_level")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_regions_validity")
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["regions.code"], name=op.f("fk_regions_parent_code_regions")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    op.create_index(op.f("ix_regions_parent_code"), "regions", ["parent_code"])
    op.create_index(
        "ix_regions_code_pattern", "regions", ["code"], postgresql_ops={"code": "text_pattern_ops"}
    )
    # A region code is retired (valid_to), never deleted: records keep pointing at it.
    op.execute(
        """
        CREATE FUNCTION refuse_region_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'region codes are retired with valid_to, never deleted (%)', OLD.code
                USING ERRCODE = 'restrict_violation';
        END $$;
        CREATE TRIGGER regions_no_delete BEFORE DELETE ON regions
            FOR EACH ROW EXECUTE FUNCTION refuse_region_delete();
        """
    )

    op.create_table(
        "bureaus",
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_bureaus_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_bureaus")),
    )

    op.create_table(
        "reference_data_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_data_loads")),
    )
    op.create_index(op.f("ix_reference_data_loads_dataset"), "reference_data_loads", ["dataset"])

    op.create_table(
        "catalog_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_code", sa.String(16), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        *_timestamps(updated=False),
        sa.CheckConstraint(
            "code ~ '^[ABC]([0-9]{8})?$'", name=op.f("ck_catalog_items_code_format")
        ),
        sa.CheckConstraint(
            "category IN ('goods', 'works', 'services')", name=op.f("ck_catalog_items_category")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_catalog_items_validity")
        ),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_catalog_items_level")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
    )
    op.create_index(
        "uq_catalog_items_current_code",
        "catalog_items",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index(
        "uq_catalog_items_code_valid_from", "catalog_items", ["code", "valid_from"], unique=True
    )
    op.create_index(
        "ix_catalog_items_code_pattern",
        "catalog_items",
        ["code"],
        postgresql_ops={"code": "text_pattern_ops"},
    )

    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("region_code", sa.String(), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("entity_kind", sa.String(16), nullable=True),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column(
            "scopes",
            postgresql.ARRAY(sa.String(64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "kind IN ('staff', 'self_service', 'service')", name=op.f("ck_accounts_kind")
        ),
        sa.CheckConstraint(
            "kind <> 'staff' OR (region_code IS NOT NULL AND role IN ('admin', 'reviewer', 'viewer'))",
            name=op.f("ck_accounts_staff_has_region_and_role"),
        ),
        sa.CheckConstraint(
            "kind <> 'self_service' OR entity_kind IN ('supplier', 'agent', 'expert')",
            name=op.f("ck_accounts_self_service_has_entity_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_accounts_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_index(op.f("ix_accounts_region_code"), "accounts", ["region_code"])
    op.create_index(
        "uq_accounts_username_lower", "accounts", [sa.text("lower(username)")], unique=True
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column(
            "headers", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        *_timestamps(updated=False),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_idempotency_keys")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("uq_accounts_username_lower", table_name="accounts")
    op.drop_index(op.f("ix_accounts_region_code"), table_name="accounts")
    op.drop_table("accounts")
    op.drop_index("ix_catalog_items_code_pattern", table_name="catalog_items")
    op.drop_index("uq_catalog_items_code_valid_from", table_name="catalog_items")
    op.drop_index("uq_catalog_items_current_code", table_name="catalog_items")
    op.drop_table("catalog_items")
    op.drop_index(op.f("ix_reference_data_loads_dataset"), table_name="reference_data_loads")
    op.drop_table("reference_data_loads")
    op.drop_table("bureaus")
    op.execute("DROP TRIGGER regions_no_delete ON regions; DROP FUNCTION refuse_region_delete();")
    op.drop_index("ix_regions_code_pattern", table_name="regions")
    op.drop_index(op.f("ix_regions_parent_code"), table_name="regions")
    op.drop_table("regions")
