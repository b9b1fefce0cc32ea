"""Search quality: top-1 and top-5 hit rates of `GET /v1/search` on the labeled query set.

The set is `tests/search_queries/demo_queries.json` (made by `tests/search_queries/generate.py`
from the demo plan of `registry seed --demo 300`): each query names the records that are right
answers (`expected_ids`). This script seeds a database with those demo records through the same
service functions as `registry seed --demo 300` (so the ids match; experts and commodities as of
the day in the set's header, since experts' names depend on the year), then asks the app in-process
(httpx ASGI transport, no network) every query as the anonymous public does:
`GET /v1/search?q=…&kinds=…&limit=5`. A query is a top-1 hit when the first result is one of its
expected ids, a top-5 hit when any of the first five is. It prints, per class and overall, the
hit rates, the mean reciprocal rank (within the five) and the latency (p50, p95), the misses with
what came back instead, and writes it all to `bench/results/search_quality_<backend>.txt`.

Baseline, run side by side: what the registry offers without search — the `name=` filter of the
list routes (`GET /v1/<kind>?name=…`, the stored name contains the text as typed), over the
query's kinds (all five when it has none), exact names first, then the shortest names.

The backend is PostgreSQL, or the search engine with `--engine URL` (or ELASTICSEARCH_URL set):
an Elasticsearch 8 / OpenSearch 2 node, into which the seeded records' search documents are
loaded (`search.engine.engine_documents` + `bulk_write`) in an index of the bench's own, deleted
at the end; the app then searches through the engine backend (`search/engine_query.py`), and the
report also says for how many queries the engine's first five hits are PostgreSQL's (same ids,
same order). The results file is named after the backend (`search_quality_postgres.txt`,
`search_quality_engine.txt`). With DATABASE_URL, use a database that holds nothing but these
demo records: other records are answers the labels do not know about. Labels and data are
compared before measuring (every expected record readable by the public, under the name the
query was made from); disagreements are printed as a warning. On PostgreSQL, if the CLI has a
`registry reindex` command, it is run after seeding (`--no-reindex` skips it): it adds the
documents of records loaded in bulk.

Run:
  python bench/search_quality.py                         # embedded PostgreSQL in a temp dir
  python bench/search_quality.py --reuse /tmp/sq-demo     # keep the seeded database for next time
  DATABASE_URL=postgresql://… python bench/search_quality.py
  python bench/search_quality.py --reuse /tmp/sq-demo --engine http://127.0.0.1:9200
  ELASTICSEARCH_URL=http://127.0.0.1:9200 python bench/search_quality.py --reuse /tmp/sq-demo
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from sqlalchemy import Engine

from api.app import create_app
from api.routers.organizations import PLURAL
from models.organization import RecordKind
from registry import migrate
from registry.config import Settings
from registry.db import session_scope
from registry.demo import (
    demo_counts,
    seed_demo_commodities,
    seed_demo_experts,
    seed_demo_organizations,
)
from registry.organizations import ID_PREFIX
from registry.seed import seed_reference_data

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "tests" / "search_queries" / "demo_queries.json"
RESULTS = Path(__file__).resolve().parent / "results"
SEARCH_PATH = "/v1/search"
TOP = 5
WARM_UP = 20
BASELINE_PAGE = 50  # list rows per kind the baseline ranks


class BenchError(SystemExit):
    """A reason the bench cannot run, printed without a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"search_quality: {message}")


# --- the query set -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabeledQuery:
    id: str
    cls: str
    q: str
    kinds: tuple[str, ...] | None
    expected_id: str
    expected: frozenset[str]
    target_name: str
    target_status: str


