"""Normalization of e-mall goods for the commodity key (`registry/normalize.py`).

Pure unit tests: no database. Two kinds of claim – spellings of one product give one key, and
different products keep different keys – plus properties (idempotence, invariance under
full-width forms and extra spaces) that the unique index on the key relies on.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.normalize import (
    brand_aliases,
    commodity_key,
    normalize_brand,
    normalize_model,
    normalize_text,
)

HP_SPELLINGS = [
    "HP LaserJet Pro M404dn",
    "hp laserjet pro  m404dn",
    "ＨＰ ＬａｓｅｒＪｅｔ Ｐｒｏ Ｍ４０４ｄｎ",
]


def full_width(value: str) -> str:
    """ASCII to its full-width form (what a Chinese IME types), space to the ideographic space."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value
    )


# --- the HP example --------------------------------------------------------------------------


@pytest.mark.parametrize("model", HP_SPELLINGS)
@pytest.mark.parametrize("brand", ["HP", "hp", "ＨＰ", "惠普", "Hewlett-Packard"])
def test_every_spelling_of_the_hp_printer_gives_one_key(brand: str, model: str) -> None:
    assert commodity_key("A02020000", brand, model) == "A02020000|HP|LASERJETPROM404DN"


def test_key_takes_the_short_catalog_code_and_splits_back() -> None:
    key = commodity_key("a0202", "惠普", "LaserJet Pro M404dn")
    assert key == "A02020000|HP|LASERJETPROM404DN"
    assert key.split("|") == ["A02020000", "HP", "LASERJETPROM404DN"]


@pytest.mark.parametrize(
    ("code", "brand", "model"),
    [
        ("A0202000", "HP", "M404dn"),  # 8 characters
        ("D02020000", "HP", "M404dn"),  # no such category letter
        ("A00010000", "HP", "M404dn"),  # non-zero pair below a zero pair
        ("A02020000", " - · ", "M404dn"),  # brand empty once normalized
        ("A02020000", "HP", " -/_ "),  # model empty once normalized
    ],
)
def test_key_rejects_bad_parts_with_a_chinese_message(code: str, brand: str, model: str) -> None:
    with pytest.raises(ValueError, match=r"品目编码|品牌|型号"):
        commodity_key(code, brand, model)


def test_same_model_in_different_catalog_classes_gives_different_keys() -> None:
    # 长城 is both a car brand and a computer brand; the catalog code keeps them apart
    assert commodity_key("A02030000", "长城", "炮") != commodity_key("A02010000", "长城", "炮")


# --- normalize_text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  ＨＰ　LaserJet\t Pro\n", "HP LaserJet Pro"),  # case kept, ideographic space folded
        ("内蒙古\u200b自治区\ufeff", "内蒙古自治区"),  # invisible characters dropped
        ("（中国）１２３", "(中国)123"),
        ("", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


# --- brands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("惠普", "HP"),
        ("HP", "HP"),
        ("hp", "HP"),
        ("Hewlett-Packard", "HP"),
        ("HEWLETT PACKARD", "HP"),
        ("hewlett_packard", "HP"),
        ("HP Inc.", "HP"),
        ("ＨＰ", "HP"),
        ("惠普（HP）", "HP"),
        ("HP®", "HP"),
        ("联想", "LENOVO"),
        ("联想(中国)", "LENOVO"),
        ("Lenovo Group Limited", "LENOVO"),
        ("戴尔", "DELL"),
        ("华为", "HUAWEI"),
        ("佳能", "CANON"),
        ("Canon Co., Ltd.", "CANON"),
        ("爱普生", "EPSON"),
        ("兄弟", "BROTHER"),
        ("理光", "RICOH"),
        ("京瓷", "KYOCERA"),
        ("奔图", "PANTUM"),
        ("得力", "DELI"),
        ("海尔", "HAIER"),
        ("格力", "GREE"),
        ("美的", "MIDEA"),
        ("海信", "HISENSE"),
        ("小米", "XIAOMI"),
        ("苹果", "APPLE"),
        ("三星", "SAMSUNG"),
        ("索尼", "SONY"),
        ("宏碁", "ACER"),
        ("华硕", "ASUS"),
        ("清华同方", "TONGFANG"),
        ("同方", "TONGFANG"),
        ("Tsinghua Tongfang", "TONGFANG"),
        ("浪潮", "INSPUR"),
        ("曙光", "SUGON"),
        ("中科曙光", "SUGON"),
        ("新华三", "H3C"),
        ("中兴", "ZTE"),
        ("海康威视", "HIKVISION"),
        ("大华", "DAHUA"),
        ("比亚迪", "BYD"),
        ("长城", "GREATWALL"),
        ("Great Wall", "GREATWALL"),
        ("长城汽车有限公司", "GREATWALL"),
        ("大众牌", "VOLKSWAGEN"),
        ("一汽-大众", "VOLKSWAGEN"),
        ("TP-LINK", "TPLINK"),
    ],
)
def test_brand_aliases_fold_to_the_canonical_brand(raw: str, canonical: str) -> None:
    assert normalize_brand(raw) == canonical
    assert normalize_brand(full_width(raw)) == canonical


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("HP", "HPE"),  # Hewlett Packard Enterprise is another company
        ("Hewlett-Packard", "Hewlett Packard Enterprise"),
        ("富士施乐", "施乐"),
        ("Mico", "MI"),  # a bare CO suffix is not stripped: MICO is not 小米
        ("格之格", "惠普"),  # an unknown brand is never merged with a known one
        ("惠普兼容", "惠普"),
    ],
)
def test_brands_that_stay_different(one: str, other: str) -> None:
    assert normalize_brand(one) != normalize_brand(other)


