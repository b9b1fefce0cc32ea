"""Demo data: realistic, deterministic purchasers, agents, suppliers, experts and commodities of
Inner Mongolia.

`seed_demo(session, count=N)` (`registry seed --demo N`, and `registry serve --demo` with
N = 300 in an empty registry) makes N organizations, then ceil(N / 5) experts and ceil(N / 5)
commodities (`demo_counts`), all through the services:

* experts (`seed_demo_experts`): Chinese (and Mongolian) names; resident ID numbers python-stdnum
  accepts, birth date and sex taken from the number; living in real regions of the shipped
  region tree (mostly where their employer is); a title and 1–3 leaf specialties that fit one
  of a set of profiles (IT, medical, construction, finance, law …); employers among the demo
  organizations (schools and hospitals for teachers and doctors, firms for the others); some
  relationships to avoid (former employers, relatives' employers); three-year terms; states
  active (most), draft, submitted, expired (term ended), suspended, dismissed. ID numbers and
  phones are encrypted by the service.
* commodities (`seed_demo_commodities`): real brands and models of the four catalogue classes
  with specification attributes — computers and servers (A02010000), printers and copiers
  (A02020000), vehicles (A02030000), office furniture (A05010000) — each model with specs that
  validate, a reference price and mostly an image; listed (most), delisted, drafts and under
  review; about half the listed ones with one to three offers of active demo suppliers.

Organizations:

* `seed_demo_organizations(session, count=N)` — N records through the real services
  (`register`, `transition`, `edit`, `decide_change_request`, `debarments.issue`), so every
  record has its event history: ~70 % suppliers, ~15 % agents, ~15 % purchasers, in every
  lifecycle state (most active), some active suppliers with a pending change request, some with
  an approved one, a few debarred. Good for a few thousand records (about 100 a second on two
  cores). Re-running with the same seed skips what is already there, so `count` can grow
  between runs (the plan for N is a prefix of the plan for N + k).
* `bulk_insert_suppliers(connection, count)` — FOR BENCHMARKS ONLY: active suppliers written
  with `COPY` straight into `organizations` (up to millions; data valid against SupplierData,
  projections filled). It bypasses the services and **writes no events** (no history, nothing
  in the change feed), no change requests and no debarments.

Everything a record holds is made from a seeded `random.Random`: names from Inner Mongolia place
names (the shipped region file), trade words and legal forms; unified social credit codes with
both check characters (authority 91 companies, 92 individual businesses, 93 cooperatives,
31 law firms, 52 private non-enterprise units, 11 government organs, 12 public institutions;
organization-code bodies unique; region digits usually those of the record's region); resident
ID numbers that python-stdnum accepts (the birth-place code valid in the birth year — older
legal representatives get the codes of the former leagues, e.g. 伊克昭盟 1527xx); phone numbers
with the prefecture's area code; bank accounts; business scopes of real catalogue codes.
Dates that must be relative to today (debarment periods, suspensions, offers' validity) are not
part of the plan; experts' terms and relationship dates and commodities' price dates are planned
relative to a given day (`as_of`, default today): the same seed and day give the same data.

`python -m registry.demo --orgs 500` (or `--experts`, `--commodities`, `--demo N` for all three)
or `--bulk-suppliers 1000000` loads the configured database (DATABASE_URL or the embedded one)
outside the `registry` command.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
import time
from bisect import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from itertools import accumulate
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection as SAConnection
from sqlalchemy import func
from sqlmodel import Session, col, select

from auth.principals import Principal, PrincipalKind
from models.account import EntityKind, StaffRole
from models.commodity import REGION_WIDE
from models.debarment import DebarmentCreate
from models.organization import Organization, RecordKind, Status
from registry import debarments, organizations
from registry.catalog import DEFAULT_CATALOG_FILE
from registry.errors import Conflict
from registry.identifiers import Sex, make_uscc, resident_id_birth_date, resident_id_sex
from registry.ids import encode_id
from registry.regions import DEFAULT_REGION_FILE

DEFAULT_SEED = 2026
# organizations `registry serve --demo` creates in an empty registry (and N/5 experts, N/5 commodities)
SERVE_DEMO_COUNT = 300

Progress = Callable[[int, int], None]  # (done, total)


# --- reference data from the shipped files ------------------------------------------------------


@dataclass(frozen=True)
class Place:
    code: str
    name: str  # 赛罕区
    level: str  # county | prefecture
    prefecture: str  # 150100
    prefecture_name: str  # 呼和浩特市

    @property
    def full_name(self) -> str:
        """How a name starts when it names this place: 呼和浩特市赛罕区, 土默特左旗, 包头市."""
        if self.level == "prefecture":
            return self.name
        return self.prefecture_name + self.name if self.name.endswith("区") else self.name

    @property
    def bureau(self) -> str:
        return f"{self.name}财政局"


@dataclass(frozen=True)
class _Regions:
    places: tuple[Place, ...]  # 12 prefectures and 103 counties, file order
    by_code: dict[str, Place]
    counties_of: dict[str, tuple[Place, ...]]


def _data_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@lru_cache(maxsize=1)
def _regions() -> _Regions:
    rows = _data_rows(DEFAULT_REGION_FILE.read_text(encoding="utf-8"))
    names = {r["code"]: r["name"] for r in rows}
    places = []
    for r in rows:
        if r["level"] == "prefecture":
            places.append(Place(r["code"], r["name"], "prefecture", r["code"], r["name"]))
        elif r["level"] == "county":
            parent = r["parent_code"]
            places.append(Place(r["code"], r["name"], "county", parent, names[parent]))
    by_code = {p.code: p for p in places}
    counties_of: dict[str, list[Place]] = {}
    for p in places:
        if p.level == "county":
            counties_of.setdefault(p.prefecture, []).append(p)
    return _Regions(tuple(places), by_code, {k: tuple(v) for k, v in counties_of.items()})


@lru_cache(maxsize=1)
def catalogue_codes() -> frozenset[str]:
    """Codes of the shipped catalogue edition (the demo scopes use only these)."""
    rows = _data_rows(DEFAULT_CATALOG_FILE.read_text(encoding="utf-8"))
    return frozenset(r["code"] for r in rows)


def _full_code(short: str) -> str:
    return short if len(short) == 1 else short.ljust(9, "0")


# --- vocabulary ---------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _table(text: str) -> tuple[tuple[str, ...], ...]:
    """Rows of space-separated cells, one row a line."""
    return tuple(tuple(line.split()) for line in text.strip().splitlines())


def _pairs(text: str) -> dict[str, str]:
    return dict(pair.split(":", 1) for pair in text.split())


AREA_CODES = _pairs(
    "150100:0471 150200:0472 150300:0473 150400:0476 150500:0475 150600:0477 "
    "150700:0470 150800:0478 150900:0474 152200:0482 152500:0479 152900:0483"
)
# where records live: relative weight of each prefecture (the prefecture itself gets 15 %)
PREFECTURE_WEIGHTS = {
    code: int(weight)
    for code, weight in _pairs(
        "150100:18 150200:15 150300:3 150400:12 150500:9 150600:15 "
        "150700:8 150800:5 150900:5 152200:3 152500:5 152900:2"
    ).items()
}
# ID numbers of people born before a city replaced its league carry the league's codes
FORMER_LEAGUE = _pairs("1505:1523 1506:1527 1507:1521 1508:1528 1509:1526")

STREETS = _words(
    "新华大街 中山路 人民路 解放路 建设路 团结路 胜利路 友谊路 迎宾路 光明路 民族街 昭君路 "
    "钢铁大街 阿尔丁大街 鄂尔多斯大街 锡林大街 科尔沁大街 昭乌达路 成吉思汗大街 北垣街 "
    "如意开发区腾飞路 金川开发区金川大街 经济技术开发区创业路 工业园区纬三路"
)
BUILDINGS = ("", "", "", *_words("综合楼 商务大厦 科技园 创业大厦 写字楼 金融广场"))

# trade names (字号): whole words, or two characters from CORE_FIRST and CORE_SECOND
CORE_WORDS = _words(
    "草原 敕勒川 大青山 阴山 塞北 北疆 天骄 蒙源 青城 鹿城 驼铃 骏马 白云 阿拉坦 塔拉 "
    "宝力格 那达慕 乌兰 巴彦 额吉 苏力德 金草原 黄河湾 贺兰"
)
CORE_FIRST = "鸿金华恒瑞嘉德聚鑫中广博凯兴永昊盛泰宏新蒙青北祥润丰源远达诚信通利安康和佳明正君晟"
CORE_SECOND = "达泰源通盛丰业远华海宇瑞信安康祥顺隆鼎峰辉宸林汇创博联科晟诚邦川"

# trade word, weight, business scope (catalogue codes, short form)
TRADES: tuple[tuple[str, int, tuple[str, ...]], ...] = tuple(
    (row[0], int(row[1]), row[2:])
    for row in _table(
        """
        科技 10 A0201 A0202 A0206 C1601 C1602 C2305
        信息技术 8 A0201 A0208 C1601 C1602 C1603 C1604 C1607 C1609
        建设 7 B0101 B0102 B0106 B0205 B0213 B0501 B0801
        建筑工程 5 B0101 B0102 B0501 B0502 B0507 B0801 B0302
        生态环境 5 C0701 C0702 A0236 B0214 C1303 C2405
        环保科技 3 A0236 C0701 C0702 C1305
        医疗器械 5 A0232 A0702 C2312
        农牧业 5 A0222 A0703 C0901 C0903 A0227
        文化传媒 4 C0602 C0603 C2315 C2309 C2317 C2307
        物业服务 6 C2104 C2316 C2312 C1305 C1303
        商贸 8 A0202 A0501 A0504 A0710 C2313 C2314
        电子科技 4 A0201 A0206 A0208 A0210 B0601 B0602
        安防科技 3 A0237 B0510 B0602 C1602
        工程咨询 3 C1101 C1102 C1104 C2003
        餐饮管理 3 C2204 A0706 C2203
        印务 2 C2309 A0710 C2315
        汽车销售服务 2 A0203 C2312 C2311
        家具 3 A0501 A0502 A0503
        体育用品 2 A0246 C0604 A0247
        测绘地理信息 2 C1904 C1906 C1603
        检测技术 2 C1901 C2001 C2002 A0210
        会展服务 2 C2201 C2202 C2315 C2327
        能源科技 2 A0217 A0206 C1907 B0603 C0802
        教育科技 2 A0201 A0245 C0206 C0209
        """
    )
)
# trade word: (qualification, number prefix, issuer)
QUALIFICATIONS = {
    row[0]: (row[1], row[2], row[3])
    for row in _table(
        """
        建设 建筑工程施工总承包二级 D215 内蒙古自治区住房和城乡建设厅
        建筑工程 建筑工程施工总承包三级 D315 {prefecture}住房和城乡建设局
        医疗器械 医疗器械经营许可证 蒙食药监械经营许 {prefecture}市场监督管理局
        信息技术 信息系统建设和服务能力等级证书(CS2) CS2-1500- 中国电子信息行业联合会
        测绘地理信息 测绘资质证书(乙级) 乙测资字15 内蒙古自治区自然资源厅
        安防科技 消防设施工程专业承包二级 D215 内蒙古自治区住房和城乡建设厅
        餐饮管理 食品经营许可证 JY3150 {prefecture}市场监督管理局
        检测技术 检验检测机构资质认定证书 2105 内蒙古自治区市场监督管理局
        """
    )
}
GENERIC_QUALIFICATION = ("质量管理体系认证证书(ISO9001)", "00124Q", "中国质量认证中心")

# name suffix, legal form, sizes that use it, weight
COMPANY_FORMS = tuple(
    (row[0], row[1], row[2].split(","), int(row[3]))
    for row in _table(
        """
        有限公司 limited_liability micro,small,medium,large 55
        有限责任公司 limited_liability micro,small,medium,large 25
        股份有限公司 joint_stock medium,large 8
        (集团)有限公司 limited_liability large 4
        (集团)股份有限公司 joint_stock large 1
        """
    )
)
SIZE_WEIGHTS = (("micro", 42), ("small", 35), ("medium", 17), ("large", 6))
CAPITAL = {  # 注册资本(万元)
    "micro": (10, 20, 30, 50, 60, 80, 100),
    "small": (100, 200, 300, 500, 600, 800, 1000),
    "medium": (1000, 1200, 2000, 3000, 5000),
    "large": (5000, 8000, 10000, 20000, 30000, 50000),
}


def _units(text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((row[0], row[1:]) for row in _table(text))


INDIVIDUAL_SHOPS = _units(  # 个体工商户 (code 92)
    """
    五金建材店 A0701 C2314
    办公用品经营部 A0504 A0202 C2314
    打字复印部 C2309 A0710
    汽车修理厂 C2312
    电脑耗材店 A0201 A0202 C2314
    农家饭庄 C2204
    """
)
COOPERATIVES = _units(  # 农民专业合作社 (code 93)
    """
    肉羊养殖专业合作社 A0703 C0903
    马铃薯种植专业合作社 A0703 C0901
    农机服务专业合作社 A0222 C0901
    奶牛养殖专业合作社 A0703 C0903
    饲草料种植专业合作社 A0703 C0901 C0902
    """
)
SOCIAL_UNITS = _units(  # 民办非企业单位 (code 52)
    """
    职业技能培训学校 C0206 C0304
    养老服务中心 C0501 C0599
    社会工作服务中心 C0502 C0599
    康复中心 C0408 C0499
    """
)
PUBLIC_SUPPLIERS = _units(  # 事业单位 (code 12)
    """
    产品质量检验检测中心 C1901 C2001 C2002
    测绘院 C1904 C1906
    勘察设计院 C1101 C1102
    """
)
AGENT_SUFFIXES = _words(
    "招标代理有限公司 项目管理有限公司 工程咨询有限责任公司 招标咨询有限公司 "
    "建设工程招标代理有限公司 工程造价咨询有限公司"
)
AGENT_SCOPE = _words("A02 A05 A07 B01 B02 B05 B06 C11 C16 C21 C23")
AGENT_TITLES = _words("招标师 造价工程师 一级建造师 高级工程师 采购专员 项目经理")

# purchasers: government organs (code 11) and public institutions (code 12)
BUREAU_TYPES = _words(
    "教育局 财政局 卫生健康委员会 自然资源局 农牧局 交通运输局 住房和城乡建设局 "
    "市场监督管理局 文化旅游体育局 水利局 民政局 人力资源和社会保障局 林业和草原局 公安局 应急管理局"
)
# name pattern, index of the supervising organ in BUREAU_TYPES (-1: none named), weight
INSTITUTIONS = tuple(
    (row[0], int(row[1]), int(row[2]))
    for row in _table(
        """
        第{n}中学 0 10
        第{n}小学 0 10
        实验小学 0 3
        蒙古族中学 0 3
        蒙古族小学 0 2
        职业中等专业学校 0 2
        第{n}幼儿园 0 4
        人民医院 2 4
        中医医院 2 2
        蒙医医院 2 3
        妇幼保健院 2 2
        疾病预防控制中心 2 3
        政务服务中心 -1 2
        不动产登记中心 3 2
        融媒体中心 -1 2
        公共资源交易中心 -1 2
        综合检验检测中心 7 1
        农牧业技术推广中心 4 2
        社会福利院 10 1
        图书馆 8 1
        """
    )
)
NUMERALS = "一二三四五六七八九十"

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁"
    "魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹"
    "武乔贺常包云鲍"
)
GIVEN_MALE = _words(
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帅 旭 宁 龙 峰 "
    "建国 志强 海涛 永刚 建军 晓东 国庆 文博 子轩 振华 俊杰 立新 宏伟"
)
GIVEN_FEMALE = _words(
    "芳 娜 敏 静 丽 艳 娟 霞 燕 玲 婷 雪 慧 琳 颖 洁 红 梅 莉 萍 "
    "秀英 桂英 晓燕 丽娟 海燕 雅琴 欣怡 梓涵 春梅 晓红 丽华"
)
MONGOLIAN_MALE = _words(
    "巴特尔 苏和 额尔敦 朝鲁 孟和 宝音 那日苏 阿拉坦仓 巴雅尔 毕力格 布和 达来 "
    "额尔德尼 哈斯 吉日格勒 斯琴巴特尔 特木尔 乌力吉 白音 巴图"
)
MONGOLIAN_FEMALE = _words(
    "其其格 萨仁 图雅 乌兰 斯琴 格日勒 托娅 娜仁 阿拉坦其其格 萨如拉 乌日娜 高娃 敖登 苏日娜 塔娜"
)
CONTACT_ROLES = _words("经办人 销售经理 财务负责人 办公室主任 商务专员")
PURCHASER_ROLES = _words("经办人 财务科长 办公室主任 采购专管员")
MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 155 156 157 158 159 166 "
    "176 177 178 180 181 182 183 185 186 187 188 189 191 198 199"
)
# bank, account number prefix ('-': none), total digits, weight
BANKS = tuple(
    (row[0], row[1].strip("-"), int(row[2]), int(row[3]))
    for row in _table(
        """
        中国工商银行 0602 19 20
        中国农业银行 05 15 15
        中国银行 - 12 10
        中国建设银行 150501 20 18
        交通银行 15100 21 5
        内蒙古银行 5 16 12
        蒙商银行 6 17 6
        内蒙古农村商业银行 1 19 10
        """
    )
)
EMAIL_DOMAINS = _words("example.com example.cn example.net")

RETURN_REASONS = _words(
    "营业执照扫描件不清晰,请重新上传 法定代表人身份证号码与营业执照信息不一致,请核对 "
    "经营范围与营业执照不符,请按执照填写 缺少基本存款账户信息,请补充银行账户 "
    "联系电话无法接通,请更新联系人信息 资质证书已过有效期,请上传有效证书"
)
SUSPEND_REASONS = {
    RecordKind.supplier: _words(
        "被列入经营异常名录(未按期公示年度报告) 资质证书过期,暂停至补正 "
        "涉嫌提供虚假材料,调查期间暂停 无正当理由放弃中标、成交资格 住所无法联系,经核查暂停"
    ),
    RecordKind.agent: _words("未按规定保存采购文件,限期整改 专职从业人员不足,限期整改"),
    RecordKind.purchaser: _words("预算单位编码调整中,暂停采购活动"),
}
CANCEL_REASONS = {
    RecordKind.supplier: _words("企业已办理注销登记 营业执照被依法吊销 单位申请退出供应商库"),
    RecordKind.agent: _words("代理机构已办理注销登记 单位申请退出代理机构库"),
    RecordKind.purchaser: _words("机构改革,单位已撤并 预算单位已撤销"),
}
DRAFT_CANCEL_REASONS = _words("重复登记,作废 登记信息有误,作废")
# (reason, legal basis)
DEBARMENT_GROUNDS = tuple(
    (row[0], row[1])
    for row in _table(
        """
        提供虚假材料谋取中标、成交 《中华人民共和国政府采购法》第七十七条第一款第(一)项
        与其他供应商恶意串通 《中华人民共和国政府采购法》第七十七条第一款第(三)项
        中标后无正当理由拒不与采购人签订政府采购合同 《中华人民共和国政府采购法实施条例》第七十二条
        拒绝有关部门监督检查或者提供虚假情况 《中华人民共和国政府采购法》第七十七条第一款第(五)项
        """
    )
)


def _status_weights(text: str) -> tuple[tuple[Status, int], ...]:
    return tuple((Status(s), int(w)) for s, w in _pairs(text).items())


# the states an organization can be in (expired, dismissed, delisted are experts' and goods')
ORGANIZATION_STATUSES = (
    Status.draft,
    Status.submitted,
    Status.returned,
    Status.active,
    Status.suspended,
    Status.cancelled,
)

# lifecycle mix per kind (most records active)
STATUS_WEIGHTS = {
    RecordKind.supplier: _status_weights(
        "active:68 draft:6 submitted:8 returned:5 suspended:6 cancelled:7"
    ),
    RecordKind.agent: _status_weights(
        "active:72 draft:5 submitted:8 returned:5 suspended:4 cancelled:6"
    ),
    RecordKind.purchaser: _status_weights(
        "active:80 draft:5 submitted:7 returned:3 suspended:1 cancelled:4"
    ),
}
KIND_WEIGHTS = ((RecordKind.supplier, 70), (RecordKind.agent, 15), (RecordKind.purchaser, 15))
# the first records of every plan: each state, a change request and a debarment, whatever N is
OPENING: tuple[tuple[RecordKind, Status, str | None], ...] = (
    *((RecordKind.supplier, status, None) for status in ORGANIZATION_STATUSES),
    (RecordKind.supplier, Status.active, "change"),
    (RecordKind.supplier, Status.active, "debarment"),
    (RecordKind.agent, Status.active, None),
    (RecordKind.purchaser, Status.active, None),
    (RecordKind.agent, Status.submitted, None),
    (RecordKind.purchaser, Status.returned, None),
)
PENDING_CHANGE_SHARE = 0.07  # of active suppliers
CHANGED_SHARE = 0.05  # of active suppliers: a change request, approved
DEBARRED_SHARE = 0.025  # of active suppliers


# --- codes --------------------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters (no I, O, S, V, Z)
USCC_LETTERS = USCC_ALPHABET[10:]  # 21


class _Bodies:
    """Organization-code bodies: a bijective scramble of a counter, so never two alike.

    Each namespace has its own fixed head, so bodies of different namespaces never meet either:
    ``MA`` + letter + 5 chars (companies, firms, cooperatives), ``MJ`` + letter + 5 (social
    organizations), ``4`` + 7 digits (public institutions), ``MB`` + 6 chars (bulk suppliers),
    and ``0`` + bureau type + region (government organs, one per bureau type and region).
    """

    def __init__(self, rng: random.Random, head: str, radices: tuple[str, ...]) -> None:
        self.head = head
        self.radices = radices
        self.size = math.prod(len(r) for r in radices)
        multiplier = rng.randrange(self.size // 3, self.size)
        while math.gcd(multiplier, self.size) != 1:
            multiplier += 1
        self.multiplier = multiplier
        self.offset = rng.randrange(self.size)
        self.next = 0

    def body(self, index: int | None = None) -> str:
        if index is None:
            index, self.next = self.next, self.next + 1
        value = (index * self.multiplier + self.offset) % self.size
        chars = []
        for radix in reversed(self.radices):
            value, digit = divmod(value, len(radix))
            chars.append(radix[digit])
        return self.head + "".join(reversed(chars))


def _opaque_id(prefix: str, tag: str) -> str:
    """Deterministic demo ids, in the same form as `registry.ids.new_id`."""
    return encode_id(
        prefix, int.from_bytes(hashlib.blake2b(tag.encode(), digest_size=10).digest(), "big")
    )


def _parse_years(entry: str) -> tuple[int, int, str]:
    if not entry.startswith("["):
        return (0, 9999, entry)
    span, name = entry[1:].split("]", 1)
    start, end = span.split("-")
    return (int(start) if start else 0, int(end) if end else 9999, name)


@lru_cache(maxsize=1)
def _birth_places() -> dict[str, tuple[tuple[int, int], ...]]:
    """Inner Mongolia county-level codes python-stdnum knows, with the years each was in use."""
    from stdnum import numdb

    db = numdb.get("cn/loc")
    known: dict[str, tuple[tuple[int, int], ...]] = {}
    for prefecture in range(1, 30):
        for county in range(1, 100):
            code = f"15{prefecture:02d}{county:02d}"
            info = {k: v for _, props in db.info(code) for k, v in props.items()}
            if "county" not in info:
                continue
            spans = tuple(
                (start, end)
                for start, end, name in map(_parse_years, info["county"].split(","))
                if name not in ("市辖区", "市区")
            )
            if spans:
                known[code] = spans
    return known


def _in_use(code: str, year: int) -> bool:
    return any(start <= year <= end for start, end in _birth_places().get(code, ()))


@cache
def _birth_candidates(code: str, year: int) -> tuple[str, ...]:
    """Birth-place codes for someone of `code` born in `year`: the county itself, else its
    prefecture's (or former league's) counties of that time, else any of Inner Mongolia."""
    if _in_use(code, year):
        return (code,)
    for prefix in (code[:4], FORMER_LEAGUE.get(code[:4], ""), "15"):
        if prefix:
            found = tuple(c for c in _birth_places() if c.startswith(prefix) and _in_use(c, year))
            if found:
                return found
    raise ValueError(f"no birth place for {code} in {year}")


def resident_id(rng: random.Random, region: str, male: bool, year: int) -> str:
    """A valid 18-digit resident ID number (python-stdnum accepts it)."""
    from stdnum.cn import ric

    candidates = _birth_candidates(region, year)
    place = candidates[0] if len(candidates) == 1 else rng.choice(candidates)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    order = rng.randrange(500) * 2 + (1 if male else 0)  # odd for men, even for women
    body = f"{place}{year}{month:02d}{day:02d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoOrg:
    """One planned record: its data and the lifecycle it goes through."""

    index: int
    id: str
    kind: RecordKind
    status: Status  # where it ends up
    payload: dict[str, Any]
    reason: str | None = None  # for returned, suspended and cancelled
    cancel_from_draft: bool = False
    change: dict[str, Any] | None = None  # a change request of an active supplier …
    change_approved: bool = False  # … approved by the bureau, else left pending
    debarment: tuple[str, str] | None = None  # (reason, legal basis)


T = TypeVar("T")


class _Weighted(Generic[T]):
    """A weighted choice, set up once (as `random.choices` does it, without the set-up)."""

    def __init__(self, pairs: Iterable[tuple[T, int]]) -> None:
        items = list(pairs)
        self.values = [v for v, _ in items]
        self.cumulative = list(accumulate(w for _, w in items))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


PICK_PREFECTURE = _Weighted(PREFECTURE_WEIGHTS.items())
PICK_VARIANT = _Weighted(  # kinds of supplier
    (variant, int(weight))
    for variant, weight in _pairs(
        "company:82 accounting:3 law:2 sole:3 individual:4 cooperative:3 social:2 public:1"
    ).items()
)
PICK_SIZE = _Weighted(SIZE_WEIGHTS)
PICK_TRADE = _Weighted((t, t[1]) for t in TRADES)
PICK_FORM = {
    size: _Weighted((f, f[3]) for f in COMPANY_FORMS if size in f[2]) for size, _ in SIZE_WEIGHTS
}
PICK_BANK = _Weighted((b, b[3]) for b in BANKS)
PICK_INSTITUTION = _Weighted((i, i[2]) for i in INSTITUTIONS)
PICK_KIND = _Weighted(KIND_WEIGHTS)
PICK_STATUS = {kind: _Weighted(weights) for kind, weights in STATUS_WEIGHTS.items()}


def _chinese_number(n: int) -> str:
    if n > 99:
        return str(n)
    if n <= 10:
        return NUMERALS[n - 1]
    tens, units = divmod(n, 10)
    head = "十" if tens == 1 else NUMERALS[tens - 1] + "十"
    return head + (NUMERALS[units - 1] if units else "")


class _Generator:
    def __init__(self, seed: int | str) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        regions = _regions()
        self.places = regions.places
        self.counties_of = regions.counties_of
        # the first records visit every county and prefecture once, in a seeded order
        self.tour = list(self.places)
        self.rng.shuffle(self.tour)
        rng = self.rng
        self.company_bodies = _Bodies(rng, "MA", (USCC_LETTERS,) + (USCC_ALPHABET,) * 5)
        self.social_bodies = _Bodies(rng, "MJ", (USCC_LETTERS,) + (USCC_ALPHABET,) * 5)
        self.institution_bodies = _Bodies(rng, "4", ("0123456789",) * 7)
        self.names: dict[RecordKind, set[str]] = {kind: set() for kind in RecordKind}
        self.pick_county = {
            prefecture: _Weighted((c, 2 if c.name.endswith("区") else 1) for c in counties)
            for prefecture, counties in self.counties_of.items()
        }
        self.numbered: Counter[str] = Counter()

    # places and people

    def place(self, index: int) -> Place:
        return self.tour[index] if index < len(self.tour) else self.weighted_place()

    def weighted_place(self) -> Place:
        rng = self.rng
        prefecture = PICK_PREFECTURE.pick(rng)
        if rng.random() < 0.15:
            return _regions().by_code[prefecture]
        return self.pick_county[prefecture].pick(rng)

    def county_of(self, place: Place) -> Place:
        if place.level == "county":
            return place
        return self.rng.choice(self.counties_of[place.code])

    def person(self, place: Place) -> dict[str, Any]:
        rng = self.rng
        male = rng.random() < 0.62
        if rng.random() < 0.18:
            name = rng.choice(MONGOLIAN_MALE if male else MONGOLIAN_FEMALE)
        else:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
        year = rng.randint(1962, 1998)
        return {
            "name": name,
            "id_number": resident_id(rng, self.county_of(place).code, male, year),
            "phone": self.mobile(),
        }

    def mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def landline(self, place: Place) -> str:
        return f"{AREA_CODES[place.prefecture]}-{self.rng.randint(2, 8)}{self.rng.randrange(10**6):06d}"

    def contacts(self, place: Place, roles: tuple[str, ...], count: int) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        for i in range(count):
            person = self.person(place)
            phone = self.landline(place) if i == 0 and rng.random() < 0.4 else person["phone"]
            email = None
            if rng.random() < 0.5:
                email = f"contact{rng.randrange(10**6):06d}@{rng.choice(EMAIL_DOMAINS)}"
            out.append(
                {"name": person["name"], "phone": phone, "email": email, "role": rng.choice(roles)}
            )
        return out

    def address(self, place: Place) -> str:
        rng = self.rng
        county = self.county_of(place)
        building = rng.choice(BUILDINGS)
        tail = f"{building}{rng.randint(1, 28)}层" if building else ""
        street = f"{rng.choice(STREETS)}{rng.randint(1, 299)}号"
        return f"内蒙古自治区{county.prefecture_name}{county.name}{street}{tail}"

    def code_region(self, place: Place, statewide: bool) -> str:
        """Region digits of the code: the registering authority's region."""
        rng = self.rng
        if statewide:
            return "150000"
        roll = rng.random()
        if roll < 0.03:  # registered elsewhere, moved here since (the API warns)
            other = rng.choice(self.places)
            if other.prefecture != place.prefecture:
                return other.code
        if roll < 0.18 or place.level == "prefecture":
            return place.prefecture
        return place.code

    def core(self) -> str:
        rng = self.rng
        if rng.random() < 0.35:
            return rng.choice(CORE_WORDS)
        first = rng.choice(CORE_FIRST)
        second = rng.choice(CORE_SECOND)
        return first + second if first != second else first + "誉"

    def unique(self, kind: RecordKind, make: Callable[[str], str]) -> str:
        """`make(trade name)` until the name is new for the kind (three-character trade names
        once two-character ones get crowded)."""
        tries = 0
        while True:
            core = self.core()
            if tries >= 40:
                core += self.rng.choice(CORE_SECOND)
            name = make(core)
            if name not in self.names[kind]:
                self.names[kind].add(name)
                return name
            tries += 1

    def take(self, kind: RecordKind, name: str) -> bool:
        """Claim a name without a trade name in it; False if it is taken."""
        if name in self.names[kind]:
            return False
        self.names[kind].add(name)
        return True

    def scope(self, codes: tuple[str, ...], low: int = 2, high: int = 5) -> list[str]:
        rng = self.rng
        chosen = rng.sample(codes, min(len(codes), rng.randint(low, high)))
        return sorted({_full_code(c) for c in chosen})

    def bank_account(self, name: str, place: Place) -> dict[str, Any]:
        rng = self.rng
        bank, prefix, digits, _ = PICK_BANK.pick(rng)
        if place.prefecture == "150600" and rng.random() < 0.3:
            bank, prefix, digits = "鄂尔多斯银行", "8", 16
        county = self.county_of(place)
        branch = f"{county.prefecture_name.removesuffix('市').removesuffix('盟')}{county.name[:-1] if len(county.name) > 2 else county.name}支行"
        width = digits - len(prefix)
        number = f"{prefix}{rng.randrange(10**width):0{width}d}"
        return {"bank": f"{bank}{branch}", "account_name": name, "account_number": number}

    def qualification(self, trade: str, place: Place) -> dict[str, Any]:
        rng = self.rng
        name, prefix, issuer = QUALIFICATIONS.get(trade, GENERIC_QUALIFICATION)
        start = date(2021, 1, 1) + timedelta(days=rng.randrange(4 * 365))
        return {
            "name": name,
            "number": f"{prefix}{rng.randrange(10**8):08d}",
            "issuer": issuer.format(prefecture=place.prefecture_name),
            "valid_from": start.isoformat(),
            "valid_to": date(start.year + 5, start.month, min(start.day, 28)).isoformat(),
        }

    # the three kinds

    def supplier(self, place: Place, body: str | None = None) -> dict[str, Any]:
        """A supplier of `place`; `body` (the organization code's) is drawn unless given."""
        rng = self.rng
        variant = PICK_VARIANT.pick(rng)
        size = PICK_SIZE.pick(rng)
        county = self.county_of(place)
        capital: int | None = rng.choice(CAPITAL[size])
        qualifications: list[dict[str, Any]] = []
        legal_form, authority, statewide = "other", "91", False
        scope_codes: tuple[str, ...] = ()
        name = ""
        if variant == "public":  # a public institution selling services (testing, surveys …)
            unit, scope_codes = rng.choice(PUBLIC_SUPPLIERS)
            if self.take(RecordKind.supplier, place.full_name + unit):
                legal_form, authority, size, name = (
                    "public_institution",
                    "12",
                    "medium",
                    place.full_name + unit,
                )
            else:
                variant = "company"
        if variant == "company":
            trade, _, codes = PICK_TRADE.pick(rng)
            suffix, legal_form, _, _ = PICK_FORM[size].pick(rng)
            roll = rng.random()
            if (size in ("medium", "large") and roll < 0.5) or roll < 0.15:
                head = "内蒙古"
            elif place.level == "county" and roll < 0.45:
                head = place.full_name
            else:
                head = place.prefecture_name
            statewide = head == "内蒙古"
            name = self.unique(RecordKind.supplier, lambda core: f"{head}{core}{trade}{suffix}")
            scope = self.scope(codes)
            if trade in QUALIFICATIONS or rng.random() < 0.4:
                qualifications.append(self.qualification(trade, place))
        else:
            if variant == "accounting":
                legal_form, scope_codes = "partnership", ("C2302", "C2303", "C2304", "C2003")
                head = place.prefecture_name
                name = self.unique(
                    RecordKind.supplier, lambda core: f"{head}{core}会计师事务所(普通合伙)"
                )
            elif variant == "law":
                legal_form, authority, scope_codes = "partnership", "31", ("C2301",)
                statewide = rng.random() < 0.5
                head = "内蒙古" if statewide else place.prefecture_name
                name = self.unique(RecordKind.supplier, lambda core: f"{head}{core}律师事务所")
            elif variant == "sole":
                legal_form = "sole_proprietorship"
                trade, _, scope_codes = rng.choice(TRADES[:12])
                name = self.unique(
                    RecordKind.supplier, lambda core: f"{county.full_name}{core}{trade}中心"
                )
            elif variant == "individual":
                legal_form, authority, capital = "individual_business", "92", None
                shop, scope_codes = rng.choice(INDIVIDUAL_SHOPS)
                name = self.unique(
                    RecordKind.supplier, lambda core: f"{county.full_name}{core}{shop}"
                )
            elif variant == "cooperative":
                authority = "93"
                shop, scope_codes = rng.choice(COOPERATIVES)
                name = self.unique(
                    RecordKind.supplier, lambda core: f"{county.full_name}{core}{shop}"
                )
            elif variant == "social":
                authority = "52"
                unit, scope_codes = rng.choice(SOCIAL_UNITS)
                head = place.prefecture_name
                name = self.unique(RecordKind.supplier, lambda core: f"{head}{core}{unit}")
            if variant != "public":
                size = (
                    "micro" if variant in ("sole", "individual") else rng.choice(("micro", "small"))
                )
                capital = None if capital is None else rng.choice(CAPITAL[size])
            scope = self.scope(scope_codes, 1, 3)
        if body is None:
            bodies = {"52": self.social_bodies, "12": self.institution_bodies}
            body = bodies.get(authority, self.company_bodies).body()
        if authority in ("31", "52"):  # registered by the league's or the region's department
            code_region = "150000" if statewide else place.prefecture
        else:
            code_region = self.code_region(place, statewide)
        accounts = [self.bank_account(name, place)]
        if size in ("medium", "large") and rng.random() < 0.3:
            accounts.append(self.bank_account(name, place))
        return {
            "uscc": make_uscc(authority, code_region, body),
            "name": name,
            "region_code": place.code,
            "address": self.address(place),
            "contacts": self.contacts(place, CONTACT_ROLES, rng.choice((1, 1, 2))),
            "legal_form": legal_form,
            "size": size,
            "legal_representative": self.person(place),
            "registered_capital": f"{capital}.00" if capital is not None else None,
            "business_scope": scope,
            "qualifications": qualifications,
            "bank_accounts": accounts,
        }

    def agent(self, place: Place) -> dict[str, Any]:
        rng = self.rng
        statewide = rng.random() < 0.45
        head = "内蒙古" if statewide else place.prefecture_name
        suffix = rng.choice(AGENT_SUFFIXES)
        name = self.unique(RecordKind.agent, lambda core: f"{head}{core}{suffix}")
        scope = ["A", "B", "C"] if rng.random() < 0.4 else self.scope(AGENT_SCOPE, 3, 6)
        staff = [
            {
                "name": self.person(place)["name"],
                "title": rng.choice(AGENT_TITLES),
                "certificate": f"ZB{rng.randint(2015, 2024)}{rng.randrange(10**6):06d}"
                if rng.random() < 0.6
                else None,
            }
            for _ in range(rng.randint(2, 8))
        ]
        qualifications = []
        if "工程" in suffix or "造价" in suffix:
            start = date(2021, 1, 1) + timedelta(days=rng.randrange(3 * 365))
            qualifications.append(
                {
                    "name": "工程咨询单位乙级资信",
                    "number": f"乙{rng.randrange(10**9):09d}",
                    "issuer": "内蒙古自治区工程咨询协会",
                    "valid_from": start.isoformat(),
                    "valid_to": (start + timedelta(days=3 * 365)).isoformat(),
                }
            )
        code_region = self.code_region(place, statewide)
        return {
            "uscc": make_uscc("91", code_region, self.company_bodies.body()),
            "name": name,
            "region_code": place.code,
            "address": self.address(place),
            "contacts": self.contacts(place, CONTACT_ROLES, rng.choice((1, 2))),
            "legal_representative": self.person(place),
            "business_scope": scope,
            "qualifications": qualifications,
            "staff": staff,
        }

    def purchaser(self, place: Place) -> dict[str, Any]:
        """A government organ (局, 委员会; code 11) or a public institution (school, hospital,
        centre; code 12) of the place; schools and hospitals name their supervising organ."""
        rng = self.rng
        if rng.random() < 0.22:
            bureau = rng.choice(BUREAU_TYPES)
            name = place.full_name + bureau
            if self.take(RecordKind.purchaser, name):
                uscc = _organ_uscc(place.code, BUREAU_TYPES.index(bureau))
                return self._purchaser_data(place, uscc, name, None)
        pattern, parent_type, _ = PICK_INSTITUTION.pick(rng)
        name = place.full_name + pattern
        if "{n}" in pattern or not self.take(RecordKind.purchaser, name):
            if "{n}" not in pattern:  # that one exists here already: another numbered school
                pattern, parent_type = "第{n}小学", 0
            key = place.code + pattern
            self.numbered[key] += 1
            name = place.full_name + pattern.format(n=_chinese_number(self.numbered[key]))
            self.names[RecordKind.purchaser].add(name)
        parent = _organ_uscc(place.code, parent_type) if parent_type >= 0 else None
        code_region = place.code if rng.random() < 0.85 else place.prefecture
        uscc = make_uscc("12", code_region, self.institution_bodies.body())
        return self._purchaser_data(place, uscc, name, parent)

    def _purchaser_data(
        self, place: Place, uscc: str, name: str, parent: str | None
    ) -> dict[str, Any]:
        rng = self.rng
        return {
            "uscc": uscc,
            "name": name,
            "region_code": place.code,
            "address": self.address(place),
            "contacts": self.contacts(place, PURCHASER_ROLES, 1),
            "budget_unit_code": f"{place.code}{rng.randrange(1, 1000):03d}",
            "parent_uscc": parent,
        }

    # the lifecycle

    def organization(self, index: int) -> DemoOrg:
        rng = self.rng
        extra: str | None = None
        if index < len(OPENING):
            kind, status, extra = OPENING[index]
        else:
            kind = PICK_KIND.pick(rng)
            status = PICK_STATUS[kind].pick(rng)
        place = self.place(index)
        payload = {
            RecordKind.supplier: self.supplier,
            RecordKind.agent: self.agent,
            RecordKind.purchaser: self.purchaser,
        }[kind](place)
        org_id = _opaque_id(organizations.ID_PREFIX[kind], f"demo:{self.seed}:{index}")
        reason: str | None = None
        cancel_from_draft = False
        if status is Status.returned:
            reason = rng.choice(RETURN_REASONS)
        elif status is Status.suspended:
            reason = rng.choice(SUSPEND_REASONS[kind])
        elif status is Status.cancelled:
            cancel_from_draft = rng.random() < 0.3
            reason = rng.choice(DRAFT_CANCEL_REASONS if cancel_from_draft else CANCEL_REASONS[kind])
        change = None
        change_approved = False
        debarment = None
        if kind is RecordKind.supplier and status is Status.active:
            roll = rng.random()
            if extra == "change" or (extra is None and roll < PENDING_CHANGE_SHARE):
                change = self.change(place, payload)
            elif extra == "debarment" or (
                extra is None and roll < PENDING_CHANGE_SHARE + DEBARRED_SHARE
            ):
                debarment = rng.choice(DEBARMENT_GROUNDS)
            elif extra is None and roll < PENDING_CHANGE_SHARE + DEBARRED_SHARE + CHANGED_SHARE:
                change, change_approved = self.change(place, payload), True
        return DemoOrg(
            index=index,
            id=org_id,
            kind=kind,
            status=status,
            payload=payload,
            reason=reason,
            cancel_from_draft=cancel_from_draft,
            change=change,
            change_approved=change_approved,
            debarment=debarment,
        )

    def change(self, place: Place, payload: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        what = rng.choice(("address", "capital", "scope"))
        if what == "capital" and payload.get("registered_capital"):
            capital = int(float(payload["registered_capital"])) * rng.choice((2, 3, 5))
            return {"registered_capital": f"{capital}.00"}
        if what == "scope":
            extra = _full_code(rng.choice(("C2312", "C2313", "C1607", "A0202")))
            if extra not in payload["business_scope"]:
                return {"business_scope": sorted([*payload["business_scope"], extra])}
        new_address = self.address(place)
        while new_address == payload.get("address"):
            new_address = self.address(place)
        return {"address": new_address}


def _organ_uscc(region: str, bureau_type: int) -> str:
    """A government organ's code: one per bureau type and region (so schools can name theirs)."""
    return make_uscc("11", region, f"0{bureau_type:02d}{region[2:]}0")


def plan_demo_organizations(count: int, seed: int = DEFAULT_SEED) -> list[DemoOrg]:
    """The records `seed_demo_organizations` creates, without a database. Deterministic: the same
    seed gives the same records, and the plan for N is the first N of the plan for N + k."""
    generator = _Generator(seed)
    return [generator.organization(i) for i in range(count)]


# --- seeding through the services ---------------------------------------------------------------


@dataclass
class DemoReport:
    requested: int
    seed: int
    created: int = 0
    skipped: int = 0  # already there (same id or same code): an earlier run with this seed
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    change_requests: int = 0  # left pending
    changes_approved: int = 0
    debarments: int = 0
    warnings: int = 0  # records whose code names another region (the API's hint)
    seconds: float = 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        states = ", ".join(f"{k} {n}" for k, n in sorted(self.by_status.items()))
        return (
            f"demo organizations: {self.created} created ({kinds or '-'}), {self.skipped} already "
            f"present; states: {states or '-'}; {self.change_requests} pending change requests, "
            f"{self.changes_approved} approved ones, {self.debarments} debarments; "
            f"{self.seconds:.1f} s"
        )


def _clerk(region: str) -> Principal:
    place = _regions().by_code.get(region)
    bureau = place.bureau if place else "内蒙古自治区财政厅"
    return Principal(
        PrincipalKind.staff,
        f"demo-seed:{region}",
        f"{bureau}(演示数据)",
        region_code=region,
        role=StaffRole.reviewer,
    )


def _owner(org: DemoOrg) -> Principal:
    contacts = org.payload.get("contacts") or [{"name": "经办人"}]
    return Principal(
        PrincipalKind.self_service,
        f"demo-seed:{org.id}",
        contacts[0]["name"],
        entity_kind=EntityKind(org.kind.value),
        entity_id=org.id,
    )


def _present(session: Session, plan: list[DemoOrg]) -> tuple[set[str], set[tuple[str, str | None]]]:
    ids: set[str] = set()
    codes: set[tuple[str, str | None]] = set()
    for start in range(0, len(plan), 1000):
        chunk = plan[start : start + 1000]
        rows = session.exec(
            select(Organization.id, Organization.kind, Organization.uscc).where(
                (col(Organization.id).in_([o.id for o in chunk]))
                | (col(Organization.uscc).in_([o.payload["uscc"] for o in chunk]))
            )
        ).all()
        for org_id, kind, uscc in rows:
            ids.add(org_id)
            codes.add((kind, uscc))
    return ids, codes


def _no_version_check(_: int) -> None:
    return None


def _create(session: Session, org: DemoOrg, report: DemoReport) -> None:
    kind, region = org.kind, org.payload["region_code"]
    clerk = _clerk(region)

    def move(name: str, reason: str | None = None, until: date | None = None) -> None:
        organizations.transition(
            session, kind=kind, org_id=org.id, name=name, actor=clerk, reason=reason, until=until
        )

    row = organizations.register(
        session, kind=kind, payload=org.payload, actor=clerk, org_id=org.id
    )
    report.warnings += bool(row.warnings)
    if org.status is Status.cancelled and org.cancel_from_draft:
        move("cancel", org.reason)
    elif org.status is not Status.draft:
        move("submit")
        if org.status is Status.returned:
            move("return", org.reason)
        elif org.status is not Status.submitted:
            move("approve")
            if org.status is Status.suspended:
                # a third of the suspensions run until a date; deterministic from the index
                until = date.today() + timedelta(days=90) if org.index % 3 == 0 else None
                move("suspend", org.reason, until)
            elif org.status is Status.cancelled:
                move("cancel", org.reason)
    if org.change is not None:
        row = organizations.edit(
            session,
            kind=kind,
            org_id=org.id,
            patch=org.change,
            actor=_owner(org),
            check_version=_no_version_check,
        )
        if org.change_approved and row.pending_change_request:
            organizations.decide_change_request(
                session,
                kind=kind,
                org_id=org.id,
                request_id=row.pending_change_request,
                decision="approve",
                actor=clerk,
                reason=None,
            )
            report.changes_approved += 1
        else:
            report.change_requests += 1
    if org.debarment is not None:
        reason, basis = org.debarment
        starts = date.today() - timedelta(days=30 + org.index % 300)
        debarments.issue(
            session,
            kind=kind,
            org_id=org.id,
            body=DebarmentCreate(
                authority=clerk.name.removesuffix("(演示数据)"),
                legal_basis=basis,
                reason=reason,
                starts_on=starts,
                ends_on=starts + timedelta(days=365 * (1 + org.index % 3)),
            ),
            actor=clerk,
        )
        report.debarments += 1


def seed_demo_organizations(
    session: Session, *, count: int, seed: int = DEFAULT_SEED, progress: Progress | None = None
) -> DemoReport:
    """Create `count` demo organizations through the services (events, history, change feed).

    Runs in the caller's transaction (it only flushes). Records of an earlier run with the same
    seed are skipped, so a larger `count` adds the missing ones. Flushed objects are detached
    every 500 records to keep memory flat: the caller should not rely on objects it added
    before the call staying attached.
    """
    began = time.monotonic()
    report = DemoReport(requested=count, seed=seed)
    plan = plan_demo_organizations(count, seed)
    ids, codes = _present(session, plan)
    for done, org in enumerate(plan, start=1):
        if org.id in ids or (org.kind.value, org.payload["uscc"]) in codes:
            report.skipped += 1
        else:
            _create(session, org, report)
            report.created += 1
            report.by_kind[org.kind.value] += 1
            report.by_status[org.status.value] += 1
        if done % 500 == 0:
            session.flush()
            session.expunge_all()
        if progress is not None:
            progress(done, count)
    session.flush()
    report.seconds = time.monotonic() - began
    return report


def organizations_present(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(Organization)).one() > 0


def seed_with_progress(
    session: Session, *, count: int, seed: int = DEFAULT_SEED, console: Any = None
) -> DemoReport:
    """`seed_demo_organizations` under a rich progress bar (for the command line)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]演示数据 demo organizations"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("seed", total=count)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return seed_demo_organizations(session, count=count, seed=seed, progress=advance)


# --- demo experts and commodities -----------------------------------------------------------------
#
# `registry seed --demo N` makes N organizations, ceil(N / 5) experts and ceil(N / 5) commodities.
# Expert i works for one of the first 5i + 1 planned organizations, and commodity i's offers come
# from suppliers among them: those organizations exist whenever expert (or commodity) i does, and
# the plan for N stays a prefix of the plan for N + k.

ORGS_PER_EXPERT = 5
ORGS_PER_COMMODITY = 5


def demo_counts(count: int) -> tuple[int, int]:
    """(experts, commodities) that `registry seed --demo N` creates beside N organizations."""
    return -(-count // ORGS_PER_EXPERT), -(-count // ORGS_PER_COMMODITY)


def _window(organizations_plan: list[DemoOrg], index: int, per: int) -> list[DemoOrg]:
    return organizations_plan[: per * index + 1]


def _month_start(day: date, months: int) -> date:
    """The first day of the month `months` after (or before) the month of `day`."""
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _term(start: date, years: int = 3) -> dict[str, str]:
    ends = date(start.year + years, start.month, 1) - timedelta(days=1)
    return {"starts_on": start.isoformat(), "ends_on": ends.isoformat()}


@lru_cache(maxsize=1)
def specialty_leaves() -> dict[str, tuple[str, ...]]:
    """The leaf (level-3) codes of the shipped specialty classification, by level-2 group."""
    from registry.specialties import DEFAULT_SPECIALTY_FILE

    rows = _data_rows(DEFAULT_SPECIALTY_FILE.read_text(encoding="utf-8"))
    parents = {r["parent"] for r in rows}
    groups: dict[str, list[str]] = {}
    for r in rows:
        if r["code"] not in parents:
            groups.setdefault(r["parent"], []).append(r["code"])
    return {group: tuple(codes) for group, codes in groups.items()}


# profile: titles, specialty groups (level 2), words in the names of fitting employers, weight
EXPERT_PROFILES: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int], ...] = tuple(
    (tuple(titles.split(",")), tuple(groups.split(",")), tuple(words.split(",")), int(weight))
    for titles, groups, words, weight in _table(
        """
        高级工程师,正高级工程师,教授,副教授 A01,A02,C02 科技,信息,电子,测绘 16
        高级工程师,高级经济师 A03,C05 商贸,印务,办公 5
        高级工程师,正高级工程师 A04,C09 汽车,交通运输局 4
        主任医师,副主任医师,主任技师,副主任技师 A05,C08 医院,疾病预防,妇幼,卫生健康,医疗器械 10
        正高级教师,高级教师,教授,副教授 A06,C06 中学,小学,幼儿园,学校,教育 8
        高级工程师,高级经济师 A07,C01 家具,物业,餐饮 4
        高级农艺师,高级畜牧师,正高级农艺师,农业技术推广研究员 A08,C07,B05 农牧,合作社,林业和草原局,生态,农牧业技术推广 7
        高级工程师,正高级工程师 A09,B07 能源,电子,安防 4
        高级工程师,高级工程师 A10,C01 安防,应急管理局,公安局,消防 3
        高级工程师,正高级工程师 B01,B02,B03,B04,B05,B06 建设,建筑工程,勘察设计院,住房和城乡建设局,水利局 12
        高级工程师,正高级工程师 B08,C03 工程咨询,工程造价,项目管理,招标 7
        高级会计师,正高级会计师,高级审计师 D02,C04 会计师事务所,财政局 9
        一级律师,二级律师,教授 D01,C04 律师事务所 5
        高级经济师,正高级经济师 D02,D01,C05 商贸,文化传媒,会展,公共资源交易中心 6
        """
    )
)
PICK_PROFILE = _Weighted((p, p[3]) for p in EXPERT_PROFILES)
EXPERT_STATUS_WEIGHTS = _status_weights(
    "active:70 draft:6 submitted:8 expired:6 suspended:5 dismissed:5"
)
PICK_EXPERT_STATUS = _Weighted(EXPERT_STATUS_WEIGHTS)
# the first experts of every plan: each state, whatever N is
EXPERT_OPENING = (
    Status.active,
    Status.draft,
    Status.submitted,
    Status.expired,
    Status.suspended,
    Status.dismissed,
)
EXPERT_SUSPEND_REASONS = _words(
    "无正当理由一年内两次拒不参加评审活动 评审中未按照采购文件规定的评审程序和标准评审,暂停评审资格 "
    "年度考核不合格,暂停至整改完成 本人申请暂停(外出进修一年)"
)
EXPERT_DISMISS_REASONS = _words(
    "评审中收受供应商财物,依法解聘 本人申请解聘 工作调动离开内蒙古,不再担任评审专家 "
    "泄露评审文件和评审情况,依法解聘"
)
RELATIVE_NOTES = _words("配偶在该单位任职 子女在该单位任职 兄弟姐妹在该单位任职")


@dataclass(frozen=True)
class DemoExpert:
    """One planned expert: the record's data and the state it ends up in."""

    index: int
    id: str
    status: Status
    payload: dict[str, Any]
    reason: str | None = None  # for suspended and dismissed


class _ExpertGenerator:
    def __init__(self, seed: int, as_of: date, organizations_plan: list[DemoOrg]) -> None:
        self.seed = seed
        self.rng = random.Random(f"experts:{seed}")  # noqa: S311 - demo data, not secrets
        self.as_of = as_of
        self.organizations = organizations_plan
        self.issued: set[str] = set()
        regions = _regions()
        self.counties = tuple(p for p in regions.places if p.level == "county")

    def id_number(self, place: Place) -> str:
        """A new valid number of someone born 1962–1993, mostly in the county they live in."""
        rng = self.rng
        male = rng.random() < 0.6
        county = (
            place if place.level == "county" else rng.choice(_regions().counties_of[place.code])
        )
        if rng.random() < 0.25:  # born elsewhere in Inner Mongolia
            county = rng.choice(self.counties)
        while True:
            number = resident_id(rng, county.code, male, rng.randint(1962, 1993))
            if number not in self.issued:
                self.issued.add(number)
                return number

    def name(self, male: bool) -> str:
        rng = self.rng
        if rng.random() < 0.18:
            return rng.choice(MONGOLIAN_MALE if male else MONGOLIAN_FEMALE)
        return rng.choice(SURNAMES) + rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)

    def employer(self, window: list[DemoOrg], words: tuple[str, ...]) -> DemoOrg:
        live = [o for o in window if o.status is not Status.cancelled] or window
        fitting = [o for o in live if any(w in o.payload["name"] for w in words)]
        return self.rng.choice(fitting or live)

    def specialties(self, groups: tuple[str, ...]) -> list[str]:
        rng = self.rng
        leaves = specialty_leaves()
        count = rng.choices((1, 2, 3), weights=(35, 40, 25))[0]
        first = rng.choice(leaves[groups[0]])  # the profile's own field first
        pool = sorted({c for g in groups for c in leaves[g]} - {first})
        return [first, *rng.sample(pool, count - 1)]

    def term(self, status: Status) -> dict[str, str]:
        rng = self.rng
        if status is Status.expired:  # three years that ended before `as_of`
            return _term(_month_start(self.as_of, -rng.randint(37, 60)))
        if status in (Status.draft, Status.submitted):  # newly applying
            return _term(_month_start(self.as_of, rng.randint(0, 2)))
        return _term(_month_start(self.as_of, -rng.randint(0, 30)))  # in term on `as_of`

    def relationships(self, window: list[DemoOrg], employer: DemoOrg) -> list[dict[str, Any]]:
        rng = self.rng
        others = [o for o in window if o.payload["uscc"] != employer.payload["uscc"]]
        if not others:
            return []
        roll = rng.random()
        if roll < 0.25:  # left an employer; avoidance lasts three years after leaving
            former = rng.choice(others)
            until = self.as_of - timedelta(days=rng.randint(120, 2400))
            return [
                {
                    "relation": "former_employer",
                    "name": former.payload["name"],
                    "uscc": former.payload["uscc"],
                    "until": until.isoformat(),
                }
            ]
        suppliers = [o for o in others if o.kind is RecordKind.supplier]
        if roll < 0.37 and suppliers:
            relative = rng.choice(suppliers)
            return [
                {
                    "relation": "relative_employer",
                    "name": relative.payload["name"],
                    "uscc": relative.payload["uscc"],
                    "note": rng.choice(RELATIVE_NOTES),
                }
            ]
        if roll < 0.42:
            other = rng.choice(others)
            return [
                {
                    "relation": "other",
                    "name": other.payload["name"],
                    "uscc": other.payload["uscc"],
                    "until": (self.as_of + timedelta(days=rng.randint(30, 700))).isoformat(),
                    "note": "近年为该单位提供过咨询服务",
                }
            ]
        return []

    def expert(self, index: int) -> DemoExpert:
        rng = self.rng
        if index < len(EXPERT_OPENING):
            status = EXPERT_OPENING[index]
        else:
            status = PICK_EXPERT_STATUS.pick(rng)
        titles, groups, words, _ = PICK_PROFILE.pick(rng)
        window = _window(self.organizations, index, ORGS_PER_EXPERT)
        employer = self.employer(window, words)
        place = _regions().by_code[employer.payload["region_code"]]
        if rng.random() < 0.2:  # lives elsewhere (managed by that bureau)
            place = rng.choice(_regions().places)
        number = self.id_number(place)
        born = resident_id_birth_date(number)
        sex = resident_id_sex(number)
        age = self.as_of.year - born.year
        payload: dict[str, Any] = {
            "name": self.name(sex is Sex.male),
            "id_number": number,
            "sex": sex.value,
            "birth_date": born.isoformat(),
            "phone": rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            "email": f"zj{rng.randrange(10**6):06d}@{rng.choice(EMAIL_DOMAINS)}"
            if rng.random() < 0.6
            else None,
            "employer": {"name": employer.payload["name"], "uscc": employer.payload["uscc"]},
            "title": rng.choice(titles),
            "years_of_experience": rng.randint(8, max(8, min(age - 22, 45))),
            "specialties": self.specialties(groups),
            "region_code": place.code,
            "term": self.term(status),
            "relationships": self.relationships(window, employer),
        }
        reason = None
        if status is Status.suspended:
            reason = rng.choice(EXPERT_SUSPEND_REASONS)
        elif status is Status.dismissed:
            reason = rng.choice(EXPERT_DISMISS_REASONS)
        return DemoExpert(
            index=index,
            id=_opaque_id(
                organizations.ID_PREFIX[RecordKind.expert], f"demo-expert:{self.seed}:{index}"
            ),
            status=status,
            payload=payload,
            reason=reason,
        )


