"""Dedup scan at scale: `registry dedup scan --kind suppliers` over 1,000,000 suppliers.

    python bench/dedup_scan.py --reuse /tmp/bench-1m --suppliers 1000000 --plant 300
    python bench/dedup_scan.py --suppliers 20000          # builds a small database from scratch

1. Opens the database of `bench/lookups.py` (`--reuse DIR`: the embedded PostgreSQL kept there;
   a temp dir or DATABASE_URL otherwise), migrates it to head and loads suppliers up to
   `--suppliers` with the benchmark-only COPY path of `registry/demo.py`.
2. Plants labeled near-duplicates: `--plant` bulk suppliers get a second record — the same legal
   entity registered again in another county under a USCC that keeps its organization code
   (characters 9–17), with a name variant (region prefix, legal form, brackets, full width,
   traditional characters, a typed character, or two of these) — and a sixth of them also a
   branch (`…包头分公司`, same organization code) that must not be reported. A tenth of the
   planted pairs are judged "not the same" beforehand: the scan must skip them.
3. Empties `dedup_keys` (as right after the migration) and times `registry.dedup_scan.scan`
   in-process (the CLI's code path), sampling memory every 0.5 s: the PSS and RSS of the
   scanning process and its workers, and of all PostgreSQL processes.
4. Baselines: the same matcher over all n(n-1)/2 pairs of a sample of `--sample` records
   (extrapolated to n).
5. Runs the command, `registry dedup scan --kind suppliers`, in a process of its own: a second
   scan of everything (the keys are there, the pairs are re-scored: the queue must not grow),
   then `--within <--within-small>` (a smaller n).

Writes bench/results/dedup_scan.txt.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from benchdb import build_database, libpq, open_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "dedup_scan.txt"
PLANT_PREFIX = "sup_dupbench"  # ids of the planted records
NEGATIVE_SHARE = 10  # every 10th planted pair is judged "not the same" before the scan
BRANCH_SHARE = 6  # every 6th planted head also gets a branch


# --- database ----------------------------------------------------------------------------------


def _row(cursor: Any) -> tuple[Any, ...]:
    """The one row a query answers."""
    row = cursor.fetchone()
    assert row is not None
    return tuple(row)


# --- planted near-duplicates -------------------------------------------------------------------

FORMS = ("股份有限公司", "有限责任公司", "有限公司")
PREFIX = "内蒙古"
TYPO_CHARS = "华鑫源盛达通宏信德恒泰祥瑞丰"


def _split(name: str) -> tuple[str, str, str]:
    """(region prefix, core, legal form) of a bulk supplier's name."""
    prefix = PREFIX if name.startswith(PREFIX) else ""
    rest = name[len(prefix) :]
    form = next((f for f in FORMS if rest.endswith(f)), "")
    return prefix, rest[: len(rest) - len(form)], form


def _variant(rng: random.Random, name: str, how: str) -> str:
    import zhconv

    prefix, core, form = _split(name)
    if how == "region prefix":
        return core + form if prefix else PREFIX + core + form
    if how == "legal form":
        other = {"有限公司": "有限责任公司", "有限责任公司": "有限公司", "股份有限公司": "有限公司"}
        return prefix + core + other.get(form, "有限公司")
    if how == "brackets":
        return core + "(内蒙古)" + (form or "有限公司")
    if how == "full width":
        return core + "（集团）" + (form or "有限公司")
    if how == "traditional":
        return str(zhconv.convert(name, "zh-hant"))
    if how == "typo":
        if len(core) < 4:
            return prefix + core + "科技" + form
        at = rng.randrange(2, len(core))
        typed = rng.choice([c for c in TYPO_CHARS if c != core[at]])
        return prefix + core[:at] + typed + core[at + 1 :] + form
    raise ValueError(how)


HOWS = ("region prefix", "legal form", "brackets", "full width", "traditional", "typo")


