"""The one text-analysis pipeline of search: documents and queries become terms here, and nowhere
else.

Both search backends (PostgreSQL tsvector + pg_trgm, Elasticsearch/OpenSearch) index the terms
this module produces and search with the terms it makes of a query; neither is to run an
analyzer of its own (no zhparser, no IK plugin, no `chinese` analyzer). They store each term as
given: PostgreSQL with `array_to_tsvector(terms)` (not `to_tsvector('simple', …)`, whose parser
would cut `1.5t` again) and quoted lexemes in the tsquery; Elasticsearch with `keyword` fields
or a `whitespace` analyzer over the joined terms. So a query matches a document exactly when
the same spelling rules produced both, whichever backend serves it, and changing a rule here
changes both at once. Any change to what a text yields must raise `ANALYZER_VERSION`: every index built under
the old version has to be rebuilt.

Why each step exists
--------------------

`fold` — one spelling per text, before anything else looks at it:

* NFKC: full-width letters, digits, brackets and the ideographic space typed by Chinese input
  methods (`ＭＡ０Ｎ`, `（集团）`, `　`) become half-width; compatibility ideographs and Kangxi
  radicals copied out of PDFs become the ordinary characters.
* Traditional → simplified with zhconv (MediaWiki tables, maximal forward matching, locale
  `zh-hans`: script only, no regional vocabulary such as 軟體 → 软件 that could rewrite a proper
  name). Users in Hong Kong and Taiwan, and old stamps and licences, write 內蒙古蒙草生態環境.
  zhconv rather than opencc-python-reimplemented, on the 2,500 entries of jieba's dictionary that
  either converts: they differ on 489, and there zhconv is the better folding — it also unifies
  417 variant forms that OpenCC's t2s leaves (倣 仿, 枱 台, 瑯 琅, 妳 你) and keeps 乾 in names
  (乾安县, 孙乾) where OpenCC writes 干; and it is about 7× faster (6 µs per name against 45 µs).
  It only runs on text that holds a character its table changes, and it runs to a fixed point
  (its phrase rules make one pass depend on context: 瀋 → 渖 → 沈), so folding is idempotent.
* Case folding (`str.casefold`, i.e. lower case, plus ß → ss and the like): `HP`, `Hp` and `hp`
  are one term.
* Invisible characters (zero-width space, BOM, soft hyphen) dropped; whitespace collapsed to one
  space: copy-pasted names carry both.

`strip_company_suffix` — the core name (字号 + 行业) without region and legal form, so that
`内蒙古蒙草生态环境(集团)股份有限公司`, `蒙草生态环境股份有限公司` and `（内蒙古）蒙草生态環境集團
股份有限公司` meet on `蒙草生态环境`. It is an extra term, for ranking and for the coming duplicate
detection; the full name is indexed as well. Branches keep their branch part
(`…有限公司鄂尔多斯分公司` → `蒙草生态环境鄂尔多斯分公司`): a branch is a registrant of its own and
must stay distinguishable from its parent. A short region prefix without its administrative
suffix (`包头`, `内蒙古`) is stripped only when four characters or more remain, because many trade
names start with a place (`包头钢铁`, `内蒙古电力`); full forms (`包头市`) always go.

`segment` — terms of three kinds, because no single one finds everything:

* words from jieba (the Rust port rjieba: the same dictionary and HMM, about 20× faster than
  jieba), with a user dictionary of every Inner Mongolia region name in full and short form
  (`呼和浩特`, `鄂尔多斯`, `锡林郭勒`, `巴彦淖尔`, `乌兰察布` …), Mongolian place words (嘎查, 苏木)
  and procurement words (政府采购, 公共资源交易中心 …). A word of three or more characters also
  yields the dictionary words inside it (`呼和浩特市` → `呼和浩特`, `生态环境` → `生态`, `环境`),
  as Elasticsearch's ik_max_word does, so a query for the shorter word finds the longer one.
  Single-character words are not indexed (they are in the bigrams).
* CJK character bigrams (`蒙草生态` → `蒙草`, `草生`, `生态`): segmentation depends on context,
  and a fragment typed alone (`草生态`, an unknown trade name) may be cut differently from the
  same characters inside a name. Every fragment of two or more characters is a run of bigrams
  in the document, so "all query bigrams present" is the recall guarantee; word matches rank.
  A lone CJK character (a run of one) is kept as a unigram, so a one-character query can be run
  as a prefix query on the bigrams.
* Latin and digit runs, whole and split where letters meet digits (`M404dn` → `m404dn`, `m`,
  `404`, `dn`), so model numbers, certificate numbers and codes match whole and in part. A
  decimal point between digits is kept (`1.5t`).

`pinyin_full` / `pinyin_initials` (pypinyin) — users type `mengcao` or `nmgjs` when the input
method is off or they don't know the characters. Readings come from pypinyin's phrase dictionary
(its own maximal matching on the text), corrected for names: phrases it reads wrongly or lacks
(朝阳 chaoyang, 单县 shanxian, 锡林郭勒 xilinguole, 康巴什 kangbashi …) are added to pypinyin's phrase
dictionary with `load_phrases_dict`, and a few characters standing alone get the reading they
have in names (长 chang, 都 du, 勒 le, 什 shi, 曾 zeng) here only, without changing pypinyin's
single-character table for other users. Person names read their first character as a surname
(单 shan, 解 xie, 曾 zeng). ü is written `v` (lv), as typed. Latin and digits are kept as they are.

`index_terms` / `query_terms` — the two entry points of the backends. A document gets, per
field, its folded text (for pg_trgm similarity and typo tolerance), words and bigrams, and for
name fields also the pinyin (whole name and core, for prefix and substring matching; per word,
for term matching), the initials and the core name. A query gets the same words and bigrams plus
what it looks like: a code (unified social credit code, catalogue code, region code, a number or
another identifier: look it up in the code fields first) or pinyin only (search the pinyin
fields). Stop words are not removed: 有限公司 is rare in queries and common in documents, which
BM25/ts_rank already weigh.

Everything here is deterministic and a pure function of the text (the caches only remember).
The dictionaries are loaded once, on first use or by `load()` at start: about 0.7 s, and the
process then holds about 150 MB (jieba's and pypinyin's dictionaries, most of it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any

from registry.identifiers import IdentifierError, validate_resident_id, validate_uscc

__all__ = [
    "ANALYZER_VERSION",
    "BRANCH_MARKERS",
    "COMPANY_SUFFIXES",
    "REGION_NAMES",
    "REGION_PREFIXES",
    "TERM_KINDS",
    "CodeKind",
    "QueryAnalysis",
    "cjk_bigrams",
    "fold",
    "index_terms",
    "load",
    "pinyin_full",
    "pinyin_initials",
    "query_terms",
    "segment",
    "strip_company_suffix",
    "word_tokens",
]

#: Raise on any change that alters the terms of some text: indexes built under another version
#: must be rebuilt (the backends store the version they indexed with).
ANALYZER_VERSION = 1

# --- data ----------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    """Space-separated words of a data block."""
    return tuple(text.split())


#: Legal forms stripped from the end of a name, repeatedly (`…(集团)股份有限公司` loses both).
#: Written after folding: half-width brackets, lower-case Latin. 分公司 is *not* here: a branch is
#: a registrant of its own and keeps its branch part (see BRANCH_MARKERS).
COMPANY_SUFFIXES: tuple[str, ...] = (
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "股份公司",
    "集团公司",
    "公司",
    "(集团)",
    "集团",
    "(特殊普通合伙)",
    "(普通合伙)",
    "(有限合伙)",
    "有限合伙",
    "(个人独资)",
    "co.,ltd.",
    "co.,ltd",
    "co., ltd.",
    "co., ltd",
    "co. ltd.",
    "co. ltd",
    "company limited",
    "limited",
    "ltd.",
    "ltd",
    "inc.",
    "inc",
    "corporation",
    "corp.",
    "corp",
    "group",
    "gmbh",
)

#: Legal forms after which a name may go on with a branch or sub-unit: `X有限公司Y分公司` is the
#: branch Y of X, whose core is core(X) + `Y分公司`.
_PARENT_FORMS: tuple[str, ...] = ("股份有限公司", "有限责任公司", "有限公司", "股份公司")

#: What a branch name ends with (documentation of the rule above, and used by the tests).
BRANCH_MARKERS: tuple[str, ...] = (
    "分公司",
    "分行",
    "支行",
    "分理处",
    "营业部",
    "分店",
    "分厂",
    "分院",
    "分所",
    "分中心",
    "办事处",
    "项目部",
)

#: Inner Mongolia's regions as of the shipped region file (`registry/data/regions_150000.csv`,
#: 2024 edition; a test keeps the two in step). Full forms, stripped from the start of a name.
REGION_NAMES: tuple[str, ...] = _words(
    """
    内蒙古自治区 呼和浩特市 新城区 回民区 玉泉区 赛罕区 土默特左旗 托克托县 和林格尔县 清水河县 武川县
    包头市 东河区 昆都仑区 青山区 石拐区 白云鄂博矿区 九原区 土默特右旗 固阳县 达尔罕茂明安联合旗 乌海市
    海勃湾区 海南区 乌达区 赤峰市 红山区 元宝山区 松山区 阿鲁科尔沁旗 巴林左旗 巴林右旗 林西县 克什克腾旗
    翁牛特旗 喀喇沁旗 宁城县 敖汉旗 通辽市 科尔沁区 科尔沁左翼中旗 科尔沁左翼后旗 开鲁县 库伦旗 奈曼旗
    扎鲁特旗 霍林郭勒市 鄂尔多斯市 东胜区 康巴什区 达拉特旗 准格尔旗 鄂托克前旗 鄂托克旗 杭锦旗 乌审旗
    伊金霍洛旗 呼伦贝尔市 海拉尔区 扎赉诺尔区 阿荣旗 莫力达瓦达斡尔族自治旗 鄂伦春自治旗 鄂温克族自治旗
    陈巴尔虎旗 新巴尔虎左旗 新巴尔虎右旗 满洲里市 牙克石市 扎兰屯市 额尔古纳市 根河市 巴彦淖尔市 临河区
    五原县 磴口县 乌拉特前旗 乌拉特中旗 乌拉特后旗 杭锦后旗 乌兰察布市 集宁区 卓资县 化德县 商都县 兴和县
    凉城县 察哈尔右翼前旗 察哈尔右翼中旗 察哈尔右翼后旗 四子王旗 丰镇市 兴安盟 乌兰浩特市 阿尔山市
    科尔沁右翼前旗 科尔沁右翼中旗 扎赉特旗 突泉县 锡林郭勒盟 二连浩特市 锡林浩特市 阿巴嘎旗 苏尼特左旗
    苏尼特右旗 东乌珠穆沁旗 西乌珠穆沁旗 太仆寺旗 镶黄旗 正镶白旗 正蓝旗 多伦县 阿拉善盟 阿拉善左旗
    阿拉善右旗 额济纳旗
    """
)

#: Short forms of the region and of its leagues and cities, as names use them (`内蒙古伊利…`,
#: `包头钢铁…`). Stripped from the start of a name only when four characters or more remain.
_SHORT_REGION_PREFIXES: tuple[str, ...] = _words(
    "内蒙古 呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布 锡林郭勒 阿拉善"
)
#: Everything stripped from the start of a name: full forms (and 内蒙古) first, longest first.
REGION_PREFIXES: tuple[str, ...] = tuple(
    sorted({*REGION_NAMES, *_SHORT_REGION_PREFIXES}, key=lambda p: (-len(p), p))
)
_SHORT_PREFIX_MIN_REST = 4
_PREFIX_MIN_REST = 2

#: Places that a bracket in a name may hold (`华为技术(内蒙古)有限公司`, `蒙牛乳业(包头)…`,
#: `联想(中国)…`); such a bracket is dropped from the core.
_BRACKET_PLACES: frozenset[str] = frozenset(
    {
        *REGION_NAMES,
        *_SHORT_REGION_PREFIXES,
        *_words(
            "中国 北京 天津 河北 山西 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 "
            "湖南 广东 广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 香港 澳门 台湾 "
            "北京市 天津市 上海市 重庆市 兴安"
        ),
    }
)

# Short forms of region names that are words of their own for the segmenter: the name without
# its administrative suffix (呼和浩特市 → 呼和浩特), the people or place a banner is named after.
_REGION_SUFFIXES = _words(
    "左翼前旗 左翼中旗 左翼后旗 右翼前旗 右翼中旗 右翼后旗 达斡尔族自治旗 族自治旗 自治旗 联合旗 "
    "左旗 右旗 前旗 中旗 后旗 矿区 自治区 市 盟 县 区 旗"
)
_EXTRA_PLACE_WORDS = _words(
    "内蒙古 莫力达瓦 达斡尔 鄂温克 鄂伦春 察哈尔 乌珠穆沁 苏尼特 巴尔虎 乌拉特 科尔沁 土默特 达茂 "
    "阿鲁科尔沁 额济纳 巴林 杭锦 鄂托克 准格尔 伊金霍洛 达拉特 乌审 扎赉诺尔 白云鄂博 二连 "
    "嘎查 嘎查村 苏木 敖包 浩特 盟市 旗县 旗县区 牧区 牧民 敕勒川 大青山 阴山 昭君 成吉思汗 那达慕 "
    "查干 额尔敦 宝力格 锡林 乌兰 巴彦 呼和"
)
# Procurement words and names of the region's large enterprises that jieba's dictionary cuts.
_DOMAIN_WORDS = _words(
    "政府采购 采购中心 采购人 采购代理 代理机构 招标代理 公共资源交易中心 公共资源交易 电子卖场 "
    "框架协议 协议供货 定点采购 竞争性磋商 竞争性谈判 单一来源 公开招标 邀请招标 造价咨询 工程咨询 "
    "项目管理 物业服务 物业管理 测绘地理信息 地理信息 检验检测 环保科技 电子科技 安防科技 能源科技 "
    "教育科技 餐饮管理 文化传媒 农牧业 农牧局 林草局 卫健委 住建局 人社局 财政局 市场监督管理局 "
    "自然资源局 交通运输局 应急管理局 专业合作社 个体工商户 普通合伙 特殊普通合伙 有限合伙 "
    "会计师事务所 律师事务所 事业单位 民办非企业单位 统一社会信用代码 品目 分公司 "
    "蒙草 伊泰 君正 小尾羊 鹿王 北方重工 包钢"
)

# pypinyin readings corrected or added for names (tone3: syllable and tone digit). Loaded into
# pypinyin's phrase dictionary, so they also hold inside longer texts (朝阳路, 锡林郭勒盟).
_PINYIN_PHRASES: dict[str, str] = {
    "朝阳": "chao2 yang2",  # the place (朝阳区, 朝阳路); pypinyin reads zhāoyáng (morning sun)
    "单县": "shan4 xian4",
    "锡林郭勒": "xi1 lin2 guo1 le4",
    "霍林郭勒": "huo4 lin2 guo1 le4",
    "郭勒": "guo1 le4",
    "敕勒": "chi4 le4",
    "敕勒川": "chi4 le4 chuan1",
    "格日勒": "ge2 ri4 le4",
    "商都": "shang1 du1",
    "昆都仑": "kun1 du1 lun2",
    "康巴什": "kang1 ba1 shi2",
    "克什克腾": "ke4 shi2 ke4 teng2",
    "支行": "zhi1 hang2",
    "琴行": "qin2 hang2",
    "电器行": "dian4 qi4 hang2",
    "家电行": "jia1 dian4 hang2",
    "给排水": "ji3 pai2 shui3",
    "供排水": "gong1 pai2 shui3",
    "涡阳": "guo1 yang2",
    "洪洞": "hong2 tong2",
    "筠连": "jun1 lian2",
    "长治": "chang2 zhi4",
}
# Readings of a character standing alone (no phrase of pypinyin's around it) in a name; used
# here only, pypinyin's own single-character table is left as it is.
_NAME_CHAR_READINGS: dict[str, str] = {
    "长": "chang",  # 长荣, 长丰, 长葛 — zhǎng is rare in names
    "都": "du",  # 新都, 都兰, 甘其毛都 — dōu is an adverb
    "勒": "le",  # Mongolian names: 格日勒, 敖日格勒
    "什": "shi",  # 什邡, 康巴什
    "曾": "zeng",
}
# The first character of a person's name is a surname: its surname reading.
_SURNAME_READINGS: dict[str, str] = {
    "单": "shan",
    "解": "xie",
    "曾": "zeng",
    "仇": "qiu",
    "查": "zha",
    "盖": "ge",
    "区": "ou",
    "朴": "piao",
    "覃": "qin",
    "翟": "zhai",
    "缪": "miao",
    "召": "shao",
    "乐": "yue",
    "员": "yun",
    "秘": "bi",
    "种": "chong",
    "折": "she",
    "卜": "bu",
    "长": "chang",
    "柏": "bai",
    "宓": "mi",
    "繁": "po",
}
_COMPOUND_SURNAMES: dict[str, str] = {
    "尉迟": "yu chi",
    "长孙": "zhang sun",
    "万俟": "mo qi",
    "单于": "chan yu",
    "澹台": "tan tai",
    "令狐": "ling hu",
    "呼延": "hu yan",
    "欧阳": "ou yang",
}

# --- folding -------------------------------------------------------------------------------------

# Invisible in a form but present in pasted data; `str.split()` does not see them.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"), None)
# CJK ideographs: unified (with extension A and the supplementary planes) and compatibility.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RUN = re.compile(f"[{_HAN}]+")
_CONVERTIBLE_FROM = "\u2e80"  # nothing below this code point is changed by zhconv
_MAX_ROUNDS = 8


@cache
def _zhconv() -> Callable[[str], str]:
    """Traditional → simplified. zhconv converts by phrase (乾隆 keeps its 乾, 乾燥 becomes 干燥),
    which costs a Python loop over every character; most text has no traditional character at
    all, so it runs only on text that its single-character table would change."""
    import zhconv  # lazily: it loads its table (and pkg_resources) on import
    from zhconv.zhconv import getdict

    table = getdict("zh-hans")
    singles = {ord(key): value for key, value in table.items() if len(key) == 1}

    def to_simplified(text: str) -> str:
        # Phrase rules make one pass depend on context (瀋 → 渖 in one, 渖 → 沈 alone), so the
        # conversion runs to a fixed point; real text settles in one pass, a second confirms.
        for _ in range(_MAX_ROUNDS):
            if text.translate(singles) == text:
                return text
            converted = str(zhconv.convert(text, "zh-hans"))
            if converted == text:
                return text
            text = converted
        return text

    return to_simplified


def fold(text: str) -> str:
    """One spelling of `text` for matching: NFKC (full-width → half-width), traditional →
    simplified, case-folded, invisible characters dropped, whitespace collapsed and stripped.

    Idempotent: `fold(fold(t)) == fold(t)`. Not for display (case and script are lost).
    """
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
    if text.isascii():
        return " ".join(text.lower().split())
    folded = text.casefold()
    if folded != text:  # case folding can leave a text that is not NFKC (e.g. ϴ → θ)
        text = unicodedata.normalize("NFKC", folded)
    if text and max(text) >= _CONVERTIBLE_FROM:
        text = _zhconv()(text)
    return " ".join(text.split())


# --- core name -----------------------------------------------------------------------------------

_OPEN_BRACKETS = dict.fromkeys(map(ord, "[【〔〖「『〈《"), "(")
_CLOSE_BRACKETS = dict.fromkeys(map(ord, "]】〕〗」』〉》"), ")")
_BRACKETED = re.compile(r"\(([^()]*)\)")
_SUFFIX_SET = frozenset(COMPANY_SUFFIXES)


def _index_by(words: Iterable[str], at: int) -> dict[str, tuple[str, ...]]:
    """Words by their first (at=0) or last (at=-1) character, longest first."""
    by: dict[str, list[str]] = {}
    for word in sorted(words, key=lambda w: (-len(w), w)):
        by.setdefault(word[at], []).append(word)
    return {char: tuple(group) for char, group in by.items()}


_SUFFIXES_BY_LAST = _index_by(COMPANY_SUFFIXES, -1)
_PREFIXES_BY_FIRST = _index_by(REGION_PREFIXES, 0)
_EDGE_JUNK = " -_·.,、:;/\\&+*#|~'\""
_SPACE_NEAR_NON_ASCII = re.compile(r" (?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) ")


def _strip_legal_forms(name: str) -> str:
    # 分公司 is not 公司; a name that is nothing but a legal form (有限公司) stays whole
    while name and not name.endswith(BRANCH_MARKERS) and name not in _SUFFIX_SET:
        for suffix in _SUFFIXES_BY_LAST.get(name[-1], ()):
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)].rstrip(_EDGE_JUNK)
                break
        else:
            return name
    return name


def _drop_bracketed_places(name: str) -> str:
    def place_or_keep(match: re.Match[str]) -> str:
        return "" if match.group(1).strip() in _BRACKET_PLACES else match.group(0)

    return _BRACKETED.sub(place_or_keep, name)


def _strip_region_prefixes(name: str) -> str:
    while name:
        for prefix in _PREFIXES_BY_FIRST.get(name[0], ()):
            if name.startswith(prefix):
                rest = name[len(prefix) :].lstrip(_EDGE_JUNK)
                short = prefix in _SHORT_REGION_PREFIXES
                if len(rest) >= (_SHORT_PREFIX_MIN_REST if short else _PREFIX_MIN_REST):
                    name = rest
                    break
                return name  # a shorter prefix would need a longer rest still
        else:
            return name
    return name


def _core_of_folded(folded: str) -> str:
    name = folded.translate(_OPEN_BRACKETS).translate(_CLOSE_BRACKETS)
    name = _SPACE_NEAR_NON_ASCII.sub("", name)
    # `X有限公司Y分公司`: the branch Y of X keeps its branch part after X's core.
    branch = ""
    for form in _PARENT_FORMS:
        at = name.rfind(form)
        if at > 0 and at + len(form) < len(name):
            tail = name[at + len(form) :].strip(_EDGE_JUNK)
            if tail.endswith(BRANCH_MARKERS) or not tail.endswith(COMPANY_SUFFIXES):
                name, branch = name[: at + len(form)], tail
            break
    core = _strip_legal_forms(name)
    core = _drop_bracketed_places(core)
    core = _strip_legal_forms(core)  # `…(内蒙古)(集团)有限公司`
    core = _strip_region_prefixes(core).strip(_EDGE_JUNK)
    if not core:
        core = name.strip(_EDGE_JUNK)
    return core + branch


def strip_company_suffix(name: str) -> str:
    """The core of an organization's name, folded: without region prefixes (`内蒙古自治区`,
    `内蒙古`, a league, city or county), bracketed places (`(内蒙古)`) and legal forms
    (`股份有限公司`, `(集团)`), but with its branch part (`…鄂尔多斯分公司`).

    `内蒙古蒙草生态环境(集团)股份有限公司` → `蒙草生态环境`. Never empty for a name that is not:
    a name that is nothing but region and legal form is returned folded.
    """
    return _core_of_folded(fold(name))


# --- segmentation --------------------------------------------------------------------------------

_RUN = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<alnum>[^\W_{_HAN}]+(?:\.\d+[^\W_{_HAN}]*)*)")
_LETTER_DIGIT_PARTS = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_SUBWORD_MIN, _SUBWORD_MAX = 2, 8


def _region_word_forms() -> Iterable[str]:
    for name in REGION_NAMES:
        yield name
        for suffix in _REGION_SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                yield name[: -len(suffix)]
                break


@cache
def _segmenter() -> Any:
    """jieba (rjieba) with the user dictionary: an instance of our own, so no other user of
    rjieba can change how search cuts text."""
    import rjieba

    jieba = rjieba.Jieba()
    for word in (*_region_word_forms(), *_EXTRA_PLACE_WORDS, *_DOMAIN_WORDS):
        jieba.add_word(word, None, None)
    return jieba


@lru_cache(maxsize=65536)
def _expand_word(word: str) -> tuple[str, ...]:
    """The word and the dictionary words inside it (ik_max_word style), longest first."""
    if len(word) < 3:
        return (word,)
    has_word = _segmenter().has_word
    inner = [
        word[i : i + size]
        for size in range(min(len(word) - 1, _SUBWORD_MAX), _SUBWORD_MIN - 1, -1)
        for i in range(len(word) - size + 1)
        if has_word(word[i : i + size])
    ]
    return (word, *dict.fromkeys(inner))


def _alnum_terms(run: str) -> list[str]:
    parts = _LETTER_DIGIT_PARTS.findall(run)
    return [run] if len(parts) <= 1 else [run, *parts]


def _tokens(folded: str) -> tuple[list[str], list[str]]:
    """(words, bigrams) of a folded text, each without duplicates, in text order."""
    words: dict[str, None] = {}
    bigrams: dict[str, None] = {}
    cut = None
    for match in _RUN.finditer(folded):
        han = match.group("han")
        if han is None:
            words.update(dict.fromkeys(_alnum_terms(match.group("alnum"))))
            continue
        if len(han) == 1:
            bigrams[han] = None
            continue
        bigrams.update(dict.fromkeys(han[i : i + 2] for i in range(len(han) - 1)))
        if cut is None:
            cut = _segmenter().cut
        for word in cut(han):
            if len(word) > 1:
                words.update(dict.fromkeys(_expand_word(word)))
    return list(words), list(bigrams)


def word_tokens(text: str) -> list[str]:
    """Words of `text` (folded first): jieba words of two characters or more and the dictionary
    words inside them, Latin/digit runs whole and split at letter/digit boundaries."""
    return _tokens(fold(text))[0]


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping pairs of CJK characters of `text` (folded first), per run of CJK characters;
    a run of one character is kept as it is."""
    return _tokens(fold(text))[1]