def plan_demo_experts(
    count: int,
    seed: int = DEFAULT_SEED,
    *,
    as_of: date | None = None,
    organizations_plan: list[DemoOrg] | None = None,
) -> list[DemoExpert]:
    """The experts `seed_demo_experts` creates, without a database. Deterministic for a seed
    and a day (`as_of`, default today: terms and relationship dates are relative to it); the plan
    for N is the first N of the plan for N + k. Employers are demo organizations of the same seed
    (`plan_demo_organizations`, computed unless given)."""
    as_of = as_of or date.today()
    if organizations_plan is None:
        organizations_plan = plan_demo_organizations(ORGS_PER_EXPERT * max(count - 1, 0) + 1, seed)
    generator = _ExpertGenerator(seed, as_of, organizations_plan)
    return [generator.expert(i) for i in range(count)]


# --- commodities: product lines of the catalogue classes that have specification attributes

# (code in the model, CPU as in the specs, cores, price difference)
_CPUS_INTEL_DESKTOP = (
    ("i3-12100", "Intel 酷睿 i3-12100", 4, -600),
    ("i5-12500", "Intel 酷睿 i5-12500", 6, 0),
    ("i5-13500", "Intel 酷睿 i5-13500", 14, 500),
    ("i7-12700", "Intel 酷睿 i7-12700", 12, 1500),
    ("i7-13700", "Intel 酷睿 i7-13700", 16, 2100),
)
_CPUS_DOMESTIC = (
    ("3A6000", "龙芯 3A6000", 4, 300),
    ("KX-U6780A", "兆芯 开先 KX-U6780A", 8, 0),
    ("D2000", "飞腾 D2000", 8, 400),
    ("FT-2000/4", "飞腾 FT-2000/4", 4, -300),
    ("3250", "海光 3250", 8, 600),
)
_CPUS_LAPTOP = (
    ("i5-1235U", "Intel 酷睿 i5-1235U", 10, 0),
    ("i7-1255U", "Intel 酷睿 i7-1255U", 10, 1200),
    ("i5-1340P", "Intel 酷睿 i5-1340P", 12, 600),
    ("i7-1360P", "Intel 酷睿 i7-1360P", 12, 1800),
)
_CPUS_SERVER = (
    ("2×4314", "Intel 至强 银牌 4314 ×2", 32, 0),
    ("2×5318Y", "Intel 至强 金牌 5318Y ×2", 48, 16000),
    ("2×7285", "海光 7285 ×2", 64, 12000),
    ("2×920", "鲲鹏 920 ×2", 96, 15000),
)
_MEMORY = {8: 0, 16: 400, 32: 1300}
_STORAGE = {256: 0, 512: 250, 1024: 700}
_SERVER_MEMORY = {64: 0, 128: 4500, 256: 13000}
_SERVER_STORAGE = {4800: 0, 9600: 6000, 19200: 15000}


