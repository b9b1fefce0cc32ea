"""Keeping the search engine equal to the database: the outbox worker, reindex and check.

**The worker** (`registry worker`, `Worker.run`). Every change of a search document adds a row
to `search_outbox` in the writing transaction (`search.documents.store`). The worker drains it
in batches: in one transaction it locks the oldest rows (`FOR UPDATE SKIP LOCKED`), reads the
*current* documents of their records, writes them to the engine with the document version as
external version, and deletes the rows only after the engine accepted the whole batch. So:

* no committed change is lost: a row leaves the outbox only in the transaction that saw the
  engine accept its document (a worker killed mid-batch rolls back; the rows come back);
* nothing is applied out of order: the engine keeps the highest version it has seen, and a
  replayed or late write of an older version is refused (409, counted as done);
* while the engine is down the rows stay and the worker retries with capped exponential
  backoff; writers never wait for the engine.

Only one worker is active at a time: it holds a session-level advisory lock on its own
connection; a second one waits as a standby and takes over when the first ends (its connection
closes, PostgreSQL releases the lock). The same connection LISTENs on `search_outbox`
(a statement trigger NOTIFYs at each commit that adds rows, migration 0005), so a change is sent
within milliseconds of its commit; the poll interval only bounds the wait when a notification
is missed.

**Reindex** (`reindex_engine`): builds a new index (e.g. after an analyzer change) while search
goes on: the new index gets the alias `<prefix>-building`, to which the worker writes too; then
every document is loaded from one snapshot taken after that (REPEATABLE READ); external versions
settle any overlap with the worker; then the search alias moves to the new index in one atomic
`_aliases` call, and the old index is dropped a few seconds later (searches and writes already
routed to it finish first). Outbox rows of the transactions that snapshot saw are then deleted:
the new index already has their documents (after a migration's backfill, or with the worker
stopped, that saves sending a whole registry again as no-ops).

**Check** (`check_engine`): walks the database's documents and the index, both in record-id
order, and lists what is missing, extra, or at another version. Differences for records with
rows still in the outbox are reported apart (`pending`): they are on their way.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from search.engine import (
    Deletion,
    EngineClient,
    EngineDocument,
    EngineError,
    EngineUnavailable,
    IndexNames,
    aliased,
    all_engine_documents,
    bulk_write,
    engine_documents,
    ensure_index,
    index_settings,
    write_targets,
)

log = logging.getLogger(__name__)

# pg_advisory_lock keys (bigint): one active worker, one reindex at a time
WORKER_LOCK = 0x5EA2C0_0001
REINDEX_LOCK = 0x5EA2C0_0002
CHANNEL = "search_outbox"

_CLAIM = text(
    "SELECT seq, record_id, version, op FROM search_outbox"
    " ORDER BY xid, seq LIMIT :batch FOR UPDATE SKIP LOCKED"
)
_DONE = text("DELETE FROM search_outbox WHERE seq = ANY(:seqs)")


# A batch this small is interactive work (someone just saved a record): it is made searchable
# at once (`refresh=true`) rather than at the engine's next periodic refresh (1 s). Larger
# batches mean a backlog or bulk work, where forced refreshes would only cost throughput; and
# under a steady stream of edits batches grow past this by themselves, so forced refreshes
# stay bounded.
REFRESH_AT_ONCE_BELOW = 20


def drain_once(db: Engine, client: EngineClient, names: IndexNames, *, batch: int = 500) -> int:
    """Send one batch of outbox rows to the engine; returns how many rows it took (0: empty).
    Raises EngineUnavailable (rows kept) when the engine does not take the batch."""
    with db.begin() as connection:
        rows = connection.execute(_CLAIM, {"batch": batch}).all()
        if not rows:
            return 0
        ids = list(dict.fromkeys(row.record_id for row in rows))
        documents = engine_documents(connection, ids)
        present = {doc.record_id for doc in documents}
        deletions = [
            Deletion(record_id, max(r.version for r in rows if r.record_id == record_id))
            for record_id in ids
            if record_id not in present
        ]
        targets = write_targets(client, names)
        bulk_write(
            client,
            targets,
            documents,
            deletions,
            through_aliases=True,
            optional=targets[1:],
            refresh=len(rows) < REFRESH_AT_ONCE_BELOW,
        )
        connection.execute(_DONE, {"seqs": [row.seq for row in rows]})
    return len(rows)


def backlog(db: Session | Connection) -> tuple[int, int]:
    """Outbox rows waiting for the worker, and the oldest one's age in seconds."""
    count, oldest = db.execute(
        text(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::int"
            " FROM search_outbox"
        )
    ).one()
    return int(count), int(oldest)


