"""Labeled near-duplicate sets for measuring the matchers (tests/test_matching.py,
bench/dedup_quality.py).

`generate(kind, n, seed)` makes about `n` records of one kind (`organization`, `expert`,
`commodity`) with an entity label each: records with one label are duplicates of each other
(the same company under name variants, the same person with a typo, the same printer under two
model spellings), records with different labels are not — and a good share of them are made to
look alike (hard non-duplicates): other companies of the same region and legal form with
similar names, branches of a head office, the boss's other company at the same address,
same-name persons with other ID numbers, neighbouring models of one brand. Quality is measured
through blocking: a true pair that blocking never pairs is a missed pair.

Deterministic: one seed, one set. Data are realistic in shape — Chinese company names built from
the region's place names (`registry/data/regions_150000.csv`), brands from
`registry/data/brand_aliases.csv`, valid USCCs and resident ID numbers with their check
characters — but invented: no real person or company is meant.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

from registry.identifiers import Sex, make_resident_id, make_uscc, resident_id_check
from registry.normalize import BRAND_ALIASES_FILE

_DATA = Path(__file__).resolve().parent.parent / "registry" / "data"
KINDS = ("organization", "expert", "commodity")


@dataclass
class LabeledSet:
    kind: str
    records: list[dict[str, Any]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # entity per record
    # what made each pair hard or a duplicate, for the tests: (i, j) -> "typo", "branch", …
    notes: dict[tuple[int, int], str] = field(default_factory=dict)

    def add(self, record: dict[str, Any], label: int) -> int:
        index = len(self.records)
        self.records.append({**record, "id": f"{self.kind[:3]}{index:07d}"})
        self.labels.append(label)
        return index

    def true_pairs(self) -> set[tuple[int, int]]:
        by_label: dict[int, list[int]] = defaultdict(list)
        for index, label in enumerate(self.labels):
            by_label[label].append(index)
        return {pair for group in by_label.values() for pair in combinations(group, 2)}

    def pairs_noted(self, *notes: str) -> Iterator[tuple[int, int, str]]:
        for (i, j), note in self.notes.items():
            if not notes or note in notes:
                yield i, j, note


# --- shared pieces -------------------------------------------------------------------------------


def _regions() -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """(prefectures as (code, name), counties by prefecture code)."""
    lines = (_DATA / "regions_150000.csv").read_text(encoding="utf-8").splitlines()
    rows = csv.DictReader(line for line in lines if not line.startswith("#"))
    prefectures: list[tuple[str, str]] = []
    counties: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        if row["level"] == "prefecture":
            prefectures.append((row["code"], row["name"]))
        elif row["level"] == "county":
            counties[row["parent_code"]].append((row["code"], row["name"]))
    return prefectures, counties


PREFECTURES, COUNTIES = _regions()

# groups of characters read alike (a homophone is what a pinyin input method offers first)
HOMOPHONES = [
    "丽莉俐利力立",
    "伟玮炜纬卫",
    "明铭鸣",
    "静婧晶菁靖",
    "华桦骅",
    "军君钧",
    "杰洁捷",
    "敏珉闽",
    "芳方舫",
    "涛韬滔",
    "霞侠",
    "勇永咏",
    "磊蕾垒",
    "燕艳雁彦",
    "峰锋丰枫",
    "刚钢纲",
    "平萍苹",
    "斌彬滨",
    "辉晖徽",
    "鹏朋彭",
    "宇雨羽玉",
    "海亥",
    "红宏鸿虹",
    "文雯闻",
    "建健剑",
    "新欣鑫馨",
    "达大",
    "源元园圆",
    "恒衡",
    "泰太",
    "盛胜圣",
    "通同彤",
    "兴星",
    "昌长常",
    "瑞锐睿",
    "祥翔",
    "汇惠慧",
    "金锦晋",
    "博波",
    "嘉佳家",
    "德得",
    "信鑫",
    "诚成城",
    "安鞍",
    "康慷",
    "远苑",
    "航杭",
    "腾滕",
    "飞菲",
    "凯恺铠",
    "晨辰",
    "志智至",
    "强蔷",
    "国帼",
    "庆青清",
    "春纯",
    "秀绣",
    "英瑛莹",
    "兰岚澜",
    "桂贵",
    "梅玫媚",
    "云芸耘",
    "凤奉",
    "荣蓉容",
    "婷亭庭",
    "琳林霖",
    "雪血",
]
_HOMOPHONE_OF = {c: group for group in HOMOPHONES for c in group}
# characters mistyped for one another by shape (handwriting, OCR)
LOOKALIKES = ["己已巳", "未末", "土士", "人入", "日曰", "戊戌戍", "天夭", "贝见", "王玉", "大太犬"]
_LOOKALIKE_OF = {c: group for group in LOOKALIKES for c in group}

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏"
    "薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺"
)
GIVEN = (
    "伟丽明静华军杰敏芳涛霞勇磊燕峰刚平斌辉鹏宇海红文建新志强国庆春秀英玉兰桂梅云凤荣佳欣婷雪琳晨"
)
MONGOLIAN_NAMES = (
    "巴特尔",
    "乌云其其格",
    "额尔敦",
    "其木格",
    "宝音",
    "那日苏",
    "图雅",
    "斯琴",
    "苏日娜",
    "朝鲁",
    "乌兰",
    "格日勒",
    "阿拉坦",
    "敖登",
    "巴图",
    "萨仁",
)


def _person_name(rng: random.Random) -> str:
    if rng.random() < 0.08:
        return rng.choice(MONGOLIAN_NAMES)
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"


def _retype(rng: random.Random, text: str, positions: range | None = None) -> str:
    """One character of `text` typed as a homophone or a look-alike (or, failing both, as
    another character of a company name)."""
    candidates = [
        i
        for i in positions or range(len(text))
        if text[i] in _HOMOPHONE_OF or text[i] in _LOOKALIKE_OF
    ]
    if not candidates:
        i = rng.choice(list(positions or range(len(text))))
        return text[:i] + rng.choice("鑫源泰达恒兴") + text[i + 1 :]
    i = rng.choice(candidates)
    group = _HOMOPHONE_OF.get(text[i]) or _LOOKALIKE_OF[text[i]]
    return text[:i] + rng.choice([c for c in group if c != text[i]]) + text[i + 1 :]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _traditional(text: str) -> str:
    import zhconv

    return str(zhconv.convert(text, "zh-hant"))


# --- organizations -------------------------------------------------------------------------------

TRADE_CHARS = (
    "鑫达源恒泰华盛通宏兴隆昌瑞祥丰汇金宇博创嘉利德信诚安康远航腾飞凯明辉晟蒙草原塞北青城驼峰阴山敕勒"
    "川伊泰君正鹿王富民骏马天骄金桥万家聚宝弘毅晨光绿洲"
)
INDUSTRIES = (
    "建筑工程",
    "科技",
    "电子科技",
    "商贸",
    "生态环境",
    "物业服务",
    "餐饮管理",
    "信息技术",
    "环保科技",
    "工程咨询",
    "文化传媒",
    "农牧业开发",
    "医疗器械",
    "办公设备",
    "教育科技",
    "安防科技",
    "能源科技",
    "测绘",
    "劳务",
    "园林绿化工程",
    "机电设备",
    "汽车服务",
    "印刷",
    "家具",
    "食品",
    "检验检测",
    "招标代理",
    "项目管理",
    "电力工程",
    "水利工程",
)
FORMS = ("有限公司", "有限公司", "有限责任公司", "有限责任公司", "股份有限公司", "(集团)有限公司")
STREETS = (
    "新华大街",
    "昭乌达路",
    "中山路",
    "大学东街",
    "锡林南路",
    "钢铁大街",
    "阿尔丁大街",
    "巴彦塔拉大街",
    "鄂尔多斯大街",
    "迎宾路",
    "建设路",
    "民族街",
    "团结路",
    "工业园区纬二路",
    "金桥开发区宝力尔街",
    "呼伦大街",
    "新世纪大道",
    "胜利路",
)
BRANCH_PLACES = ("包头", "鄂尔多斯", "赤峰", "通辽", "乌海", "呼伦贝尔", "锡林浩特", "集宁")


@dataclass
class _Org:
    prefecture: tuple[str, str]
    county: tuple[str, str]
    trade: str
    industry: str
    form: str
    prefix_style: str
    street: str
    number: int
    rep: str
    rep_phone: str
    contact_phone: str
    uscc: str | None = None

    def name(self) -> str:
        prefix = {
            "region": "内蒙古",
            "prefecture": self.prefecture[1],
            "county": self.prefecture[1] + self.county[1],
            "none": "",
        }[self.prefix_style]
        return f"{prefix}{self.trade}{self.industry}{self.form}"

    def address(self) -> str:
        return f"{self.prefecture[1]}{self.county[1]}{self.street}{self.number}号"

    def record(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name(),
            "address": self.address(),
            "region_code": self.county[0],
            "legal_representative": {"name": self.rep, "phone": self.rep_phone},
            "contacts": [{"name": "联系人", "phone": self.contact_phone}],
        }
        if self.uscc:
            body["uscc"] = self.uscc
        return body


class _OrgFactory:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.serial = 0

    def uscc(self, region: str, body: str | None = None) -> str:
        self.serial += 1
        authority = self.rng.choice(("91", "91", "92", "93"))
        return make_uscc(authority, region, body or f"{self.rng.randrange(10**8):08d}")

    def trade(self) -> str:
        return "".join(self.rng.sample(TRADE_CHARS, self.rng.choice((2, 2, 2, 3))))

    def org(self, *, with_uscc: bool) -> _Org:
        rng = self.rng
        prefecture = rng.choice(PREFECTURES)
        county = rng.choice(COUNTIES[prefecture[0]])
        org = _Org(
            prefecture=prefecture,
            county=county,
            trade=self.trade(),
            industry=rng.choice(INDUSTRIES),
            form=rng.choice(FORMS),
            prefix_style=rng.choice(("region", "prefecture", "prefecture", "county", "none")),
            street=rng.choice(STREETS),
            number=rng.randrange(1, 400),
            rep=_person_name(rng),
            rep_phone=_mobile(rng),
            contact_phone=f"0{rng.choice(('471', '472', '477', '476', '475'))}-{rng.randrange(10**7):07d}",
        )
        if with_uscc:
            org.uscc = self.uscc(county[0])
        return org

    # duplicates: the same company written another way

    def name_variant(self, org: _Org) -> tuple[str, str]:
        rng = self.rng
        how = rng.choice(
            (
                "legal form",
                "region prefix",
                "brackets",
                "full width",
                "traditional",
                "typo",
                "typo",
                "abbreviation",
            )
        )
        core = org.trade + org.industry
        prefix = org.name()[: len(org.name()) - len(core) - len(org.form)]
        form = org.form
        if how == "legal form":
            form = rng.choice(
                [f for f in ("有限公司", "有限责任公司", "股份有限公司", "公司") if f != form]
            )
        elif how == "region prefix":
            prefix = rng.choice(
                [
                    p
                    for p in ("", "内蒙古", org.prefecture[1], org.prefecture[1][:-1])
                    if p != prefix
                ]
            )
        elif how == "brackets":
            if rng.random() < 0.5:
                core = f"{org.trade}{org.industry}(内蒙古)" if prefix else f"{core}(集团)"
                prefix = "" if prefix == "内蒙古" else prefix
            else:
                form = form.replace("(集团)", "") if "(集团)" in form else "(集团)" + form
        elif how == "full width":
            name = (prefix + core + form).replace("(", "（").replace(")", "）")
            return _fullwidth(name) + ("" if rng.random() < 0.5 else "　"), how
        elif how == "traditional":
            return _traditional(prefix + core + form), how
        elif how == "typo":
            if rng.random() < 0.85:
                core = _retype(rng, core)
            else:
                form = rng.choice(("股分有限公司", "有现公司", "有限责仟公司"))
        elif how == "abbreviation":
            short = org.trade + org.industry[:2]
            return rng.choice(
                (short, short + "公司", prefix + short, org.prefecture[1][:-1] + short)
            ), how
        return prefix + core + form, how

    def duplicate(self, org: _Org) -> tuple[dict[str, Any], str]:
        rng = self.rng
        record = org.record()
        name, how = self.name_variant(org)
        if rng.random() < 0.3:  # a second change
            record["name"] = name
            name, second = self.name_variant(_replace_name(org, name))
            how = f"{how}+{second}"
        record["name"] = name
        roll = rng.random()
        address = org.address()
        if roll < 0.3:
            record["address"] = address.replace(org.prefecture[1], "", 1)
        elif roll < 0.45:
            record["address"] = address.replace("号", " 号").replace(org.street, org.street + " ")
        elif roll < 0.55:
            record["address"] = _fullwidth(address)
        elif roll < 0.65:
            record["address"] = address + rng.choice(("1号楼", "A座 1203 室", "二楼"))
        elif roll < 0.72:
            del record["address"]
        elif roll < 0.76:  # moved
            record["address"] = (
                f"{org.prefecture[1]}{org.county[1]}{rng.choice(STREETS)}{rng.randrange(1, 400)}号"
            )
        roll = rng.random()
        if roll < 0.15:
            del record["legal_representative"]["name"]
        elif roll < 0.2:  # a new representative
            record["legal_representative"]["name"] = _person_name(rng)
        roll = rng.random()
        if roll < 0.25:
            record["contacts"] = [{"name": "联系人", "phone": _mobile(rng)}]
            record["legal_representative"]["phone"] = _mobile(rng)
        elif roll < 0.35:
            record["contacts"] = []
        if org.uscc:
            roll = rng.random()
            if roll < 0.5:
                del record["uscc"]
            elif roll < 0.8:  # a legacy conversion: another authority or region, same org code
                region = rng.choice(COUNTIES[org.prefecture[0]])[0]
                record["uscc"] = make_uscc(rng.choice(("91", "92", "93")), region, org.uscc[8:16])
                how += "+legacy USCC"
        return record, how

    # hard non-duplicates: other companies that look alike

    def neighbour(self, org: _Org) -> tuple[_Org, str]:
        rng = self.rng
        other = self.org(with_uscc=rng.random() < 0.25)
        other.form = org.form
        other.prefecture, other.county, other.prefix_style = (
            org.prefecture,
            org.county,
            org.prefix_style,
        )
        how = rng.choice(
            ("sibling name", "sibling name", "other industry", "other region", "same owner")
        )
        if how == "sibling name":  # another trade name one character apart
            i = rng.randrange(len(org.trade))
            chars = [
                c
                for c in TRADE_CHARS
                if c not in org.trade and c not in _HOMOPHONE_OF.get(org.trade[i], "")
            ]
            other.trade = org.trade[:i] + rng.choice(chars) + org.trade[i + 1 :]
            other.industry = org.industry
        elif how == "other industry":
            other.trade = org.trade
        elif how == "other region":  # the same core name registered in another city
            other.trade, other.industry = org.trade, org.industry
            other.prefecture = rng.choice([p for p in PREFECTURES if p != org.prefecture])
            other.county = rng.choice(COUNTIES[other.prefecture[0]])
            other.prefix_style = rng.choice(("prefecture", "county"))
        else:  # the boss's other company: same address, representative and phone, another name
            other.street, other.number = org.street, org.number
            other.rep, other.rep_phone, other.contact_phone = (
                org.rep,
                org.rep_phone,
                org.contact_phone,
            )
        if rng.random() < 0.3:
            other.street = org.street  # a neighbour in the same street
        return other, how

    def branch(self, org: _Org) -> tuple[dict[str, Any], str]:
        record = org.record()
        record["name"] = (
            org.name().replace("(集团)", "") + self.rng.choice(BRANCH_PLACES) + "分公司"
        )
        record.pop("uscc", None)
        if org.uscc:
            record["uscc"] = self.uscc(org.county[0])
        return record, "branch"


def _replace_name(org: _Org, name: str) -> _Org:
    """An org whose name() is `name` (for a second variant on top of a first)."""
    copy = _Org(**{**org.__dict__})
    copy.prefix_style, copy.trade, copy.industry, copy.form = "none", name, "", ""
    return copy


def _organizations(n: int, rng: random.Random) -> LabeledSet:
    out = LabeledSet("organization")
    factory = _OrgFactory(rng)
    label = 0
    while len(out.records) < n:
        label += 1
        org = factory.org(with_uscc=rng.random() < 0.25)
        first = out.add(org.record(), label)
        roll = rng.random()
        if roll < 0.45:  # duplicates
            for _ in range(rng.choice((1, 1, 1, 2))):
                record, how = factory.duplicate(org)
                out.notes[(first, out.add(record, label))] = how
        if rng.random() < 0.45:  # a look-alike company, with duplicates of its own at times
            label += 1
            other, how = factory.neighbour(org)
            second = out.add(other.record(), label)
            out.notes[(first, second)] = how
            if rng.random() < 0.3:
                record, dup_how = factory.duplicate(other)
                out.notes[(second, out.add(record, label))] = dup_how
        if rng.random() < 0.1:
            label += 1
            record, how = factory.branch(org)
            out.notes[(first, out.add(record, label))] = how
    return out


# --- experts -------------------------------------------------------------------------------------

EMPLOYERS = (
    "内蒙古大学",
    "内蒙古工业大学",
    "内蒙古农业大学",
    "内蒙古师范大学",
    "内蒙古科技大学",
    "包头医学院",
    "内蒙古医科大学",
    "内蒙古自治区人民医院",
    "呼和浩特市第一医院",
    "内蒙古电力勘测设计院有限责任公司",
    "内蒙古自治区建筑勘察设计研究院有限责任公司",
    "包头钢铁(集团)有限责任公司",
    "鄂尔多斯市城市规划设计院",
    "赤峰学院",
    "呼伦贝尔学院",
    "内蒙古自治区水利水电勘测设计院",
    "内蒙古自治区财政科学研究所",
    "内蒙古财经大学",
)
TITLES = (
    "高级工程师",
    "正高级工程师",
    "教授",
    "副教授",
    "主任医师",
    "副主任医师",
    "高级会计师",
    "研究员",
)
MAIL = ("163.com", "126.com", "qq.com", "imu.edu.cn", "sina.com")


def _transpose_date(rng: random.Random, born: date) -> date | None:
    """The birth date with day and month swapped or two adjacent digits swapped, if that is
    another valid date."""
    digits = f"{born:%Y%m%d}"
    tries = [digits[:4] + digits[6:8] + digits[4:6]]
    for i in range(2, 7):
        tries.append(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    rng.shuffle(tries)
    for text in tries:
        if text == digits:
            continue
        try:
            other = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            continue
        if date(1940, 1, 1) <= other <= date(2005, 1, 1):
            return other
    return None


def _with_birth(number: str, born: date) -> str:
    body = number[:6] + f"{born:%Y%m%d}" + number[14:17]
    return body + resident_id_check(body)


def _expert(rng: random.Random, name: str | None = None) -> dict[str, Any]:
    prefecture = rng.choice(PREFECTURES)
    region = rng.choice(COUNTIES[prefecture[0]])[0]
    born = date(1955, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    sex = rng.choice((Sex.male, Sex.female))
    name = name or _person_name(rng)
    from search.text import pinyin_full

    return {
        "name": name,
        "id_number": make_resident_id(region, born, rng.randrange(500), sex),
        "sex": sex.value,
        "birth_date": born.isoformat(),
        "phone": _mobile(rng),
        "email": f"{pinyin_full(name, person=True)}{rng.randrange(100)}@{rng.choice(MAIL)}",
        "employer": {"name": rng.choice(EMPLOYERS)},
        "title": rng.choice(TITLES),
        "specialties": [f"A{rng.randrange(1, 9):02d}{rng.randrange(1, 9):02d}"],
        "region_code": region,
    }


def _expert_duplicate(rng: random.Random, base: dict[str, Any]) -> tuple[dict[str, Any], str]:
    record = {**base, "employer": dict(base["employer"])}
    notes = []
    roll = rng.random()
    if roll < 0.55:
        record["name"] = _retype(
            rng, base["name"], range(1, len(base["name"])) if len(base["name"]) > 1 else None
        )
        notes.append("name typo")
    born = date.fromisoformat(base["birth_date"])
    roll = rng.random()
    if roll < 0.3:  # the same number: what register-once refuses, unless imported
        notes.append("same ID")
    elif roll < 0.55:
        other = _transpose_date(rng, born)
        if other:
            record["id_number"] = _with_birth(base["id_number"], other)
            record["birth_date"] = other.isoformat()
            notes.append("birth date transposed")
    elif roll < 0.65:  # one digit of the order code mistyped
        body = (
            base["id_number"][:14]
            + str((int(base["id_number"][14]) + rng.randrange(1, 10)) % 10)
            + base["id_number"][15:17]
        )
        record["id_number"] = body + resident_id_check(body)
        notes.append("ID typo")
    else:  # a legacy import without the number
        del record["id_number"]
        notes.append("no ID")
        if rng.random() < 0.3:
            other = _transpose_date(rng, born)
            if other:
                record["birth_date"] = other.isoformat()
                notes.append("birth date transposed")
    roll = rng.random()
    if roll < 0.3:
        record["phone"] = _mobile(rng)
    elif roll < 0.4:
        del record["phone"]
    roll = rng.random()
    if roll < 0.4:
        del record["email"]
    elif roll < 0.5:
        record["email"] = record["email"].split("@")[0] + "@" + rng.choice(MAIL)
    if rng.random() < 0.25:
        record["employer"] = {"name": rng.choice(EMPLOYERS)}
    return record, "+".join(notes) or "same ID"


def _expert_namesake(rng: random.Random, base: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Another person with the same (or a homophone) name: other ID number, at times the same
    employer or without an ID number (an import)."""
    name = (
        base["name"]
        if rng.random() < 0.7
        else _retype(
            rng, base["name"], range(1, len(base["name"])) if len(base["name"]) > 1 else None
        )
    )
    other = _expert(rng, name)
    how = "namesake"
    if rng.random() < 0.3:
        other["employer"] = dict(base["employer"])
        how += ", same employer"
    if rng.random() < 0.2:
        other["birth_date"] = base["birth_date"]
        body = other["id_number"][:6] + base["id_number"][6:14] + other["id_number"][14:17]
        other["id_number"] = body + resident_id_check(body)
        how += ", same birth date"
    if rng.random() < 0.2:
        del other["id_number"]
        how += ", no ID"
    return other, how