@dataclass(frozen=True)
class _Variant:
    model: str
    specs: dict[str, Any]
    price: int


@dataclass(frozen=True)
class _Line:
    """A product line: what every variant shares, and the variants (each one model)."""

    catalog_code: str
    brand: str
    kind: str  # the end of the name: 台式计算机, 激光打印机, 轿车 …
    unit: str
    origin: tuple[str, ...]
    warranty: tuple[int, ...]
    variants: tuple[_Variant, ...]
    colors: tuple[str, ...] = ()
    weight: int = 1


def _computers(
    brand: str,
    series: str,
    form: str,
    cpus: tuple[tuple[str, str, int, int], ...],
    base: int,
    os_names: tuple[str, ...],
    origin: tuple[str, ...],
    screen: str | None = None,
    weight: int = 2,
) -> _Line:
    variants = []
    for n, (code, cpu, cores, extra) in enumerate(cpus):
        for memory, memory_extra in _MEMORY.items():
            if form == "便携式计算机" and memory == 8:
                continue
            for storage, storage_extra in _STORAGE.items():
                specs: dict[str, Any] = {
                    "form_factor": form,
                    "cpu": cpu,
                    "cpu_cores": cores,
                    "memory_gb": memory,
                    "storage_gb": storage,
                    "os": os_names[(n + memory) % len(os_names)],
                    "energy_grade": "1级" if storage != 1024 else "2级",
                }
                if screen:
                    specs["screen_inches"] = screen
                size = f"{storage // 1024}T" if storage >= 1024 else f"{storage}G"
                variants.append(
                    _Variant(
                        f"{series}({code}/{memory}G/{size})",
                        specs,
                        base + extra + memory_extra + storage_extra,
                    )
                )
    kind = {"台式计算机": "台式计算机", "一体机": "一体式计算机"}.get(form, form)
    return _Line("A02010000", brand, kind, "台", origin, (36,), tuple(variants), weight=weight)


