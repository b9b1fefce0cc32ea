"""What the HTTP stack costs on top of the query it serves.

Measures, side by side on the same database:
  baseline  the service function alone (`registry.regions.list_regions` in a session)
  api       the same read through the whole app in-process: middleware, unit-of-work route,
            token verification, policy gate, serialization (`GET /v1/regions?within=150100`)
and prints per-operation latency and the ratio api/baseline. Also token verification alone.

Run: python bench/api_overhead.py [--n 2000]   (embedded PostgreSQL in a temp dir, or DATABASE_URL)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import structlog
from sqlmodel import Session

from api.app import create_app
from auth.principals import Principal, PrincipalKind
from models.account import StaffRole
from registry import migrate, regions
from registry.config import Settings
from registry.db import make_engine
from registry.embedded import EmbeddedPostgres
from registry.seed import seed_reference_data

RESULTS = Path(__file__).resolve().parent / "results" / "api_overhead.txt"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(200, n)):  # warm up caches and the pool
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.99) - 1] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    # the access log is part of a request's cost in production, but printing it to a terminal
    # here would measure the terminal: keep it, at WARNING, like a quiet production log level
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    with tempfile.TemporaryDirectory() as tmp:
        embedded = None
        url = os.environ.get("DATABASE_URL")
        if not url:
            embedded = EmbeddedPostgres(Path(tmp), database="registry_bench")
            url = embedded.start()
        engine = make_engine(url)
        migrate.upgrade(engine)
        with Session(engine) as s:
            seed_reference_data(s, only_if_empty=True)
            s.commit()
        settings = Settings(environment="test", registry_data_dir=Path(tmp) / "data")
        app = create_app(settings, engine=engine)
        principal = Principal(
            PrincipalKind.staff, "bench", "bench", region_code="150100", role=StaffRole.viewer
        )
        token, _ = app.state.tokens.issue(principal)
        headers = {"Authorization": f"Bearer {token}"}

        def baseline() -> None:
            with Session(engine) as s:
                assert len(regions.list_regions(s, within="150100", limit=50)) == 10

        async def api_samples(
            path: str, params: dict[str, str], auth: dict[str, str]
        ) -> list[float]:
            # httpx's ASGI transport inside one long-lived task, as under uvicorn: the app's own
            # cost, without test-client threads (anyio ties its worker threads to the root task)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                samples = []
                for i in range(min(200, args.n) + args.n):
                    start = time.perf_counter()
                    r = await client.get(path, params=params, headers=auth)
                    elapsed = time.perf_counter() - start
                    assert r.status_code == 200
                    if i >= min(200, args.n):
                        samples.append(elapsed)
                return samples

        def verify() -> None:
            app.state.tokens.verify(token)

        rows = []
        base = summary(timed(baseline, args.n))
        floor = summary(asyncio.run(api_samples("/healthz", {}, {})))
        full = summary(asyncio.run(api_samples("/v1/regions", {"within": "150100"}, headers)))
        ver = summary(timed(verify, args.n))
        rows.append(("baseline: list_regions(within=150100) in a session", *base))
        rows.append(("api: GET /v1/regions?within=150100 (token, policy, UoW)", *full))
        rows.append(("token verification alone (RS256)", *ver))
        rows.append(("floor: GET /healthz (client + framework, no DB, no auth)", *floor))
        engine.dispose()
        if embedded:
            embedded.stop()

    lines = [
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        f"n = {args.n} sequential operations each, in-process (httpx ASGI transport, no network)",
        f"{'operation':60} {'median µs':>10} {'p99 µs':>10}",
    ]
    lines += [f"{name:60} {med:10.0f} {p99:10.0f}" for name, med, p99 in rows]
    lines.append(f"ratio api / baseline (median): {rows[1][1] / rows[0][1]:.2f}x")
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