def plant(url: str, count: int, seed: int) -> dict[str, Any]:
    """Plant `count` labeled duplicates (and some branches, and some negative judgements);
    earlier planted records are removed first. Returns the labels."""
    from registry.demo import BULK_COLUMNS, _copy_text
    from registry.identifiers import make_uscc

    rng = random.Random(f"dedup-scan:{seed}")
    with psycopg.connect(libpq(url)) as conn:
        like = PLANT_PREFIX + "%"
        for table, columns in (
            ("dedup_judgements", ("left_id", "right_id")),
            ("dedup_candidates", ("left_id", "right_id")),
            ("dedup_keys", ("record_id",)),
        ):
            where = " OR ".join(f"{c} LIKE %(like)s" for c in columns)
            conn.execute(f"DELETE FROM {table} WHERE {where}", {"like": like})  # noqa: S608
        # records are never deleted by the service (a trigger refuses): the bench's own are
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("DELETE FROM organizations WHERE id LIKE %s", (like,))
        conn.execute("SET LOCAL session_replication_role = origin")
        regions = [r for (r,) in conn.execute("SELECT code FROM regions WHERE code !~ '00$'")]
        heads = conn.execute(
            "SELECT id, data::text FROM organizations WHERE kind = 'supplier' AND status = 'active'"
            " AND id NOT LIKE %s ORDER BY md5(id || %s) LIMIT %s",
            (like, str(seed), count),
        ).fetchall()
        now = datetime.now(UTC).isoformat()
        buffer = io.StringIO()
        pairs: list[tuple[str, str, str]] = []  # (head, planted, how)
        branches: list[tuple[str, str]] = []
        for n, (head_id, text) in enumerate(heads):
            data = orjson.loads(text)
            how = HOWS[n % len(HOWS)]
            if n % 4 == 3:  # two variations at once
                how = f"{how}+{HOWS[(n // 4 + 1) % len(HOWS)]}"
            name = data["name"]
            for step in how.split("+"):
                name = _variant(rng, name, step)
            region = rng.choice([r for r in regions if r != data["region_code"]])
            twin = dict(data, name=name, region_code=region)
            twin["uscc"] = make_uscc(data["uscc"][:2], region, data["uscc"][8:16])
            if "typo" in how:
                twin["address"] = data["address"].replace("号", " 号", 1)
            twin_id = f"{PLANT_PREFIX}{n:06d}"
            rows = [(twin_id, twin)]
            pairs.append((head_id, twin_id, how))
            if n % BRANCH_SHARE == 0:
                prefix, core, form = _split(data["name"])
                branch = dict(data, name=prefix + core + (form or "有限公司") + "包头分公司")
                branch["region_code"] = rng.choice(
                    [r for r in regions if r not in (data["region_code"], region)]
                )
                branch["uscc"] = make_uscc(
                    data["uscc"][:2], branch["region_code"], data["uscc"][8:16]
                )
                branch_id = f"{PLANT_PREFIX}b{n:05d}"
                rows.append((branch_id, branch))
                branches.append((head_id, branch_id))
            for row_id, row in rows:
                values = {
                    "id": row_id,
                    "kind": "supplier",
                    "uscc": row["uscc"],
                    "name": _copy_text(row["name"]),
                    "region_code": row["region_code"],
                    "status": "active",
                    "size": row.get("size") or "small",
                    "business_scope": "{" + ",".join(row.get("business_scope") or []) + "}",
                    "data": _copy_text(orjson.dumps(row).decode()),
                    "version": "1",
                    "submitted_at": now,
                    "approved_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                buffer.write("\t".join(values[c] for c in BULK_COLUMNS) + "\n")
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY organizations ({', '.join(BULK_COLUMNS)}) FROM STDIN") as copy,
        ):
            copy.write(buffer.getvalue())
        judged = [p for i, p in enumerate(pairs) if i % NEGATIVE_SHARE == 0]
        for head_id, twin_id, _ in judged:
            left, right = sorted((head_id, twin_id))
            conn.execute(
                "INSERT INTO dedup_judgements (left_id, right_id, judgement, actor, actor_name)"
                " VALUES (%s, %s, 'negative', 'bench', 'bench')",
                (left, right),
            )
        conn.commit()
    return {"pairs": pairs, "branches": branches, "judged": judged}


# --- memory ------------------------------------------------------------------------------------


