"""The outbox worker, engine reindex and check, on real engines (each flavor) and a real
PostgreSQL whose transactions commit: whatever happens (engine down during writes, a worker
killed mid-batch, two workers, a reindex under writes), afterwards the index equals the
database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from models.organization import RecordKind
from registry import organizations
from search import sync
from search.engine import (
    EngineClient,
    EngineDocument,
    EngineUnavailable,
    IndexNames,
    aliased,
    bulk_write,
    connect,
    engine_documents,
    ensure_index,
    index_settings,
)
from tests import orgdata
from tests.conftest import staff

XINCHENG = staff("150102")


@pytest.fixture
def client(search_engine_url: str) -> EngineClient:
    return connect(search_engine_url)


@pytest.fixture
def names(client: EngineClient) -> Iterator[IndexNames]:
    names = IndexNames(f"t-{uuid.uuid4().hex[:12]}")
    yield names
    found = client.request("GET", f"/_cat/indices/{names.alias}-*", params={"format": "json"})
    if found:  # by name: Elasticsearch 8 refuses to delete by wildcard
        client.request("DELETE", "/" + ",".join(row["index"] for row in found))


def _register(db: Engine, count: int, region: str = "150102") -> list[str]:
    ids = []
    with Session(db) as session:
        for _ in range(count):
            payload = orgdata.supplier(region)
            ids.append(
                organizations.register(
                    session, kind=RecordKind.supplier, payload=payload, actor=XINCHENG
                ).org.id
            )
        session.commit()
    return ids


def _rename(db: Engine, record_id: str, name: str) -> None:
    with Session(db) as session:
        organizations.edit(
            session,
            kind=RecordKind.supplier,
            org_id=record_id,
            patch={"name": name},
            actor=XINCHENG,
            check_version=lambda _: None,
        )
        session.commit()


def _outbox(db: Engine) -> int:
    return sync.pending(db)


def _assert_index_equals_database(db: Engine, client: EngineClient, names: IndexNames) -> None:
    found = sync.check_engine(db, client, names)
    assert (found.missing, found.extra, found.stale, found.pending) == ([], [], [], [])
    with db.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM search_documents")).scalar_one()
    assert found.indexed == stored > 0


def _indexed_name(client: EngineClient, names: IndexNames, record_id: str) -> str | None:
    client.request("POST", f"/{names.alias}/_refresh")
    hits = client.request(
        "POST", f"/{names.alias}/_search", {"query": {"ids": {"values": [record_id]}}}
    )["hits"]["hits"]
    return hits[0]["_source"]["name"] if hits else None


def _dead_client(flavor: str) -> EngineClient:
    return EngineClient("http://127.0.0.1:9", flavor, "0")  # nothing listens on port 9


def test_the_worker_sends_every_committed_change_and_empties_the_outbox(
    committing_db, client, names
):
    ids = _register(committing_db, 30)
    _rename(committing_db, ids[0], "内蒙古改名科技有限公司")
    assert _outbox(committing_db) == 31
    worker = sync.Worker(committing_db, client, names, batch=7)
    worker.run(until_empty=True)
    assert _outbox(committing_db) == 0
    assert worker.stats.sent == 31 and worker.stats.batches == 5
    _assert_index_equals_database(committing_db, client, names)
    assert _indexed_name(client, names, ids[0]) == "内蒙古改名科技有限公司"


def test_engine_down_during_writes_loses_nothing(committing_db, client, names):
    ids = _register(committing_db, 5)
    worker = sync.Worker(
        committing_db,
        _dead_client(client.flavor),
        names,
        poll_seconds=0.05,
        backoff_initial=0.01,
        backoff_max=0.05,
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while worker.stats.failures < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert worker.stats.failures >= 3  # it keeps retrying ...
        ids += _register(committing_db, 5)  # ... writers are not held up ...
        _rename(committing_db, ids[0], "内蒙古停机期间改名有限公司")
        assert _outbox(committing_db) == 11  # ... and every change waits in the outbox
        worker.client = client  # the engine is back
        deadline = time.monotonic() + 20
        while _outbox(committing_db) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop.set()
        thread.join(10)
    assert not thread.is_alive()
    _assert_index_equals_database(committing_db, client, names)
    assert _indexed_name(client, names, ids[0]) == "内蒙古停机期间改名有限公司"


class _DiesAfterBulk(EngineClient):
    """The engine takes the batch, then the worker dies before its transaction commits."""

    def __init__(self, real: EngineClient) -> None:
        self.__dict__.update(real.__dict__)

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        answer = super().request(method, path, body, **kw)
        if path == "/_bulk":
            raise SystemExit("killed")
        return answer


class _DiesHalfwayThroughBulk(EngineClient):
    """Only the first half of a batch reaches the engine, then the connection drops."""

    def __init__(self, real: EngineClient) -> None:
        self.__dict__.update(real.__dict__)

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if path == "/_bulk":
            half = len(body) // 4 * 2  # whole (action, source) pairs
            super().request(method, path, body[:half], **kw)
            raise EngineUnavailable("connection reset")
        return super().request(method, path, body, **kw)


@pytest.mark.parametrize("failure", [_DiesAfterBulk, _DiesHalfwayThroughBulk])
def test_a_worker_killed_mid_batch_leaves_the_batch_for_the_next(
    committing_db, client, names, failure
):
    ids = _register(committing_db, 12)
    ensure_index(client, names)
    with pytest.raises((SystemExit, EngineUnavailable)):
        sync.drain_once(committing_db, failure(client), names, batch=12)
    assert _outbox(committing_db) == 12  # rolled back: nothing was marked done
    _rename(committing_db, ids[3], "内蒙古批次之后改名有限公司")
    sync.Worker(committing_db, client, names).run(until_empty=True)
    _assert_index_equals_database(committing_db, client, names)
    assert _indexed_name(client, names, ids[3]) == "内蒙古批次之后改名有限公司"


def test_an_older_version_never_overwrites_a_newer_one(committing_db, client, names):
    (record_id,) = _register(committing_db, 1)
    with Session(committing_db) as session:
        (old,) = engine_documents(session, [record_id])
    _rename(committing_db, record_id, "内蒙古新版本科技有限公司")
    with Session(committing_db) as session:
        (new,) = engine_documents(session, [record_id])
    index = ensure_index(client, names)
    assert new.version == old.version + 1
    bulk_write(client, [index], [new], refresh=True)
    assert bulk_write(client, [index], [old], refresh=True) == 0  # refused, counted as done
    bulk_write(client, [index], [new], refresh=True)  # the same version again: a no-op
    assert _indexed_name(client, names, record_id) == "内蒙古新版本科技有限公司"


def test_two_workers_one_active_the_other_takes_over(committing_db, client, names):
    _register(committing_db, 3)
    first = sync.Worker(committing_db, client, names, poll_seconds=0.05)
    second = sync.Worker(committing_db, client, names, poll_seconds=0.05)
    threads = [threading.Thread(target=w.run) for w in (first, second)]
    threads[0].start()
    deadline = time.monotonic() + 20
    while first.stats.active_since is None and time.monotonic() < deadline:
        time.sleep(0.02)
    threads[1].start()
    try:
        time.sleep(0.5)
        assert first.stats.active_since is not None
        assert second.stats.active_since is None  # standing by
        first.stop.set()
        threads[0].join(10)
        deadline = time.monotonic() + 20
        while second.stats.active_since is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert second.stats.active_since is not None  # took over
        ids = _register(committing_db, 4)
        deadline = time.monotonic() + 20
        while _outbox(committing_db) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _indexed_name(client, names, ids[-1]) is not None
    finally:
        for w in (first, second):
            w.stop.set()
        for t in threads:
            t.join(10)
    _assert_index_equals_database(committing_db, client, names)


def test_a_killed_worker_process_loses_nothing(committing_db, client, names, search_engine_url):
    """`registry worker` as a real process, SIGKILLed while it works; a new one finishes."""
    ids = _register(committing_db, 400)
    env = {
        **os.environ,
        "DATABASE_URL": committing_db.url.render_as_string(hide_password=False),
        "ELASTICSEARCH_URL": search_engine_url,
        "SEARCH_INDEX": names.alias,
    }
    registry = str(Path(sys.executable).parent / "registry")
    command = [registry, "worker", "--batch", "5"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while _outbox(committing_db) > 350 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _outbox(committing_db) <= 350
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert _outbox(committing_db) > 0  # it died with work left
    _rename(committing_db, ids[-1], "内蒙古进程被杀之后改名有限公司")
    done = subprocess.run(  # noqa: S603
        [*command[:-2], "--until-empty"], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    _assert_index_equals_database(committing_db, client, names)
    assert _indexed_name(client, names, ids[-1]) == "内蒙古进程被杀之后改名有限公司"


def test_reindex_under_writes_swaps_without_downtime(committing_db, client, names):
    ids = _register(committing_db, 60)
    worker = sync.Worker(committing_db, client, names, poll_seconds=0.05)
    worker_thread = threading.Thread(target=worker.run)
    worker_thread.start()
    stop = threading.Event()
    errors: list[BaseException] = []
    searched: list[int] = []

    def search_all_the_time() -> None:
        while not stop.is_set():
            try:
                body = {"query": {"match_all": {}}, "size": 0}
                searched.append(
                    client.request("POST", f"/{names.alias}/_search", body)["hits"]["total"][
                        "value"
                    ]
                )
            except BaseException as exc:
                errors.append(exc)

    def write_all_the_time() -> None:
        n = 0
        while not stop.is_set():
            _rename(committing_db, ids[n % len(ids)], f"内蒙古重建期间改名{n}有限公司")
            n += 1

    try:
        deadline = time.monotonic() + 20
        while _outbox(committing_db) and time.monotonic() < deadline:
            time.sleep(0.05)
        (before,) = aliased(client, names.alias)
        client.request("POST", f"/{names.alias}/_refresh")
        threads = [threading.Thread(target=f) for f in (search_all_the_time, write_all_the_time)]
        for t in threads:
            t.start()
        report = sync.reindex_engine(committing_db, client, names, batch=7, grace_seconds=0.5)
        time.sleep(0.3)  # writes go on after the swap
        stop.set()
        for t in threads:
            t.join(10)
        deadline = time.monotonic() + 20
        while _outbox(committing_db) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.stop.set()
        worker_thread.join(10)
    assert errors == []  # searches never failed
    assert searched and set(searched) == {60}  # every search saw every record
    assert report.replaced == [before] and report.documents == 60
    assert aliased(client, names.alias) == [report.index]
    assert aliased(client, names.building) == []
    _assert_index_equals_database(committing_db, client, names)


def test_check_reports_each_kind_of_difference(committing_db, client, names):
    ids = _register(committing_db, 4)
    sync.Worker(committing_db, client, names).run(until_empty=True)
    index = aliased(client, names.alias)[0]
    client.request("DELETE", f"/{index}/_doc/{ids[0]}")
    stray = EngineDocument("stray-record", 1, {"record_id": "stray-record", "name": "x"})
    bulk_write(client, [index], [stray])
    with Session(committing_db) as session:
        (ahead,) = engine_documents(session, [ids[1]])
    bulk_write(client, [index], [EngineDocument(ids[1], ahead.version + 5, ahead.source)])
    _rename(committing_db, ids[2], "内蒙古尚未发送有限公司")  # in the outbox, not yet sent
    found = sync.check_engine(committing_db, client, names)
    assert (found.missing, found.extra, found.stale, found.pending) == (
        [ids[0]],
        ["stray-record"],
        [ids[1]],
        [ids[2]],
    )
    assert not found.clean


def test_an_index_built_for_another_mapping_is_reported(committing_db, client, names):
    _register(committing_db, 1)
    old = f"{names.alias}-a0m0-20250101000000000000"
    client.request("PUT", f"/{old}", {**index_settings(), "aliases": {names.alias: {}}})
    found = sync.check_engine(committing_db, client, names)
    assert found.outdated_index == old and not found.clean
    assert _outbox(committing_db) == 1  # no worker ran
    sync.reindex_engine(committing_db, client, names, grace_seconds=0)
    assert _outbox(committing_db) == 0  # the load covered it: nothing to send again
    found = sync.check_engine(committing_db, client, names)
    assert found.outdated_index is None and found.clean


class _BusyOnce(EngineClient):
    """The engine pushes the first bulk request back (429), then takes everything."""

    def __init__(self, real: EngineClient) -> None:
        self.__dict__.update(real.__dict__)
        self.pushed_back = 0

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if path == "/_bulk" and not self.pushed_back:
            self.pushed_back += 1
            raise EngineUnavailable("429 circuit_breaking_exception")
        return super().request(method, path, body, **kw)


def test_reindex_retries_a_bulk_request_the_engine_pushes_back(committing_db, client, names):
    _register(committing_db, 5)
    busy = _BusyOnce(client)
    report = sync.reindex_engine(committing_db, busy, names, batch=2, grace_seconds=0)
    assert busy.pushed_back == 1 and report.documents == 5
    _assert_index_equals_database(committing_db, client, names)