def _servers(brand: str, series: str, base: int, origin: tuple[str, ...]) -> _Line:
    variants = []
    for code, cpu, cores, extra in _CPUS_SERVER:
        for memory, memory_extra in _SERVER_MEMORY.items():
            for storage, storage_extra in _SERVER_STORAGE.items():
                specs = {
                    "form_factor": "服务器",
                    "cpu": cpu,
                    "cpu_cores": cores,
                    "memory_gb": memory,
                    "storage_gb": storage,
                    "os": "银河麒麟高级服务器操作系统 V10",
                }
                variants.append(
                    _Variant(
                        f"{series}({code}/{memory}G/{storage / 1000:g}T)",
                        specs,
                        base + extra + memory_extra + storage_extra,
                    )
                )
    return _Line("A02010000", brand, "机架式服务器", "台", origin, (36, 60), tuple(variants))


_WINDOWS_OR_UOS = ("Windows 11 专业版", "统信UOS 桌面操作系统 V20", "银河麒麟桌面操作系统 V10")
_DOMESTIC_OS = ("统信UOS 桌面操作系统 V20", "银河麒麟桌面操作系统 V10")


def _printers(
    brand: str,
    kind: str,
    stem: str,
    tech: str,
    speed: int | None,
    color: bool,
    paper: str,
    suffixes: str,
    base: int,
    origin: tuple[str, ...],
) -> _Line:
    """Printer (or copier) models of one stem: suffix `d` is duplex, `n`/`w`/`dn`/`dw` networked."""
    variants = []
    for n, suffix in enumerate(suffixes.split() or [""]):
        letters = suffix.lower()
        specs: dict[str, Any] = {"print_tech": tech}
        if speed is not None:
            specs["print_speed_ppm"] = speed
        specs.update(
            {
                "duplex": "d" in letters,
                "color_print": color,
                "max_paper": paper,
                "network": "n" in letters or "w" in letters,
            }
        )
        variants.append(_Variant(f"{stem}{suffix}", specs, base + 300 * n))
    return _Line("A02020000", brand, kind, "台", origin, (12, 24, 36), tuple(variants), weight=3)