def _smaps(pid: int) -> tuple[int, int]:
    """(Pss, Rss) of a process in kB; (0, 0) once it is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        nxt = [c for p in frontier for c in _children(p)]
        found.extend(nxt)
        frontier = nxt
    return found


class MemorySampler(threading.Thread):
    """Peaks of the summed PSS and RSS of this process with its workers, and of PostgreSQL."""

    def __init__(self, postmaster: int | None, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.postmaster = postmaster
        self.interval = interval
        self.stopped = threading.Event()
        self.peak = {"scan_pss": 0, "scan_rss": 0, "pg_pss": 0, "pg_rss": 0, "workers": 0}

    def sample(self) -> None:
        me = os.getpid()
        workers = _descendants(me)
        scan = [_smaps(p) for p in [me, *workers]]
        pg: list[tuple[int, int]] = []
        if self.postmaster:
            pg = [_smaps(p) for p in [self.postmaster, *_children(self.postmaster)]]
        for key, values in (("scan", scan), ("pg", pg)):
            self.peak[f"{key}_pss"] = max(self.peak[f"{key}_pss"], sum(v[0] for v in values))
            self.peak[f"{key}_rss"] = max(self.peak[f"{key}_rss"], sum(v[1] for v in values))
        self.peak["workers"] = max(self.peak["workers"], len(workers))

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()


def _postmaster(workdir: Path) -> int | None:
    pid_file = workdir / "pgdata" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --- baseline: all pairs -----------------------------------------------------------------------


def all_pairs_baseline(url: str, sample: int, seed: int) -> dict[str, float]:
    """The matcher over every pair of a random sample (no blocking): µs per pair."""
    from registry import matching

    matcher = matching.matcher_for("supplier")
    with psycopg.connect(libpq(url)) as conn:
        rows = conn.execute(
            "SELECT id, data::text FROM organizations WHERE kind = 'supplier'"
            " ORDER BY md5(id || %s) LIMIT %s",
            (f"sample{seed}", sample),
        ).fetchall()
    prepared = [matcher.prepare({**orjson.loads(d), "id": i}) for i, d in rows]
    compare = matcher.compare_prepared
    started = time.perf_counter()
    pairs = review = 0
    for i in range(len(prepared)):
        a = prepared[i]
        for j in range(i + 1, len(prepared)):
            review += compare(a, prepared[j]).for_review
            pairs += 1
    seconds = time.perf_counter() - started
    return {"records": len(prepared), "pairs": pairs, "seconds": seconds, "review": review}


def cli_scan(url: str, extra: list[str]) -> list[str]:
    """`registry dedup scan --kind suppliers …` in a process of its own: its summary lines."""
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "-c", "from registry.cli import main; main()", "dedup", "scan"]
    done = subprocess.run(
        [*command, "--kind", "suppliers", *extra],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout.splitlines()


# --- main --------------------------------------------------------------------------------------


def _machine(url: str) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    with psycopg.connect(libpq(url)) as conn:
        version = _row(conn.execute("SHOW server_version"))[0]
        shared = _row(conn.execute("SHOW shared_buffers"))[0]
        work_mem = _row(conn.execute("SHOW work_mem"))[0]
    load = os.getloadavg()
    return [
        f"machine: {os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM,"
        f" Python {platform.python_version()}",
        f"PostgreSQL {version} embedded, shared_buffers {shared}, work_mem {work_mem}",
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reuse", type=Path, help="keep the embedded database in this directory")
    parser.add_argument("--suppliers", type=int, default=1_000_000)
    parser.add_argument("--plant", type=int, default=300, help="labeled duplicates to plant")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=None, help="compare processes")
    parser.add_argument("--sample", type=int, default=2000, help="all-pairs baseline sample")
    parser.add_argument("--within-small", default="1503", help="smaller-n scan: a subtree")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from registry import dedup_scan
    from registry.db import make_engine

    out: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    with open_database(args.reuse, prefix="dedup-scan-") as (url, workdir):
        say(
            "command: python bench/dedup_scan.py "
            + " ".join(a for a in sys.argv[1:])
            + f"  ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
        )
        for line in _machine(url):
            say(line)
        build_database(url, args.suppliers, besides=PLANT_PREFIX + "%")
        labels = plant(url, args.plant, args.seed)
        with psycopg.connect(libpq(url)) as conn:
            conn.execute("TRUNCATE dedup_keys")
            conn.execute("DELETE FROM dedup_candidates WHERE source = 'scan'")
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE dedup_keys")
            conn.execute("VACUUM ANALYZE dedup_candidates")
            n = _row(
                conn.execute(
                    "SELECT count(*) FROM organizations WHERE kind = 'supplier'"
                    " AND status NOT IN ('cancelled', 'merged')"
                )
            )[0]
        say(
            f"records: {n:,} live suppliers, of which {len(labels['pairs']):,} planted"
            f" duplicates and {len(labels['branches'])} planted branches;"
            f" {len(labels['judged'])} planted pairs judged 'not the same' beforehand"
        )
        engine = make_engine(url)

        # the scan at full size
        sampler = MemorySampler(_postmaster(workdir))
        sampler.start()
        report = dedup_scan.scan(engine, "supplier", workers=args.workers)
        sampler.stopped.set()
        sampler.join()
        sampler.sample()
        say()
        say("== scan of all suppliers (registry.dedup_scan.scan, as `registry dedup scan`) ==")
        for line in report.lines():
            say("  " + line)
        all_pairs = n * (n - 1) // 2
        say(
            f"  candidate pairs vs all pairs: {report.pairs_compared:,} of {all_pairs:,}"
            f" ({report.pairs_compared / all_pairs:.2e}; {report.pairs_compared / n:.1f} per record)"
        )
        peak = sampler.peak
        say(
            f"  memory, scanning process + {peak['workers']} workers: peak PSS"
            f" {peak['scan_pss'] / 1024:,.0f} MB (summed RSS {peak['scan_rss'] / 1024:,.0f} MB,"
            " shared pages counted in each)"
        )
        say(
            f"  memory, PostgreSQL (all its processes): peak PSS {peak['pg_pss'] / 1024:,.0f} MB"
            f" (summed RSS {peak['pg_rss'] / 1024:,.0f} MB)"
        )
        say(
            f"  ru_maxrss of the scanning process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB"
            " (VmHWM above; a worker's ru_maxrss would count the parent's pages it shares"
            " between fork and exec)"
        )

        # what it found among the planted
        with psycopg.connect(libpq(url)) as conn:
            found = {
                (a, b)
                for a, b in conn.execute(
                    "SELECT left_id, right_id FROM dedup_candidates WHERE kind = 'supplier'"
                    " AND source = 'scan'"
                )
            }
        judged = {tuple(sorted(p[:2])) for p in labels["judged"]}
        expected = {tuple(sorted(p[:2])) for p in labels["pairs"]} - judged
        hows: dict[str, list[int]] = {}
        for head, twin, how in labels["pairs"]:
            key = tuple(sorted((head, twin)))
            if key in judged:
                continue
            bucket = hows.setdefault("two variations" if "+" in how else how, [0, 0])
            bucket[0] += key in found
            bucket[1] += 1
        true_found = found & expected
        branch_pairs = {tuple(sorted(p)) for p in labels["branches"]}
        planted_ids = {p[1] for p in labels["pairs"]} | {b for _, b in labels["branches"]}
        other = found - expected
        say()
        say("== planted near-duplicates found ==")
        say(
            f"  recall: {len(true_found)} of {len(expected)} planted pairs"
            f" ({len(true_found) / max(len(expected), 1):.3f});"
            f" judged 'not the same' and skipped: {report.skipped_negative} of {len(judged)}"
        )
        say(
            "  by variation: "
            + ", ".join(f"{how} {hit}/{total}" for how, (hit, total) in sorted(hows.items()))
        )
        say(
            f"  other pairs written: {len(other)} (branches of planted heads:"
            f" {len(found & branch_pairs)}; touching a planted record:"
            f" {sum(1 for p in other if planted_ids & set(p))};"
            f" among the bulk suppliers only: {sum(1 for p in other if not planted_ids & set(p))})"
        )
        say(f"  precision: {len(true_found) / max(len(found), 1):.3f}")

        # baseline 1: no blocking, on a sample
        base = all_pairs_baseline(url, args.sample, args.seed)
        per_pair = base["seconds"] / base["pairs"]
        say()
        say("== baseline: the same matcher over all pairs, no blocking ==")
        say(
            f"  sample of {base['records']:,} suppliers: {base['pairs']:,} pairs in"
            f" {base['seconds']:.1f} s ({per_pair * 1e6:.1f} µs per pair, one core);"
            f" {base['review']} for review"
        )
        say(
            f"  extrapolated to {n:,} records: {all_pairs:,} pairs,"
            f" {all_pairs * per_pair / 3600:,.1f} core-hours"
            f" ({all_pairs * per_pair / 86400 / 2:,.1f} days on 2 cores);"
            f" the blocked scan compares {all_pairs / max(report.pairs_compared, 1):,.0f}x fewer pairs"
        )

        # the command itself, in its own process: a second scan of everything (keys already
        # there, pairs re-scored), then a smaller n (a subtree)
        with psycopg.connect(libpq(url)) as conn:
            before = _row(conn.execute("SELECT count(*), max(id) FROM dedup_candidates"))
        again = cli_scan(url, [])
        with psycopg.connect(libpq(url)) as conn:
            after = _row(conn.execute("SELECT count(*), max(id) FROM dedup_candidates"))
        say()
        say("== second scan of all suppliers: `registry dedup scan --kind suppliers` ==")
        for line in again:
            say("  " + line)
        say(
            f"  review queue rows before / after: {before[0]:,} / {after[0]:,}"
            f" (largest id {before[1]} / {after[1]}: re-scored, no duplicates)"
        )
        small = cli_scan(url, ["--within", args.within_small])
        say()
        say(f"== smaller n: `registry dedup scan --kind suppliers --within {args.within_small}` ==")
        for line in small:
            say("  " + line)
        engine.dispose()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    print(f"written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
