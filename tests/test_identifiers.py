"""Property tests of identifiers (`registry/identifiers.py`, the ID-number validator in
`models/organization.py`): USCC check characters and normalization, phones, resident ID numbers,
masking.

Why every single substitution and every adjacent transposition of a USCC is caught
--------------------------------------------------------------------------------
The last character is a mod-31 check over the first 17, each character valued by its index in
the 31-character alphabet, with weights w_i = 3^i mod 31 (1, 3, 9, 27, 19, …). 31 is prime and no
weight is 0 mod 31, so:

- substitution at a position i < 17 changes the sum by (b - a)·w_i with 0 < |b - a| < 31, which is
  never 0 mod 31: the final check no longer matches. Substituting the final character itself is
  caught trivially. (The GB 11714 mod-11 check inside the organization code would *miss* a body
  change by 11, e.g. 0↔B, 1↔C, because it values letters A=10…Z=35 – but the mod-31 check is
  over all 17 characters, so no single substitution can pass both, and none can pass the last.)
- swapping positions i, i+1 < 17 (values a ≠ b) changes the sum by (a - b)(w_{i+1} - w_i) =
  (a - b)·2·w_i, again never 0 mod 31.
- swapping the organization-code check (position 17) with the final check (18), values p ≠ q: the
  new 17-character sum is S + (q - p)·w_16 with w_16 = 28 ≡ -3, so the new final check is
  q + 3(q - p) mod 31; it equals the new last character p only if 4(q - p) ≡ 0, i.e. p = q.
So both claims hold for every valid code, not just most; the tests state them without exception.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from stdnum.cn import ric

from models.organization import LegalRepresentative
from registry.identifiers import (
    _AUTHORITY_CATEGORIES,
    _USCC_ALPHABET,
    IdentifierError,
    Masked,
    make_uscc,
    normalize_uscc,
    organization_code_check,
    validate_phone,
    validate_uscc,
)

_REGIONS_CSV = Path(__file__).resolve().parents[1] / "registry" / "data" / "regions_150000.csv"


def _shipped_regions() -> list[str]:
    with _REGIONS_CSV.open(encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return [row["code"] for row in csv.DictReader(lines)]


# a few real codes of other provinces: 北京东城, 上海浦东, 深圳, 杭州, 深圳南山, 广州天河
OTHER_REGIONS = ["110101", "310115", "440300", "330100", "440305", "440106"]
REGIONS = _shipped_regions() + OTHER_REGIONS
AUTHORITY_CATEGORIES = sorted(a + c for a, cats in _AUTHORITY_CATEGORIES.items() for c in cats)
FORBIDDEN = "IOSVZ"  # letters GB 32100 leaves out of the alphabet


def test_the_strategies_draw_from_real_data():
    assert len(REGIONS) > 100 and "150102" in REGIONS and "150000" in REGIONS
    assert all(re.fullmatch(r"[1-8]\d{5}", r) for r in REGIONS)
    assert "91" in AUTHORITY_CATEGORIES and "12" in AUTHORITY_CATEGORIES


# --- strategies -------------------------------------------------------------------------------

org_bodies = st.text(alphabet=_USCC_ALPHABET, min_size=8, max_size=8)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    return make_uscc(
        draw(st.sampled_from(AUTHORITY_CATEGORIES)),
        draw(st.sampled_from(REGIONS)),
        draw(org_bodies),
    )


def full_width(text: str) -> str:
    """ASCII → the FULLWIDTH forms (U+FF01…U+FF5E), built and checked with unicodedata."""
    out = []
    for ch in text:
        if "!" <= ch <= "~":
            wide = chr(ord(ch) + 0xFEE0)
            assert unicodedata.name(wide).startswith("FULLWIDTH")
            out.append(wide)
        else:
            out.append(ch)
    return "".join(out)


_SEPARATORS = [" ", "-", "\u3000", "\uff0d", "\t", "  ", " - "]  # ideographic space, FW hyphen


@st.composite
def written_variants(draw: st.DrawFn, code: str) -> str:
    """The same code as people type it: mixed case, full-width characters, spaces and hyphens."""
    chars = [
        ch.lower() if draw(st.booleans()) else ch  # per-character case
        for ch in code
    ]
    chars = [full_width(ch) if draw(st.booleans()) else ch for ch in chars]
    cuts = draw(st.lists(st.integers(0, len(chars)), max_size=5))
    for cut in sorted(cuts, reverse=True):
        chars.insert(cut, draw(st.sampled_from(_SEPARATORS)))
    return "".join(chars)


# --- unified social credit codes --------------------------------------------------------------


@given(usccs())
def test_generated_codes_validate_and_normalize_to_themselves(code):
    assert len(code) == 18 and set(code) <= set(_USCC_ALPHABET)
    assert organization_code_check(code[8:16]) == code[16]
    assert validate_uscc(code) == code
    assert normalize_uscc(code) == code


@given(st.data())
def test_lower_case_full_width_and_separated_variants_normalize_to_the_code(data):
    code = data.draw(usccs())
    variant = data.draw(written_variants(code))
    assert validate_uscc(variant) == code
    assert validate_uscc(code.lower()) == code
    assert validate_uscc(full_width(code)) == code
    assert validate_uscc(full_width(code.lower())) == code


@given(usccs(), st.integers(0, 17), st.sampled_from(_USCC_ALPHABET))
def test_any_single_substitution_is_refused(code, position, replacement):
    if replacement == code[position]:
        replacement = _USCC_ALPHABET[(_USCC_ALPHABET.index(replacement) + 1) % 31]
    changed = code[:position] + replacement + code[position + 1 :]
    assert changed != code
    with pytest.raises(IdentifierError):
        validate_uscc(changed)


@given(usccs(), st.integers(0, 16))
def test_any_adjacent_transposition_of_different_characters_is_refused(code, position):
    # the first pair of different adjacent characters at or after `position` (wrapping round)
    positions = [(position + k) % 17 for k in range(17)]
    i = next((p for p in positions if code[p] != code[p + 1]), None)
    assert i is not None  # 18 equal characters cannot be a valid code (checked below)
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    with pytest.raises(IdentifierError):
        validate_uscc(swapped)


def test_a_code_of_one_repeated_character_is_never_valid():
    for ch in _USCC_ALPHABET:
        with pytest.raises(IdentifierError):
            validate_uscc(ch * 18)


def test_the_organization_code_check_alone_misses_a_change_by_eleven_but_the_code_does_not():
    """Documents why the single-substitution claim rests on the final mod-31 check."""
    code = make_uscc("91", "150102", "MA0N1234")
    body = "MA0N1234"
    other = "MAB" + body[3:]  # 0 → B: +11 at weight 9, the mod-11 check cannot see it
    assert organization_code_check(other) == organization_code_check(body)
    with pytest.raises(IdentifierError, match="校验位不正确"):
        validate_uscc(code[:8] + other + code[16:])


@pytest.mark.parametrize(
    "code",
    [
        "914403001922038216",  # 华为技术有限公司
        "91330100716105852F",  # 阿里巴巴(中国)有限公司
        "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
        "91110000600037341L",  # python-stdnum's own example
    ],
)
def test_real_published_codes_validate(code):
    assert validate_uscc(code) == code
    assert validate_uscc(" " + code.lower()[:8] + "-" + code[8:] + " ") == code


@given(usccs(), st.integers(0, 17), st.sampled_from(FORBIDDEN + FORBIDDEN.lower()))
def test_letters_outside_the_alphabet_are_refused_by_name(code, position, letter):
    bad = code[:position] + letter + code[position + 1 :]
    with pytest.raises(IdentifierError) as err:
        validate_uscc(bad)
    message = str(err.value)
    named = re.match(r"统一社会信用代码含有不允许的字符:([^(]*)\(", message)
    assert named, message
    assert named.group(1) == letter.upper()  # the offending character itself, upper-cased
    assert "I、O、S、V、Z" in message


@given(
    st.integers(0, 40)
    .filter(lambda n: n != 18)
    .flatmap(lambda n: st.text(alphabet=_USCC_ALPHABET, min_size=n, max_size=n)),
    st.booleans(),
)
def test_wrong_length_names_the_length(text, separated):
    written = "-".join(text[i : i + 4] for i in range(0, len(text), 4)) if separated else text
    with pytest.raises(IdentifierError) as err:
        validate_uscc(written)
    assert f"应为 18 位,实际 {len(text)} 位" in str(err.value)


@given(usccs())
def test_invalid_authority_category_pairs_are_refused(code):
    pairs = {a + c for a in _USCC_ALPHABET for c in _USCC_ALPHABET} - set(AUTHORITY_CATEGORIES)
    for pair in sorted(pairs)[::37]:  # a spread sample of the ~950 invalid pairs
        with pytest.raises(IdentifierError, match=re.escape(pair)):
            validate_uscc(pair + code[2:])


# --- phones -----------------------------------------------------------------------------------


def digit_strings(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


mobiles = st.builds(
    lambda second, rest: "1" + second + rest, st.sampled_from("3456789"), digit_strings(9)
)


@st.composite
def landlines(draw: st.DrawFn) -> str:
    # area codes are 0 + 2–3 digits, never starting 00 (that is the international prefix)
    area = "0" + draw(st.sampled_from("123456789")) + draw(st.integers(1, 2).flatmap(digit_strings))
    number = draw(st.integers(7, 8).flatmap(digit_strings))
    hyphen = draw(st.sampled_from(["", "-"]))
    ext = draw(st.one_of(st.just(""), st.integers(1, 6).flatmap(digit_strings).map("-".__add__)))
    return area + hyphen + number + ext


@given(st.one_of(mobiles, landlines()))
def test_valid_phones_pass_unchanged(phone):
    assert validate_phone(phone) == phone


@given(mobiles, st.sampled_from(["+86", "0086", "+86 ", "0086 "]))
def test_mobiles_with_the_country_code_pass_without_it(phone, prefix):
    assert validate_phone(prefix + phone) == phone


@given(st.one_of(mobiles, landlines()), st.booleans())
def test_full_width_and_spaced_phones_normalize(phone, spaced):
    written = full_width(phone)
    if spaced:
        written = " " + written[:3] + "\u3000" + written[3:] + " "
    assert validate_phone(written) == phone


@given(st.text(alphabet=st.characters(exclude_categories=["Nd"]), max_size=20))
def test_text_without_digits_is_never_a_phone(junk):
    if any(unicodedata.normalize("NFKC", ch).isdigit() for ch in junk):
        return  # e.g. superscripts or circled digits fold to digits
    with pytest.raises(IdentifierError, match="电话号码格式不正确"):
        validate_phone(junk)


@given(st.one_of(mobiles, landlines()), st.data())
def test_a_phone_with_a_foreign_character_or_wrong_length_fails(phone, data):
    how = data.draw(st.sampled_from(["letter", "drop", "add"]))
    i = data.draw(st.sampled_from([i for i, ch in enumerate(phone) if ch.isdigit()]))
    if how == "letter":
        bad = phone[:i] + data.draw(st.sampled_from("abcxX#*.,/")) + phone[i + 1 :]
    elif how == "drop":
        bad = phone[:i] + phone[i + 1 :]
        # one digit fewer can still be a valid landline (8→7 digit number, 3→2 digit area code,
        # a shorter extension): claim the failure only where the published shapes say so
        if re.fullmatch(r"0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?", bad):
            return
    else:
        bad = phone + "0" * 9  # too long for a mobile, a landline number or an extension
    with pytest.raises(IdentifierError):
        validate_phone(bad)


@settings(max_examples=50)
@given(st.one_of(mobiles, landlines()), st.data())
@example("13800138000", None)
def test_accepted_phones_are_ascii_digits(phone, data):
    if data is None:  # the explicit example: Arabic-Indic digits after '13'
        written = "13" + "\u0668" * 9
    else:
        foreign = data.draw(st.characters(categories=["Nd"]))
        written = "".join(
            foreign if ch.isdigit() and data.draw(st.booleans()) else ch for ch in phone
        )
    try:
        accepted = validate_phone(written)
    except IdentifierError:
        return
    assert re.fullmatch(r"[0-9-]+", accepted), accepted


# --- resident ID numbers (through the data schema) --------------------------------------------


def with_check_digit(number17: str) -> str:
    return number17 + ric.calc_check_digit(number17 + "0")


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["110101", "150102"]))
    born = draw(st.dates(min_value=date(1986, 1, 1), max_value=date(2008, 12, 31)))
    sequence = draw(st.integers(0, 999))
    return with_check_digit(f"{region}{born:%Y%m%d}{sequence:03d}")


def rep(id_number: str) -> LegalRepresentative:
    return LegalRepresentative(name="张伟", id_number=id_number)


@given(resident_ids())
def test_valid_resident_ids_pass(number):
    assert rep(number).id_number == number
    assert rep(number.lower()).id_number == number  # a lower-case x check digit
    assert rep(" " + full_width(number.lower()) + " ").id_number == number


@given(resident_ids(), st.sampled_from("0123456789X"))
def test_a_wrong_check_digit_fails(number, check):
    if check == number[-1]:
        return
    with pytest.raises(ValidationError, match="居民身份证号码"):
        rep(number[:-1] + check)


@pytest.mark.parametrize(
    "birth",
    ["19901301", "19900230", "19900229", "19900431", "19900001", "19900100", "20230229"],
)
@given(region=st.sampled_from(["110101", "150102"]), sequence=st.integers(0, 999))
def test_impossible_birth_dates_fail_even_with_a_correct_check_digit(birth, region, sequence):
    number = with_check_digit(f"{region}{birth}{sequence:03d}")
    with pytest.raises(ValidationError, match="居民身份证号码"):
        rep(number)


@given(resident_ids(), st.integers(1, 17))
def test_wrong_lengths_fail(number, cut):
    with pytest.raises(ValidationError):
        rep(number[:cut])
    with pytest.raises(ValidationError):
        rep(number + number[:cut])


@pytest.mark.parametrize("number17", ["11010129990101123", "11010110000101123"])
def test_birth_dates_in_the_future_or_long_ago_fail(number17):
    with pytest.raises(ValidationError):
        rep(with_check_digit(number17))


# --- masking ----------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789X", max_size=25))
def test_masked_id_number_keeps_the_first_six_and_last_four(value):
    shown = Masked.id_number(value)
    if len(value) <= 10:
        assert shown == "****"
        return
    assert shown[:6] == value[:6] and shown[-4:] == value[-4:]
    assert set(shown[6:-4]) == {"*"} and len(shown) == len(value)
    assert shown != value


@given(st.one_of(mobiles, landlines(), st.text(alphabet="0123456789-", max_size=20)))
def test_masked_phone_keeps_three_and_four(value):
    shown = Masked.phone(value)
    digits = value.replace("-", "")
    if len(digits) < 8:
        assert shown == "****"
        return
    assert shown == digits[:3] + "****" + digits[-4:]
    assert shown not in (value, digits)
    assert sum(ch.isdigit() for ch in shown) == 7 < len(digits)  # never every digit


@given(st.text(alphabet="0123456789", max_size=32))
def test_masked_account_keeps_the_last_four(value):
    shown = Masked.account(value)
    assert shown == ("****" + value[-4:] if len(value) > 4 else "****")
    if len(value) > 4:
        assert shown != value


def test_area_codes_never_start_with_the_international_prefix():
    assert validate_phone("008604716600123") == "04716600123"  # 0086 = +86, then a landline
    for junk in ("00860000000", "0012345678"):
        with pytest.raises(IdentifierError):
            validate_phone(junk)
