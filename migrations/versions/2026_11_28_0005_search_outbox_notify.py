"""search outbox notifications: the worker hears of a commit at once instead of polling

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

A statement-level trigger NOTIFYs channel `search_outbox` when rows are added. PostgreSQL
delivers a notification when the transaction commits and folds identical ones of a transaction
into one, so a writing transaction costs one notification however many rows it adds, and an
aborted one none.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION search_outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('search_outbox', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER search_outbox_notify AFTER INSERT ON search_outbox"
        " FOR EACH STATEMENT EXECUTE FUNCTION search_outbox_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER search_outbox_notify ON search_outbox")
    op.execute("DROP FUNCTION search_outbox_notify()")
