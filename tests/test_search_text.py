"""The shared text-analysis pipeline of search (`search/text.py`).

Pure unit tests: no database. Claims: one spelling per text (folding), one core per company
whatever its region prefix and legal form, place names as words, bigrams and Latin/digit parts
for recall, pinyin read as names are read, codes and pinyin queries recognized — and that a
query and a document are analyzed alike (deterministic, invariant under full-width forms).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.identifiers import Sex, make_resident_id, make_uscc
from search import text
from search.text import (
    BRANCH_MARKERS,
    REGION_NAMES,
    CodeKind,
    cjk_bigrams,
    fold,
    index_terms,
    pinyin_full,
    pinyin_initials,
    query_terms,
    segment,
    strip_company_suffix,
    word_tokens,
)

REGIONS_FILE = Path(__file__).resolve().parents[1] / "registry" / "data" / "regions_150000.csv"


def full_width(value: str) -> str:
    """ASCII to its full-width form (what a Chinese IME types), space to the ideographic space."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value
    )


@pytest.fixture(scope="module", autouse=True)
def _dictionaries() -> None:
    text.load()  # once, so that no test (or Hypothesis deadline) pays for it


# --- folding -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ＨＰ　ＬａｓｅｒＪｅｔ　Ｐｒｏ　Ｍ４０４ｄｎ", "hp laserjet pro m404dn"),
        ("內蒙古蒙草生態環境", "内蒙古蒙草生态环境"),
        ("內蒙古蒙草生態環境（集團）股份有限公司", "内蒙古蒙草生态环境(集团)股份有限公司"),
        ("  呼和浩特\t\n 建设  ", "呼和浩特 建设"),
        ("蒙\u200b草\ufeff", "蒙草"),
        ("錫林郭勒盟政府採購中心", "锡林郭勒盟政府采购中心"),
        ("鄂爾多斯市", "鄂尔多斯市"),
        ("ＵＳＣＣ：９１１５", "uscc:9115"),
        ("⼈民医院", "人民医院"),  # a Kangxi radical from a PDF
        ("", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded
    assert fold(folded) == folded


def test_fold_converts_by_phrase_and_settles() -> None:
    # zhconv converts by phrase: 乾隆 keeps its 乾, 乾燥 does not
    assert fold("乾隆") == "乾隆"
    assert fold("乾燥") == "干燥"
    # one pass of the phrase rules is not always final (瀋 → 渖 → 沈): fold runs to a fixed point
    once = fold("如瀋静")
    assert fold(once) == once


# --- core names ----------------------------------------------------------------------------------

MENGCAO_SPELLINGS = [
    "内蒙古蒙草生态环境(集团)股份有限公司",
    "蒙草生态环境(集团)股份有限公司",
    "蒙草生态环境集团股份有限公司",
    "内蒙古自治区蒙草生态环境有限公司",
    "（内蒙古）蒙草生态环境（集团）股份有限公司",
    "內蒙古蒙草生態環境（集團）股份有限公司",
    "内蒙古 蒙草生态环境 股份有限公司",
    "呼和浩特市蒙草生态环境有限责任公司",
    "蒙草生态环境(内蒙古)集团有限公司",
]


@pytest.mark.parametrize("name", MENGCAO_SPELLINGS)
def test_core_name_is_the_same_for_every_spelling(name: str) -> None:
    assert strip_company_suffix(name) == "蒙草生态环境"


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("呼和浩特市赛罕区鸿达科技有限公司", "鸿达科技"),
        ("呼和浩特鸿达科技有限公司", "鸿达科技"),
        ("鄂尔多斯市伊泰煤炭股份有限公司", "伊泰煤炭"),
        ("内蒙古伊利实业集团股份有限公司", "伊利实业"),
        ("蒙牛乳业(包头)有限责任公司", "蒙牛乳业"),
        ("华为技术(内蒙古)有限公司", "华为技术"),
        ("锡林郭勒盟塔拉建设有限公司", "塔拉建设"),
        ("土默特左旗金草原农牧业有限公司", "金草原农牧业"),
        ("呼和浩特市鸿达会计师事务所(普通合伙)", "鸿达会计师事务所"),
        ("HP Inc.", "hp"),
        # a short region name that starts a trade name stays when little would remain
        ("包头钢铁(集团)有限责任公司", "包头钢铁"),
        ("内蒙古电力(集团)有限责任公司", "内蒙古电力"),
        # nothing but region and legal form: the name itself
        ("内蒙古自治区", "内蒙古自治区"),
        ("有限公司", "有限公司"),
        ("", ""),
    ],
)
def test_core_name(name: str, core: str) -> None:
    assert strip_company_suffix(name) == core