def _vehicles(
    brand: str,
    series: str,
    kind: str,
    fuel: str,
    seats: int,
    base: int,
    origin: tuple[str, ...],
    trims: str,
    displacement: str | None = None,
    battery: str | None = None,
    weight: int = 2,
) -> _Line:
    variants = []
    for year in (2024, 2025, 2026):
        for n, trim in enumerate(trims.split()):
            specs: dict[str, Any] = {"fuel": fuel}
            if displacement:
                specs["displacement_l"] = displacement
            specs["seats"] = seats
            if battery:
                specs["battery_kwh"] = battery
            if fuel != "纯电动":
                specs["emission_standard"] = "国六B"
            price = round(base * (1 + 0.08 * n + 0.02 * (year - 2024)), -2)
            variants.append(_Variant(f"{series} {year}款 {trim}", specs, int(price)))
    colors = ("白色", "黑色", "银色", "灰色")
    return _Line(
        "A02030000", brand, kind, "辆", origin, (36, 60), tuple(variants), colors, weight=weight
    )


def _furniture(
    brand: str,
    prefix: str,
    kind: str,
    unit: str,
    code: str,
    sizes: tuple[str, ...],
    materials: tuple[tuple[str, str | None], ...],
    base: int,
    origin: tuple[str, ...],
) -> _Line:
    """Models `{prefix}-{code}{size digits}{material letter}`: one per size and material."""
    variants = []
    for s, size in enumerate(sizes):
        digits = "".join(part[:2] for part in size.split("×")[:2])
        for m, (material, grade) in enumerate(materials):
            specs: dict[str, Any] = {"material": material}
            if grade:
                specs["formaldehyde_grade"] = grade
            specs["size"] = f"{size}mm"
            variants.append(
                _Variant(f"{prefix}-{code}{digits}{'ABCDE'[m]}", specs, base + 400 * s + 250 * m)
            )
    colors = ("胡桃木色", "柚木色", "白橡色", "灰白色", "黑色")
    return _Line("A05010000", brand, kind, unit, origin, (36, 60), tuple(variants), colors)


