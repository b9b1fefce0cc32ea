"""Migrations are the only way the schema is built: up, down and up again on a real database."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

import models
from models.change_request import ChangeRequest
from models.debarment import Debarment
from models.organization import RecordKind
from registry import migrate, organizations
from registry.db import make_engine
from registry.migrate import MIGRATIONS_DIR
from tests import orgdata


@pytest.fixture
def empty_engine(pg_server):
    name = "registry_test_migrations"
    url = pg_server.create_database(name)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()
    pg_server.drop_database(name)


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_engine):
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert {"regions", "bureaus", "catalog_items", "accounts", "idempotency_keys"} <= _tables(
        empty_engine
    )

    migrate.downgrade(empty_engine, "base")
    assert migrate.current_revision(empty_engine) is None
    assert _tables(empty_engine) == set()
    with empty_engine.connect() as conn:  # functions and triggers are gone too
        assert (
            conn.execute(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'refuse_region_delete'")
            ).scalar()
            == 0
        )

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_models_and_migrations_agree(empty_engine):
    """Autogenerate finds nothing to do: the reviewed migrations build exactly the models."""
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), models.metadata
        )
    assert diff == []


def test_revision_files_are_named_by_date_and_description():
    files = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files
    for name in files:
        year, month, day, rev, *slug = name.removesuffix(".py").split("_")
        assert len(year) == 4 and len(month) == 2 and len(day) == 2 and rev.isdigit() and slug, name


def test_constraints_have_explicit_names(empty_engine):
    migrate.upgrade(empty_engine)
    inspector = inspect(empty_engine)
    for table in _tables(empty_engine):
        assert inspector.get_pk_constraint(table)["name"] == f"pk_{table}"
        for fk in inspector.get_foreign_keys(table):
            assert fk["name"].startswith(f"fk_{table}_"), fk
        for check in inspector.get_check_constraints(table):
            assert check["name"].startswith(f"ck_{table}_"), check


def test_regions_cannot_be_deleted(session):
    with pytest.raises(DBAPIError, match="never deleted"), session.begin_nested():
        session.execute(text("DELETE FROM regions WHERE code = '150102'"))


@pytest.fixture
def history_rows(session):
    """One row in each history table (row triggers do not fire on empty tables)."""
    org = organizations.register(
        session, kind=RecordKind.supplier, payload=orgdata.supplier(), actor=None
    ).org
    session.add(
        ChangeRequest(id="chg_t", organization_id=org.id, changes={"name": "x"}, requested_by="t")
    )
    session.add(
        Debarment(
            id="dbr_t",
            organization_id=org.id,
            authority="a",
            legal_basis="b",
            reason="c",
            starts_on=date(2026, 1, 1),
            issued_by="t",
            issued_in_region="150102",
        )
    )
    session.flush()


@pytest.mark.parametrize("table", ["events", "organizations", "change_requests", "debarments"])
def test_history_tables_refuse_deletes(session, history_rows, table):
    with pytest.raises(DBAPIError, match=r"never deleted|append-only"), session.begin_nested():
        session.execute(text(f"DELETE FROM {table}"))


def test_event_log_refuses_updates_and_truncate(session, history_rows):
    for statement in ("UPDATE events SET type = 'x'", "TRUNCATE events CASCADE"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))
