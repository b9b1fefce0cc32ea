"""experts and commodities in the records table, commodity offers, specialty classification

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_KINDS = "('purchaser', 'agent', 'supplier')"
ALL_KINDS = "('purchaser', 'agent', 'supplier', 'expert', 'commodity')"
OLD_STATUSES = "('draft', 'submitted', 'returned', 'active', 'suspended', 'cancelled')"
ALL_STATUSES = (
    "('draft', 'submitted', 'returned', 'active', 'suspended', 'cancelled',"
    " 'expired', 'dismissed', 'delisted')"
)


def upgrade() -> None:
    op.create_table(
        "specialties",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_code", sa.String(length=8), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["specialties.code"],
            name=op.f("fk_specialties_parent_code_specialties"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_specialties")),
    )
    op.create_index(
        op.f("ix_specialties_parent_code"), "specialties", ["parent_code"], unique=False
    )

    op.alter_column("organizations", "uscc", existing_type=sa.String(length=18), nullable=True)
    op.add_column("organizations", sa.Column("natural_key", sa.String(length=200), nullable=True))
    op.add_column(
        "organizations",
        sa.Column("specialties", postgresql.ARRAY(sa.String(length=16)), nullable=True),
    )
    op.add_column("organizations", sa.Column("term_ends_on", sa.Date(), nullable=True))
    op.add_column("organizations", sa.Column("catalog_code", sa.String(length=16), nullable=True))
    op.add_column("organizations", sa.Column("brand", sa.String(length=100), nullable=True))
    op.add_column("organizations", sa.Column("price", sa.Numeric(14, 2), nullable=True))
    op.drop_constraint(op.f("ck_organizations_kind"), "organizations", type_="check")
    op.create_check_constraint(
        op.f("ck_organizations_kind"), "organizations", f"kind IN {ALL_KINDS}"
    )
    op.drop_constraint(op.f("ck_organizations_status"), "organizations", type_="check")
    op.create_check_constraint(
        op.f("ck_organizations_status"), "organizations", f"status IN {ALL_STATUSES}"
    )
    op.create_check_constraint(
        op.f("ck_organizations_uscc_for_organizations"),
        "organizations",
        "(kind IN ('expert', 'commodity')) = (uscc IS NULL)",
    )
    op.create_check_constraint(
        op.f("ck_organizations_natural_key"),
        "organizations",
        "(kind IN ('expert', 'commodity')) = (natural_key IS NOT NULL)",
    )
    op.create_index(
        "uq_organizations_kind_natural_key_live",
        "organizations",
        ["kind", "natural_key"],
        unique=True,
        postgresql_where=sa.text("status <> 'cancelled' AND natural_key IS NOT NULL"),
    )
    op.create_index(
        "ix_organizations_specialties",
        "organizations",
        ["specialties"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_organizations_catalog_code",
        "organizations",
        ["catalog_code"],
        unique=False,
        postgresql_ops={"catalog_code": "text_pattern_ops"},
        postgresql_where=sa.text("catalog_code IS NOT NULL"),
    )

    op.create_table(
        "commodity_offers",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("commodity_id", sa.String(length=24), nullable=False),
        sa.Column("supplier_id", sa.String(length=24), nullable=False),
        sa.Column("price", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stock_status", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
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
            "stock_status IN ('in_stock', 'low', 'out_of_stock', 'on_order')",
            name=op.f("ck_commodity_offers_stock_status"),
        ),
        sa.CheckConstraint("price > 0", name=op.f("ck_commodity_offers_price_positive")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_commodity_offers_period")
        ),
        sa.ForeignKeyConstraint(
            ["commodity_id"],
            ["organizations.id"],
            name=op.f("fk_commodity_offers_commodity_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["organizations.id"],
            name=op.f("fk_commodity_offers_supplier_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commodity_offers")),
    )
    op.create_index(op.f("ix_commodity_offers_commodity_id"), "commodity_offers", ["commodity_id"])
    op.create_index(op.f("ix_commodity_offers_supplier_id"), "commodity_offers", ["supplier_id"])
    op.create_index(
        "uq_commodity_offers_live",
        "commodity_offers",
        ["commodity_id", "supplier_id"],
        unique=True,
        postgresql_where=sa.text("withdrawn_at IS NULL"),
    )
    op.execute(
        "CREATE TRIGGER commodity_offers_no_delete BEFORE DELETE ON commodity_offers"
        " FOR EACH ROW EXECUTE FUNCTION refuse_record_delete();"
    )


def downgrade() -> None:
    # experts and commodities have no place in the older schema; refuse rather than lose them
    op.execute(
        """
        DO $$ BEGIN
          IF EXISTS (SELECT 1 FROM organizations WHERE kind IN ('expert', 'commodity')) THEN
            RAISE EXCEPTION 'experts or commodities exist: downgrading below 0003 would lose them';
          END IF;
        END $$;
        """
    )
    op.execute("DROP TRIGGER commodity_offers_no_delete ON commodity_offers;")
    op.drop_index("uq_commodity_offers_live", table_name="commodity_offers")
    op.drop_index(op.f("ix_commodity_offers_supplier_id"), table_name="commodity_offers")
    op.drop_index(op.f("ix_commodity_offers_commodity_id"), table_name="commodity_offers")
    op.drop_table("commodity_offers")
    op.drop_index("ix_organizations_catalog_code", table_name="organizations")
    op.drop_index("ix_organizations_specialties", table_name="organizations")
    op.drop_index("uq_organizations_kind_natural_key_live", table_name="organizations")
    op.drop_constraint(op.f("ck_organizations_natural_key"), "organizations", type_="check")
    op.drop_constraint(
        op.f("ck_organizations_uscc_for_organizations"), "organizations", type_="check"
    )
    op.drop_constraint(op.f("ck_organizations_status"), "organizations", type_="check")
    op.create_check_constraint(
        op.f("ck_organizations_status"), "organizations", f"status IN {OLD_STATUSES}"
    )
    op.drop_constraint(op.f("ck_organizations_kind"), "organizations", type_="check")
    op.create_check_constraint(
        op.f("ck_organizations_kind"), "organizations", f"kind IN {ORG_KINDS}"
    )
    op.drop_column("organizations", "price")
    op.drop_column("organizations", "brand")
    op.drop_column("organizations", "catalog_code")
    op.drop_column("organizations", "term_ends_on")
    op.drop_column("organizations", "specialties")
    op.drop_column("organizations", "natural_key")
    op.alter_column("organizations", "uscc", existing_type=sa.String(length=18), nullable=False)
    op.drop_index(op.f("ix_specialties_parent_code"), table_name="specialties")
    op.drop_table("specialties")
