"""The batch half of dedup (issue 6): `registry dedup scan --kind suppliers [--within 1502]`.

A scan reads the live records of one kind (all of them, or those of a region subtree) through a
server-side cursor, only the fields the kind's matcher reads, and for each record computes once
its blocking keys, its sort key and its prepared form (`Matcher.prepare`); the records
themselves are not kept. Then it

1. makes the records' `dedup_keys` what it computed, stored as `dedup.stored_key` stores them
   (COPY into a temporary table, then only
   the changed keys deleted or inserted; dead records' keys dropped), in a transaction of its
   own, so that later registrations and edits compare incrementally against them
   (`dedup.on_write`);
2. runs `matching.candidate_pairs` over the precomputed keys and compares each pair of prepared
   records — in worker processes when the scan is large enough to gain from it: the pairs go
   to them in chunks, each with the prepared records it reads, so a worker holds one chunk;
3. writes the pairs for review through `dedup.store_candidates(..., source="scan")`, which
   re-scores a pair already queued (no duplicates) and skips a pair whose latest judgement is
   "not the same".

Candidates of earlier scans that no longer score for review are left as they are.
"""

from __future__ import annotations

import io
import os
import resource
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, cast

import orjson
from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlmodel import Session

from models.organization import RecordKind
from registry import dedup, matching
from registry.codes import region_prefix

# (phase, done, total): phases are load, keys, compare, write; total None when unknown
Progress = Callable[[str, int, "int | None"], None]

# below this many records a scan compares in its own process (starting workers costs more)
PARALLEL_FROM = 50_000
CHUNK = 20_000  # pairs per task sent to a worker


@dataclass
class ScanReport:
    kind: str
    within: str | None
    matcher: str
    matcher_version: int
    records: int = 0
    keys: int = 0
    pairs_compared: int = 0
    for_review: int = 0
    written: int = 0
    skipped_negative: int = 0  # for review, but judged "not the same" before
    workers: int = 1
    elapsed: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    peak_rss_mb: float = 0.0  # this process
    peak_rss_workers_mb: float = 0.0  # the largest worker process (0 without workers)
    keys_alongside: bool = False  # the keys were written while the pairs were compared

    def lines(self) -> list[str]:
        scope = f" within {self.within}" if self.within else ""
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())
        if self.keys_alongside:
            phases += "; keys written alongside compare"
        rss = f"{self.peak_rss_mb:,.0f} MB"
        if self.peak_rss_workers_mb:
            rss += f" (each of {self.workers} workers at most {self.peak_rss_workers_mb:,.0f} MB)"
        return [
            f"scanned {self.records:,} {self.kind} records{scope}"
            f" (matcher {self.matcher} v{self.matcher_version})",
            f"blocking keys written: {self.keys:,}",
            f"candidate pairs compared: {self.pairs_compared:,}",
            f"pairs for review: {self.for_review:,}",
            f"written to the review queue: {self.written:,}",
            f"skipped as judged not the same: {self.skipped_negative:,}",
            f"elapsed: {self.elapsed:.1f} s ({phases})",
            f"peak RSS: {rss}",
        ]


def subtree_prefix(within: str) -> str:
    """The region-code prefix of a subtree: a region code (`150200` → `1502`) or a prefix
    (`15`, `1502`, `150203`)."""
    if not within.isdigit() or len(within) not in (2, 4, 6):
        raise ValueError(f"not a region code or region prefix: {within!r}")
    return region_prefix(within) if len(within) == 6 else within


def top_fields(matcher: matching.Matcher) -> list[str]:
    """The top-level fields of `data` the matcher reads (its comparators' paths; its blocking
    keys and sort key read among these)."""
    names = {
        path.split(".")[0].removesuffix("[]") for rule in matcher.fields for path in rule.paths
    }
    return sorted(names)


@dataclass
class _Loaded:
    ids: list[str]
    keys: list[tuple[str, ...]]
    sorts: list[str]
    prepared: list[tuple[Any, ...]]


class _Precomputed:
    """What `candidate_pairs` asks of a matcher, answered from the keys and sort keys computed
    at load time: its `records` are then the indexes `range(n)`."""

    def __init__(self, loaded: _Loaded) -> None:
        self._keys = loaded.keys
        self._sorts = loaded.sorts

    def blocking_keys(self, record: int) -> tuple[str, ...]:
        return self._keys[record]

    def sort_key(self, record: int) -> str:
        return self._sorts[record]


def _connection(db: Engine | Session | Connection) -> tuple[Connection, bool]:
    """A SQLAlchemy connection, and whether the scan owns it (and commits its phases)."""
    if isinstance(db, Engine):
        return db.connect(), True
    if isinstance(db, Session):
        return db.connection(), False
    return db, False