_WOOD = (("三聚氰胺饰面刨花板", "E0"), ("实木贴皮中密度纤维板", "ENF"))
_STEEL = (("冷轧钢板", None), ("钢木结合", "E1"))
_CHAIR = (("网布、尼龙脚架", None), ("PU皮、铝合金脚架", None), ("真皮、铝合金脚架", None))


def _furniture_lines(brand: str, prefix: str, origin: tuple[str, ...]) -> tuple[_Line, ...]:
    return (
        _furniture(
            brand,
            prefix,
            "职员办公桌",
            "张",
            "ZY",
            ("1200×600×750", "1400×700×750", "1600×800×750"),
            _WOOD,
            900,
            origin,
        ),
        _furniture(
            brand,
            prefix,
            "班台",
            "张",
            "BT",
            ("1800×900×760", "2000×1000×760", "2200×1000×760"),
            _WOOD,
            3800,
            origin,
        ),
        _furniture(
            brand,
            prefix,
            "会议桌",
            "张",
            "HY",
            ("2400×1200×760", "3600×1500×760", "4800×1800×760"),
            _WOOD,
            4200,
            origin,
        ),
        _furniture(
            brand,
            prefix,
            "文件柜",
            "组",
            "WJ",
            ("900×400×1850", "1000×420×2000"),
            _STEEL,
            850,
            origin,
        ),
        _furniture(
            brand,
            prefix,
            "办公椅",
            "把",
            "YZ",
            ("650×650×1150", "680×680×1250"),
            _CHAIR,
            600,
            origin,
        ),
        _furniture(
            brand,
            prefix,
            "书架",
            "个",
            "SJ",
            ("800×300×2000", "1000×350×2000"),
            _STEEL,
            700,
            origin,
        ),
    )


