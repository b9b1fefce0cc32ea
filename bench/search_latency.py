"""Search latency at scale: `search` and `suggest` of the configured backend, per query class.

    python bench/search_latency.py --reuse /tmp/bench-1m --suppliers 1000000
    python bench/search_latency.py --suppliers 10000             # builds a small one from scratch

1. Opens a database: the embedded PostgreSQL kept in `--reuse DIR` (as `bench/lookups.py` makes
   it), a new one in a temp dir, or DATABASE_URL. It is migrated to head and filled up to
   `--suppliers` active suppliers with the COPY path of `registry/demo.py` (benchmarks only);
   records without a search document (bulk-loaded ones) get one (`search.documents.backfill`,
   what `registry reindex` does), then ANALYZE.
2. Draws queries from the stored supplier names, reproducibly (`--seed`): records are picked by
   `md5(id || seed)` order, so the same database gives the same queries whatever its physical
   order. Classes:
     fragment  2–4 consecutive Chinese characters of a name's core (`search.text` core name)
     pinyin    full pinyin of the core's first 2 characters (`mengcao`)
     initials  initials of the core's first 3–4 characters (`nmgjs`)
     exact     the whole stored name
     uscc      the record's USCC
3. Asks each class `--count` times (after `--warm-up` other queries of the class) through
   `get_backend(settings).search(session, SearchQuery(q=…, limit=20), ANONYMOUS)` in-process —
   one session per call, as the route opens one per request — then the same queries through
   `suggest(session, q, (), ANONYMOUS, 10)` (the route's default limit).
4. Baseline: the same queries through the lists' `name=` filter, the service function behind
   `GET /v1/suppliers?name=…` (`registry.organizations.list_orgs`, stored name contains the
   text, ordered by id, limit 20), `--baseline-count` per class (it scans when little matches).

Prints p50/p95/p99/max, the mean number of hits (`total`, before paging) and how often the
record the query was drawn from is on the page, per class; writes it to
`bench/results/search_latency_<backend>.txt` with the machine and the dataset in the header.
The backend is whatever `get_backend` returns for the environment (ELASTICSEARCH_URL selects the
engine once it exists). `--explain CLASS` prints EXPLAIN (ANALYZE, BUFFERS) of every statement
the backend sends for the first query of that class, instead of measuring.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import structlog
from benchdb import libpq, open_database
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from auth.principals import ANONYMOUS
from models.organization import RecordKind
from registry.config import Settings
from registry.db import make_engine
from search.backend import SearchBackend, get_backend
from search.query import SearchQuery
from search.text import pinyin_full, pinyin_initials, strip_company_suffix

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CLASSES = ("fragment", "pinyin", "initials", "exact", "uscc")
GOAL_MS = 50.0
SEARCH_LIMIT = 20
SUGGEST_LIMIT = 10  # the route's default
_HAN = ("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff")


# --- database ------------------------------------------------------------------------------------


def prepare(url: str, suppliers: int) -> list[str]:
    """Migrate, load reference data and suppliers up to `suppliers`, add missing search
    documents, ANALYZE. Returns what was done (for the header)."""
    from registry import migrate
    from registry.demo import bulk_insert_suppliers
    from registry.seed import seed_reference_data
    from search import documents

    notes: list[str] = []
    engine = make_engine(url)
    try:
        before = migrate.current_revision(engine)
        if before != migrate.head_revision():
            print(f"migrating from {before} to {migrate.head_revision()} …", file=sys.stderr)
            started = time.perf_counter()
            migrate.upgrade(engine)
            notes.append(
                f"migrated {before} → {migrate.head_revision()} in {time.perf_counter() - started:.0f} s"
            )
        with Session(engine) as session:
            seed_reference_data(session, only_if_empty=True)
            session.commit()
        with engine.begin() as connection:
            have = connection.execute(
                text("SELECT count(*) FROM organizations WHERE kind = 'supplier'")
            ).scalar_one()
            if have < suppliers:
                started = time.perf_counter()
                bulk_insert_suppliers(connection, suppliers - have, start=have)
                notes.append(
                    f"inserted {suppliers - have:,} suppliers in {time.perf_counter() - started:.0f} s"
                )
        with engine.begin() as connection:
            started = time.perf_counter()
            added = documents.backfill(connection)
            if added:
                notes.append(
                    f"added {added:,} search documents in {time.perf_counter() - started:.0f} s"
                )
    finally:
        engine.dispose()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        # statistics for the planner (and, for the documents, the GIN pending list flushed and
        # the visibility map set): after a load, or when never gathered (a reset after a crash)
        for table in ("organizations", "search_documents"):
            row = conn.execute(
                "SELECT coalesce(last_analyze, last_autoanalyze) IS NOT NULL"
                " FROM pg_stat_user_tables WHERE relname = %s",
                (table,),
            ).fetchone()
            if notes or not (row and row[0]):
                conn.execute(f"VACUUM (ANALYZE) {table}")
                notes.append(f"VACUUM (ANALYZE) {table}")
    return notes


def dataset(engine: Engine) -> str:
    with engine.connect() as conn:
        kinds = conn.execute(
            text("SELECT kind, count(*) FROM organizations GROUP BY kind ORDER BY 2 DESC")
        ).all()
        docs = conn.execute(text("SELECT count(*) FROM search_documents")).scalar_one()
        size = conn.execute(
            text(
                "SELECT pg_size_pretty(pg_total_relation_size('search_documents')),"
                " pg_size_pretty(pg_total_relation_size('organizations'))"
            )
        ).one()
        server = conn.execute(text("SHOW server_version")).scalar_one()
        buffers = conn.execute(text("SHOW shared_buffers")).scalar_one()
        work_mem = conn.execute(text("SHOW work_mem")).scalar_one()
    records = ", ".join(f"{n:,} {kind}" for kind, n in kinds)
    return (
        f"dataset: {records}; {docs:,} search documents ({size[0]} with indexes; "
        f"organizations {size[1]}); PostgreSQL {server}, shared_buffers {buffers}, "
        f"work_mem {work_mem}"
    )


# --- the machine ---------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "? GiB"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    nproc = str(len(os.sched_getaffinity(0)))  # what `nproc` prints
    command = shutil.which("nproc")
    if command:
        done = subprocess.run([command], capture_output=True, text=True, check=False)
        nproc = done.stdout.strip() or nproc
    return (
        f"machine: {platform.node()} {platform.machine()}, {model}, {os.cpu_count()} cores "
        f"(nproc {nproc}), {ram} RAM, Python {platform.python_version()}"
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    cls: str
    q: str
    record_id: str


def _is_han(char: str) -> bool:
    return any(lo <= char <= hi for lo, hi in _HAN)


def _han_runs(text_: str) -> list[str]:
    runs: list[str] = []
    current = ""
    for char in text_:
        if _is_han(char):
            current += char
        else:
            if current:
                runs.append(current)
            current = ""
    if current:
        runs.append(current)
    return runs


def _leading_han(text_: str) -> str:
    runs = _han_runs(text_)
    return runs[0] if runs and text_.startswith(runs[0]) else ""


def make_query(cls: str, record_id: str, name: str, uscc: str, rng: random.Random) -> Query | None:
    """A query of `cls` drawn from one record, or None if its name does not give one."""
    if cls == "exact":
        return Query(cls, name, record_id)
    if cls == "uscc":
        return Query(cls, uscc, record_id) if uscc else None
    core = strip_company_suffix(name)
    if cls == "fragment":
        runs = [r for r in _han_runs(core) if len(r) >= 2]
        if not runs:
            return None
        run = rng.choice(runs)
        length = rng.randint(2, min(4, len(run)))
        start = rng.randint(0, len(run) - length)
        return Query(cls, run[start : start + length], record_id)
    lead = _leading_han(core)
    if cls == "pinyin":
        return Query(cls, pinyin_full(lead[:2]), record_id) if len(lead) >= 2 else None
    if cls == "initials":
        if len(lead) < 3:
            return None
        return Query(cls, pinyin_initials(lead[: rng.randint(3, min(4, len(lead)))]), record_id)
    raise ValueError(cls)


def draw_queries(
    engine: Engine, seed: int, warm_up: int, count: int
) -> dict[str, tuple[list[Query], list[Query]]]:
    """(warm-up, measured) queries per class, each query from its own record."""
    per_class = warm_up + count
    want = per_class * len(CLASSES) * 2  # names that give no query of a class are passed on
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, name, uscc FROM organizations WHERE kind = 'supplier'"
                " ORDER BY md5(id || :seed), id LIMIT :n"
            ),
            {"seed": str(seed), "n": want},
        ).all()
    rng = random.Random(seed)
    out: dict[str, list[Query]] = {cls: [] for cls in CLASSES}
    for record_id, name, uscc in rows:
        # the class with the fewest queries so far that this name gives one
        for cls in sorted(CLASSES, key=lambda c: (len(out[c]), CLASSES.index(c))):
            if len(out[cls]) >= per_class:
                break
            query = make_query(cls, record_id, name, uscc or "", rng)
            if query is not None:
                out[cls].append(query)
                break
    return {cls: (qs[:warm_up], qs[warm_up:]) for cls, qs in out.items()}


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: list[float] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    found: int = 0
    errors: int = 0

    def percentile(self, p: float) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1e3


Ask = Callable[[Session, Query], tuple[int, list[str]]]


def run_class(engine: Engine, ask: Ask, warm: list[Query], queries: list[Query]) -> Sample:
    sample = Sample()
    for query in warm:
        with Session(engine, expire_on_commit=False) as session:
            ask(session, query)
    for query in queries:
        start = time.perf_counter()
        try:
            with Session(engine, expire_on_commit=False) as session:
                total, ids = ask(session, query)
        except Exception as exc:  # a failing query is counted, not fatal
            sample.errors += 1
            print(f"{query.cls} {query.q!r}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        sample.seconds.append(time.perf_counter() - start)
        sample.totals.append(total)
        sample.found += query.record_id in ids
    return sample


def asker(backend: SearchBackend, what: str) -> Ask:
    if what == "search":

        def search(session: Session, query: Query) -> tuple[int, list[str]]:
            result = backend.search(session, SearchQuery(q=query.q, limit=SEARCH_LIMIT), ANONYMOUS)
            return result.total, [h.id for h in result.hits]

        return search
    if what == "suggest":

        def suggest(session: Session, query: Query) -> tuple[int, list[str]]:
            found = backend.suggest(session, query.q, (), ANONYMOUS, SUGGEST_LIMIT)
            return len(found), [s.id for s in found]

        return suggest

    from registry.organizations import OrgFilters, list_orgs

    def name_filter(session: Session, query: Query) -> tuple[int, list[str]]:
        rows = list_orgs(
            session,
            kind=RecordKind.supplier,
            actor=ANONYMOUS,
            filters=OrgFilters(name=query.q[:50]),
            after=None,
            limit=SEARCH_LIMIT,
        )
        return len(rows), [r.org.id for r in rows]

    return name_filter


# --- EXPLAIN -------------------------------------------------------------------------------------


def explain(engine: Engine, backend: SearchBackend, what: str, query: Query) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT the backend sends for `query` (PostgreSQL)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            asker(backend, what)(session, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    out = [f"{what} {query.cls} q={query.q!r}: {len(captured)} statements"]
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            for statement, params in captured:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
                plan = "\n".join(str(r[0]) for r in cursor.fetchall())
                out += ["", "-- SQL:", statement % _quoted(params), "-- plan:", plan]
        conn.rollback()
    return "\n".join(out)


def _quoted(params: Any) -> Any:
    """Parameters as SQL literals, to print a statement one can paste into psql."""

    def literal(value: Any) -> str:
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        if isinstance(value, list | tuple):
            return "ARRAY[" + ", ".join(literal(v) for v in value) + "]"
        return str(value)

    if isinstance(params, dict):
        return {k: literal(v) for k, v in params.items()}
    return tuple(literal(v) for v in params or ())


# --- the report ----------------------------------------------------------------------------------


def table(title: str, samples: dict[str, Sample], n_label: str) -> list[str]:
    lines = [
        title,
        f"{'class':9} {n_label:>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} "
        f"{'hits':>9} {'found':>6} {'p95≤50':>7}",
    ]
    for cls, s in samples.items():
        mean = sum(s.totals) / len(s.totals) if s.totals else 0.0
        found = f"{100 * s.found / len(s.seconds):.0f}%" if s.seconds else "-"
        ok = "yes" if s.percentile(95) <= GOAL_MS else "NO"
        line = (
            f"{cls:9} {len(s.seconds):5d} {s.percentile(50):7.1f} {s.percentile(95):7.1f} "
            f"{s.percentile(99):7.1f} {s.percentile(100):7.1f} {mean:9.1f} {found:>6} {ok:>7}"
        )
        if s.errors:
            line += f"  ({s.errors} errors)"
        lines.append(line)
    return lines


BUCKETS = ((0, 100), (101, 1_000), (1_001, 10_000), (10_001, None))


def by_matches(title: str, samples: dict[str, Sample]) -> list[str]:
    """Latency by the number of matches (`total`), all classes together: what grows with it."""
    pairs = [(t, sec) for s in samples.values() for t, sec in zip(s.totals, s.seconds, strict=True)]
    lines = [title, f"{'matches':14} {'n':>5} {'p50':>7} {'p95':>7} {'max':>7}"]
    for low, high in BUCKETS:
        inside = Sample(
            seconds=[sec for t, sec in pairs if t >= low and (high is None or t <= high)]
        )
        if not inside.seconds:
            continue
        label = f"{low:,}–{high:,}" if high is not None else f"> {low - 1:,}"
        lines.append(
            f"{label:14} {len(inside.seconds):5d} {inside.percentile(50):7.1f} "
            f"{inside.percentile(95):7.1f} {inside.percentile(100):7.1f}"
        )
    return lines


def backend_label(backend: SearchBackend) -> str:
    name = type(backend).__name__
    return (name.removesuffix("Backend") or name).lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--suppliers",
        type=int,
        default=10_000,
        help="load suppliers up to this many (default 10000)",
    )
    parser.add_argument("--reuse", type=Path, help="keep the embedded database in this directory")
    parser.add_argument("--count", type=int, default=200, help="measured queries per class")
    parser.add_argument("--warm-up", type=int, default=20, help="warm-up queries per class")
    parser.add_argument(
        "--baseline-count", type=int, default=50, help="name-filter queries per class (0: none)"
    )
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--no-suggest", action="store_true")
    parser.add_argument(
        "--explain",
        choices=CLASSES,
        help="print EXPLAIN (ANALYZE, BUFFERS) of the first queries of a class, do not measure",
    )
    parser.add_argument("--explain-n", type=int, default=1, help="queries to explain")
    parser.add_argument("--out", type=Path, help="default: results/search_latency_<backend>.txt")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    from search import text as search_text

    with open_database(args.reuse, prefix="search-latency-") as (url, workdir):
        setup = prepare(url, args.suppliers)
        # the rest of the environment (ELASTICSEARCH_URL …) is read as the app reads it
        settings = Settings(
            environment="test", database_url=url, registry_data_dir=workdir / "data"
        )
        backend = get_backend(settings)
        label = backend_label(backend)
        print(f"backend: {type(backend).__module__}.{type(backend).__name__}", file=sys.stderr)
        search_text.load()
        engine = make_engine(url, pool_size=2, max_overflow=0)
        try:
            header_data = dataset(engine)
            drawn = draw_queries(engine, args.seed, args.warm_up, args.count)
            if args.explain:
                _, queries = drawn[args.explain]
                for query in queries[: args.explain_n]:
                    for what in ("search", "suggest"):
                        print(explain(engine, backend, what, query), "\n")
                return
            load_before = load_average()
            began = time.perf_counter()
            results: dict[str, dict[str, Sample]] = {"search": {}, "suggest": {}, "name": {}}
            for what, count in (
                ("search", args.count),
                ("suggest", 0 if args.no_suggest else args.count),
                ("name", args.baseline_count),
            ):
                if count <= 0:
                    continue
                ask = asker(backend, what)
                for cls in CLASSES:
                    warm, queries = drawn[cls]
                    print(f"{what} {cls} …", file=sys.stderr)
                    results[what][cls] = run_class(
                        engine, ask, warm[: args.warm_up], queries[:count]
                    )
            elapsed = time.perf_counter() - began
            load_after = load_average()
        finally:
            engine.dispose()

    examples = "; ".join(f"{cls} {drawn[cls][1][0].q!r}" for cls in CLASSES if drawn[cls][1])
    lines = [
        f"search latency: backend {type(backend).__name__} ({type(backend).__module__}), "
        "in-process, sequential, one session per call, anonymous caller",
        machine(),
        f"load average before {load_before}, after {load_after} (the machine is shared: others "
        "run tests at the same time)",
        header_data,
        *(f"setup: {note}" for note in setup),
        f"queries: seed {args.seed}, {args.count} per class after {args.warm_up} warm-up queries "
        f"of the class; e.g. {examples}",
        f"run: {elapsed:.0f} s",
        "",
    ]
    lines += table(
        f"search: SearchQuery(q=…, limit={SEARCH_LIMIT}) — ms; hits = mean `total` (before "
        "paging); found = the record the query was drawn from is on the page",
        results["search"],
        "n",
    )
    lines += ["", *by_matches("search by number of matches (all classes) — ms", results["search"])]
    if results["suggest"]:
        lines += [
            "",
            *table(
                f"suggest(q, kinds=(), limit={SUGGEST_LIMIT}) — ms; hits = mean suggestions returned",
                results["suggest"],
                "n",
            ),
        ]
    if results["name"]:
        lines += [
            "",
            *table(
                "baseline: list_orgs(kind=supplier, name=q, limit=20), the service of "
                "GET /v1/suppliers?name= (name contains q, by id) — ms; hits = rows returned (≤ 20)",
                results["name"],
                "n",
            ),
        ]
    text_out = "\n".join(lines)
    print(text_out)
    out = args.out or RESULTS / f"search_latency_{label}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text_out + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