def test_unknown_brand_is_compacted_not_guessed() -> None:
    assert normalize_brand(" 格之格 ") == "格之格"
    assert normalize_brand("Ge-Zhi Ge") == "GEZHIGE"


def test_alias_data_is_consistent() -> None:
    aliases = brand_aliases()
    canonical = set(aliases.values())
    assert len(canonical) >= 30
    for brand in canonical:
        assert normalize_brand(brand) == brand  # canonical names are in key form
        assert brand.isupper() or not brand.isascii()
    for spelling, brand in aliases.items():
        assert normalize_brand(spelling) == brand


# --- models ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["M404dn", "M404 dn", "m404-dn", "M404_DN", "M404/dn", "M404.dn", "Ｍ４０４ｄｎ"]
)
def test_model_separators_and_width_are_folded(spelling: str) -> None:
    assert normalize_model(spelling) == "M404DN"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("M404dn", "M404n"),
        ("LaserJet Pro M404dn", "LaserJet Plus M404dn"),
        ("Pro", "Plus"),
        ("Pro+", "Pro"),
        ("M404dn", "M405dn"),  # digits are never altered
        ("M0404", "M404"),  # leading zeros kept
        ("M4O4", "M404"),  # letter O is not digit 0
        ("1.5T", "15T"),  # a decimal point between digits is kept
        ("V1.0", "V10"),
        ("iPhone 15", "iPhone 15 Plus"),
        ("ThinkPad X1 Carbon Gen 11", "ThinkPad X1 Carbon Gen 12"),
    ],
)
def test_models_that_must_stay_different(one: str, other: str) -> None:
    assert normalize_model(one) != normalize_model(other)
    assert normalize_model(one, "HP") != normalize_model(other, "HP")


@pytest.mark.parametrize(
    ("model", "brand", "expected"),
    [
        ("HP LaserJet Pro M404dn", "HP", "LASERJETPROM404DN"),
        ("HP LaserJet Pro M404dn", "惠普", "LASERJETPROM404DN"),
        ("惠普 LaserJet Pro M404dn", "HP", "LASERJETPROM404DN"),
        ("Hewlett Packard LaserJet Pro M404dn", "HP", "LASERJETPROM404DN"),
        ("惠普 HP LaserJet Pro M404dn", "HP", "LASERJETPROM404DN"),  # repeated twice
        ("HP1020", "HP", "1020"),  # letter -> digit is a boundary
        ("华为MateBook D 14", "华为", "MATEBOOKD14"),  # CJK -> Latin is a boundary
        ("MIX 4", "小米", "MIX4"),  # alias MI inside a word is not the brand
        ("HPE ProLiant DL380", "HP", "HPEPROLIANTDL380"),  # another company's name
        ("HP", "HP", "HP"),  # a model that is only the brand is kept
        ("LaserJet Pro M404dn", "HP", "LASERJETPROM404DN"),
        ("得力 3888 订书机", "得力", "3888订书机"),  # CJK kept
        ("HP LaserJet M404dn", None, "HPLASERJETM404DN"),  # no brand, nothing dropped
    ],
)
def test_model_drops_a_repeated_brand(model: str, brand: str | None, expected: str) -> None:
    assert normalize_model(model, brand) == expected