def test_branches_stay_distinguishable() -> None:
    parent = strip_company_suffix("内蒙古蒙草生态环境(集团)股份有限公司")
    branch = strip_company_suffix("内蒙古蒙草生态环境(集团)股份有限公司鄂尔多斯分公司")
    other = strip_company_suffix("内蒙古蒙草生态环境(集团)股份有限公司包头分公司")
    assert branch == "蒙草生态环境鄂尔多斯分公司"
    assert len({parent, branch, other}) == 3
    assert (
        strip_company_suffix("中国工商银行股份有限公司呼和浩特分行") == "中国工商银行呼和浩特分行"
    )
    assert strip_company_suffix("呼和浩特铁路局分公司").endswith("分公司")
    for marker in BRANCH_MARKERS:
        assert strip_company_suffix(f"内蒙古鸿达科技有限公司赛罕{marker}").endswith(marker)


def test_region_names_match_the_shipped_region_file() -> None:
    """The analyzer keeps its own copy (a change of it changes terms, so indexes are rebuilt):
    a new edition of the region file must be taken over here, with ANALYZER_VERSION raised."""
    lines = REGIONS_FILE.read_text(encoding="utf-8").splitlines()
    rows = csv.DictReader(line for line in lines if not line.startswith("#"))
    assert sorted(REGION_NAMES) == sorted(row["name"] for row in rows)


# --- segmentation --------------------------------------------------------------------------------


@pytest.mark.parametrize("place", ["呼和浩特", "鄂尔多斯", "锡林郭勒", "巴彦淖尔", "乌兰察布"])
def test_place_names_are_single_words(place: str) -> None:
    assert place in word_tokens(place)
    assert place in word_tokens(f"{place}市鸿达科技有限公司")
    assert place in word_tokens(f"内蒙古自治区{place}市政府采购中心")
    assert text._segmenter().cut(place) == [place]  # jieba itself keeps it whole


def test_segmentation_of_a_name() -> None:
    words = word_tokens("巴彦淖尔市临河区农牧局")
    for word in ("巴彦淖尔市", "巴彦淖尔", "临河区", "临河", "农牧局"):
        assert word in words
    words = word_tokens("内蒙古蒙草生态环境(集团)股份有限公司")
    for word in ("内蒙古", "蒙草", "生态环境", "生态", "环境", "集团", "有限公司"):
        assert word in words
    assert "(" not in "".join(words)


def test_single_characters_are_not_words_but_bigram_material() -> None:
    assert "市" not in word_tokens("巴彦淖尔市临河区")
    assert cjk_bigrams("蒙") == ["蒙"]
    assert word_tokens("蒙") == []


def test_bigrams() -> None:
    assert cjk_bigrams("蒙草生态") == ["蒙草", "草生", "生态"]
    # per run of CJK characters: spaces, Latin and punctuation break runs
    assert cjk_bigrams("呼和浩特 建设") == ["呼和", "和浩", "浩特", "建设"]
    assert cjk_bigrams("A座5层") == ["座", "层"]
    assert cjk_bigrams("HP M404dn") == []
    # no duplicates, text order
    assert cjk_bigrams("草原草原") == ["草原", "原草"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M404dn", ["m404dn", "m", "404", "dn"]),
        ("Ｍ４０４ｄｎ", ["m404dn", "m", "404", "dn"]),
        ("HP LaserJet", ["hp", "laserjet"]),
        ("ISO9001", ["iso9001", "iso", "9001"]),
        ("1.5T", ["1.5t", "1.5", "t"]),
        ("2024", ["2024"]),
    ],
)
def test_latin_and_digit_runs(raw: str, expected: list[str]) -> None:
    assert word_tokens(raw) == expected