def _scope(kind: str, within: str | None, table: str = "") -> tuple[str, dict[str, Any]]:
    """The records of the scan (a condition on `organizations`, aliased `table`)."""
    column = f"{table}." if table else ""
    where = f"{column}kind = %(kind)s"
    params: dict[str, Any] = {"kind": kind}
    if within is not None:
        where += f" AND {column}region_code LIKE %(prefix)s"
        params["prefix"] = subtree_prefix(within) + "%"
    return where, params


def _load(
    conn: Connection,
    kind: str,
    matcher: matching.Matcher,
    within: str | None,
    progress: Progress | None,
    phases: dict[str, float],
) -> _Loaded:
    raw = conn.connection.driver_connection
    assert raw is not None
    where, params = _scope(kind, within)
    params["dead"] = list(dedup.DEAD_STATUSES)
    where += " AND status <> ALL(%(dead)s)"
    projection = ", ".join(f"'{name}', data->'{name}'" for name in top_fields(matcher))
    # `where` and `projection` are made of fixed clauses and the matcher's field names
    count_sql = f"SELECT count(*) FROM organizations WHERE {where}"  # noqa: S608
    total = raw.execute(count_sql, params).fetchone()
    count = int(total[0]) if total else 0
    loaded = _Loaded([], [], [], [])
    plain = kind == RecordKind.expert.value  # personal values are sealed in experts' data
    blocking, prepare, sort_key = matcher.blocking_keys, matcher.prepare, matcher.sort_key
    started = time.perf_counter()
    prepare_time = 0.0
    # the projection as text, parsed by orjson: faster than psycopg's jsonb loader
    with raw.cursor(name="dedup_scan") as cursor:
        cursor.itersize = 5_000
        cursor.execute(
            f"SELECT id, jsonb_build_object({projection})::text FROM organizations"  # noqa: S608
            f" WHERE {where} ORDER BY id",
            params,
        )
        while rows := cursor.fetchmany(5_000):
            tick = time.perf_counter()
            for record_id, data in rows:
                record = orjson.loads(data)
                record = (
                    dedup.plain_record(kind, record_id, record)
                    if plain
                    else {**record, "id": record_id}
                )
                loaded.ids.append(record_id)
                loaded.keys.append(tuple(sorted(blocking(record))))
                loaded.sorts.append(sort_key(record))
                loaded.prepared.append(prepare(record))
            prepare_time += time.perf_counter() - tick
            if progress is not None:
                progress("load", len(loaded.ids), count)
    phases["load"] = time.perf_counter() - started - prepare_time
    phases["prepare"] = prepare_time
    return loaded


_KEYS_CHANGED = """
    DELETE FROM dedup_keys k
    USING (SELECT DISTINCT record_id FROM dedup_scan_keys) loaded
    WHERE k.record_id = loaded.record_id AND k.kind = %(kind)s
      AND NOT EXISTS (
        SELECT 1 FROM dedup_scan_keys s WHERE s.record_id = k.record_id AND s.key = k.key
      )
"""
_KEYS_NEW = """
    INSERT INTO dedup_keys (record_id, key, kind)
    SELECT s.record_id, s.key, %(kind)s FROM dedup_scan_keys s
    JOIN organizations o ON o.id = s.record_id
    WHERE s.key IS NOT NULL AND o.status <> ALL(%(dead)s)
    ON CONFLICT DO NOTHING
"""


def _write_keys(
    conn: Connection,
    kind: str,
    within: str | None,
    loaded: _Loaded,
    progress: Progress | None,
) -> int:
    """Make the dedup keys of the scanned records what the scan computed, and drop those of
    dead records in the scope. Returns the number of keys of the scanned records.

    The keys are COPYed into a temporary table and merged: only keys that changed are deleted
    or inserted (ON CONFLICT DO NOTHING), and records registered or edited while the scan ran
    (not loaded) keep the keys `dedup.on_write` gave them."""
    raw = conn.connection.driver_connection
    assert raw is not None
    where, params = _scope(kind, within, "o")
    params["dead"] = list(dedup.DEAD_STATUSES)
    raw.execute("DROP TABLE IF EXISTS dedup_scan_keys")
    raw.execute(
        "CREATE TEMP TABLE dedup_scan_keys (record_id varchar(24) NOT NULL, key varchar(120))"
        " ON COMMIT DROP"
    )
    stored_key = dedup.stored_key  # as `dedup.on_write` stores them (experts': hashed)
    written = 0
    buffer = io.StringIO()
    with (
        raw.cursor() as cursor,
        cursor.copy("COPY dedup_scan_keys (record_id, key) FROM STDIN") as copy,
    ):
        for n, (record_id, keys) in enumerate(zip(loaded.ids, loaded.keys, strict=True), 1):
            unique = sorted({stored_key(kind, k) for k in keys})
            for key in unique:
                buffer.write(f"{record_id}\t{_copy_text(key)}\n")
            if not unique:  # a record without keys: its old keys go
                buffer.write(f"{record_id}\t\\N\n")
            written += len(unique)
            if n % 20_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
                if progress is not None:
                    progress("keys", n, len(loaded.ids))
        if buffer.tell():
            copy.write(buffer.getvalue())
    raw.execute("ANALYZE dedup_scan_keys")
    raw.execute(_KEYS_CHANGED, params)
    dead = (
        "DELETE FROM dedup_keys k USING organizations o"  # noqa: S608 - fixed clauses
        f" WHERE o.id = k.record_id AND {where} AND o.status = ANY(%(dead)s)"
    )
    raw.execute(dead, params)
    raw.execute(_KEYS_NEW, params)
    raw.execute("DROP TABLE dedup_scan_keys")
    if progress is not None:
        progress("keys", len(loaded.ids), len(loaded.ids))
    return written