PRODUCT_LINES: tuple[_Line, ...] = (
    # 信息化设备 A02010000
    _computers("联想", "开天 M90z G1t", "一体机", _CPUS_DOMESTIC, 5200, _DOMESTIC_OS, ("北京",)),
    _computers(
        "联想",
        "ThinkCentre M750t",
        "台式计算机",
        _CPUS_INTEL_DESKTOP,
        3900,
        _WINDOWS_OR_UOS,
        ("北京", "广东深圳"),
    ),
    _computers(
        "联想", "启天 M455", "台式计算机", _CPUS_INTEL_DESKTOP, 3700, _WINDOWS_OR_UOS, ("北京",)
    ),
    _computers(
        "联想",
        "ThinkPad E14",
        "便携式计算机",
        _CPUS_LAPTOP,
        4900,
        _WINDOWS_OR_UOS,
        ("安徽合肥",),
        "14",
    ),
    _computers(
        "华为", "擎云 W515x", "台式计算机", _CPUS_DOMESTIC, 4800, _DOMESTIC_OS, ("广东东莞",)
    ),
    _computers(
        "华为",
        "擎云 L420x",
        "便携式计算机",
        _CPUS_DOMESTIC,
        6200,
        _DOMESTIC_OS,
        ("广东东莞",),
        "14",
    ),
    _computers(
        "戴尔",
        "OptiPlex 7010MT",
        "台式计算机",
        _CPUS_INTEL_DESKTOP,
        4100,
        _WINDOWS_OR_UOS,
        ("福建厦门",),
    ),
    _computers(
        "戴尔",
        "Latitude 5440",
        "便携式计算机",
        _CPUS_LAPTOP,
        5600,
        _WINDOWS_OR_UOS,
        ("福建厦门",),
        "14",
    ),
    _computers(
        "惠普",
        "ProDesk 480 G9",
        "台式计算机",
        _CPUS_INTEL_DESKTOP,
        3900,
        _WINDOWS_OR_UOS,
        ("重庆",),
    ),
    _computers(
        "惠普",
        "ProBook 450 G10",
        "便携式计算机",
        _CPUS_LAPTOP,
        5100,
        _WINDOWS_OR_UOS,
        ("重庆",),
        "15.6",
    ),
    _computers(
        "同方", "超翔 Z8000", "台式计算机", _CPUS_DOMESTIC, 4300, _DOMESTIC_OS, ("江苏无锡",)
    ),
    _computers(
        "长城", "世恒 TF830", "台式计算机", _CPUS_DOMESTIC, 4400, _DOMESTIC_OS, ("广东深圳",)
    ),
    _servers("浪潮", "英信 NF5280M6", 42000, ("山东济南",)),
    _servers("新华三", "UniServer R4900 G5", 45000, ("浙江杭州",)),
    _servers("曙光", "I620-G30", 40000, ("天津",)),
    # 办公设备 A02020000
    _printers(
        "惠普",
        "黑白激光打印机",
        "LaserJet Pro M404",
        "激光",
        38,
        False,
        "A4",
        "n dn dw",
        1899,
        ("越南",),
    ),
    _printers(
        "惠普",
        "彩色激光打印机",
        "Color LaserJet Pro M454",
        "激光",
        27,
        True,
        "A4",
        "nw dn dw",
        3999,
        ("越南",),
    ),
    _printers(
        "佳能",
        "黑白激光打印机",
        "imageCLASS LBP6230",
        "激光",
        25,
        False,
        "A4",
        "dn dw",
        1399,
        ("越南",),
    ),
    _printers(
        "佳能", "黑白数码复合机", "imageRUNNER 2625", "激光", 25, False, "A3", "i", 9800, ("日本",)
    ),
    _printers("兄弟", "黑白激光打印机", "HL-L2350", "激光", 30, False, "A4", "DW", 1099, ("越南",)),
    _printers(
        "兄弟",
        "黑白激光多功能一体机",
        "MFC-L2710",
        "激光",
        30,
        False,
        "A4",
        "DN DW",
        1799,
        ("越南",),
    ),
    _printers(
        "奔图", "黑白激光打印机", "P3305", "激光", 33, False, "A4", "DN DW", 1499, ("广东珠海",)
    ),
    _printers(
        "奔图",
        "黑白激光多功能一体机",
        "M7105",
        "激光",
        33,
        False,
        "A4",
        "DN DW",
        2099,
        ("广东珠海",),
    ),
    _printers(
        "爱普生", "彩色墨仓式打印机", "L3258", "喷墨", 33, True, "A4", "W", 1099, ("菲律宾",)
    ),
    _printers(
        "爱普生", "针式票据打印机", "LQ-630K", "针式", None, False, "A4", "II", 1999, ("中国",)
    ),
    _printers(
        "京瓷", "黑白激光打印机", "ECOSYS P3145", "激光", 45, False, "A4", "dn", 3299, ("越南",)
    ),
    _printers(
        "理光", "彩色数码复合机", "IM C2010", "激光", 20, True, "A3", "", 15800, ("中国深圳",)
    ),
    # 车辆 A02030000
    _vehicles(
        "比亚迪",
        "汉 EV",
        "纯电动轿车",
        "纯电动",
        5,
        209800,
        ("陕西西安",),
        "荣耀版 尊贵型 旗舰型",
        battery="85.4",
    ),
    _vehicles(
        "比亚迪",
        "秦PLUS DM-i",
        "插电混动轿车",
        "插电混动",
        5,
        99800,
        ("广东深圳", "陕西西安"),
        "领先型 超越型 卓越型",
        "1.5",
        "18.3",
    ),
    _vehicles(
        "比亚迪",
        "唐 DM-i",
        "插电混动SUV",
        "插电混动",
        7,
        189800,
        ("陕西西安",),
        "尊贵型 旗舰型",
        "1.5",
        "21.5",
    ),
    _vehicles(
        "红旗",
        "H5",
        "轿车",
        "汽油",
        5,
        159800,
        ("吉林长春",),
        "智联旗畅版 智联旗享版 智联旗领版",
        "1.5",
        weight=4,
    ),
    _vehicles("红旗", "HS5", "SUV", "汽油", 5, 183800, ("吉林长春",), "旗享版 旗领版", "2"),
    _vehicles(
        "大众", "帕萨特 330TSI", "轿车", "汽油", 5, 189900, ("上海",), "精英版 豪华版 星空版", "2"
    ),
    _vehicles(
        "大众", "途昂 380TSI", "SUV", "汽油", 7, 269900, ("上海",), "四驱豪华版 四驱尊崇版", "2.5"
    ),
    _vehicles(
        "丰田",
        "凯美瑞 双擎 2.5HQ",
        "混合动力轿车",
        "混合动力",
        5,
        209800,
        ("广东广州",),
        "豪华版 旗舰版",
        "2.5",
    ),
    _vehicles(
        "丰田",
        "汉兰达 双擎",
        "混合动力SUV",
        "混合动力",
        7,
        279800,
        ("广东广州",),
        "四驱精英版 四驱豪华版",
        "2.5",
    ),
    _vehicles(
        "别克", "GL8 ES陆尊 653T", "商务车", "汽油", 7, 329900, ("上海",), "舒适型 豪华型", "2"
    ),
    _vehicles("长城", "哈弗H6", "SUV", "汽油", 5, 113900, ("河北保定",), "Pro 都市版 Max", "1.5"),
    _vehicles("长安", "CS75 PLUS", "SUV", "汽油", 5, 119900, ("重庆",), "豪华型 尊贵型", "1.5"),
    _vehicles("吉利", "星越L", "SUV", "汽油", 5, 154200, ("浙江宁波",), "尊贵型 旗舰型", "2"),
    _vehicles(
        "江铃",
        "全顺 新世代",
        "轻型客车",
        "柴油",
        15,
        169800,
        ("江西南昌",),
        "长轴中顶 长轴高顶",
        "2.2",
    ),
    _vehicles(
        "宇通",
        "ZK6117H",
        "大型客车",
        "柴油",
        49,
        689000,
        ("河南郑州",),
        "公路版 旅游版",
        "8.9",
        weight=1,
    ),
    # 家具 A05010000
    *_furniture_lines("圣奥", "SA", ("浙江杭州",)),
    *_furniture_lines("震旦", "AD", ("上海",)),
    *_furniture_lines("美时", "LM", ("广东深圳",)),
    *_furniture_lines("全友", "QY", ("四川成都",)),
    _furniture(
        "永艺",
        "YY",
        "办公椅",
        "把",
        "YZ",
        ("650×650×1150", "680×680×1250", "700×700×1300"),
        _CHAIR,
        700,
        ("浙江湖州",),
    ),
    _furniture(
        "西昊",
        "SH",
        "办公椅",
        "把",
        "YZ",
        ("640×640×1130", "690×690×1240"),
        _CHAIR,
        500,
        ("广东佛山",),
    ),
)
# the catalogue classes and how often each comes up
CATALOG_WEIGHTS = (("A02010000", 40), ("A02020000", 20), ("A02030000", 15), ("A05010000", 25))
COMMODITY_STATUS_WEIGHTS = _status_weights("active:75 delisted:10 draft:10 submitted:5")
PICK_COMMODITY_STATUS = _Weighted(COMMODITY_STATUS_WEIGHTS)
COMMODITY_OPENING = (Status.active, Status.draft, Status.delisted, Status.submitted, Status.active)
DELIST_REASONS = _words(
    "供应商反映该型号已停产 价格明显高于市场同类产品,下架核查 规格参数与实物不符,下架整改 "
    "不再符合节能产品政府采购要求"
)
STOCK_WEIGHTS = (("in_stock", 70), ("low", 12), ("on_order", 12), ("out_of_stock", 6))
PICK_STOCK = _Weighted(STOCK_WEIGHTS)
# the catalogue prefixes a supplier's business scope should start with to offer a class
OFFER_SCOPES = {
    "A02010000": ("A0201", "A0202", "A02"),
    "A02020000": ("A0202", "A0201", "A02"),
    "A02030000": ("A0203",),
    "A05010000": ("A05",),
}


@dataclass(frozen=True)
class DemoOffer:
    supplier_id: str
    price_factor: str  # of the reference price, e.g. "0.93"
    stock_status: str
    open_ended: bool  # no end date (else valid for a year from the day it is made)


@dataclass(frozen=True)
class DemoCommodity:
    """One planned commodity: the record's data, its state and suppliers' offers (if listed)."""

    index: int
    id: str
    status: Status
    payload: dict[str, Any]
    reason: str | None = None  # for delisted
    offers: tuple[DemoOffer, ...] = ()


class _CommodityGenerator:
    def __init__(self, seed: int, as_of: date, organizations_plan: list[DemoOrg]) -> None:
        from registry.normalize import commodity_key

        self.seed = seed
        self.rng = random.Random(f"commodities:{seed}")  # noqa: S311 - demo data, not secrets
        self.as_of = as_of
        self.organizations = organizations_plan
        self.key = commodity_key
        self.used: set[str] = set()
        self.lines: dict[str, list[_Line]] = {}
        for line in PRODUCT_LINES:
            self.lines.setdefault(line.catalog_code, []).append(line)
        self.pick_class = _Weighted(CATALOG_WEIGHTS)
        self.pick_line = {
            code: _Weighted((line, line.weight) for line in lines)
            for code, lines in self.lines.items()
        }
        self.spare = 0

    def variant(self) -> tuple[_Line, _Variant, str]:
        """A line and one of its variants not planned yet, and the model to write."""
        rng = self.rng
        for _ in range(200):
            line = self.pick_line[self.pick_class.pick(rng)].pick(rng)
            variant = rng.choice(line.variants)
            if self.key(line.catalog_code, line.brand, variant.model) not in self.used:
                return line, variant, variant.model
        # (very large plans) every variant tried came up: a further batch of a known model
        line = self.pick_line[self.pick_class.pick(rng)].pick(rng)
        variant = rng.choice(line.variants)
        while True:
            self.spare += 1
            model = f"{variant.model}-{self.spare:03d}"
            if self.key(line.catalog_code, line.brand, model) not in self.used:
                return line, variant, model

    def offers(self, index: int, catalog_code: str) -> tuple[DemoOffer, ...]:
        rng = self.rng
        if rng.random() >= 0.5:
            return ()
        window = _window(self.organizations, index, ORGS_PER_COMMODITY)
        eligible = [
            o
            for o in window
            if o.kind is RecordKind.supplier and o.status is Status.active and o.debarment is None
        ]
        fitting = [
            o
            for o in eligible
            if any(c.startswith(OFFER_SCOPES[catalog_code]) for c in o.payload["business_scope"])
        ]
        pool = fitting or eligible
        if not pool:
            return ()
        chosen = rng.sample(pool, min(len(pool), rng.choice((1, 1, 2, 3))))
        return tuple(
            DemoOffer(
                supplier_id=o.id,
                price_factor=f"{rng.uniform(0.86, 1.0):.2f}",
                stock_status=PICK_STOCK.pick(rng),
                open_ended=rng.random() < 0.5,
            )
            for o in chosen
        )

    def commodity(self, index: int) -> DemoCommodity:
        rng = self.rng
        if index < len(COMMODITY_OPENING):
            status = COMMODITY_OPENING[index]
        else:
            status = PICK_COMMODITY_STATUS.pick(rng)
        line, variant, model = self.variant()
        self.used.add(self.key(line.catalog_code, line.brand, model))
        specs: dict[str, Any] = {"origin": rng.choice(line.origin)}
        specs["warranty_months"] = rng.choice(line.warranty)
        if line.colors:
            specs["color"] = rng.choice(line.colors)
        specs.update(variant.specs)
        price_day = self.as_of - timedelta(days=rng.randint(0, 150))
        payload: dict[str, Any] = {
            "catalog_code": line.catalog_code,
            "name": f"{line.brand}{model.split('(')[0]} {line.kind}",
            "brand": line.brand,
            "model": model,
            "specs": specs,
            "unit": line.unit,
            "reference_price": {
                "amount": f"{variant.price}.00",
                "currency": "CNY",
                "as_of": price_day.isoformat(),
            },
            "images": [f"https://img.example.com/demo/{line.catalog_code}/{index:05d}.jpg"]
            if rng.random() < 0.8
            else [],
        }
        reason = rng.choice(DELIST_REASONS) if status is Status.delisted else None
        offers = self.offers(index, line.catalog_code) if status is Status.active else ()
        return DemoCommodity(
            index=index,
            id=_opaque_id(
                organizations.ID_PREFIX[RecordKind.commodity], f"demo-commodity:{self.seed}:{index}"
            ),
            status=status,
            payload=payload,
            reason=reason,
            offers=offers,
        )


def plan_demo_commodities(
    count: int,
    seed: int = DEFAULT_SEED,
    *,
    as_of: date | None = None,
    organizations_plan: list[DemoOrg] | None = None,
) -> list[DemoCommodity]:
    """The commodities `seed_demo_commodities` creates, without a database. Deterministic for a
    seed and a day (`as_of`, default today: price dates are relative to it); the plan for N is the
    first N of the plan for N + k. Offers come from active demo suppliers of the same seed."""
    as_of = as_of or date.today()
    if organizations_plan is None:
        organizations_plan = plan_demo_organizations(
            ORGS_PER_COMMODITY * max(count - 1, 0) + 1, seed
        )
    generator = _CommodityGenerator(seed, as_of, organizations_plan)
    return [generator.commodity(i) for i in range(count)]


# --- seeding experts and commodities through the services ---------------------------------------


@dataclass
class DemoRecordsReport:
    kind: RecordKind
    requested: int
    seed: int
    created: int = 0
    skipped: int = 0  # already there: same id (an earlier run with this seed) or same key
    by_status: Counter[str] = field(default_factory=Counter)
    relationships: int = 0  # experts with a declared relationship
    offers: int = 0
    offers_skipped: int = 0  # the supplier is not in the registry (or not eligible) now
    seconds: float = 0.0

    def summary(self) -> str:
        states = ", ".join(f"{k} {n}" for k, n in sorted(self.by_status.items()))
        if self.kind is RecordKind.expert:
            label, extra = "demo experts", f"{self.relationships} with declared relationships"
        else:
            label, extra = "demo commodities", f"{self.offers} offers"
        return (
            f"{label}: {self.created} created, {self.skipped} already present; "
            f"states: {states or '-'}; {extra}; {self.seconds:.1f} s"
        )