def test_segment_is_words_then_bigrams_without_duplicates() -> None:
    terms = segment("呼和浩特市M404dn")
    assert terms[: terms.index("dn") + 1] == word_tokens("呼和浩特市M404dn")
    assert set(cjk_bigrams("呼和浩特市")) <= set(terms)
    assert len(terms) == len(set(terms))


# --- pinyin --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hanzi", "pinyin"),
    [
        ("重庆", "chongqing"),
        ("长沙", "changsha"),
        ("银行", "yinhang"),
        ("行政", "xingzheng"),
        ("朝阳", "chaoyang"),
        ("乐山", "leshan"),
        ("厦门", "xiamen"),
        ("蚌埠", "bengbu"),
        ("单县", "shanxian"),
        ("长春", "changchun"),
        # the same inside names
        ("重庆银行股份有限公司", "chongqingyinhanggufenyouxiangongsi"),
        ("朝阳区人民政府", "chaoyangqurenminzhengfu"),
        ("朝阳路", "chaoyanglu"),
        ("中国工商银行呼和浩特支行", "zhongguogongshangyinhanghuhehaotezhihang"),
        # Inner Mongolia
        ("锡林郭勒盟", "xilinguolemeng"),
        ("霍林郭勒市", "huolinguoleshi"),
        ("康巴什区", "kangbashiqu"),
        ("克什克腾旗", "keshiketengqi"),
        ("商都县", "shangduxian"),
        ("昆都仑区", "kundulunqu"),
        ("呼和浩特", "huhehaote"),
        ("鄂尔多斯", "eerduosi"),
        ("巴彦淖尔", "bayannaoer"),
        ("乌兰察布", "wulanchabu"),
        ("敕勒川", "chilechuan"),
        # characters standing alone read as in names
        ("长荣科技", "changrongkeji"),
        ("新都", "xindu"),
        ("给排水", "jipaishui"),
        # ü typed as v; Latin and digits kept, punctuation dropped
        ("绿色", "lvse"),
        ("HP打印机", "hpdayinji"),
        ("蒙草(集团)", "mengcaojituan"),
        ("", ""),
    ],
)
def test_pinyin_full(hanzi: str, pinyin: str) -> None:
    assert pinyin_full(hanzi) == pinyin


@pytest.mark.parametrize(
    ("hanzi", "initials"),
    [
        ("内蒙古建设", "nmgjs"),
        ("内蒙古蒙草生态环境", "nmgmcsthj"),
        ("重庆", "cq"),
        ("银行", "yh"),
        ("呼和浩特", "hhht"),
        ("HP打印机", "hpdyj"),
    ],
)
def test_pinyin_initials(hanzi: str, initials: str) -> None:
    assert pinyin_initials(hanzi) == initials


def test_person_names_read_the_surname() -> None:
    assert pinyin_full("单田芳", person=True) == "shantianfang"
    assert pinyin_full("单田芳") == "dantianfang"  # not a person: 单 as in 单位
    assert pinyin_full("曾志伟", person=True) == "zengzhiwei"
    assert pinyin_full("尉迟恭", person=True) == "yuchigong"
    assert pinyin_initials("解放", person=True) == "xf"
    assert pinyin_full("巴特尔", person=True) == "bateer"


# --- documents -----------------------------------------------------------------------------------

MENGCAO = "内蒙古蒙草生态环境(集团)股份有限公司"