def pending(db: Engine) -> int:
    with db.connect() as connection:
        return backlog(connection)[0]


@dataclass
class WorkerStats:
    sent: int = 0
    batches: int = 0
    failures: int = 0
    active_since: float | None = None


@dataclass
class Worker:
    """The outbox worker (see the module docstring). `run()` until `stop` is set."""

    db: Engine
    client: EngineClient
    names: IndexNames
    batch: int = 500
    poll_seconds: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stop: threading.Event = field(default_factory=threading.Event)
    stats: WorkerStats = field(default_factory=WorkerStats)
    on_idle: Callable[[], None] | None = None  # called each time the outbox is found empty

    def run(self, *, until_empty: bool = False) -> None:
        """Wait for the worker lock (standby), then drain until stopped. `until_empty`: return
        as soon as the outbox is empty (for scripts and tests)."""
        # its own connection, outside the pool: it holds the lock and LISTENs for the whole run
        url = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as pg:
            while not self.stop.is_set():
                locked = pg.execute("SELECT pg_try_advisory_lock(%s)", (WORKER_LOCK,)).fetchone()
                if locked and locked[0]:
                    break
                log.info("another search worker is active: standing by")
                self.stop.wait(self.poll_seconds)
            else:
                return
            try:
                self.stats.active_since = time.monotonic()
                pg.execute(f"LISTEN {CHANNEL}")
                self._loop(pg, until_empty=until_empty)
            finally:
                if not pg.closed:
                    pg.execute(f"UNLISTEN {CHANNEL}")
                    pg.execute("SELECT pg_advisory_unlock(%s)", (WORKER_LOCK,))

    def _loop(self, pg: psycopg.Connection[Any], *, until_empty: bool) -> None:
        delay = self.backoff_initial
        ready = False
        while not self.stop.is_set():
            try:
                if not ready:
                    ensure_index(self.client, self.names)
                    ready = True
                sent = drain_once(self.db, self.client, self.names, batch=self.batch)
            except (EngineUnavailable, EngineError) as exc:
                if until_empty:
                    raise  # a one-off run reports the failure instead of waiting for the engine
                # a refused batch (EngineError: a defect, e.g. a mapping conflict) is retried
                # too, at the same pace: the outbox keeps it, and the log says why
                self.stats.failures += 1
                wait = min(delay, self.backoff_max) * (0.5 + random.random() / 2)  # noqa: S311
                level = logging.WARNING if isinstance(exc, EngineUnavailable) else logging.ERROR
                log.log(level, "search batch not written, retrying in %.1f s: %s", wait, exc)
                ready = False
                self.stop.wait(wait)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            if sent:
                self.stats.sent += sent
                self.stats.batches += 1
                if sent == self.batch:
                    continue  # more is waiting
            if self.on_idle is not None:
                self.on_idle()
            if until_empty and sent == 0:
                return
            for _ in pg.notifies(timeout=self.poll_seconds, stop_after=1):
                pass


# --- reindex ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReindexReport:
    index: str
    replaced: list[str]
    documents: int
    seconds: float  # all of it
    load_seconds: float  # creating the index and loading the documents, up to the swap