def segment(text: str) -> list[str]:
    """Every term `text` is indexed (or searched) with: `word_tokens` then `cjk_bigrams`,
    without duplicates. `呼和浩特市M404dn` → 呼和浩特市, 呼和浩特, …, m404dn, m, 404, dn, 呼和, 和浩, …"""
    words, bigrams = _tokens(fold(text))
    return list(dict.fromkeys([*words, *bigrams]))


# --- pinyin --------------------------------------------------------------------------------------

_PINYIN_RUN = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<alnum>[^\W_{_HAN}]+)")


@cache
def _pinyin() -> tuple[Callable[[str], Iterable[str]], Callable[[str], list[str]]]:
    """pypinyin's segmenter and converter, with our phrases loaded (once)."""
    from pypinyin import Style, lazy_pinyin, load_phrases_dict
    from pypinyin.contrib.tone_convert import to_tone
    from pypinyin.seg.mmseg import seg

    load_phrases_dict(
        {
            phrase: [[to_tone(syllable)] for syllable in reading.split()]
            for phrase, reading in _PINYIN_PHRASES.items()
        }
    )

    def convert(chunk: str) -> list[str]:
        return list(lazy_pinyin(chunk, style=Style.NORMAL, errors="default"))

    return seg.cut, convert


@lru_cache(maxsize=65536)
def _chunk_syllables(chunk: str) -> tuple[str, ...]:
    """Syllables of one piece of pypinyin's segmentation (a phrase or a single character)."""
    if chunk in _NAME_CHAR_READINGS:
        return (_NAME_CHAR_READINGS[chunk],)
    return tuple(_pinyin()[1](chunk))


