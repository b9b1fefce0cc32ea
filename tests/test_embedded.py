"""The embedded PostgreSQL: data survives restarts, a crashed server is recovered, the owner stops it."""

from __future__ import annotations

import os
import signal
import time

import psycopg
import pytest

from registry.embedded import EmbeddedPostgres, server_pid


def _wait_gone(pid: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} still running")


def test_restart_keeps_data_and_clean_stop(tmp_path):
    pg = EmbeddedPostgres(tmp_path)
    url = pg.start()
    assert pg.owner
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('呼和浩特')")
    pid = server_pid(pg.pgdata)
    assert pid is not None
    pg.stop()
    _wait_gone(pid)
    assert server_pid(pg.pgdata) is None  # clean shutdown removes postmaster.pid

    again = EmbeddedPostgres(tmp_path)
    with psycopg.connect(again.start()) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == ("呼和浩特",)
    again.stop()


def test_crashed_server_is_recovered(tmp_path):
    pg = EmbeddedPostgres(tmp_path)
    url = pg.start()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    pid = server_pid(pg.pgdata)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # a crash: postmaster.pid is left behind
    _wait_gone(pid)
    assert (pg.pgdata / "postmaster.pid").exists()
    pg.stop()  # nothing to stop any more; must not raise

    recovered = EmbeddedPostgres(tmp_path)
    with psycopg.connect(recovered.start()) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    recovered.stop()


def test_second_process_attaches_without_owning(tmp_path):
    owner = EmbeddedPostgres(tmp_path)
    owner.start()
    guest = EmbeddedPostgres(tmp_path)
    url = guest.start()
    assert owner.owner and not guest.owner
    pid = server_pid(owner.pgdata)
    guest.stop()  # a guest leaves the server running for the owner
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    owner.stop()
    assert pid is not None
    _wait_gone(pid)


def test_orphaned_server_is_adopted(tmp_path):
    """The owner process died without stopping the server: the next start adopts and stops it."""
    first = EmbeddedPostgres(tmp_path)
    first.start()
    pid = server_pid(first.pgdata)
    first.owner = False  # as if the owner was killed: the server stays up, the lock is released
    first.stop()
    assert server_pid(first.pgdata) == pid

    second = EmbeddedPostgres(tmp_path)
    second.start()
    assert second.owner
    assert server_pid(second.pgdata) == pid
    second.stop()
    assert pid is not None
    _wait_gone(pid)