def test_index_terms_of_a_company() -> None:
    terms = index_terms(
        {
            "name": MENGCAO,
            "address": "内蒙古自治区呼和浩特市赛罕区新华大街1号",
            "legal_representative": "单田芳",
            "former_name": None,
        },
        person_fields=["legal_representative"],
    )
    assert terms["name_folded"] == [MENGCAO]
    assert terms["name_core"] == ["蒙草生态环境"]
    assert terms["name_pinyin"] == [
        "neimenggumengcaoshengtaihuanjingjituangufenyouxiangongsi",
        "mengcaoshengtaihuanjing",
    ]
    assert terms["name_initials"] == ["nmgmcsthjjtgfyxgs", "mcsthj"]
    assert {"neimenggu", "mengcao", "shengtai", "huanjing"} <= set(terms["name_pinyin_words"])
    assert {"蒙草", "生态环境"} <= set(terms["name_words"])
    assert "草生" in terms["name_bigrams"]
    # other fields: words and bigrams, no pinyin or core
    assert {"呼和浩特", "赛罕区", "新华", "大街", "1"} <= set(terms["address_words"])
    assert "address_pinyin" not in terms and "address_core" not in terms
    # a person: pinyin with the surname reading, no core
    assert terms["legal_representative_pinyin"] == ["shantianfang"]
    assert terms["legal_representative_initials"] == ["stf"]
    assert "legal_representative_core" not in terms
    # a missing value: every key, empty
    for kind in ("folded", "words", "bigrams", "pinyin", "pinyin_words", "initials", "core"):
        assert terms[f"former_name_{kind}"] == []
        assert all(len(v) == len(set(v)) for v in terms.values())


def test_name_fields_can_be_named() -> None:
    terms = index_terms({"title": "蒙草", "name": "蒙草"}, name_fields=["title"])
    assert "title_pinyin" in terms and "name_pinyin" not in terms
    assert "short_name_core" in index_terms({"short_name": "蒙草"})


@pytest.mark.parametrize(
    "query",
    ["蒙草", "蒙草生态", "草生态环", "內蒙古蒙草", "蒙草 集团", "ＨＰ", "环境(集团)", "蒙"],
)
def test_a_fragment_of_a_name_finds_it(query: str) -> None:
    """The recall guarantee: every bigram of a fragment is a bigram of the document."""
    doc = index_terms({"name": f"{MENGCAO} HP"})
    analysis = query_terms(query)
    if len(analysis.bigrams) == 1 and len(analysis.bigrams[0]) == 1:  # one character: a prefix
        assert any(b.startswith(analysis.bigrams[0]) for b in doc["name_bigrams"])
    else:
        assert set(analysis.bigrams) <= set(doc["name_bigrams"])
    latin = [w for w in analysis.words if w.isascii()]
    assert set(latin) <= set(doc["name_words"])


def test_query_words_of_a_place_are_document_words() -> None:
    doc = index_terms({"name": "呼和浩特市城市建设投资有限责任公司"})
    analysis = query_terms("呼和浩特 建设")
    assert set(analysis.words) <= set(doc["name_words"])
    assert set(analysis.bigrams) <= set(doc["name_bigrams"])


def test_pinyin_queries_meet_the_pinyin_of_names() -> None:
    doc = index_terms({"name": MENGCAO})
    assert query_terms("mengcao").pinyin in doc["name_pinyin_words"]
    assert any(p.startswith(query_terms("Meng Cao").pinyin or "-") for p in doc["name_pinyin"])
    doc = index_terms({"name": "内蒙古建设工程有限公司"})
    assert any(i.startswith(query_terms("nmgjs").pinyin or "-") for i in doc["name_initials"])


# --- queries -------------------------------------------------------------------------------------


def test_code_queries() -> None:
    uscc = make_uscc("91", "150100", "MA0N1234")
    for spelling in (uscc, uscc.lower(), full_width(uscc), f"{uscc[:8]}-{uscc[8:]}", f" {uscc} "):
        analysis = query_terms(spelling)
        assert (analysis.is_code, analysis.code_kind) == (True, CodeKind.uscc), spelling
        assert (analysis.code, analysis.code_valid) == (uscc, True)
    wrong = uscc[:-1] + ("0" if uscc[-1] != "0" else "1")
    assert (query_terms(wrong).code_kind, query_terms(wrong).code_valid) == (CodeKind.uscc, False)

    resident = make_resident_id("150102", date(1980, 5, 6), 12, Sex.male)
    assert query_terms(resident).code_kind is CodeKind.resident_id

    for catalog in ("A02010000", "a0201", "Ａ０２", "C1601"):
        analysis = query_terms(catalog)
        assert analysis.code_kind is CodeKind.catalog, catalog
        assert analysis.code == fold(catalog).upper()
    assert query_terms("150102").code_kind is CodeKind.region
    assert query_terms("139 1234 5678").code == "13912345678"
    assert query_terms("13912345678").code_kind is CodeKind.digits
    assert query_terms("D215-12345678").code_kind is CodeKind.identifier
    assert query_terms("M404dn").code_kind is CodeKind.identifier