def _present_ids(session: Session, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        found.update(
            session.exec(select(Organization.id).where(col(Organization.id).in_(chunk))).all()
        )
    return found


def _create_expert(session: Session, expert: DemoExpert) -> None:
    kind = RecordKind.expert
    clerk = _clerk(expert.payload["region_code"])

    def move(name: str, reason: str | None = None, until: date | None = None) -> None:
        organizations.transition(
            session, kind=kind, org_id=expert.id, name=name, actor=clerk, reason=reason, until=until
        )

    organizations.register(
        session, kind=kind, payload=expert.payload, actor=clerk, org_id=expert.id
    )
    if expert.status is Status.draft:
        return
    move("submit")
    if expert.status is Status.submitted:
        return
    move("approve")
    if expert.status is Status.expired:
        move("expire", "聘期届满")
    elif expert.status is Status.suspended:
        until = date.today() + timedelta(days=180) if expert.index % 2 == 0 else None
        move("suspend", expert.reason, until)
    elif expert.status is Status.dismissed:
        move("dismiss", expert.reason)


def _seed_records(
    session: Session,
    kind: RecordKind,
    plan: list[Any],
    report: DemoRecordsReport,
    create: Callable[[Any], None],
    progress: Progress | None,
) -> None:
    """Create each planned record not yet present, each in a savepoint: one whose key another
    record holds already (another seed's plan, an import) is skipped, not an error."""
    present = _present_ids(session, [item.id for item in plan])
    for done, item in enumerate(plan, start=1):
        if item.id in present:
            report.skipped += 1
        else:
            try:
                with session.begin_nested():
                    create(item)
            except Conflict as exc:
                if exc.code != "already_registered":
                    raise
                report.skipped += 1
            else:
                report.created += 1
                report.by_status[item.status.value] += 1
        if done % 500 == 0:
            session.flush()
            session.expunge_all()
        if progress is not None:
            progress(done, len(plan))
    session.flush()


def seed_demo_experts(
    session: Session,
    *,
    count: int,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    as_of: date | None = None,
) -> DemoRecordsReport:
    """Create `count` demo experts through the services (events; ID numbers and phones
    encrypted by the service), in the caller's transaction. Needs the personal-data cipher
    (`registry.crypto.configure`). Experts of an earlier run with the same seed are skipped."""
    began = time.monotonic()
    report = DemoRecordsReport(RecordKind.expert, requested=count, seed=seed)
    plan = plan_demo_experts(count, seed, as_of=as_of)

    def create(expert: DemoExpert) -> None:
        _create_expert(session, expert)
        report.relationships += bool(expert.payload["relationships"])

    _seed_records(session, RecordKind.expert, plan, report, create, progress)
    report.seconds = time.monotonic() - began
    return report


def _eligible_suppliers(session: Session, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    return set(
        session.exec(
            select(Organization.id).where(
                col(Organization.id).in_(sorted(ids)),
                col(Organization.kind) == RecordKind.supplier.value,
                organizations.eligible_expr(),
            )
        ).all()
    )


def seed_demo_commodities(
    session: Session,
    *,
    count: int,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    as_of: date | None = None,
) -> DemoRecordsReport:
    """Create `count` demo commodities through the services, in the caller's transaction: listed
    ones (approved by the region's bureau) with their suppliers' offers (`commodities.add_offer`,
    for suppliers that are in the registry and eligible now; seed the organizations first),
    delisted, under review and drafts. Commodities of an earlier run with the same seed are
    skipped, and so are those whose catalogue code, brand and model are registered already."""
    from models.commodity import OfferCreate, StockStatus
    from registry import commodities

    began = time.monotonic()
    report = DemoRecordsReport(RecordKind.commodity, requested=count, seed=seed)
    plan = plan_demo_commodities(count, seed, as_of=as_of)
    suppliers = _eligible_suppliers(session, {o.supplier_id for c in plan for o in c.offers})
    bureau = _clerk(REGION_WIDE)
    kind = RecordKind.commodity

    def create(item: DemoCommodity) -> None:
        def move(name: str, reason: str | None = None) -> None:
            organizations.transition(
                session, kind=kind, org_id=item.id, name=name, actor=bureau, reason=reason
            )

        organizations.register(
            session, kind=kind, payload=item.payload, actor=bureau, org_id=item.id
        )
        if item.status is Status.draft:
            return
        move("submit")
        if item.status is Status.submitted:
            return
        move("approve")
        if item.status is Status.delisted:
            move("delist", item.reason)
            return
        today = date.today()
        amount = Decimal(item.payload["reference_price"]["amount"])
        for offer in item.offers:
            if offer.supplier_id not in suppliers:
                report.offers_skipped += 1
                continue
            commodities.add_offer(
                session,
                commodity_id=item.id,
                body=OfferCreate(
                    supplier_id=offer.supplier_id,
                    price=(amount * Decimal(offer.price_factor)).quantize(Decimal("0.01")),
                    stock_status=StockStatus(offer.stock_status),
                    valid_from=today - timedelta(days=item.index % 60),
                    valid_to=None if offer.open_ended else today + timedelta(days=365),
                ),
                actor=bureau,
            )
            report.offers += 1

    _seed_records(session, kind, plan, report, create, progress)
    report.seconds = time.monotonic() - began
    return report


@dataclass
class DemoSeedReport:
    """What `registry seed --demo N` made: N organizations, N/5 experts, N/5 commodities."""

    organizations: DemoReport
    experts: DemoRecordsReport
    commodities: DemoRecordsReport

    def summary(self) -> str:
        return "\n".join(r.summary() for r in (self.organizations, self.experts, self.commodities))


def seed_demo(
    session: Session,
    *,
    count: int,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], Progress | None] | None = None,
) -> DemoSeedReport:
    """N demo organizations, then ceil(N / 5) experts and ceil(N / 5) commodities (`demo_counts`),
    all through the services, in the caller's transaction. `progress(kind)` gives the progress
    callback of each part (kind: organizations, experts, commodities)."""

    def bar(kind: str) -> Progress | None:
        return progress(kind) if progress is not None else None

    experts, goods = demo_counts(count)
    return DemoSeedReport(
        organizations=seed_demo_organizations(
            session, count=count, seed=seed, progress=bar("organizations")
        ),
        experts=seed_demo_experts(session, count=experts, seed=seed, progress=bar("experts")),
        commodities=seed_demo_commodities(
            session, count=goods, seed=seed, progress=bar("commodities")
        ),
    )


def seed_demo_with_progress(
    session: Session, *, count: int, seed: int = DEFAULT_SEED, console: Any = None
) -> DemoSeedReport:
    """`seed_demo` under rich progress bars (for the command line)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bars

    experts, goods = demo_counts(count)
    totals = {"organizations": count, "experts": experts, "commodities": goods}
    with Bars(
        TextColumn("[bold]演示数据 demo {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bars:
        tasks = {kind: bars.add_task(kind, total=total) for kind, total in totals.items()}

        def progress(kind: str) -> Progress:
            def advance(done: int, total: int) -> None:
                bars.update(tasks[kind], completed=done, total=total)

            return advance

        return seed_demo(session, count=count, seed=seed, progress=progress)


# --- bulk (benchmarks only) ---------------------------------------------------------------------

BULK_COLUMNS = (
    "id",
    "kind",
    "uscc",
    "name",
    "region_code",
    "status",
    "size",
    "business_scope",
    "data",
    "version",
    "submitted_at",
    "approved_at",
    "created_at",
    "updated_at",
)


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def bulk_supplier_rows(
    count: int, seed: int = DEFAULT_SEED, *, start: int = 0
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, data) of bulk suppliers `start` … `start + count - 1`, data as SupplierData dumps it.

    Ids and code bodies (``MB`` namespace) are functions of (seed, index): bulk rows never
    collide with demo records, nor with another batch of the same seed at other indexes. Names
    are not kept unique at this scale.
    """
    generator = _Generator(f"bulk:{seed}:{start}")
    bodies = _Bodies(random.Random(f"bulk:{seed}"), "MB", (USCC_ALPHABET,) * 6)  # noqa: S311
    names = generator.names[RecordKind.supplier]
    for index in range(start, start + count):
        data = generator.supplier(generator.weighted_place(), bodies.body(index))
        names.clear()
        yield _opaque_id("sup", f"bulk:{seed}:{index}"), data


def bulk_insert_suppliers(
    connection: Any,
    count: int,
    seed: int = DEFAULT_SEED,
    *,
    start: int = 0,
    progress: Progress | None = None,
) -> int:
    """FOR BENCHMARKS ONLY: COPY `count` active suppliers into `organizations`.

    `connection` is a psycopg connection or a SQLAlchemy `Connection` (its psycopg connection is
    used, inside its transaction); the caller commits. Rows are active and approved, their data
    valid against SupplierData and their projections (uscc, name, region, size, scope) filled —
    but no event is written (no history, no change feed), and nothing is validated against the
    database: load into a migrated, seeded registry, once per (seed, index range).
    """
    from psycopg.copy import QueuedLibpqWriter

    raw = connection
    if isinstance(connection, SAConnection):
        raw = connection.connection.driver_connection
    rng = random.Random(f"bulk-times:{seed}")  # noqa: S311 - demo data
    epoch = datetime(2023, 1, 1, tzinfo=UTC)
    span = int((datetime(2026, 6, 30, tzinfo=UTC) - epoch).total_seconds())
    statement = f"COPY organizations ({', '.join(BULK_COLUMNS)}) FROM STDIN"
    written = 0
    buffer = io.StringIO()
    with raw.cursor() as cursor, cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        for org_id, data in bulk_supplier_rows(count, seed, start=start):
            approved = epoch + timedelta(seconds=rng.randrange(span))
            submitted = approved - timedelta(seconds=rng.randrange(3600, 14 * 86400))
            created = submitted - timedelta(seconds=rng.randrange(600, 7 * 86400))
            buffer.write(
                "\t".join(
                    (
                        org_id,
                        "supplier",
                        data["uscc"],
                        _copy_text(data["name"]),
                        data["region_code"],
                        "active",
                        data["size"],
                        "{" + ",".join(data["business_scope"]) + "}",
                        _copy_text(json.dumps(data, ensure_ascii=False, separators=(",", ":"))),
                        "3",
                        submitted.isoformat(),
                        approved.isoformat(),
                        created.isoformat(),
                        approved.isoformat(),
                    )
                )
                + "\n"
            )
            written += 1
            if written % 2000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
                if progress is not None:
                    progress(written, count)
        if buffer.tell():
            copy.write(buffer.getvalue())
    if progress is not None:
        progress(written, count)
    return written


# --- python -m registry.demo --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a thin wrapper
    import argparse

    from rich.console import Console

    from registry import migrate
    from registry.cli import database
    from registry.config import get_settings
    from registry.db import session_scope
    from registry.seed import seed_reference_data

    parser = argparse.ArgumentParser(prog="python -m registry.demo", description=__doc__)
    parser.add_argument("--orgs", type=int, default=0, help="demo organizations (services)")
    parser.add_argument("--experts", type=int, default=0, help="demo experts (services)")
    parser.add_argument("--commodities", type=int, default=0, help="demo commodities (services)")
    parser.add_argument(
        "--demo", type=int, default=0, help="N organizations, N/5 experts, N/5 commodities"
    )
    parser.add_argument(
        "--bulk-suppliers", type=int, default=0, help="COPY active suppliers (benchmarks only)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--start", type=int, default=0, help="first bulk index (for batches)")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    with database(get_settings()) as engine:
        migrate.upgrade(engine)
        with session_scope(engine) as session:
            seed_reference_data(session, only_if_empty=True)
            if args.orgs:
                report = seed_with_progress(
                    session, count=args.orgs, seed=args.seed, console=console
                )
                console.print(report.summary())
            if args.demo:
                everything = seed_demo_with_progress(
                    session, count=args.demo, seed=args.seed, console=console
                )
                console.print(everything.summary())
            if args.experts:
                console.print(
                    seed_demo_experts(session, count=args.experts, seed=args.seed).summary()
                )
            if args.commodities:
                console.print(
                    seed_demo_commodities(session, count=args.commodities, seed=args.seed).summary()
                )
        if args.bulk_suppliers:
            began = time.monotonic()
            with engine.begin() as conn:
                written = bulk_insert_suppliers(
                    conn, args.bulk_suppliers, args.seed, start=args.start
                )
            console.print(f"bulk: {written} suppliers in {time.monotonic() - began:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
