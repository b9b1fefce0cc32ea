"""Resident identity card numbers (居民身份证号码, GB 11643-1999) in `registry/identifiers.py`.

Pure tests: no database fixtures. The check character is ISO 7064 MOD 11-2: weights
w_i = 2^(17-i) mod 11 over the first 17 digits, none of them 0 mod 11. A single-digit change at
position i alters the sum by (b - a)·w_i with 0 < |b - a| ≤ 9 < 11, which 11 (prime) never
divides, so every such change is caught by the check character, whatever else it breaks.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from registry.identifiers import (
    IdentifierError,
    Masked,
    Sex,
    check_resident_id_facts,
    make_resident_id,
    normalize_resident_id,
    resident_id_birth_date,
    resident_id_check,
    resident_id_sex,
    validate_resident_id,
)

_REGIONS_CSV = Path(__file__).resolve().parents[1] / "registry" / "data" / "regions_150000.csv"


def _inner_mongolia_counties() -> list[str]:
    with _REGIONS_CSV.open(encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return [row["code"] for row in csv.DictReader(lines) if row["level"] == "county"]


COUNTIES = _inner_mongolia_counties()
# province-level codes as the brief states them: 11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71, 81, 82
_SPANS = [(11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71), (81, 82)]
PROVINCES = {str(n) for low, high in _SPANS for n in range(low, high + 1)}
SAMPLE = "11010519491231002X"  # the well-known valid sample: 北京朝阳, 1949-12-31, female


def test_the_regions_are_real_inner_mongolia_county_codes():
    assert {"150102", "150202", "150602", "152502"} <= set(COUNTIES)
    assert len(COUNTIES) > 90
    assert all(re.fullmatch(r"15\d{4}", code) for code in COUNTIES)


def is_chinese(message: str) -> bool:
    return message.startswith("居民身份证号码") or bool(re.search(r"[\u4e00-\u9fff]{4}", message))


def refusal(value: str, **kwargs: date) -> str:
    """The message validate_resident_id refuses `value` with (and it is Chinese)."""
    with pytest.raises(IdentifierError) as err:
        validate_resident_id(value, **kwargs)
    message = str(err.value)
    assert is_chinese(message), message
    return message


def with_check(body: str) -> str:
    return body + resident_id_check(body)


def full_width(text: str) -> str:
    """ASCII → the FULLWIDTH forms (U+FF01…U+FF5E)."""
    out = []
    for ch in text:
        wide = chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch
        assert wide == ch or unicodedata.name(wide).startswith("FULLWIDTH")
        out.append(wide)
    return "".join(out)


# --- strategies -------------------------------------------------------------------------------

sexes = st.sampled_from(Sex)
births = st.dates(min_value=date(1940, 1, 1), max_value=date(2005, 12, 31))


@st.composite
def resident_ids(draw: st.DrawFn) -> tuple[str, date, Sex]:
    born, sex = draw(births), draw(sexes)
    number = make_resident_id(draw(st.sampled_from(COUNTIES)), born, draw(st.integers(0, 499)), sex)
    return number, born, sex


# --- known examples ---------------------------------------------------------------------------


def test_the_well_known_sample_is_valid():
    assert validate_resident_id(SAMPLE) == SAMPLE
    assert resident_id_birth_date(SAMPLE) == date(1949, 12, 31)
    assert resident_id_sex(SAMPLE) is Sex.female  # 17th digit 2
    assert resident_id_check(SAMPLE[:17]) == "X"
    assert ric.is_valid(SAMPLE)


def test_the_check_weights_are_those_of_gb_11643():
    # the sum with the published weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, by hand
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(SAMPLE[:17], weights, strict=True))
    assert total % 11 == 2  # and 2 → X in the table 1 0 X 9 8 7 6 5 4 3 2
    assert "10X98765432"[total % 11] == "X"


@pytest.mark.parametrize(
    ("region", "born", "sequence", "sex", "expected"),
    [
        ("150102", date(1980, 1, 1), 0, Sex.female, "150102198001010006"),
        ("150102", date(1980, 1, 1), 0, Sex.male, "150102198001010014"),
        ("150202", date(1965, 7, 15), 61, Sex.male, "150202196507151232"),
        ("152502", date(2000, 2, 29), 499, Sex.female, "152502200002299984"),
        ("110105", date(1949, 12, 31), 1, Sex.female, SAMPLE),
    ],
)
def test_made_numbers(region, born, sequence, sex, expected):
    number = make_resident_id(region, born, sequence, sex)
    assert number == expected
    assert ric.calc_check_digit(number) == number[-1]  # python-stdnum agrees on the check
    assert validate_resident_id(number) == number
    assert resident_id_birth_date(number) == born
    assert resident_id_sex(number) is sex


@pytest.mark.parametrize(
    ("region", "sequence"),
    [("15010", 0), ("1501020", 0), ("15O102", 0), ("150102", -1), ("150102", 500)],
)
def test_make_resident_id_refuses_bad_arguments(region, sequence):
    with pytest.raises(ValueError):
        make_resident_id(region, date(1980, 1, 1), sequence, Sex.male)


# --- generated valid numbers ------------------------------------------------------------------


@given(resident_ids())
def test_generated_numbers_validate_and_round_trip(generated):
    number, born, sex = generated
    assert re.fullmatch(r"15\d{15}[0-9X]", number)
    assert validate_resident_id(number) == number
    assert normalize_resident_id(number) == number
    assert resident_id_birth_date(number) == born
    assert resident_id_sex(number) is sex
    assert check_resident_id_facts(number, birth_date=born, sex=sex) == []
    assert check_resident_id_facts(number, birth_date=None, sex=None) == []
    assert ric.calc_check_digit(number) == number[-1]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_the_check_character_agrees_with_python_stdnum(body):
    assert resident_id_check(body) == ric.calc_check_digit(body + "0")


@given(resident_ids(), st.data())
def test_full_width_lower_case_and_spaced_input_is_normalized(generated, data):
    number = generated[0]
    lower = number.lower()
    assert validate_resident_id(lower) == number
    assert validate_resident_id(full_width(number)) == number
    assert validate_resident_id(full_width(lower)) == number
    cut = data.draw(st.integers(0, 18))
    space = data.draw(st.sampled_from([" ", "\u3000", "  ", "\t"]))
    spaced = " " + lower[:cut] + space + lower[cut:] + "\u3000"
    assert normalize_resident_id(spaced) == number
    assert validate_resident_id(spaced) == number


def test_a_lower_case_x_is_accepted():
    assert normalize_resident_id(SAMPLE.lower()) == SAMPLE
    assert validate_resident_id(SAMPLE.lower()) == SAMPLE
    assert validate_resident_id(full_width(SAMPLE[:-1]) + "ｘ") == SAMPLE


# --- refusals ---------------------------------------------------------------------------------


@given(resident_ids(), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_in_the_first_17_is_refused(generated, position, delta):
    number = generated[0]
    digit = str((int(number[position]) + delta) % 10)
    changed = number[:position] + digit + number[position + 1 :]
    assert changed != number
    assert resident_id_check(changed[:17]) != changed[17]  # the check alone catches it
    message = refusal(changed)
    try:
        structurally_fine = changed[:2] in PROVINCES and (
            date(1900, 1, 1) <= resident_id_birth_date(changed) <= date.today()
        )
    except ValueError:
        structurally_fine = False
    if structurally_fine:
        assert "校验位不正确" in message
    else:
        assert "地址码" in message or "出生日期" in message


@given(resident_ids(), st.sampled_from("0123456789X"))
def test_a_wrong_check_character_is_refused(generated, check):
    number = generated[0]
    if check == number[-1]:
        return
    assert "校验位不正确" in refusal(number[:-1] + check)


@pytest.mark.parametrize(
    "birth",
    [
        "19800230",
        "19801301",
        "19800001",
        "19800100",
        "19800431",
        "19900229",
        "19000229",
        "20230229",
    ],
)
@given(region=st.sampled_from(COUNTIES), order=st.integers(0, 999))
def test_impossible_birth_dates_are_refused_by_name(birth, region, order):
    number = with_check(f"{region}{birth}{order:03d}")  # a correct check character
    message = refusal(number)
    assert "出生日期" in message and birth in message


def test_leap_days_that_exist_are_accepted():
    for born in (date(2000, 2, 29), date(1984, 2, 29), date(1904, 2, 29)):
        number = make_resident_id("150102", born, 7, Sex.male)
        assert validate_resident_id(number) == number


def test_birth_dates_in_the_future_or_before_1900_are_refused():
    born = date(2030, 6, 1)
    number = make_resident_id("150102", born, 3, Sex.female)
    message = refusal(number, today=date(2030, 5, 31))
    assert "出生日期" in message and "晚于今天" in message
    assert validate_resident_id(number, today=born) == number  # born today is fine
    assert "出生日期" in refusal(make_resident_id("150102", date(2999, 1, 1), 0, Sex.male))

    old = make_resident_id("150102", date(1899, 12, 31), 3, Sex.male)
    message = refusal(old)
    assert "出生日期" in message and "1900" in message
    first = make_resident_id("150102", date(1900, 1, 1), 3, Sex.male)
    assert validate_resident_id(first) == first


@given(resident_ids(), st.integers(0, 99))
def test_numbers_outside_the_province_level_codes_are_refused(generated, province):
    prefix = f"{province:02d}"
    number = with_check(prefix + generated[0][2:17])
    if prefix in PROVINCES:
        assert validate_resident_id(number) == number
        return
    message = refusal(number)
    assert "地址码" in message and number[:6] in message


@given(
    st.integers(0, 40)
    .filter(lambda n: n != 18)
    .flatmap(lambda n: st.text(alphabet="0123456789X", min_size=n, max_size=n))
)
def test_wrong_length_names_the_length(text):
    assert f"应为 18 位,实际 {len(text)} 位" in refusal(text)


@given(resident_ids(), st.integers(0, 17), st.sampled_from("ABxYZ-#.*/\u0661\u0968"))
def test_characters_other_than_17_digits_and_a_digit_or_x_are_refused(generated, position, ch):
    number = generated[0]
    if position == 17 and ch in "xX":
        return  # a lower-case x check character is fine (a wrong one fails its check)
    bad = number[:position] + ch + number[position + 1 :]
    message = refusal(bad)
    assert "前 17 位应为数字" in message


def test_non_ascii_digits_are_not_digits_here():
    arabic = "".join(chr(0x0660 + int(d)) for d in SAMPLE[:17]) + "X"  # ARABIC-INDIC DIGITs
    assert "格式不正确" in refusal(arabic)


# --- stated facts against the number ----------------------------------------------------------


@given(resident_ids())
def test_a_mismatched_sex_is_reported(generated):
    number, born, sex = generated
    other = Sex.female if sex is Sex.male else Sex.male
    problems = check_resident_id_facts(number, birth_date=born, sex=other)
    assert [field for field, _ in problems] == ["sex"]
    assert problems[0][1].startswith("性别与身份证号码不一致")
    assert is_chinese(problems[0][1])


@given(resident_ids(), st.integers(-20000, 20000).filter(bool))
def test_a_mismatched_birth_date_is_reported(generated, shift):
    number, born, sex = generated
    stated = date.fromordinal(born.toordinal() + shift)
    problems = check_resident_id_facts(number, birth_date=stated, sex=sex)
    assert problems == [("birth_date", f"出生日期与身份证号码不一致(号码中为 {born.isoformat()})")]


def test_both_mismatches_are_reported_and_unstated_facts_are_not_checked():
    number = make_resident_id("150602", date(1980, 1, 1), 12, Sex.male)
    problems = check_resident_id_facts(number, birth_date=date(1980, 1, 2), sex=Sex.female)
    assert problems == [
        ("birth_date", "出生日期与身份证号码不一致(号码中为 1980-01-01)"),
        ("sex", "性别与身份证号码不一致(号码中为 男)"),
    ]
    assert check_resident_id_facts(number, birth_date=None, sex=Sex.female)[0][0] == "sex"
    assert check_resident_id_facts(number, birth_date=date(1980, 1, 2), sex=None)[0][0] == (
        "birth_date"
    )


def test_sex_is_a_string_enum():
    assert Sex("male") is Sex.male and Sex("female") is Sex.female
    assert Sex.male == "male" and str(Sex.female) == "female"
    assert check_resident_id_facts(SAMPLE, birth_date=None, sex=Sex("female")) == []


# --- masking ----------------------------------------------------------------------------------


@given(resident_ids())
def test_masked_number_keeps_six_and_four(generated):
    number = generated[0]
    shown = Masked.id_number(number)
    assert shown == number[:6] + "*" * 8 + number[-4:]
    assert re.fullmatch(r"15\d{4}\*{8}\d{3}[0-9X]", shown)


def test_masked_shape_of_a_known_number():
    assert Masked.id_number("150102198001011236") == "150102********1236"
    assert validate_resident_id("150102198001011236") == "150102198001011236"
    assert Masked.id_number(SAMPLE) == "110105********002X"