def load_queries(path: Path) -> tuple[dict[str, Any], list[LabeledQuery]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BenchError(
            f"{path} not found: run `python tests/search_queries/generate.py`"
        ) from exc
    queries = [
        LabeledQuery(
            id=item["id"],
            cls=item["class"],
            q=item["q"],
            kinds=tuple(item["kinds"]) if item.get("kinds") else None,
            expected_id=item["expected_id"],
            expected=frozenset(item["expected_ids"]),
            target_name=item.get("target_name", ""),
            target_status=item.get("target_status", ""),
        )
        for item in doc["queries"]
    ]
    return doc["header"], queries


# --- database and app ----------------------------------------------------------------------------


def backend_name(settings: Settings) -> str:
    return "engine" if settings.elasticsearch_url else "postgres"


def has_route(app: FastAPI, path: str, method: str = "get") -> bool:
    """Whether the app serves `method path` (by its OpenAPI description: the app's routers are
    nested, so `app.routes` does not list them)."""
    return method in app.openapi().get("paths", {}).get(path, {})


@contextmanager
def migrated_database(settings: Settings) -> Iterator[Engine]:
    """The configured database (DATABASE_URL) or the embedded one in the data directory,
    migrated, with the personal-data keys set up: what the `registry` command works on."""
    from registry.cli import database

    with database(settings) as engine:
        migrate.upgrade(engine)
        yield engine


def seed(engine: Engine, header: dict[str, Any]) -> str:
    """The demo records the query set was made from: what `registry seed --demo N` does
    (`registry.demo.seed_demo`: N organizations, then N/5 experts and N/5 commodities through
    the services, same seed, same ids), except that experts and commodities are planned as of
    the set's day rather than today (experts' names depend on the year). Records already there
    (`--reuse`) are skipped by the seeding itself."""
    count, seed_value = header["organizations"], header["seed"]
    as_of = date.fromisoformat(header["as_of"])
    experts, commodities = demo_counts(count)
    began = time.monotonic()
    with session_scope(engine) as session:
        seed_reference_data(session, only_if_empty=True)
        lines = [
            seed_demo_organizations(session, count=count, seed=seed_value).summary(),
            seed_demo_experts(session, count=experts, seed=seed_value, as_of=as_of).summary(),
            seed_demo_commodities(
                session, count=commodities, seed=seed_value, as_of=as_of
            ).summary(),
        ]
    return "\n".join([*lines, f"(seeding {time.monotonic() - began:.1f} s, as of {as_of})"])


def run_reindex(engine: Engine, settings: Settings) -> str:
    """`registry reindex` against this database, if the CLI has that command."""
    from registry.cli import app as cli

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in cli.registered_commands}
    if "reindex" not in names:
        return "no `registry reindex` command: the backend is expected to index on write"
    command = shutil.which("registry", path=str(Path(sys.executable).parent)) or "registry"
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REGISTRY_DATA_DIR": str(settings.data_dir),
    }
    began = time.monotonic()
    done = subprocess.run(
        [command, "reindex"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"`registry reindex` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return f"registry reindex: {time.monotonic() - began:.1f} s"


def load_engine(engine: Engine, url: str, alias: str) -> str:
    """A new index behind `alias` on the node at `url`, holding every search document."""
    from search.engine import IndexNames, all_engine_documents, bulk_write, connect, ensure_index

    client = connect(url)
    began = time.monotonic()
    index = ensure_index(client, IndexNames(alias))
    loaded = 0
    with engine.connect() as connection:
        for batch in all_engine_documents(connection):
            loaded += bulk_write(client, [index], batch, refresh=True)
    client.close()
    return (
        f"engine: {client.flavor} {client.version} at {url}; {loaded} documents loaded into"
        f" {index} in {time.monotonic() - began:.1f} s"
    )


def drop_engine_index(url: str, alias: str) -> None:
    from search.engine import aliased, connect

    client = connect(url)
    for index in aliased(client, alias):
        client.request("DELETE", f"/{index}")
    client.close()


def agreement(engine_answers: list[Answer], pg_answers: list[Answer]) -> list[str]:
    """How many queries get the same first five hits (ids, in order) from both backends."""
    differ = [
        f"  {e.query.id:18} {e.query.q!r}: engine {e.ids[:TOP]} / postgres {p.ids[:TOP]}"
        for e, p in zip(engine_answers, pg_answers, strict=True)
        if e.ids[:TOP] != p.ids[:TOP]
    ]
    same = len(engine_answers) - len(differ)
    return [
        f"same first {TOP} hits as PostgreSQL (ids and order): {same} of {len(engine_answers)}",
        *differ,
    ]


# --- asking --------------------------------------------------------------------------------------


@dataclass
class Answer:
    query: LabeledQuery
    ids: list[str]
    names: list[str]
    seconds: float
    error: str | None = None

    @property
    def rank(self) -> int | None:
        """1-based rank of the first right answer within the first TOP hits."""
        for i, hit in enumerate(self.ids[:TOP], start=1):
            if hit in self.query.expected:
                return i
        return None


def _hits(body: Any) -> list[dict[str, Any]]:
    """The hits of a search answer: a list, or the list under `items` (the registry's pages),
    `results`, `hits` or `data`; an Elasticsearch-shaped `hits.hits` also works."""
    if isinstance(body, list):
        return [h for h in body if isinstance(h, dict)]
    if isinstance(body, dict):
        for key in ("items", "results", "hits", "data"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("hits")
            if isinstance(value, list):
                return [h for h in value if isinstance(h, dict)]
    return []


def _hit_id(hit: dict[str, Any]) -> str | None:
    for holder in (hit, hit.get("record") or {}, hit.get("_source") or {}):
        if isinstance(holder, dict) and isinstance(holder.get("id"), str):
            return str(holder["id"])
    value = hit.get("_id")
    return str(value) if value is not None else None


def _hit_name(hit: dict[str, Any]) -> str:
    """The name of a hit or a record (the registry's records hold it under `data`)."""
    for holder in (hit, hit.get("data") or {}, hit.get("record") or {}, hit.get("_source") or {}):
        if isinstance(holder, dict) and isinstance(holder.get("name"), str):
            return str(holder["name"])
    return ""


Params = list[tuple[str, str | int | float | bool | None]]


def search_params(query: LabeledQuery, kinds_style: str) -> Params:
    params: Params = [("q", query.q), ("limit", TOP)]
    if query.kinds:
        if kinds_style == "comma":
            params.append(("kinds", ",".join(query.kinds)))
        else:
            params += [("kinds", kind) for kind in query.kinds]
    return params


async def ask_search(client: httpx.AsyncClient, query: LabeledQuery, kinds_style: str) -> Answer:
    params = search_params(query, kinds_style)
    start = time.perf_counter()
    response = await client.get(SEARCH_PATH, params=params)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        return Answer(query, [], [], elapsed, f"HTTP {response.status_code}: {response.text[:200]}")
    hits = _hits(response.json())
    ids = [i for i in (_hit_id(h) for h in hits) if i is not None]
    return Answer(query, ids, [_hit_name(h) for h in hits], elapsed)


async def ask_baseline(client: httpx.AsyncClient, query: LabeledQuery) -> Answer:
    """The list routes' `name=` filter over the query's kinds, exact names first, then the
    shortest: what finding a record looks like without search."""
    kinds = query.kinds or tuple(k.value for k in PLURAL)
    rows: list[tuple[str, str]] = []
    start = time.perf_counter()
    for kind in kinds:
        response = await client.get(
            f"/v1/{PLURAL[RecordKind(kind)]}",
            params={"name": query.q[:50], "limit": str(BASELINE_PAGE)},
        )
        if response.status_code == 200:
            rows += [(str(h["id"]), _hit_name(h)) for h in _hits(response.json()) if "id" in h]
    elapsed = time.perf_counter() - start
    rows.sort(key=lambda row: (row[1] != query.q, len(row[1])))
    return Answer(query, [i for i, _ in rows[:TOP]], [n for _, n in rows[:TOP]], elapsed)


async def ask_all(
    app: FastAPI, queries: list[LabeledQuery], *, kinds_style: str, baseline: bool
) -> tuple[list[Answer], list[Answer]]:
    # one long-lived task and client, as under uvicorn (see bench/api_overhead.py)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        probe = await client.get(SEARCH_PATH, params={"q": "内蒙古", "limit": str(TOP)})
        if probe.status_code != 200:
            raise BenchError(
                f"GET {SEARCH_PATH}?q=内蒙古 answered {probe.status_code}: {probe.text[:300]}"
            )
        for query in queries[:WARM_UP]:  # warm caches, the pool and the analyzer's dictionaries
            await ask_search(client, query, kinds_style)
        answers = [await ask_search(client, query, kinds_style) for query in queries]
        base = [await ask_baseline(client, query) for query in queries] if baseline else []
    return answers, base


async def label_mismatches(app: FastAPI, queries: list[LabeledQuery]) -> list[str]:
    """Expected records the anonymous public cannot read, and targets whose name in this
    database is not the one the query was made from: the labels and the data disagree."""
    plural_of = {prefix: PLURAL[kind] for kind, prefix in ID_PREFIX.items()}
    names: dict[str, str | None] = {}
    problems: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for record_id in sorted({i for q in queries for i in q.expected}):
            plural = plural_of.get(record_id.partition("_")[0])
            response = await client.get(f"/v1/{plural}/{record_id}") if plural else None
            if response is None or response.status_code != 200:
                names[record_id] = None
                status = response.status_code if response is not None else "unknown kind"
                problems.append(f"{record_id}: not readable by the public ({status})")
            else:
                names[record_id] = _hit_name(response.json())
    for q in queries:
        name = names.get(q.expected_id)
        if name is not None and name != q.target_name:
            problems.append(f"{q.id}: {q.expected_id} is {name!r} here, not {q.target_name!r}")
    return problems


# --- the report ----------------------------------------------------------------------------------


@dataclass
class Tally:
    n: int = 0
    top1: int = 0
    top5: int = 0
    reciprocal: float = 0.0
    seconds: list[float] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        rank = answer.rank
        self.n += 1
        self.top1 += rank == 1
        self.top5 += rank is not None
        self.reciprocal += 1 / rank if rank else 0.0
        self.seconds.append(answer.seconds)

    def rate(self, hits: int) -> str:
        return f"{100 * hits / self.n:6.1f}%" if self.n else "      -"

    @property
    def mrr(self) -> float:
        return self.reciprocal / self.n if self.n else 0.0


def percentile(samples: list[float], p: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def tallies(answers: list[Answer], key: str) -> dict[str, Tally]:
    out: dict[str, Tally] = defaultdict(Tally)
    for answer in answers:
        group = answer.query.cls if key == "class" else answer.query.target_status
        out[group].add(answer)
        out["overall"].add(answer)
    return out


def table(answers: list[Answer], base: list[Answer], order: list[str], key: str) -> list[str]:
    ours = tallies(answers, key)
    theirs = tallies(base, key) if base else {}
    head = f"{key:14} {'n':>4} {'top-1':>7} {'top-5':>7} {'MRR':>5} {'p50 ms':>7} {'p95 ms':>7}"
    if base:
        head += f"   {'base top-1':>10} {'base top-5':>10}"
    lines = [head]
    for group in [*order, "overall"]:
        t = ours.get(group)
        if t is None:
            continue
        line = (
            f"{group:14} {t.n:4d} {t.rate(t.top1):>7} {t.rate(t.top5):>7} {t.mrr:5.2f} "
            f"{percentile(t.seconds, 50) * 1e3:7.1f} {percentile(t.seconds, 95) * 1e3:7.1f}"
        )
        if base and group in theirs:
            b = theirs[group]
            line += f"   {b.rate(b.top1):>10} {b.rate(b.top5):>10}"
        lines.append(line)
    return lines


def misses(answers: list[Answer]) -> list[str]:
    lines = []
    for answer in answers:
        rank = answer.rank
        if rank == 1:
            continue
        q = answer.query
        got = answer.error or "; ".join(
            f"{n or i}{' ✓' if i in q.expected else ''}"
            for i, n in zip(answer.ids[:3], answer.names[:3], strict=False)
        )
        where = f"rank {rank}" if rank else "not in top 5"
        lines.append(f"{q.id:18} {where:12} {q.q!r} → want {q.target_name}; got: {got or '-'}")
    return lines


def report(
    header: dict[str, Any],
    queries_path: Path,
    backend: str,
    setup: list[str],
    answers: list[Answer],
    base: list[Answer],
    mismatches: list[str],
) -> str:
    classes = list(header.get("counts", {})) or sorted({a.query.cls for a in answers})
    statuses = sorted({a.query.target_status for a in answers})
    all_seconds = [a.seconds for a in answers]
    errors = Counter(a.error.split(":")[0] for a in answers if a.error)
    overall = tallies(answers, "class")["overall"]
    lines = [
        f"search quality: GET {SEARCH_PATH} (limit={TOP}, anonymous), backend {backend}",
        f"queries: {len(answers)} from {queries_path.relative_to(ROOT) if queries_path.is_relative_to(ROOT) else queries_path} "
        f"(seed {header.get('seed')}, analyzer version {header.get('analyzer_version')})",
        f"data: registry seed --demo {header.get('organizations')} "
        f"({header.get('organizations')} organizations, {header.get('experts')} experts, "
        f"{header.get('commodities')} commodities)",
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        *setup,
        "",
        f"top-1 {100 * overall.top1 / max(overall.n, 1):.1f}%, top-5 "
        f"{100 * overall.top5 / max(overall.n, 1):.1f}%, MRR {overall.mrr:.3f}; latency p50 "
        f"{percentile(all_seconds, 50) * 1e3:.1f} ms, p95 {percentile(all_seconds, 95) * 1e3:.1f} ms "
        f"(in-process, sequential, after {min(WARM_UP, len(answers))} warm-up queries)",
        "",
        *table(answers, base, classes, "class"),
        "",
        *table(answers, base, statuses, "status"),
    ]
    if base:
        lines += [
            "",
            "base = the list routes' name filter (`GET /v1/<kind>?name=`, stored name contains "
            "the text as typed) over the query's kinds, exact names first, then shortest names",
        ]
    if errors:
        lines += ["", "errors: " + ", ".join(f"{k} × {n}" for k, n in errors.most_common())]
    if mismatches:
        lines += [
            "",
            f"WARNING: the labels and this database disagree on {len(mismatches)} records "
            "(another seed or year, or other data: use a fresh --reuse directory):",
            *(f"  {m}" for m in mismatches),
        ]
    missed = misses(answers)
    lines += ["", f"misses ({len(missed)} queries whose top hit is not an expected one):", *missed]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=Path, default=QUERIES, help="the labeled set (JSON)")
    parser.add_argument(
        "--reuse", type=Path, help="data directory to keep the seeded database in (embedded)"
    )
    parser.add_argument(
        "--kinds-style",
        choices=("repeat", "comma"),
        default="repeat",
        help="several kinds as kinds=a&kinds=b (repeat) or kinds=a,b (comma)",
    )
    parser.add_argument(
        "--engine",
        metavar="URL",
        default=os.environ.get("ELASTICSEARCH_URL"),
        help="search on this Elasticsearch 8 / OpenSearch 2 node (default: ELASTICSEARCH_URL)",
    )
    parser.add_argument("--no-reindex", action="store_true", help="skip `registry reindex`")
    parser.add_argument("--no-baseline", action="store_true", help="skip the name-filter baseline")
    parser.add_argument(
        "--out", type=Path, help="results file (default: results/search_quality_<backend>.txt)"
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    header, queries = load_queries(args.queries)
    with tempfile.TemporaryDirectory(prefix="search-quality-") as tmp:
        data_dir = args.reuse or Path(tmp)
        alias = f"search-quality-{os.getpid()}"
        settings = Settings(
            environment="test",
            registry_data_dir=data_dir,
            elasticsearch_url=args.engine or None,
            search_index=alias,
        )
        backend = backend_name(settings)
        compared: list[str] = []
        with migrated_database(settings) as engine:
            app = create_app(settings, engine=engine)
            if not has_route(app, SEARCH_PATH):
                raise BenchError(
                    f"the app has no GET {SEARCH_PATH} route yet: the search backend "
                    "(search/postgres.py and its router) is not built; nothing to measure"
                )
            setup = [seed(engine, header)]
            if args.engine:
                setup.append(load_engine(engine, args.engine, alias))
            elif not args.no_reindex:
                setup.append(run_reindex(engine, settings))
            try:
                mismatches = asyncio.run(label_mismatches(app, queries))
                answers, base = asyncio.run(
                    ask_all(
                        app, queries, kinds_style=args.kinds_style, baseline=not args.no_baseline
                    )
                )
                if args.engine:
                    postgres = create_app(
                        settings.model_copy(update={"elasticsearch_url": None}), engine=engine
                    )
                    pg_answers, _ = asyncio.run(
                        ask_all(postgres, queries, kinds_style=args.kinds_style, baseline=False)
                    )
                    compared = agreement(answers, pg_answers)
            finally:
                if args.engine:
                    drop_engine_index(args.engine, alias)
    text = report(header, args.queries, backend, setup, answers, base, mismatches)
    if compared:
        text += "\n\n" + "\n".join(compared)
    print(text)
    out = args.out or RESULTS / f"search_quality_{backend}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
