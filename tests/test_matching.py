"""Near-duplicate matching (registry/matching.py): quality on labeled sets measured through
blocking, the per-kind rules a bureau relies on (branches, credit codes, ID numbers,
neighbouring models), the evidence a reviewer reads, and blocks that keep a scan near-linear."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.identifiers import Sex, make_resident_id, make_uscc
from registry.matching import (
    MATCHERS,
    REVIEW_THRESHOLD,
    Evidence,
    KeyRule,
    Match,
    blocking_keys,
    candidate_pairs,
    compare,
    matcher_for,
    scan_records,
)
from tests import orgdata
from tests.dedup_variants import KINDS, generate, measure

MENGCAO: dict[str, Any] = {
    "name": "内蒙古蒙草生态环境(集团)股份有限公司",
    "address": "呼和浩特市赛罕区昭乌达路 216 号",
    "legal_representative": {"name": "王召明", "phone": "13904710000"},
}
EXPERT, COMMODITY = MATCHERS["expert"], MATCHERS["commodity"]


# --- quality on labeled sets ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_quality_on_a_labeled_set_through_blocking(kind: str) -> None:
    """Seed 3 is neither the tuning seed (1) nor the bench's held-out seed (2)."""
    labeled = generate(kind, 1500, seed=3)
    quality = measure(labeled, MATCHERS[kind])
    assert quality.f1 >= 0.98, (quality.precision, quality.recall)
    assert quality.blocking_recall >= 0.98
    size = len(labeled.records)
    assert quality.candidates < size * (size - 1) // 2 // 20  # blocking compares few pairs


@pytest.mark.parametrize(
    ("kind", "hard"),
    [
        ("organization", ("branch",)),
        ("expert", ("namesake", "namesake, same employer", "namesake, same birth date")),
        ("commodity", ("neighbouring model number", "other suffix")),
    ],
)
def test_hard_non_duplicates_are_never_for_review(kind: str, hard: tuple[str, ...]) -> None:
    labeled = generate(kind, 1500, seed=4)
    matcher = MATCHERS[kind]
    pairs = list(labeled.pairs_noted(*hard))
    assert len(pairs) > 20
    for i, j, note in pairs:
        match = matcher.compare(labeled.records[i], labeled.records[j])
        assert not match.for_review, (note, match.explain())


def test_the_generator_is_deterministic_and_labels_pairs() -> None:
    one, two = generate("organization", 300, seed=7), generate("organization", 300, seed=7)
    assert one.records == two.records and one.labels == two.labels
    assert one.true_pairs() and all(i < j for i, j in one.true_pairs())
    assert sum("uscc" in r for r in one.records) < len(one.records) / 2  # mostly fuzzy evidence


# --- organizations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "蒙草生态环境集团股份有限公司",  # region prefix and brackets dropped
        "內蒙古蒙草生態環境（集團）股份有限公司",  # traditional characters, full-width brackets
        "内蒙古蒙草生态环境(集团)股分有限公司",  # a typo in the legal form
        "内蒙古蒙草生太环境(集团)股份有限公司",  # a typo in the name
        "蒙草生态",  # an abbreviation
    ],
)
def test_variants_of_one_name_go_to_review_with_evidence(variant: str) -> None:
    match = compare(MENGCAO, {"name": variant, "address": "呼和浩特市赛罕区昭乌达路216号"})
    assert match.for_review, match.explain()
    assert match.score >= REVIEW_THRESHOLD
    assert "name" in match.explain().split(",")[0]
    assert "same address 1.00" in match.explain()  # blanks and the city do not count


def test_a_mistyped_place_prefix_is_still_dropped() -> None:
    """`呼伦贝祥市` for 呼伦贝尔市: the place is one character off, not part of the name."""
    a = {
        "name": "呼伦贝尔市君海信息技术有限公司",
        "region_code": "150702",
        "address": "海拉尔区 1 号",
    }
    typo = {**a, "name": "呼伦贝祥市君海信息技术有限公司"}
    match = compare(a, typo)
    assert match.for_review and "same name after suffix normalization" in match.explain()
    # a name that only starts like a place keeps its start
    other = {**a, "name": "呼伦贝祥君海信息技术有限公司"}
    assert compare(a, other).evidence[0].score < 1.0


def test_a_branch_is_not_a_duplicate_of_its_head_office_or_of_another_branch() -> None:
    baotou = {"name": "内蒙古蒙草生态环境(集团)股份有限公司包头分公司"}
    ordos = {"name": "内蒙古蒙草生态环境(集团)股份有限公司鄂尔多斯分公司"}
    head = compare(MENGCAO, baotou)
    assert not head.for_review and head.vetoed and "分支机构" in head.vetoed
    assert not compare(baotou, ordos).for_review
    same_branch = {"name": "蒙草生态环境集团股份有限公司包头分公司", "region_code": "150203"}
    assert compare({**baotou, "region_code": "150203"}, same_branch).for_review
    # a name and nothing else is not enough evidence (imports without address or codes)
    assert not compare(baotou, {"name": same_branch["name"]}).for_review