class _Keys(threading.Thread):
    """`_write_keys` in a transaction of its own, alongside the compare phase (the thread mostly
    waits for PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        kind: str,
        within: str | None,
        loaded: _Loaded,
        progress: Progress | None,
    ) -> None:
        super().__init__(name="dedup-scan-keys", daemon=True)
        self.args = (engine, kind, within, loaded, progress)
        self.written = 0
        self.seconds = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        engine, kind, within, loaded, progress = self.args
        started = time.perf_counter()
        try:
            with engine.begin() as conn:
                self.written = _write_keys(conn, kind, within, loaded, progress)
        except BaseException as exc:  # handed to the scan by result()
            self.error = exc
        self.seconds = time.perf_counter() - started

    def result(self) -> tuple[int, float]:
        self.join()
        if self.error is not None:
            raise self.error
        return self.written, self.seconds


def _copy_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


# --- comparing ----------------------------------------------------------------------------------

_Found = list[tuple[int, int, matching.Match]]


def _compare_all(
    matcher: matching.Matcher, prepared: Sequence[tuple[Any, ...]], left: array, right: array
) -> _Found:
    compare = matcher.compare_prepared
    found = []
    for i, j in zip(left, right, strict=True):
        match = compare(prepared[i], prepared[j], stop_at_veto=True)
        if match.for_review:
            found.append((i, j, match))
    return found


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it does not count the
    parent's pages that a process started by fork and exec shared for a moment)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _compare_packed(
    kind: str, prepared: list[tuple[Any, ...]], left: array, right: array
) -> tuple[_Found, float]:
    """In a worker: a chunk of pairs, with the prepared records it needs (indexes local to it);
    the pairs for review and the worker's peak resident memory."""
    return _compare_all(matching.matcher_for(kind), prepared, left, right), peak_rss_mb()


@dataclass
class _Chunk:
    left: array  # indexes into `records`
    right: array
    records: list[tuple[Any, ...]]  # the prepared records the chunk's pairs read
    index: array  # the scan's index of each of `records`


def _pairs_chunks(
    pairs: Iterator[tuple[int, int]], timer: list[float]
) -> Iterator[tuple[array, array]]:
    """The pairs in chunks of CHUNK, timing their generation (`timer[0]`: seconds spent)."""
    while True:
        tick = time.perf_counter()
        left, right = array("I"), array("I")
        for i, j in pairs:
            left.append(i)
            right.append(j)
            if len(left) == CHUNK:
                break
        timer[0] += time.perf_counter() - tick
        if not left:
            return
        yield left, right


def _packed(
    chunks: Iterator[tuple[array, array]], prepared: list[tuple[Any, ...]]
) -> Iterator[_Chunk]:
    """Chunks carrying their records: a worker then holds one chunk's records, not the scan's.
    Pairs come block by block, so a chunk reads few records (about one per nine pairs)."""
    for left, right in chunks:
        local: dict[int, int] = {}
        chunk = _Chunk(array("I"), array("I"), [], array("I"))
        for source, target in ((left, chunk.left), (right, chunk.right)):
            for i in source:
                at = local.get(i)
                if at is None:
                    at = local[i] = len(chunk.records)
                    chunk.records.append(prepared[i])
                    chunk.index.append(i)
                target.append(at)
        yield chunk


