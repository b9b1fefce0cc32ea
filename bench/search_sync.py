"""Search engine sync: indexing throughput (full reindex and through the outbox worker) and the
end-to-end lag from a commit to the change being searchable.

    python bench/search_sync.py --reuse /tmp/bench-1m                 # OpenSearch node started here
    python bench/search_sync.py --reuse /tmp/bench-1m --flavor elasticsearch
    ELASTICSEARCH_URL=http://… python bench/search_sync.py --reuse DIR  # an engine of your own

The database is the one of `bench/lookups.py` / `bench/search_latency.py` (`--reuse DIR`: an
embedded PostgreSQL kept in DIR; or DATABASE_URL), migrated to head with every record's search
document (`registry reindex` adds the documents of bulk-loaded records). Measured:

1. `reindex`: `search.sync.reindex_engine` over all documents — a new index, one snapshot,
   bulk batches from 2 sender threads, alias swap — documents/s and wall time;
2. `worker`: `--writes` new suppliers committed in transactions of 100 through the registry's
   own service (documents and outbox rows included), then the time the worker takes to drain
   them: documents/s through the outbox;
3. `lag`: `--lag-samples` suppliers registered one at a time (a pause between them) while the
   worker runs; for each, the time from its commit until a search on the alias finds it
   (polled every 2 ms): p50 / p95 / max. Small batches are written with `refresh=true`
   (`search.sync.REFRESH_AT_ONCE_BELOW`), so this is NOTIFY + batch + bulk + refresh.

The node started here gets `-Xmx2g` and the JIT's full tiers (tests run it with C1 only).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlmodel import Session

from models.organization import RecordKind
from registry import organizations
from registry.db import make_engine
from search import sync
from search.engine import EngineClient, IndexNames, connect

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    except OSError:
        mem = 0
    return f"{os.cpu_count()} cores ({cpu}), {mem} GB RAM, {platform.system()} {platform.release()}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_node(flavor: str, workdir: Path) -> Any:
    from search.testing import start_elasticsearch, start_opensearch

    os.environ.setdefault(
        "REGISTRY_SEARCH_ENGINE_JAVA_OPTS", "-Xms2g -Xmx2g -XX:TieredStopAtLevel=4"
    )
    start = start_opensearch if flavor == "opensearch" else start_elasticsearch
    return start(workdir / f"engine-{flavor}")


def supplier(n: int) -> dict[str, Any]:
    from registry.identifiers import make_uscc

    return {
        "uscc": make_uscc("91", "150102", f"MB{n:06d}"[-8:]),
        "name": f"内蒙古同步测评{n}号科技有限公司",
        "region_code": "150102",
        "address": "呼和浩特市新城区新华大街 1 号",
        "legal_form": "limited_liability",
        "size": "small",
        "business_scope": ["A02010000"],
        "legal_representative": {"name": "张伟", "id_number": "150102198501011232"},
    }


def register(db: Any, numbers: range) -> list[str]:
    ids = []
    with Session(db) as session:
        for n in numbers:
            org = organizations.register(
                session, kind=RecordKind.supplier, payload=supplier(n), actor=None
            ).org
            ids.append(org.id)
        session.commit()
    return ids


def found(client: EngineClient, alias: str, record_id: str) -> bool:
    body = {"query": {"ids": {"values": [record_id]}}, "size": 0}
    answer = client.request("POST", f"/{alias}/_search", body)
    return int(answer["hits"]["total"]["value"]) > 0


def prepare(db: Any, suppliers: int) -> None:
    """Migrate, seed, and (small runs) bulk-load suppliers with their search documents."""
    from registry import migrate
    from registry.demo import bulk_insert_suppliers
    from registry.seed import seed_reference_data
    from search.documents import backfill

    migrate.upgrade(db)
    with Session(db) as session:
        seed_reference_data(session, only_if_empty=True)
        session.commit()
    with db.connect() as c:
        have = c.execute(text("SELECT count(*) FROM organizations")).scalar_one()
    if have < suppliers:
        raw = db.raw_connection()
        try:
            bulk_insert_suppliers(raw.driver_connection, suppliers - have, start=have)
            raw.commit()
        finally:
            raw.close()
        with db.begin() as c:
            backfill(c)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", type=Path, help="the embedded database's directory")
    parser.add_argument("--flavor", choices=["opensearch", "elasticsearch"], default="opensearch")
    parser.add_argument("--writes", type=int, default=5000)
    parser.add_argument("--lag-samples", type=int, default=100)
    parser.add_argument("--skip-reindex", action="store_true")
    parser.add_argument(
        "--suppliers", type=int, default=0, help="bulk-load suppliers up to this many first"
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL")
    embedded = None
    if not url:
        from registry.embedded import EmbeddedPostgres

        workdir = args.reuse or Path(tempfile.mkdtemp(prefix="registry-bench-"))
        embedded = EmbeddedPostgres(workdir, database="registry_bench")
        url = embedded.start()
    db = make_engine(url, pool_size=4, max_overflow=4)
    prepare(db, args.suppliers)
    node = None
    lines: list[str] = []
    try:
        engine_url = os.environ.get("ELASTICSEARCH_URL")
        if not engine_url:
            node = start_node(args.flavor, Path(tempfile.mkdtemp(prefix="registry-engine-")))
            engine_url = node.url
        client = connect(engine_url)
        names = IndexNames("bench-search")
        with db.connect() as c:
            documents = c.execute(text("SELECT count(*) FROM search_documents")).scalar_one()
            c.commit()
        lines += [
            f"machine: {machine()}",
            f"engine: {client.flavor} {client.version} (1 node, 1 shard, 0 replicas"
            + (", -Xmx2g)" if node else ")"),
            f"documents in the database: {documents:,}",
            "",
        ]
        print("\n".join(lines), flush=True)

        if not args.skip_reindex:
            started = time.perf_counter()
            last = [started, 0]

            def progress(n: int) -> None:
                last[1] += n
                if time.perf_counter() - last[0] > 15:
                    rate = last[1] / (time.perf_counter() - started)
                    print(f"  … {last[1]:,} documents, {rate:,.0f}/s", flush=True)
                    last[0] = time.perf_counter()

            report = sync.reindex_engine(db, client, names, batch=2000, progress=progress)
            rss = node.rss_bytes() if node else None
            line = (
                f"reindex: {report.documents:,} documents loaded in {report.load_seconds:.1f} s ="
                f" {report.documents / report.load_seconds:,.0f} documents/s; with the alias"
                f" swap and the old index's grace period {report.seconds:.1f} s"
                + (f"; engine RSS {rss / 2**30:.1f} GB" if rss else "")
            )
            lines.append(line)
            print(line, flush=True)
        else:
            from search.engine import ensure_index

            ensure_index(client, names)

        with db.connect() as c:
            start_n = int(
                c.execute(
                    text("SELECT count(*) FROM organizations WHERE name LIKE '内蒙古同步测评%'")
                ).scalar_one()
            )
        numbers = iter(range(start_n + 1, start_n + 10_000_000))
        batch = [next(numbers) for _ in range(args.writes)]
        started = time.perf_counter()
        for i in range(0, len(batch), 100):
            register(db, range(batch[i], batch[min(i + 100, len(batch)) - 1] + 1))
        written = time.perf_counter() - started
        started = time.perf_counter()
        drained = sync.Worker(db, client, names, batch=500)
        drained.run(until_empty=True)
        seconds = time.perf_counter() - started
        line = (
            f"worker: {drained.stats.sent:,} outbox rows drained in {seconds:.1f} s ="
            f" {drained.stats.sent / seconds:,.0f} documents/s (writing them took {written:.1f} s)"
        )
        lines.append(line)
        print(line, flush=True)

        worker = sync.Worker(db, client, names, batch=500, poll_seconds=1.0)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        lags: list[float] = []
        for _ in range(args.lag_samples):
            n = next(numbers)
            (record_id,) = register(db, range(n, n + 1))
            committed = time.perf_counter()
            while not found(client, names.alias, record_id):
                if time.perf_counter() - committed > 30:
                    raise SystemExit(f"{record_id} not searchable after 30 s")
                time.sleep(0.002)
            lags.append(time.perf_counter() - committed)
            time.sleep(0.05)
        worker.stop.set()
        thread.join(10)
        ms = [1000 * v for v in lags]
        line = (
            f"lag commit → searchable ({len(ms)} samples): p50 {pct(ms, 0.5):.0f} ms,"
            f" p95 {pct(ms, 0.95):.0f} ms, max {max(ms):.0f} ms, mean {statistics.mean(ms):.0f} ms"
            " (one write at a time)"
        )
        lines.append(line)
        print(line, flush=True)
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"search_sync_{client.flavor}.txt"
        out.write_text("\n".join(lines) + "\n")
        print(f"written to {out}")
    finally:
        db.dispose()
        if node is not None:
            node.stop()
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