def _experts(n: int, rng: random.Random) -> LabeledSet:
    out = LabeledSet("expert")
    label = 0
    while len(out.records) < n:
        label += 1
        base = _expert(rng)
        first = out.add(base, label)
        if rng.random() < 0.45:
            for _ in range(rng.choice((1, 1, 1, 2))):
                record, how = _expert_duplicate(rng, base)
                out.notes[(first, out.add(record, label))] = how
        if rng.random() < 0.4:
            label += 1
            other, how = _expert_namesake(rng, base)
            out.notes[(first, out.add(other, label))] = how
    return out


# --- commodities ---------------------------------------------------------------------------------


def _brands() -> dict[str, tuple[str, list[str]]]:
    """canonical -> (Chinese name, other aliases)."""
    lines = BRAND_ALIASES_FILE.read_text(encoding="utf-8").splitlines()
    rows = csv.DictReader(line for line in lines if line.strip() and not line.startswith("#"))
    return {
        row["canonical"]: (row["name_zh"], [a for a in (row["aliases"] or "").split("|") if a])
        for row in rows
    }


BRANDS = _brands()


@dataclass(frozen=True)
class _Category:
    catalog_code: str
    kind: str
    brands: tuple[str, ...]
    series: tuple[str, ...]
    letters: str  # model-number prefixes
    suffixes: tuple[str, ...]
    unit: str
    price: tuple[int, int]
    specs: Callable[[random.Random], dict[str, Any]]