def _compare(
    loaded: _Loaded,
    kind: str,
    matcher: matching.Matcher,
    pool: ProcessPoolExecutor | None,
    progress: Progress | None,
    report: ScanReport,
) -> _Found:
    pairs = matching.candidate_pairs(
        cast(Sequence[Mapping[str, Any]], range(len(loaded.ids))),
        cast(matching.Matcher, _Precomputed(loaded)),
    )
    timer = [0.0]
    found: _Found = []
    started = time.perf_counter()
    chunks = _pairs_chunks(pairs, timer)
    if pool is None:
        for left, right in chunks:
            found.extend(_compare_all(matcher, loaded.prepared, left, right))
            report.pairs_compared += len(left)
            if progress is not None:
                progress("compare", report.pairs_compared, None)
    else:
        pending: list[tuple[Future[tuple[_Found, float]], _Chunk]] = []

        def collect(future: Future[tuple[_Found, float]], chunk: _Chunk) -> None:
            index = chunk.index
            result, rss = future.result()
            found.extend((index[i], index[j], match) for i, j, match in result)
            report.peak_rss_workers_mb = max(report.peak_rss_workers_mb, rss)
            report.pairs_compared += len(chunk.left)
            if progress is not None:
                progress("compare", report.pairs_compared, None)

        # at most two chunks per worker in flight: pairs are never made far ahead of comparing
        for chunk in _packed(chunks, loaded.prepared):
            future = pool.submit(_compare_packed, kind, chunk.records, chunk.left, chunk.right)
            pending.append((future, chunk))
            while len(pending) >= 2 * report.workers:
                collect(*pending.pop(0))
        for one in pending:
            collect(*one)
    if progress is not None:
        progress("compare", report.pairs_compared, report.pairs_compared)
    report.phases["compare"] = time.perf_counter() - started
    report.phases["pairs"] = timer[0]  # of which: making the pairs (in this process)
    return found


def _warm(kind: str) -> int:
    matching.matcher_for(kind)
    return os.getpid()


def _start_pool(kind: str, workers: int) -> ProcessPoolExecutor:
    """Worker processes started afresh (spawn): they share nothing with the scan's memory and
    receive each chunk's records with it."""
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    for future in [pool.submit(_warm, kind) for _ in range(workers)]:
        future.result()
    return pool


# --- the scan -----------------------------------------------------------------------------------


def scan(
    db: Engine | Session | Connection,
    kind: RecordKind | str,
    within: str | None = None,
    progress: Progress | None = None,
    *,
    workers: int | None = None,
) -> ScanReport:
    """Scan the live records of `kind` (in the region subtree `within`, when given) for
    near-duplicates: rewrite their dedup keys and queue the pairs for review.

    Given an Engine, the scan commits the keys and the candidates in two transactions of its
    own; given a Session or Connection, it writes in the caller's transaction. `workers`: the
    processes comparing pairs (default: one per core from PARALLEL_FROM records on)."""
    kind = RecordKind(kind).value
    if within is not None:
        subtree_prefix(within)  # refuse a bad subtree before any work
    matcher = matching.matcher_for(kind)
    report = ScanReport(kind, within, matcher.name, matcher.version)
    started = time.perf_counter()
    conn, owned = _connection(db)
    keys: _Keys | None = None
    try:
        if owned:
            conn.begin()  # the scan's own transaction (the COPY goes through psycopg directly)
        loaded = _load(conn, kind, matcher, within, progress, report.phases)
        report.records = len(loaded.ids)
        if owned:
            conn.commit()
            # PostgreSQL writes the keys (on one core) while the pairs are compared
            keys = _Keys(cast(Engine, db), kind, within, loaded, progress)
            keys.start()
        else:
            tick = time.perf_counter()
            report.keys = _write_keys(conn, kind, within, loaded, progress)
            report.phases["keys"] = time.perf_counter() - tick
        if workers is None:
            workers = (os.cpu_count() or 1) if report.records >= PARALLEL_FROM else 1
        report.workers = workers
        pool = _start_pool(kind, workers) if workers > 1 else None
        try:
            found = _compare(loaded, kind, matcher, pool, progress, report)
        finally:
            if pool is not None:
                pool.shutdown()
        if keys is not None:
            report.keys, report.phases["keys"] = keys.result()
            report.keys_alongside = True
        report.for_review = len(found)
        ids = loaded.ids
        del loaded
        tick = time.perf_counter()
        if owned:
            conn.begin()
        found.sort(key=lambda f: (-f[2].score, ids[f[0]], ids[f[1]]))
        report.written = dedup.store_candidates(
            conn,
            kind,
            ((ids[i], ids[j], match) for i, j, match in found),
            source="scan",
            matcher_version=matcher.version,
        )
        report.skipped_negative = report.for_review - report.written
        if owned:
            conn.commit()
        if progress is not None:
            progress("write", report.for_review, report.for_review)
        report.phases["write"] = time.perf_counter() - tick
    finally:
        if keys is not None:
            keys.join()
        if owned:
            conn.close()
    report.elapsed = time.perf_counter() - started
    report.peak_rss_mb = peak_rss_mb()
    return report