def _documents_in_snapshot(
    db: Engine, built: _Built, *, batch: int
) -> Iterator[list[EngineDocument]]:
    with db.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            # the first statement fixes the snapshot; keep it to know what the load covered
            built.snapshot = connection.execute(text("SELECT pg_current_snapshot()::text")).scalar()
            yield from all_engine_documents(connection, batch=batch)


# outbox rows of transactions the load's snapshot saw: the new index has their documents (at
# that version or a later one), so once it is the searched index they are done
_COVERED = text(
    "DELETE FROM search_outbox"
    " WHERE pg_visible_in_snapshot((xid::text)::xid8, CAST(:snapshot AS pg_snapshot))"
)


def reindex_engine(
    db: Engine,
    client: EngineClient,
    names: IndexNames,
    *,
    batch: int = 1000,
    senders: int = 2,
    grace_seconds: float = 5.0,
    progress: Callable[[int], None] | None = None,
) -> ReindexReport:
    """Build a new index from the database and swap it in (see the module docstring)."""
    started = time.monotonic()
    with db.connect() as lock:
        if not lock.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": REINDEX_LOCK}).scalar():
            raise RuntimeError("another reindex is running")
        try:
            index = _build(db, client, names, batch=batch, senders=senders, progress=progress)
            loaded = time.monotonic() - started
            replaced = _swap(client, names, index.name, grace_seconds)
            with db.begin() as connection:  # no need to send them again
                connection.execute(_COVERED, {"snapshot": index.snapshot})
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": REINDEX_LOCK})
    return ReindexReport(index.name, replaced, index.count, time.monotonic() - started, loaded)


def _with_retries(write: Callable[[], object], attempts: int = 8) -> None:
    """A bulk request the engine pushes back (429 while it is busy merging or collecting
    garbage, a timeout, a restart) is sent again after a capped backoff, like the worker's;
    a reindex gives up only when the engine stays away (about 2 minutes)."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            write()
            return
        except EngineUnavailable as exc:
            if attempt == attempts - 1:
                raise
            wait = delay * (0.5 + random.random() / 2)  # noqa: S311
            log.warning("reindex batch not written, retrying in %.1f s: %s", wait, exc)
            time.sleep(wait)
            delay = min(delay * 2, 30.0)


@dataclass
class _Built:
    name: str
    count: int = 0
    snapshot: str | None = None


def _build(
    db: Engine,
    client: EngineClient,
    names: IndexNames,
    *,
    batch: int,
    senders: int,
    progress: Callable[[int], None] | None,
) -> _Built:
    built = _Built(names.new_index())
    body = index_settings()
    body["settings"]["index"]["refresh_interval"] = "-1"  # no refreshes while loading
    client.request("PUT", f"/{built.name}", body)
    # a building index left by an interrupted reindex is dropped; the new one takes the alias
    leftovers = aliased(client, names.building)
    actions: list[dict[str, Any]] = [{"add": {"index": built.name, "alias": names.building}}]
    actions += [{"remove_index": {"index": old}} for old in leftovers]
    client.request("POST", "/_aliases", {"actions": actions})
    work: queue.Queue[list[EngineDocument] | None] = queue.Queue(maxsize=senders * 2)
    lock = threading.Lock()

    def send() -> None:
        while (docs := work.get()) is not None:
            _with_retries(lambda: bulk_write(client, [built.name], docs))
            with lock:
                built.count += len(docs)
                if progress is not None:
                    progress(len(docs))

    with ThreadPoolExecutor(senders) as pool:
        futures = [pool.submit(send) for _ in range(senders)]
        try:
            for docs in _documents_in_snapshot(db, built, batch=batch):
                while True:
                    if any(f.done() for f in futures):  # a sender failed: stop reading
                        raise next(f for f in futures if f.done()).exception() or RuntimeError
                    try:
                        work.put(docs, timeout=1)
                        break
                    except queue.Full:
                        continue
        finally:
            for _ in futures:
                work.put(None)
        for f in futures:
            f.result()
    client.request("PUT", f"/{built.name}/_settings", {"index": {"refresh_interval": "1s"}})
    client.request("POST", f"/{built.name}/_refresh")
    return built


def _swap(client: EngineClient, names: IndexNames, index: str, grace: float) -> list[str]:
    """Point the search alias at `index` (one atomic call), then drop what it pointed at once
    searches and writes already routed there have had `grace` seconds to finish."""
    old = [name for name in aliased(client, names.alias) if name != index]
    actions: list[dict[str, Any]] = [{"add": {"index": index, "alias": names.alias}}]
    actions += [{"remove": {"index": name, "alias": names.alias}} for name in old]
    actions += [{"remove": {"index": index, "alias": names.building}}]
    client.request("POST", "/_aliases", {"actions": actions})
    log.info("search alias %s now on %s", names.alias, index)
    if old:
        time.sleep(grace)
        client.request("DELETE", "/" + ",".join(old), params={"ignore_unavailable": "true"})
        log.info("dropped the previous search index %s", ", ".join(old))
    return old


# --- check ------------------------------------------------------------------------------------


@dataclass
class EngineCheck:
    """Differences between `search_documents` and the index (ids, at most `limit` of each):
    documents the index lacks, index entries without a document, and entries at another
    version; `pending` are differences whose records have rows still in the outbox."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    documents: int = 0
    indexed: int = 0
    outdated_index: str | None = None  # built for another analyzer or mapping version

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.stale or self.outdated_index)