@lru_cache(maxsize=32768)  # whole runs: names are mostly unique, words and addresses repeat
def _han_syllables(han: str) -> tuple[str, ...]:
    cut, _ = _pinyin()
    return tuple(syllable for chunk in cut(han) for syllable in _chunk_syllables(chunk))


def _person_syllables(han: str) -> tuple[str, ...]:
    for surname, reading in _COMPOUND_SURNAMES.items():
        if han.startswith(surname) and len(han) > len(surname):
            return (*reading.split(), *_han_syllables(han[len(surname) :]))
    if han[0] in _SURNAME_READINGS and len(han) > 1:
        return (_SURNAME_READINGS[han[0]], *_han_syllables(han[1:]))
    return _han_syllables(han)


def _syllables(folded: str, person: bool = False) -> list[tuple[str, bool]]:
    """(syllable, is_han) pairs: a syllable per CJK character, Latin and digit runs whole."""
    out: list[tuple[str, bool]] = []
    for match in _PINYIN_RUN.finditer(folded):
        han = match.group("han")
        if han is None:
            out.append((match.group("alnum"), False))
            continue
        first = person and not out
        syllables = _person_syllables(han) if first else _han_syllables(han)
        out.extend((s, True) for s in syllables)
    return out


def _full_and_initials(folded: str, person: bool = False) -> tuple[str, str]:
    syllables = _syllables(folded, person)
    full = "".join(s for s, _ in syllables)
    return full, "".join(s[0] if han else s for s, han in syllables)


@lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> str:
    return "".join(_han_syllables(word)) if _HAN_RUN.fullmatch(word) else ""


def pinyin_full(text: str, *, person: bool = False) -> str:
    """Toneless pinyin of `text` (folded first), without separators: `内蒙古蒙草` → `neimenggumengcao`.
    ü is `v`; Latin letters and digits are kept, punctuation and spaces dropped. `person`: the
    text is a person's name, whose first character is read as a surname (`单` shan)."""
    return _full_and_initials(fold(text), person)[0]


def pinyin_initials(text: str, *, person: bool = False) -> str:
    """First letter of each syllable (`内蒙古建设` → `nmgjs`; zh, ch, sh give z, c, s, as typed);
    Latin and digit runs are kept whole."""
    return _full_and_initials(fold(text), person)[1]


# --- documents -----------------------------------------------------------------------------------

#: Suffixes of the keys `index_terms` returns for each field `f`: `f_folded`, `f_words`, …
TERM_KINDS = ("folded", "words", "bigrams", "pinyin", "pinyin_words", "initials", "core")


def _is_name_field(field: str) -> bool:
    return field == "name" or field.endswith("_name")


def index_terms(
    fields: Mapping[str, str | None],
    *,
    name_fields: Collection[str] | None = None,
    person_fields: Collection[str] = (),
) -> dict[str, list[str]]:
    """The terms of a document, per field `f`:

    * `f_folded`: `[fold(value)]`, for pg_trgm similarity / fuzzy matching;
    * `f_words`, `f_bigrams`: see `segment`;
    * for name fields (by default `name` and `*_name`; else `name_fields`) and person fields:
      `f_pinyin` (pinyin of the whole name and of its core, for prefix and substring matching),
      `f_pinyin_words` (pinyin of each word, for term matching), `f_initials` (of the name and of
      its core) and, for organization names only, `f_core` (`strip_company_suffix`).

    Every given field gets all the keys of its kind, possibly with empty lists (None or blank
    values); lists hold no duplicates and are in text order.
    """
    names = {f for f in fields if _is_name_field(f)} if name_fields is None else set(name_fields)
    persons = set(person_fields)
    out: dict[str, list[str]] = {}
    for field, value in fields.items():
        folded = fold(value) if value else ""
        words, bigrams = _tokens(folded) if folded else ([], [])
        out[f"{field}_folded"] = [folded] if folded else []
        out[f"{field}_words"] = words
        out[f"{field}_bigrams"] = bigrams
        person = field in persons
        if not (person or field in names):
            continue
        forms = [folded] if folded else []
        if not person:
            core = _core_of_folded(folded) if folded else ""
            out[f"{field}_core"] = [core] if core else []
            if core and core != folded:
                forms.append(core)
        readings = [_full_and_initials(form, person) for form in forms]
        out[f"{field}_pinyin"] = list(dict.fromkeys(full for full, _ in readings))
        out[f"{field}_initials"] = list(dict.fromkeys(initials for _, initials in readings))
        if person:
            out[f"{field}_pinyin_words"] = [readings[0][0]] if readings else []
        else:
            word_pinyin = (_word_pinyin(word) for word in words)
            out[f"{field}_pinyin_words"] = [p for p in dict.fromkeys(word_pinyin) if p]
    return out