CATEGORIES = (
    _Category(
        "A02020000",
        "激光打印机",
        (
            "HP",
            "CANON",
            "BROTHER",
            "PANTUM",
            "LENOVO",
            "RICOH",
            "KYOCERA",
            "EPSON",
            "DELI",
            "XEROX",
        ),
        ("LaserJet Pro", "imageCLASS", "HL", "Smart", "LaserJet", "ECOSYS", "EcoTank", "P"),
        "MPLCB",
        ("dn", "dw", "n", "d", "", "fdw", "nw"),
        "台",
        (800, 6000),
        lambda rng: {
            "print_tech": "激光",
            "print_speed_ppm": rng.choice((22, 28, 33, 38, 40)),
            "duplex": rng.random() < 0.6,
            "color_print": rng.random() < 0.3,
        },
    ),
    _Category(
        "A02010000",
        "便携式计算机",
        ("LENOVO", "HP", "DELL", "HUAWEI", "ASUS", "ACER", "TONGFANG", "APPLE", "XIAOMI"),
        (
            "ThinkPad",
            "ProBook",
            "Latitude",
            "MateBook",
            "VivoBook",
            "TravelMate",
            "超越",
            "昭阳",
            "Vostro",
        ),
        "ETXKVG",
        ("", "s", "G2", "Pro", "i5", "i7"),
        "台",
        (3500, 15000),
        lambda rng: {
            "form_factor": "便携式计算机",
            "memory_gb": rng.choice((8, 16, 32)),
            "storage_gb": rng.choice((256, 512, 1024)),
            "screen_inches": rng.choice((13.3, 14, 15.6)),
        },
    ),
    _Category(
        "A02060000",
        "空调",
        ("GREE", "MIDEA", "HAIER", "HISENSE", "PANASONIC"),
        ("KFR", "云佳", "冷静王", "统帅", "舒适家"),
        "K",
        ("GW", "LW", "GW/BP", ""),
        "台",
        (2000, 9000),
        lambda rng: {"energy_grade": rng.choice(("1级", "2级", "3级"))},
    ),
)