def _indexed(client: EngineClient, alias: str, page: int) -> Iterator[tuple[str, int]]:
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": page,
            "_source": False,
            "version": True,
            "sort": [{"record_id": "asc"}],
            "query": {"match_all": {}},
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        hits = client.request("POST", f"/{alias}/_search", body)["hits"]["hits"]
        for hit in hits:
            yield hit["_id"], int(hit["_version"])
        if len(hits) < page:
            return
        after = hits[-1]["sort"]


def _stored(db: Engine, page: int) -> Iterator[tuple[str, int]]:
    with db.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            last = ""
            while True:
                rows = connection.execute(
                    text(
                        "SELECT record_id, version FROM search_documents WHERE record_id > :last"
                        " ORDER BY record_id LIMIT :page"
                    ),
                    {"last": last, "page": page},
                ).all()
                yield from ((r[0], int(r[1])) for r in rows)
                if len(rows) < page:
                    return
                last = rows[-1][0]


def check_engine(
    db: Engine, client: EngineClient, names: IndexNames, *, limit: int = 100, page: int = 5000
) -> EngineCheck:
    client.request("POST", f"/{names.alias}/_refresh")
    found = EngineCheck()
    found.outdated_index = next(
        (i for i in aliased(client, names.alias) if not names.is_current(i)), None
    )
    stored, indexed = _stored(db, page), _indexed(client, names.alias, page)
    a, b = next(stored, None), next(indexed, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            found.documents += 1
            found.missing.append(a[0])
            a = next(stored, None)
        elif a is None or b[0] < a[0]:
            found.indexed += 1
            found.extra.append(b[0])
            b = next(indexed, None)
        else:
            found.documents += 1
            found.indexed += 1
            if a[1] != b[1]:
                found.stale.append(a[0])
            a, b = next(stored, None), next(indexed, None)
    differing = {*found.missing, *found.extra, *found.stale}
    if differing:
        with db.connect() as connection:
            in_flight = set(
                connection.execute(
                    text(
                        "SELECT DISTINCT record_id FROM search_outbox WHERE record_id = ANY(:ids)"
                    ),
                    {"ids": sorted(differing)},
                ).scalars()
            )
        found.pending = sorted(in_flight)
        found.missing = [i for i in found.missing if i not in in_flight][:limit]
        found.extra = [i for i in found.extra if i not in in_flight][:limit]
        found.stale = [i for i in found.stale if i not in in_flight][:limit]
    return found