def load() -> None:
    """Load the dictionaries now (about a second) rather than in the first request or batch:
    for the start of a server or an indexing worker. Idempotent."""
    _segmenter()
    _pinyin()
    _zhconv()
    _pinyin_syllable_set()


# --- queries -------------------------------------------------------------------------------------


class CodeKind(StrEnum):
    """What a code-like query looks like; the backends look it up in these fields first."""

    uscc = "uscc"  # 18 characters of the unified social credit code alphabet
    resident_id = "resident_id"  # 18 characters passing the ID check: experts' blind index only
    catalog = "catalog"  # A02010000 (official form) or A0201 (short form, a subtree)
    region = "region"  # GB/T 2260, six digits
    digits = "digits"  # four digits or more: phone, account, certificate or record number
    identifier = "identifier"  # letters and digits, five or more: model, licence number, code part


_USCC_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
_RESIDENT_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_CATALOG_SHAPE = re.compile(r"[ABC][0-9]{8}|[ABC](?:[0-9]{2}){1,4}")  # mirrors registry.codes
_REGION_SHAPE = re.compile(r"[1-8][0-9]{5}")
_CODE_SEPARATORS = re.compile(r"[\s\-_/.·]+")
_PINYIN_QUERY = re.compile(r"[a-z' ]+")


