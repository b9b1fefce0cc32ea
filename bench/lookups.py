"""Lookups at scale: by id and batches of 1,000 codes, over HTTP, beside two baselines.

    python bench/lookups.py --suppliers 1000000 --seconds 10 --connections 16

1. Builds a database (embedded PostgreSQL in a temp dir, or a new database on DATABASE_URL)
   with the reference data and N active suppliers (COPY, benchmark-only path), unless
   `--reuse DIR` points at one built before.
2. Starts two servers with identical uvicorn settings (`bench/serve_one.py`): the registry, and a
   bare FastAPI route returning a constant body; with 1 and with 2 worker processes each.
3. Drives each with the same minimal keep-alive HTTP/1.1 client (asyncio sockets, so the client
   costs as little as possible on the same 2 cores), for the same time and number of connections:
   requests/s and client-side p50/p99.
4. Runs the raw SQL of a lookup over one psycopg connection (prepared), for the same time.
5. Sends batches of 1,000 USCCs to `POST /v1/suppliers/batch` and reads the service's own time
   from the `Server-Timing` header.

Prints the figures and the ratios, and writes them to bench/results/lookups.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from benchdb import build_database, libpq

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "lookups.txt"


# --- a minimal HTTP/1.1 keep-alive client ------------------------------------------------------


async def _one_connection(
    port: int, requests: list[bytes], deadline: float, latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = 0
    i = random.randrange(len(requests))
    while time.perf_counter() < deadline:
        request = requests[i % len(requests)]
        i += 1
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        done += 1
    writer.close()
    return done


async def _load(
    port: int, requests: list[bytes], seconds: float, connections: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    # warm-up (connections, caches, the server's first requests)
    await asyncio.gather(
        *[
            _one_connection(port, requests, time.perf_counter() + 1.0, [])
            for _ in range(connections)
        ]
    )
    start = time.perf_counter()
    deadline = start + seconds
    counts = await asyncio.gather(
        *[_one_connection(port, requests, deadline, latencies) for _ in range(connections)]
    )
    return sum(counts) / (time.perf_counter() - start), latencies


def load(
    port: int, requests: list[bytes], seconds: float, connections: int
) -> tuple[float, list[float]]:
    import uvloop

    return uvloop.run(_load(port, requests, seconds, connections))


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


# --- database ----------------------------------------------------------------------------------


def sample_keys(url: str, n: int) -> tuple[list[str], list[str]]:
    with psycopg.connect(libpq(url)) as conn:
        rows = conn.execute(
            "SELECT id, uscc FROM organizations TABLESAMPLE SYSTEM (1) WHERE kind = 'supplier' LIMIT %s",
            (n,),
        ).fetchall()
        if len(rows) < n:
            rows = conn.execute(
                "SELECT id, uscc FROM organizations WHERE kind = 'supplier' LIMIT %s", (n,)
            ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def warm_pages(url: str, ids: list[str]) -> None:
    """Read the sampled rows once, so no contestant pays for the first read from disk."""
    with psycopg.connect(libpq(url)) as conn:
        conn.execute(
            "SELECT sum(length(data::text)) FROM organizations WHERE id = ANY(%s)", (ids,)
        ).fetchone()


def raw_sql(url: str, ids: list[str], seconds: float) -> tuple[float, list[float]]:
    """The lookup's essential query, prepared, over one connection."""
    query = (
        "SELECT id, status, version, data FROM organizations WHERE id = %s AND kind = 'supplier'"
    )
    latencies = []
    with psycopg.connect(libpq(url), prepare_threshold=0) as conn:
        for key in ids[:200]:
            conn.execute(query, (key,)).fetchone()
        start = time.perf_counter()
        deadline = start + seconds
        i = 0
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            conn.execute(query, (ids[i % len(ids)],)).fetchone()
            latencies.append(time.perf_counter() - t)
            i += 1
        return i / (time.perf_counter() - start), latencies


# --- servers -----------------------------------------------------------------------------------


