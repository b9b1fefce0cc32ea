"""Test fixtures: a real PostgreSQL, built by `alembic upgrade head`, one rolled-back
transaction per test.

The server is the embedded one (started here in a temporary directory) unless DATABASE_URL
names one; either way the tests create their own databases on it and drop them at the end:
`registry_test_tmpl` (migrated and seeded once) and copies of it for tests that must commit.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from api.app import create_app
from auth.principals import Principal, PrincipalKind
from models.account import EntityKind, StaffRole
from registry import migrate
from registry.config import Settings, get_settings
from registry.db import make_engine, sqlalchemy_url
from registry.embedded import EmbeddedPostgres
from registry.seed import seed_reference_data

TEMPLATE_DB = "registry_test_tmpl"


def engine_or_skip(*, local: bool = False) -> None:
    """Skip (saying why) where no search engine can be started; fail instead in CI
    (`CI=true`, as `.ci/run` is run) and with REGISTRY_REQUIRE_ENGINE=1. `local`: the test
    starts its own node, so a configured ELASTICSEARCH_URL does not count."""
    from search.testing import java_and_maven_available

    if os.environ.get("ELASTICSEARCH_URL") and not local:
        return
    ok, reason = java_and_maven_available()
    if ok:
        return
    message = f"search engine unavailable: {reason}"
    if os.environ.get("REGISTRY_REQUIRE_ENGINE") == "1" or os.environ.get("CI") == "true":
        pytest.fail(f"{message} (required in CI and with REGISTRY_REQUIRE_ENGINE=1)", pytrace=False)
    print(message)
    pytest.skip(message)


_ENGINES: list[Any] = []  # the node this process started, kept alive for the whole run


ENGINE_FLAVORS = ("opensearch", "elasticsearch")


def _configured_flavor(url: str) -> str:
    from search.engine import connect

    return connect(url).flavor


def _engine_url(flavor: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The engine of `flavor`: the one `ELASTICSEARCH_URL` names if it is of that flavor, else a
    node started here, an OpenSearch 2.19 or an Elasticsearch 8.19 (`search.testing`), once per
    test run: xdist workers share it through a lock file, and it stops when the run ends."""
    engine_or_skip()
    configured = os.environ.get("ELASTICSEARCH_URL")
    if configured and _configured_flavor(configured) == flavor:
        return configured
    from search.testing import start_elasticsearch, start_opensearch

    start = start_opensearch if flavor == "opensearch" else start_elasticsearch
    base = tmp_path_factory.getbasetemp()
    under_xdist = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    shared = base.parent if under_xdist else base
    with open(shared / f"search-engine-{flavor}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shared / f"search-engine-{flavor}.url"
        if found.exists():
            return found.read_text().strip()
        # under xdist the node lives as long as the controller, not the worker that started it
        node = start(
            shared / f"search-engine-{flavor}", parent_pid=os.getppid() if under_xdist else None
        )
        _ENGINES.append(node)
        found.write_text(node.url)
        return str(node.url)


@pytest.fixture(scope="session")
def opensearch_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _engine_url("opensearch", tmp_path_factory)


@pytest.fixture(scope="session")
def elasticsearch_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _engine_url("elasticsearch", tmp_path_factory)


@pytest.fixture(scope="session", params=ENGINE_FLAVORS)
def search_engine_url(request: pytest.FixtureRequest) -> str:
    """A real search engine of each flavor: tests using this run once per flavor."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def _libpq(url: str) -> str:
    """A psycopg (libpq) connection string for a SQLAlchemy-style URL."""
    return (
        make_url(sqlalchemy_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


class Server:
    """The PostgreSQL server the tests use, able to create and drop databases on it."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def url(self, database: str) -> str:
        return (
            make_url(sqlalchemy_url(self.admin_url))
            .set(database=database)
            .render_as_string(hide_password=False)
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            if template:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield Server(url)
        return
    with tempfile.TemporaryDirectory(prefix="registry-test-pg-") as tmp:
        embedded = EmbeddedPostgres(Path(tmp), database="postgres")
        admin = embedded.start()
        try:
            yield Server(admin)
        finally:
            embedded.stop()


@pytest.fixture(scope="session")
def template_url(pg_server: Server) -> Iterator[str]:
    """A database migrated to head and loaded with the shipped regions and catalogue."""
    url = pg_server.create_database(TEMPLATE_DB)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    migrate.upgrade(engine)
    with Session(engine) as session:
        seed_reference_data(session)
        session.commit()
    engine.dispose()
    yield url
    pg_server.drop_database(TEMPLATE_DB)


@pytest.fixture(scope="session")
def engine(pg_server: Server, template_url: str) -> Iterator[Engine]:
    name = "registry_test_main"
    url = pg_server.create_database(name, template=TEMPLATE_DB)
    eng = make_engine(url, pool_size=5, max_overflow=5)
    yield eng
    eng.dispose()
    pg_server.drop_database(name)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end: tests never see each other."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> Callable[[], Session]:
    def factory() -> Session:
        # commit() inside the app releases a savepoint; the outer transaction stays open
        return Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    return factory


@pytest.fixture
def session(session_factory: Callable[[], Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("registry-data")
    return Settings(
        environment="test",
        database_url=None,
        registry_data_dir=data_dir,
        login_max_failures=3,
        login_lockout_minutes=15,
    )


@pytest.fixture
def app(settings: Settings, session_factory: Callable[[], Session]) -> FastAPI:
    return create_app(settings, session_factory=session_factory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def committing_db(pg_server: Server, template_url: str) -> Iterator[Engine]:
    """A private copy of the template database, for tests whose requests must really commit."""
    name = f"registry_test_{uuid.uuid4().hex[:10]}"
    url = pg_server.create_database(name, template=TEMPLATE_DB)
    eng = make_engine(url, pool_size=30, max_overflow=10)
    yield eng
    eng.dispose()
    pg_server.drop_database(name)


@pytest.fixture
def committing_app(settings: Settings, committing_db: Engine) -> FastAPI:
    return create_app(settings, engine=committing_db)


# --- callers ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(
    committing_db: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Engine]:
    """The command line pointed at a committing test database (and a data dir of its own)."""
    monkeypatch.setenv("DATABASE_URL", committing_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield committing_db
    get_settings.cache_clear()


def staff(region: str, role: StaffRole = StaffRole.admin, subject: str | None = None) -> Principal:
    return Principal(
        PrincipalKind.staff,
        subject or f"staff-{region}-{role.value}",
        f"{region} {role.value}",
        region_code=region,
        role=role,
    )


def self_service(entity_kind: EntityKind, entity_id: str) -> Principal:
    return Principal(
        PrincipalKind.self_service,
        f"self-{entity_id}",
        "自助",
        entity_kind=entity_kind,
        entity_id=entity_id,
    )


def service(*scopes: str) -> Principal:
    return Principal(
        PrincipalKind.service, "svc-" + "-".join(scopes), "系统", scopes=frozenset(scopes)
    )


@pytest.fixture
def auth_header(app: FastAPI) -> Callable[[Principal], dict[str, str]]:
    """`auth_header(staff("150100"))` → an Authorization header with a token the app accepts."""

    def make(principal: Principal) -> dict[str, str]:
        token, _ = app.state.tokens.issue(principal)
        return {"Authorization": f"Bearer {token}"}

    return make


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Every error is problem+json with a stable code and a Chinese title."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"]
    assert body["title"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["title"]), body
    if code is not None:
        assert body["code"] == code, body
    return body