def _uscc_valid(code: str) -> bool:
    try:
        validate_uscc(code)
    except IdentifierError:
        return False
    return True


def _resident_id_valid(code: str) -> bool:
    try:
        validate_resident_id(code)
    except IdentifierError:
        return False
    return True


def _code_kind(compact: str) -> tuple[CodeKind, bool | None] | None:
    """(kind, check character valid — None where the kind has none) of an upper-case query
    without separators, or None if it does not look like a code."""
    if len(compact) == 18 and _USCC_SHAPE.fullmatch(compact):
        if _uscc_valid(compact):
            return CodeKind.uscc, True
        if _RESIDENT_ID_SHAPE.fullmatch(compact) and _resident_id_valid(compact):
            return CodeKind.resident_id, True
        return CodeKind.uscc, False
    if _RESIDENT_ID_SHAPE.fullmatch(compact):
        return CodeKind.resident_id, _resident_id_valid(compact)
    if _CATALOG_SHAPE.fullmatch(compact):
        return CodeKind.catalog, None
    if _REGION_SHAPE.fullmatch(compact):
        return CodeKind.region, None
    if compact.isascii() and compact.isdigit() and len(compact) >= 4:
        return CodeKind.digits, None
    if (
        len(compact) >= 5
        and compact.isascii()
        and compact.isalnum()
        and any(c.isdigit() for c in compact)
        and any(c.isalpha() for c in compact)
    ):
        return CodeKind.identifier, None
    return None