def start_server(
    which: str, port: int, env: dict[str, str], workers: int = 1
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "serve_one.py"),
            which,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={**os.environ, **env, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{which} server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suppliers", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="server processes, per run"
    )
    parser.add_argument("--reuse", type=Path, help="keep the embedded database in this directory")
    args = parser.parse_args()

    workdir = args.reuse or Path(tempfile.mkdtemp(prefix="registry-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    embedded = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        from registry.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(workdir, database="registry_bench")
        url = embedded.start()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        build_database(url, args.suppliers)
        ids, usccs = sample_keys(url, 5000)
        warm_pages(url, ids)
        env = {"BENCH_DATABASE_URL": url, "BENCH_DATA_DIR": str(workdir / "data")}
        by_id = [get(f"/v1/suppliers/{i}") for i in ids]
        single: dict[tuple[str, int], tuple[float, list[float]]] = {}
        for workers in args.workers:
            for which in ("bare", "registry"):
                port = free_port()
                proc = start_server(which, port, env, workers)
                try:
                    single[which, workers] = load(port, by_id, args.seconds, args.connections)
                finally:
                    stop_server(proc)
        sql_qps, sql_lat = raw_sql(url, ids, args.seconds)
        app_port = free_port()
        servers.append(start_server("registry", app_port, env))

        import httpx

        batch_client_ms, batch_server_ms = [], []
        with httpx.Client(base_url=f"http://127.0.0.1:{app_port}", timeout=30) as client:
            for n in range(args.batches + 3):
                keys = random.sample(usccs, 1000)
                t = time.perf_counter()
                r = client.post("/v1/suppliers/batch", json={"usccs": keys})
                elapsed = (time.perf_counter() - t) * 1000
                assert r.status_code == 200 and len(r.json()["found"]) == 1000, r.text[:200]
                if n >= 3:  # warm-up
                    batch_client_ms.append(elapsed)
                    batch_server_ms.append(float(r.headers["server-timing"].split("dur=")[1]))
        with psycopg.connect(libpq(url)) as conn:
            t = time.perf_counter()
            for _ in range(args.batches):
                conn.execute(
                    "SELECT id, status, version, data FROM organizations"
                    " WHERE kind = 'supplier' AND uscc = ANY(%s) AND status <> 'cancelled'",
                    (random.sample(usccs, 1000),),
                ).fetchall()
            sql_batch_ms = (time.perf_counter() - t) * 1000 / args.batches
    finally:
        for proc in servers:
            stop_server(proc)
        if embedded is not None:
            embedded.stop()

    lines = [
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"suppliers: {args.suppliers:,}; {args.connections} keep-alive connections, {args.seconds:.0f} s per run;"
        " client, servers and PostgreSQL share the machine",
        "",
        f"{'single lookup by id':56} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    for workers in args.workers:
        bare_rps, bare_lat = single["bare", workers]
        app_rps, app_lat = single["registry", workers]
        lines += [
            f"{f'bare FastAPI route, constant body ({workers} worker(s))':56} {bare_rps:9.0f} {pct(bare_lat, 0.5):8.2f} {pct(bare_lat, 0.99):8.2f}",
            f"{f'registry GET /v1/suppliers/{{id}} ({workers} worker(s))':56} {app_rps:9.0f} {pct(app_lat, 0.5):8.2f} {pct(app_lat, 0.99):8.2f}",
            f"  ratio registry / bare route, {workers} worker(s): {app_rps / bare_rps:.2f}   (goal >= 0.50)",
        ]
    app_rps = max(single["registry", w][0] for w in args.workers)
    lines += [
        f"{'raw SQL over psycopg (1 connection, prepared)':56} {sql_qps:9.0f} {pct(sql_lat, 0.5):8.2f} {pct(sql_lat, 0.99):8.2f}",
        f"ratio best registry / raw SQL: {app_rps / sql_qps:.2f}",
        "",
        f"batch of 1,000 USCCs, {args.batches} requests:",
        f"  server time (Server-Timing) p50 {statistics.median(batch_server_ms):.1f} ms, max {max(batch_server_ms):.1f} ms   (goal <= 50 ms)",
        f"  client time p50 {statistics.median(batch_client_ms):.1f} ms; raw SQL (= ANY of 1,000) {sql_batch_ms:.1f} ms",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n" + json.dumps({"suppliers": args.suppliers}) + "\n")


if __name__ == "__main__":
    main()