def _model_number(rng: random.Random, category: _Category) -> tuple[str, int, str]:
    return rng.choice(category.letters), rng.randrange(100, 9999), rng.choice(category.suffixes)


def _commodity(
    rng: random.Random,
    category: _Category,
    brand: str,
    series: str,
    parts: tuple[str, int, str],
    specs: dict[str, Any],
    price: int,
) -> dict[str, Any]:
    letter, number, suffix = parts
    zh = BRANDS[brand][0]
    return {
        "catalog_code": category.catalog_code,
        "name": f"{zh}{category.kind} {series} {letter}{number}{suffix}",
        "brand": brand if rng.random() < 0.6 else zh,
        "model": f"{series} {letter}{number}{suffix}",
        "specs": specs,
        "unit": category.unit,
        "reference_price": {"amount": f"{price}.00"},
    }


def _commodity_duplicate(
    rng: random.Random, base: dict[str, Any], brand: str, series: str, parts: tuple[str, int, str]
) -> tuple[dict[str, Any], str]:
    letter, number, suffix = parts
    record = {
        **base,
        "specs": dict(base["specs"]),
        "reference_price": dict(base["reference_price"]),
    }
    zh, aliases = BRANDS[brand]
    how = rng.choice(
        ("spacing", "hyphen", "case", "brand in model", "no series", "brand alias", "full width")
    )
    model = f"{series} {letter}{number}{suffix}"
    if how == "spacing":
        model = f"{series}{letter} {number} {suffix}".strip()
    elif how == "hyphen":
        model = f"{series}-{letter}{number}-{suffix}".strip("-")
    elif how == "case":
        model = model.upper() if rng.random() < 0.5 else model.lower()
    elif how == "brand in model":
        model = f"{rng.choice((brand, zh))} {model}"
    elif how == "no series":
        model = f"{letter}{number}{suffix}"
    elif how == "full width":
        model = _fullwidth(model)
    if how == "brand alias" or rng.random() < 0.3:
        record["brand"] = rng.choice([brand, zh, *aliases, brand.lower()])
    record["model"] = model
    if rng.random() < 0.5:  # another supplier's wording
        record["name"] = (
            f"{rng.choice((brand, zh))} {letter}{number}{suffix} {base['name'][len(zh) : len(zh) + 5].split(' ')[0]}"
        )
    if rng.random() < 0.5:
        amount = float(base["reference_price"]["amount"]) * rng.uniform(0.9, 1.1)
        record["reference_price"] = {"amount": f"{amount:.2f}"}
    if rng.random() < 0.3:
        record["specs"] = dict(list(record["specs"].items())[: max(1, len(record["specs"]) - 2)])
    return record, how