@pytest.mark.parametrize(
    "query", ["蒙草", "mengcao", "nmgjs", "404", "A", "hp", "呼和浩特 建设", ""]
)
def test_not_codes(query: str) -> None:
    analysis = query_terms(query)
    assert not analysis.is_code
    assert analysis.code_kind is None and analysis.code is None and analysis.code_valid is None


@pytest.mark.parametrize(
    ("query", "pinyin", "syllables"),
    [
        ("mengcao", "mengcao", ("meng", "cao")),
        ("Meng Cao", "mengcao", ("meng", "cao")),
        ("ｍｅｎｇｃａｏ", "mengcao", ("meng", "cao")),
        ("neimenggu", "neimenggu", ("nei", "meng", "gu")),
        ("xian", "xian", ("xian",)),
        ("xi'an", "xian", ("xian",)),
        ("lvse", "lvse", ("lv", "se")),
        ("nmgjs", "nmgjs", None),  # initials
        ("hhht", "hhht", None),
    ],
)
def test_pinyin_queries(query: str, pinyin: str, syllables: tuple[str, ...] | None) -> None:
    analysis = query_terms(query)
    assert analysis.is_pinyin and not analysis.is_code
    assert analysis.pinyin == pinyin
    assert analysis.pinyin_syllables == syllables


@pytest.mark.parametrize("query", ["m404dn", "A0201", "-", ""])
def test_not_pinyin(query: str) -> None:
    analysis = query_terms(query)
    assert not analysis.is_pinyin
    assert analysis.pinyin is None and analysis.pinyin_syllables is None


def test_chinese_queries_carry_their_reading_for_homophone_typos() -> None:
    doc = index_terms({"name": MENGCAO})
    typo = query_terms("蒙曹")  # what a pinyin input method offers first for mengcao, wrongly
    assert not typo.is_pinyin and typo.pinyin_syllables is None
    assert typo.pinyin in doc["name_pinyin_words"]
    assert query_terms("蒙曹生态").pinyin in doc["name_pinyin"][1]
    assert query_terms("mengcao 蒙草").pinyin == "mengcaomengcao"


def test_query_of_a_whole_name() -> None:
    analysis = query_terms("內蒙古蒙草生態環境（集團）股份有限公司")
    assert analysis.text == MENGCAO
    assert analysis.core == "蒙草生态环境"
    assert analysis.terms == tuple(segment(MENGCAO))
    assert list(analysis.words) == word_tokens(MENGCAO)
    assert list(analysis.bigrams) == cjk_bigrams(MENGCAO)


# --- properties ----------------------------------------------------------------------------------

# Text as users and data have it: Latin, digits, punctuation, spaces, simplified and traditional
# characters of names, and now and then anything at all.
NAME_CHARS = "内蒙古內蒙草生态態环環境集团團股份有限公司呼和浩特市鄂尔爾多斯锡林郭勒盟巴彦淖乌兰察布重庆长行单"
texts = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from(NAME_CHARS),
        st.sampled_from(" \u3000\t()（）-·"),
        st.characters(),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_analysis_is_deterministic_and_ignores_full_width_forms(value: str) -> None:
    wide = full_width(value)
    assert fold(fold(value)) == fold(value)
    assert fold(wide) == fold(value)
    assert query_terms(wide) == query_terms(value) == query_terms(value)
    fields = {"name": value, "address": value}
    assert index_terms({k: full_width(v) for k, v in fields.items()}) == index_terms(fields)
    assert index_terms(fields) == index_terms(fields)
    assert strip_company_suffix(wide) == strip_company_suffix(value)


@settings(max_examples=100, deadline=None)
@given(texts)
def test_analysis_does_not_depend_on_what_was_analyzed_before(value: str) -> None:
    """The caches only remember: a cold analysis gives what a warm one gave."""
    warm = (query_terms(value), index_terms({"name": value}))
    for cached in (text._expand_word, text._chunk_syllables, text._han_syllables):
        cached.cache_clear()
    text._word_pinyin.cache_clear()
    assert (query_terms(value), index_terms({"name": value})) == warm