@cache
def _pinyin_syllable_set() -> frozenset[str]:
    """Every toneless pinyin syllable pypinyin knows (about 410), `ü` written `v`; without the
    bare nasals (n, m, ng, hm …) so that initials such as `nmgjs` do not parse as syllables."""
    from pypinyin.constants import PINYIN_DICT

    syllables: set[str] = set()
    for readings in PINYIN_DICT.values():
        for reading in readings.split(","):
            decomposed = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
            syllables.add("".join(c for c in decomposed if not unicodedata.combining(c)))
    return frozenset(s for s in syllables if s.isascii() and any(v in s for v in "aeiouv"))


def _split_syllables(letters: str) -> tuple[str, ...] | None:
    """`mengcao` → (meng, cao); None if `letters` is not a run of pinyin syllables. Prefers the
    longest syllable at each step, falling back where the rest does not parse (xian, not xi an)."""
    known = _pinyin_syllable_set()
    n = len(letters)
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[n] = ()
    for i in range(n - 1, -1, -1):
        for j in range(min(n, i + 6), i, -1):
            rest = best[j]
            if rest is not None and letters[i:j] in known:
                best[i] = (letters[i:j], *rest)
                break
    return best[0]


@dataclass(frozen=True, slots=True)
class QueryAnalysis:
    """A query as the backends need it. `words` and `bigrams` are made as for documents; the
    rest says which other fields to try.

    Suggested use: all `bigrams` must match (most of them, to forgive a typo), `words` add to
    the score; a query of one CJK character is a prefix query on the bigrams; `core` is matched
    against the documents' core names; `text` (folded) against their folded text by trigram
    similarity. `is_code`: exact or prefix match on the code fields first (`code` is upper case
    without separators; a `resident_id` only through the experts' blind index, never a text
    index). `pinyin` goes against the documents' pinyin fields — prefix or substring of
    `*_pinyin` and `*_initials`, term of `*_pinyin_words`: for a pinyin-only query
    (`is_pinyin`) it is what was typed, letters only (`pinyin_syllables` is its reading as
    syllables, None when it does not parse: then it is most likely initials); for a query with
    CJK characters it is their reading, which finds homophone typos of pinyin input methods
    (蒙曹 for 蒙草) and deserves a lower weight.
    """

    text: str
    words: tuple[str, ...]
    bigrams: tuple[str, ...]
    core: str
    is_code: bool
    code_kind: CodeKind | None
    code: str | None
    code_valid: bool | None
    is_pinyin: bool
    pinyin: str | None
    pinyin_syllables: tuple[str, ...] | None

    @property
    def terms(self) -> tuple[str, ...]:
        """Words, then bigrams, without duplicates (what `segment` gives for the query)."""
        return tuple(dict.fromkeys((*self.words, *self.bigrams)))


def query_terms(q: str) -> QueryAnalysis:
    """Analyze a search query exactly as `index_terms` analyzes documents, and say what it
    looks like: a code (`91150100…`, `A0201`, `150102`, a number), or pinyin only (`mengcao`,
    `nmgjs`)."""
    folded = fold(q)
    words, bigrams = _tokens(folded)
    compact = _CODE_SEPARATORS.sub("", folded).upper()
    found = _code_kind(compact) if compact else None
    is_pinyin = bool(found is None and compact and _PINYIN_QUERY.fullmatch(folded))
    pinyin: str | None = None
    if is_pinyin:
        pinyin = folded.replace(" ", "").replace("'", "")
    elif _HAN_RUN.search(folded):
        pinyin = _full_and_initials(folded)[0]
    return QueryAnalysis(
        text=folded,
        words=tuple(words),
        bigrams=tuple(bigrams),
        core=_core_of_folded(folded) if folded else "",
        is_code=found is not None,
        code_kind=found[0] if found else None,
        code=compact if found else None,
        code_valid=found[1] if found else None,
        is_pinyin=is_pinyin,
        pinyin=pinyin,
        pinyin_syllables=_split_syllables(pinyin) if is_pinyin and pinyin else None,
    )
