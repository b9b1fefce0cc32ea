"""Near-duplicate matching of organizations (registry/matching.py): the pairs a bureau must see,
the pairs it must never be bothered with, and blocks that keep a scan near-linear."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.matching import REVIEW_THRESHOLD, blocking_keys, compare
from tests import orgdata

MENGCAO = {
    "name": "内蒙古蒙草生态环境(集团)股份有限公司",
    "address": "呼和浩特市赛罕区昭乌达路 216 号",
    "legal_representative": {"name": "王召明", "phone": "13904710000"},
}


@pytest.mark.parametrize(
    "variant",
    [
        "蒙草生态环境集团股份有限公司",  # region prefix and brackets dropped
        "內蒙古蒙草生態環境（集團）股份有限公司",  # traditional characters, full-width brackets
        "内蒙古蒙草生态环境(集团)股分有限公司",  # a typo in the legal form
        "内蒙古蒙草生太环境(集团)股份有限公司",  # a typo in the name
    ],
)
def test_variants_of_one_name_go_to_review_with_evidence(variant: str) -> None:
    match = compare(MENGCAO, {"name": variant, "address": "呼和浩特市赛罕区昭乌达路216号"})
    assert match.for_review, match.explain()
    assert match.score >= REVIEW_THRESHOLD
    assert match.explain().startswith("name after suffix normalization 0.9") or (
        match.explain().startswith("name after suffix normalization 1.00")
    )
    assert "address 1.00" in match.explain()  # blanks do not count


def test_a_branch_is_not_a_duplicate_of_its_head_office_or_of_another_branch() -> None:
    baotou = {"name": "内蒙古蒙草生态环境(集团)股份有限公司包头分公司"}
    ordos = {"name": "内蒙古蒙草生态环境(集团)股份有限公司鄂尔多斯分公司"}
    head = compare(MENGCAO, baotou)
    assert not head.for_review and head.vetoed and "分支机构" in head.vetoed
    assert not compare(baotou, ordos).for_review
    assert compare(baotou, {"name": "蒙草生态环境集团股份有限公司包头分公司"}).for_review


def test_different_companies_of_one_region_and_legal_form_stay_apart() -> None:
    for other in ("内蒙古伊利实业集团股份有限公司", "呼和浩特市蒙草科技有限公司"):
        match = compare(MENGCAO, {"name": other})
        assert not match.for_review, match.explain()


def test_two_valid_credit_codes_are_two_legal_entities() -> None:
    a = {**MENGCAO, "uscc": orgdata.uscc()}
    b = {**MENGCAO, "uscc": orgdata.uscc()}
    assert not compare(a, b).for_review
    same = compare(a, {"name": "蒙草生态", "uscc": a["uscc"]})
    assert same.score == 1.0 and same.explain() == "same USCC 1.00"


def test_a_shared_phone_and_representative_count() -> None:
    other = {"name": "蒙草环境工程有限公司"}
    with_phone = {**other, "contacts": [{"name": "李娜", "phone": "139-0471-0000"}]}
    assert compare(MENGCAO, with_phone).score > compare(MENGCAO, other).score
    assert "same phone" in compare(MENGCAO, with_phone).explain()


def test_variants_share_a_block() -> None:
    keys = blocking_keys(MENGCAO)
    for variant in ("蒙草生态环境集团股份有限公司", "內蒙古蒙草生態環境（集團）股份有限公司"):
        assert keys & blocking_keys({"name": variant})


@given(
    st.text(alphabet="蒙草生态环境集团股份有限公司内呼和浩特市科技分AB1 ", min_size=2, max_size=30)
)
def test_a_record_is_filed_under_few_blocks(name: str) -> None:
    """At most three keys per record: a scan's candidate pairs grow with the block sizes, not
    with the square of the registry."""
    assert len(blocking_keys({"name": name, "uscc": "91150102MA0N123408"})) <= 3