def _commodities(n: int, rng: random.Random) -> LabeledSet:
    out = LabeledSet("commodity")
    used: set[tuple[str, str, str, int, str]] = set()  # one entity per product
    label = 0
    while len(out.records) < n:
        category = rng.choice(CATEGORIES)
        brand = rng.choice(category.brands)
        series = category.series[category.brands.index(brand) % len(category.series)]
        parts = _model_number(rng, category)
        if (category.catalog_code, brand, *parts) in used:
            continue
        used.add((category.catalog_code, brand, *parts))
        label += 1
        specs = category.specs(rng)
        price = rng.randrange(*category.price)
        base = _commodity(rng, category, brand, series, parts, specs, price)
        first = out.add(base, label)
        if rng.random() < 0.45:
            for _ in range(rng.choice((1, 1, 2))):
                record, how = _commodity_duplicate(rng, base, brand, series, parts)
                out.notes[(first, out.add(record, label))] = how
        for _ in range(rng.choice((0, 1, 1, 2))):  # neighbouring models of the line
            letter, number, suffix = parts
            other_brand, other_series = brand, series
            roll = rng.random()
            if roll < 0.45:
                how = "neighbouring model number"
                number += rng.choice((-1, 1, 10, -10, 100))
            elif roll < 0.85:
                how = "other suffix"
                suffix = rng.choice([s for s in category.suffixes if s != suffix])
            else:  # a generic model number that another brand uses too
                how = "other brand, same model number"
                other_brand = rng.choice([b for b in category.brands if b != brand])
                other_series = category.series[
                    category.brands.index(other_brand) % len(category.series)
                ]
            if (category.catalog_code, other_brand, letter, number, suffix) in used:
                continue
            used.add((category.catalog_code, other_brand, letter, number, suffix))
            label += 1
            other_specs = category.specs(rng) if rng.random() < 0.5 else dict(specs)
            other = _commodity(
                rng,
                category,
                other_brand,
                other_series,
                (letter, number, suffix),
                other_specs,
                int(price * rng.uniform(0.85, 1.15)),
            )
            if other_brand == brand:
                other["brand"] = base["brand"]
            out.notes[(first, out.add(other, label))] = how
    return out


