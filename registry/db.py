"""Engine and sessions. PostgreSQL through psycopg 3, pooled by SQLAlchemy's QueuePool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

MIN_SERVER_VERSION = 150000


def sqlalchemy_url(url: str) -> str:
    """Accept plain `postgresql://` URLs (as psql and libpq write them) and pick psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ValueError(f"only PostgreSQL is supported, not {parsed.drivername!r}")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Engine:
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No ping before each checkout (a round trip per request). A connection broken by a
        # database restart fails one request with 503; SQLAlchemy then invalidates the whole
        # pool, and connections are recycled every half hour in any case.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"application_name": "registry"},
        # orjson parses the stored JSON documents several times faster than the standard
        # library; a batch lookup reads a thousand of them
        json_deserializer=orjson.loads,
    )


def check_server_version(engine: Engine) -> int:
    with engine.connect() as conn:
        version = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    if version < MIN_SERVER_VERSION:
        raise RuntimeError(f"PostgreSQL 15 or newer is required, the server is {version}")
    return version


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work outside HTTP (CLI, worker): commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