def test_different_companies_of_one_region_and_legal_form_stay_apart() -> None:
    for other in ("内蒙古伊利实业集团股份有限公司", "呼和浩特市蒙草科技有限公司"):
        match = compare(MENGCAO, {"name": other})
        assert not match.for_review, match.explain()
    sibling = {  # one character apart, another address and representative
        "name": "内蒙古蒙草生态环境(集团)股份有限公司".replace("草", "原"),
        "address": "呼和浩特市赛罕区昭乌达路 18 号",
        "legal_representative": {"name": "李强", "phone": "13904719999"},
    }
    assert not compare(MENGCAO, sibling).for_review, compare(MENGCAO, sibling).explain()


def test_the_boss_s_other_company_is_not_a_duplicate() -> None:
    other = {**MENGCAO, "name": "内蒙古草原鹿王餐饮管理有限公司"}
    assert not compare(MENGCAO, other).for_review, compare(MENGCAO, other).explain()


def test_credit_codes_same_different_and_legacy_conversions() -> None:
    a = {**MENGCAO, "uscc": orgdata.uscc()}
    b = {**MENGCAO, "uscc": orgdata.uscc()}
    different = compare(a, b)
    assert not different.for_review and different.vetoed == "different USCCs: two legal entities"
    same = compare(a, {"name": "蒙草生态", "uscc": a["uscc"]})
    assert same.score == 1.0 and same.explain() == "same USCC 1.00"
    # a legacy conversion: another authority and region, the old organization code kept
    legacy = make_uscc("93", "150105", a["uscc"][8:16])
    converted = compare(a, {**MENGCAO, "name": "蒙草生态环境集团股份有限公司", "uscc": legacy})
    assert converted.for_review and converted.vetoed is None
    assert "same organization code in the USCC 1.00" in converted.explain()


def test_a_shared_phone_and_representative_count() -> None:
    other = {"name": "蒙草环境工程有限公司"}
    with_phone = {**other, "contacts": [{"name": "李娜", "phone": "139-0471-0000"}]}
    assert compare(MENGCAO, with_phone).score > compare(MENGCAO, other).score
    assert "same phone" in compare(MENGCAO, with_phone).explain()
    with_rep = {**other, "legal_representative": {"name": "王召明"}}
    assert "same legal representative 1.00" in compare(MENGCAO, with_rep).explain()


def test_variants_share_a_block() -> None:
    keys = blocking_keys(MENGCAO)
    for variant in (
        "蒙草生态环境集团股份有限公司",
        "內蒙古蒙草生態環境（集團）股份有限公司",
        "内蒙古孟草生态环境(集团)股份有限公司",  # a homophone in the first characters
        "内蒙古蒙早生态环境(集团)股份有限公司",  # a look-alike in the first characters
    ):
        assert keys & blocking_keys({"name": variant}), variant


@settings(max_examples=50)
@given(
    st.text(alphabet="蒙草生态环境集团股份有限公司内呼和浩特市科技分AB1 ", min_size=2, max_size=30)
)
def test_a_record_is_filed_under_few_blocks(name: str) -> None:
    """At most four keys per record: a scan's candidate pairs grow with the block sizes, not
    with the square of the registry."""
    record = {"name": name, "uscc": "91150102MA0N123408", "contacts": [{"phone": "13904710000"}]}
    assert len(blocking_keys(record)) <= 4
    for matcher in MATCHERS.values():
        assert len(matcher.keys) <= 4


# --- experts -------------------------------------------------------------------------------------


def _expert(
    name: str, born: date, sequence: int = 7, sex: Sex = Sex.female, **more: object
) -> dict[str, object]:
    return {
        "name": name,
        "id_number": make_resident_id("150102", born, sequence, sex),
        "sex": sex.value,
        "birth_date": born.isoformat(),
        "phone": "13904711234",
        "employer": {"name": "内蒙古大学"},
        "region_code": "150102",
        **more,
    }


def test_same_id_number_is_decisive() -> None:
    a = _expert("王丽", date(1980, 3, 12))
    match = EXPERT.compare(a, {**a, "name": "王力红", "phone": "13800000000"})
    assert match.score == 1.0 and match.explain() == "same ID number 1.00"


def test_a_homophone_name_and_a_transposed_birth_date_are_one_person() -> None:
    a = _expert("王丽", date(1980, 3, 12))
    b = _expert("王莉", date(1980, 12, 3))  # day and month swapped, in the ID number too
    match = EXPERT.compare(a, b)
    assert match.for_review, match.explain()
    assert "birth date transposed in the ID number" in match.explain()
    assert "name, same pinyin 0.95" in match.explain()
    assert "birth dates transposed 0.85" in match.explain()
    without_id = {k: v for k, v in b.items() if k != "id_number"}
    assert EXPERT.compare(a, without_id).for_review


def test_same_name_and_other_id_numbers_are_two_persons() -> None:
    a = _expert("王丽", date(1980, 3, 12))
    b = _expert("王丽", date(1975, 6, 30), sequence=123)  # same employer, phone and name
    match = EXPERT.compare(a, b)
    assert not match.for_review
    assert match.vetoed == "different ID numbers: two persons"