_GENERATORS: dict[str, Callable[[int, random.Random], LabeledSet]] = {
    "organization": _organizations,
    "expert": _experts,
    "commodity": _commodities,
}


def generate(kind: str, n: int, seed: int) -> LabeledSet:
    """About `n` labeled records of `kind` (a few more: an entity's duplicates stay together).
    The records are shuffled (with the same seed), so their order says nothing."""
    labeled = _GENERATORS[kind](n, random.Random(f"{kind}:{seed}"))
    order = list(range(len(labeled.records)))
    random.Random(seed).shuffle(order)
    where = {old: new for new, old in enumerate(order)}
    shuffled = LabeledSet(kind)
    for old in order:
        record = labeled.records[old]
        shuffled.add({k: v for k, v in record.items() if k != "id"}, labeled.labels[old])
    shuffled.notes = {
        (min(where[i], where[j]), max(where[i], where[j])): note
        for (i, j), note in labeled.notes.items()
    }
    return shuffled


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Quality:
    """Pairwise quality of a scan over a labeled set."""

    true_pairs: int
    candidates: int  # pairs blocking proposed
    candidates_true: int  # true pairs among them (recall of blocking)
    flagged: int  # pairs for review
    flagged_true: int
    seconds: float
    false_positives: list[tuple[int, int]] = field(default_factory=list)
    false_negatives: list[tuple[int, int]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.flagged_true / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.flagged_true / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def blocking_recall(self) -> float:
        return self.candidates_true / self.true_pairs if self.true_pairs else 1.0


def measure(labeled: LabeledSet, matcher: Any, **kw: int) -> Quality:
    """Run the matcher over the set as a scan does (blocking, then scoring) and count."""
    import time

    from registry.matching import candidate_pairs

    truth = labeled.true_pairs()
    started = time.perf_counter()
    candidates = set(candidate_pairs(labeled.records, matcher, **kw))
    prepared = [matcher.prepare(r) for r in labeled.records]
    flagged = {
        (i, j)
        for i, j in candidates
        if matcher.compare_prepared(prepared[i], prepared[j]).for_review
    }
    seconds = time.perf_counter() - started
    return Quality(
        true_pairs=len(truth),
        candidates=len(candidates),
        candidates_true=len(candidates & truth),
        flagged=len(flagged),
        flagged_true=len(flagged & truth),
        seconds=seconds,
        false_positives=sorted(flagged - truth),
        false_negatives=sorted(truth - flagged),
    )