def test_model_keeps_meaningful_symbols() -> None:
    assert normalize_model("1920×1080") == normalize_model("1920*1080") == "1920*1080"
    assert normalize_model("M404dn (W1A53A)") == "M404DNW1A53A"
    assert normalize_model("LaserJet™ Pro") == "LASERJETPRO"  # not LASERJETTMPRO


# --- properties ------------------------------------------------------------------------------

# Realistic input: Latin letters, digits, separators, a few symbols and CJK; full-width forms
# come from the `full_width` transformation, extra spaces from the token joins below.
_TOKEN_CHARS = st.sampled_from(
    list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    + list("-_/.·,+#()")
    + list("惠普联想华为小米长城打印机型号")
)
_TOKENS = st.lists(st.text(_TOKEN_CHARS, min_size=1, max_size=8), min_size=1, max_size=5)
_BRANDS = st.one_of(
    st.none(),
    st.sampled_from(["HP", "惠普", "小米", "Lenovo", "华为", "格之格", "Great Wall"]),
    st.text(_TOKEN_CHARS, max_size=6),
)
_GAPS = st.lists(st.sampled_from([" ", "  ", "\t", "\u3000", " \u3000 "]), min_size=5, max_size=5)


@settings(max_examples=300)
@given(st.text(), st.one_of(st.none(), st.text(max_size=12)))
def test_normalizers_are_idempotent_on_any_unicode(value: str, brand: str | None) -> None:
    once_brand = normalize_brand(value)
    assert normalize_brand(once_brand) == once_brand
    once_model = normalize_model(value, brand)
    assert normalize_model(once_model, brand) == once_model
    once_text = normalize_text(value)
    assert normalize_text(once_text) == once_text


@settings(max_examples=300)
@given(_TOKENS, _BRANDS)
def test_normalizers_are_idempotent_on_realistic_input(
    tokens: list[str], brand: str | None
) -> None:
    value = " ".join(tokens)
    assert normalize_brand(normalize_brand(value)) == normalize_brand(value)
    once = normalize_model(value, brand)
    assert normalize_model(once, brand) == once
    assert normalize_model(once, normalize_brand(brand) if brand else brand) == once


@settings(max_examples=300)
@given(_TOKENS, _BRANDS)
def test_invariant_under_full_width_forms(tokens: list[str], brand: str | None) -> None:
    value = " ".join(tokens)
    assert normalize_brand(full_width(value)) == normalize_brand(value)
    wide_brand = full_width(brand) if brand is not None else None
    assert normalize_model(full_width(value), wide_brand) == normalize_model(value, brand)


@settings(max_examples=300)
@given(_TOKENS, _GAPS, _BRANDS)
def test_invariant_under_extra_spaces_between_tokens(
    tokens: list[str], gaps: list[str], brand: str | None
) -> None:
    plain = " ".join(tokens)
    spaced = "".join(t + g for t, g in zip(tokens, gaps, strict=False)).strip()
    assert normalize_brand(spaced) == normalize_brand(plain)
    assert normalize_model(spaced, brand) == normalize_model(plain, brand)
    assert normalize_model(" " + spaced + "\t", brand) == normalize_model(plain, brand)


@settings(max_examples=200)
@given(_TOKENS, _BRANDS)
def test_model_depends_on_the_brand_only_through_its_canonical_form(
    tokens: list[str], brand: str | None
) -> None:
    value = " ".join(tokens)
    if brand is not None:
        assert normalize_model(value, brand) == normalize_model(value, normalize_brand(brand))