def test_a_different_sex_is_a_veto() -> None:
    a = _expert("王丽", date(1980, 3, 12))
    b = {k: v for k, v in a.items() if k != "id_number"} | {"sex": "male"}
    assert EXPERT.compare(a, b).vetoed == "different sex"


# --- commodities ---------------------------------------------------------------------------------


def _printer(brand: str, model: str, **more: object) -> dict[str, object]:
    return {
        "catalog_code": "A02020000",
        "name": "激光打印机",
        "brand": brand,
        "model": model,
        "specs": {"print_speed_ppm": 38, "duplex": True},
        "reference_price": {"amount": "2399.00"},
        **more,
    }


@pytest.mark.parametrize(
    ("brand", "model", "evidence"),
    [
        ("惠普", "HP LaserJet Pro M404dn", "same model after normalization 1.00"),
        ("HP", "laserjet-pro-m404DN", "same model after normalization 1.00"),
        ("Hewlett-Packard", "M404dn", "same model number, series name differs 0.95"),
    ],
)
def test_one_printer_under_two_models_is_for_review(brand: str, model: str, evidence: str) -> None:
    match = COMMODITY.compare(_printer("HP", "LaserJet Pro M404dn"), _printer(brand, model))
    assert match.for_review, match.explain()
    assert evidence in match.explain()
    assert "same brand after aliases 1.00" in match.explain()


def test_neighbouring_models_and_other_catalog_codes_are_apart() -> None:
    base = _printer("HP", "LaserJet Pro M404dn")
    neighbour = COMMODITY.compare(base, _printer("HP", "LaserJet Pro M405dn"))
    assert neighbour.vetoed and "different model numbers" in neighbour.vetoed
    assert not COMMODITY.compare(base, _printer("HP", "LaserJet Pro M404dw")).for_review
    other_class = {**base, "catalog_code": "A02010000"}
    assert not COMMODITY.compare(base, other_class).for_review
    assert list(candidate_pairs([base, other_class], COMMODITY)) == []


# --- the engine ----------------------------------------------------------------------------------


def test_kinds_map_to_matchers() -> None:
    assert {matcher_for(k).name for k in ("supplier", "agent", "purchaser")} == {"organization"}
    assert matcher_for("expert") is EXPERT and matcher_for("commodity") is COMMODITY
    with pytest.raises(ValueError):
        matcher_for("region")


def test_evidence_reads_like_a_reviewer_and_stores_as_json() -> None:
    match = Match(0.9, [Evidence("name", 0.93, "name after suffix normalization")], threshold=0.85)
    assert str(match.evidence[0]) == "name after suffix normalization 0.93"
    assert match.for_review and match.explain() == "name after suffix normalization 0.93"
    assert match.evidence_json() == [
        {"field": "name", "score": 0.93, "note": "name after suffix normalization"}
    ]
    assert not replace(match, vetoed="branches of different places").for_review


def test_an_oversized_block_is_compared_by_sorted_neighbourhood() -> None:
    """10,000 records under one key give fewer than 10,000 × window pairs, each once."""
    one_key = replace(MATCHERS["organization"], keys=(KeyRule("all", lambda r: "x"),))
    records = [{"name": f"公司{i:05d}"} for i in range(10_000)]
    pairs = list(candidate_pairs(records, one_key, max_block=100, window=10))
    assert len(pairs) <= 10_000 * 10
    assert len(set(pairs)) == len(pairs) and all(i < j for i, j in pairs)
    small = list(candidate_pairs(records[:50], one_key, max_block=100))
    assert len(small) == 50 * 49 // 2  # a small block: every pair


def test_a_pair_in_several_blocks_is_given_once() -> None:
    records: list[dict[str, Any]] = [
        dict(MENGCAO),
        {**MENGCAO, "name": "蒙草生态环境股份有限公司"},
        {"name": "伊利实业"},
    ]
    assert list(candidate_pairs(records, MATCHERS["organization"])) == [(0, 1)]
    found = list(scan_records(records, MATCHERS["organization"]))
    assert [(i, j) for i, j, _ in found] == [(0, 1)] and found[0][2].for_review


@pytest.mark.parametrize("kind", ["organization", "expert", "commodity"])
def test_stopping_at_a_veto_keeps_every_pair_for_review(kind: str) -> None:
    """Scans stop comparing a pair at its veto: the pairs for review, their scores and their
    evidence are exactly those of the full comparison."""
    from registry.matching import MATCHERS, candidate_pairs
    from tests.dedup_variants import generate

    matcher = MATCHERS[kind]
    labeled = generate(kind, 1500, seed=7)
    prepared = [matcher.prepare(r) for r in labeled.records]
    vetoed = 0
    for i, j in candidate_pairs(labeled.records, matcher):
        full = matcher.compare_prepared(prepared[i], prepared[j])
        fast = matcher.compare_prepared(prepared[i], prepared[j], stop_at_veto=True)
        assert fast.for_review == full.for_review
        assert fast.vetoed == full.vetoed
        if full.for_review:
            assert fast == full
        vetoed += full.vetoed is not None
    assert vetoed  # the shortcut was exercised
