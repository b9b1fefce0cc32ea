"""The labeled search query set (`tests/search_queries/demo_queries.json`) as data: its shape,
its size, that every answer is a published demo record, that no query holds a personal number,
and that it is what the generator makes of the current demo plan. No search runs here: hit rates
are measured by `bench/search_quality.py`."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from functools import cache
from typing import Any

import pytest

from models.organization import RecordKind
from registry.demo import plan_demo_commodities, plan_demo_experts, plan_demo_organizations
from registry.identifiers import IdentifierError, validate_resident_id
from search.text import fold
from tests.search_queries import generate
from tests.search_queries.generate import CLASSES, MIN_PER_CLASS, MIN_TOTAL, OUTPUT, Record

KIND_VALUES = {k.value for k in RecordKind}
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
SEPARATORS = re.compile(r"[\s\-_/.·]+")


@cache
def _document() -> dict[str, Any]:
    return json.loads(OUTPUT.read_text(encoding="utf-8"))


def _queries() -> list[dict[str, Any]]:
    return _document()["queries"]


def _records() -> dict[str, Record]:
    return generate.demo_plan().by_id


def _published() -> list[Record]:
    return list(generate.demo_plan().published)


def test_header_describes_the_set() -> None:
    header = _document()["header"]
    counts = Counter(q["class"] for q in _queries())
    assert header["seed"] == generate.SEED
    assert (header["organizations"], header["experts"], header["commodities"]) == (300, 60, 60)
    assert header["counts"] == {cls: counts[cls] for cls in CLASSES}
    assert header["total"] == len(_queries())


def test_enough_queries_in_every_class() -> None:
    counts = Counter(q["class"] for q in _queries())
    assert set(counts) == set(CLASSES)
    assert sum(counts.values()) >= MIN_TOTAL
    short = {cls: n for cls, n in counts.items() if n < MIN_PER_CLASS}
    assert not short, f"classes with fewer than {MIN_PER_CLASS} queries: {short}"


def test_every_query_is_well_formed() -> None:
    ids = [q["id"] for q in _queries()]
    assert len(ids) == len(set(ids))
    asked = Counter((q["q"], tuple(q["kinds"] or ())) for q in _queries())
    assert [key for key, n in asked.items() if n > 1] == []
    for q in _queries():
        assert re.fullmatch(rf"{q['class']}-\d{{3}}", q["id"]), q["id"]
        assert isinstance(q["q"], str) and q["q"].strip() == q["q"] and q["q"], q
        assert q["kinds"] is None or (q["kinds"] and set(q["kinds"]) <= KIND_VALUES), q
        expected = q["expected_ids"]
        assert q["expected_id"] == expected[0], q
        assert len(expected) == len(set(expected)) and 1 <= len(expected) <= 5, q
        assert q["note"], q


def test_answers_are_published_demo_records() -> None:
    records = _records()
    for q in _queries():
        for record_id in q["expected_ids"]:
            record = records.get(record_id)
            assert record is not None, f"{q['id']}: {record_id} is not in the demo plan"
            assert record.published, f"{q['id']}: {record.name} ({record.status}) is not published"
            if q["kinds"]:
                assert record.kind.value in q["kinds"], q
        target = records[q["expected_id"]]
        assert (q["target_kind"], q["target_status"], q["target_name"]) == (
            target.kind.value,
            target.status.value,
            target.name,
        )


def test_no_query_holds_an_id_number_a_phone_or_an_account() -> None:
    personal = {SEPARATORS.sub("", n).upper() for n in generate.demo_plan().personal_numbers}
    assert len(personal) > 500  # ID numbers, phones and accounts of 420 records
    records = _records()
    for q in _queries():
        compact = SEPARATORS.sub("", fold(q["q"])).upper()
        assert not [n for n in personal if n in compact], q["id"]
        assert not MOBILE.search(compact) and not LANDLINE.search(fold(q["q"])), q["id"]
        usccs = {records[i].uscc for i in q["expected_ids"]}
        for run in re.findall(r"\d{17}[\dX]", compact):
            try:
                validate_resident_id(run)
            except IdentifierError:
                continue
            assert run in usccs, f"{q['id']}: {run} reads as an ID number"


def _name_hits(text: str, pool: list[Record]) -> set[str]:
    needle = fold(text)
    return {r.id for r in pool if needle in r.folded}


@pytest.mark.parametrize("cls", ["exact_name", "core_name", "fragment2", "traditional"])
def test_name_queries_name_exactly_their_answers(cls: str) -> None:
    """Checked here straight from the names, not through the generator's rules: the published
    names that contain the (folded) query are the expected ones."""
    published = _published()
    for q in (q for q in _queries() if q["class"] == cls):
        assert _name_hits(q["q"], published) == set(q["expected_ids"]), q


def test_two_word_queries_name_exactly_their_answers() -> None:
    published = _published()
    for q in (q for q in _queries() if q["class"] == "two_words"):
        assert q["kinds"] == [q["target_kind"]], q
        place, word = q["q"].split(" ")
        pool = [r for r in published if r.kind.value == q["target_kind"]]
        assert _name_hits(place, pool) & _name_hits(word, pool) == set(q["expected_ids"]), q


def test_code_and_person_queries_point_at_their_answers() -> None:
    records = _records()
    for q in _queries():
        target = records[q["expected_id"]]
        if q["class"] == "uscc":
            assert q["q"].upper() == target.uscc, q
        elif q["class"] == "expert_name":
            assert q["kinds"] == ["expert"], q
            assert {records[i].name for i in q["expected_ids"]} == {q["q"]}, q
        elif q["class"] == "fullwidth":
            assert q["q"] != fold(q["q"]), q  # something in it is full-width
        elif q["class"] == "catalog_brand":
            code = q["q"].split(" ")[0]
            codes = {records[i].catalog_code or "" for i in q["expected_ids"]}
            assert all(c.startswith(code) for c in codes), q


def test_any_day_of_the_year_gives_the_same_records() -> None:
    """The set is planned as of a fixed day (the bench seeds as of it too). Experts' names
    depend on its year (their years of experience are drawn from a range set by their age),
    nothing depends on the day within the year."""

    def facts(as_of: date) -> list[tuple[Any, ...]]:
        plans: list[Any] = [
            *plan_demo_organizations(generate.ORGANIZATIONS, generate.SEED),
            *plan_demo_experts(generate.EXPERTS, generate.SEED, as_of=as_of),
            *plan_demo_commodities(generate.COMMODITIES, generate.SEED, as_of=as_of),
        ]
        return [
            (p.id, p.status, p.payload["name"], p.payload.get("uscc"), p.payload.get("model"))
            for p in plans
        ]

    planned = [(r.id, r.status, r.name, r.uscc, r.model) for r in generate.demo_plan().records]
    assert _document()["header"]["as_of"] == generate.AS_OF.isoformat()
    assert facts(date(generate.AS_OF.year, 12, 31)) == planned


def test_committed_set_is_what_the_generator_makes() -> None:
    made = generate.render(generate.document(generate.build()))
    assert OUTPUT.read_text(encoding="utf-8") == made, (
        "demo_queries.json is stale: run `python tests/search_queries/generate.py`"
    )


def test_held_out_set_is_current_and_shares_no_query_with_the_first() -> None:
    first = generate.build()
    held_out = generate.build(salt=generate.HELD_OUT, avoid=[q.q for q in first])
    made = generate.render(generate.document(held_out, salt=generate.HELD_OUT))
    assert generate.HELD_OUT_OUTPUT.read_text(encoding="utf-8") == made, (
        "heldout_queries.json is stale: run `python tests/search_queries/generate.py --held-out`"
    )
    assert len(held_out) >= MIN_TOTAL
    assert not {fold(q.q) for q in first} & {fold(q.q) for q in held_out}
