"""The search query model and its answer: one shape for every backend.

A backend receives a validated `SearchQuery` and the caller, and answers a `SearchResult`:
hits in score order (ties by id), facet counts over everything that matched (before paging),
and an opaque cursor for the next page. Cursors are keyset positions `(score, id)` and are only
meaningful for the same query on the same backend.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.organization import EnterpriseSize, RecordKind, Status
from registry.codes import catalog_prefix, normalize_catalog_code
from registry.errors import BadRequest
from search.documents import CATALOG_CODE
from search.text import fold

MAX_QUERY_LENGTH = 100
MAX_LIMIT = 100


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str | None = Field(
        default=None, max_length=MAX_QUERY_LENGTH, description="检索词(名称、拼音、代码…)"
    )
    kinds: tuple[RecordKind, ...] = Field(default=(), description="主体类型(可多选;不填为全部)")
    within: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="地区子树(含下级)的 6 位代码"
    )
    status: tuple[Status, ...] = Field(default=(), description="状态(可多选)")
    eligible: bool | None = Field(default=None, description="可参加政府采购活动(现时计算)")
    catalog: str | None = Field(
        default=None, description="品目前缀(官方 9 位或简码):经营范围或商品品目在其下"
    )
    specialty: str | None = Field(default=None, description="评审专业代码前缀")
    size: tuple[EnterpriseSize, ...] = Field(default=(), description="企业规模(可多选)")
    price_min: Decimal | None = Field(default=None, ge=0, description="参考价格不低于")
    price_max: Decimal | None = Field(default=None, ge=0, description="参考价格不高于")
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT, description="每页条数(1–100)")
    cursor: str | None = Field(default=None, max_length=512, description="上一页的 next_cursor")

    @model_validator(mode="after")
    def _price_range(self) -> SearchQuery:
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise ValueError("price_min 不能大于 price_max")
        return self


class Hit(BaseModel):
    id: str = Field(description="记录编号")
    kind: RecordKind
    name: str = Field(description="名称")
    score: float = Field(description="相关度(越大越相关;仅用于排序)")
    highlight: str = Field(description="名称,命中部分以 <em>…</em> 标出(其余已做 HTML 转义)")
    status: Status
    region_code: str = Field(description="管辖地区代码")


class Facets(BaseModel):
    kind: dict[str, int] = Field(default_factory=dict, description="按主体类型计数")
    region: dict[str, int] = Field(
        default_factory=dict, description="按盟市计数(地区代码前 4 位 + 00;150000 为自治区本级)"
    )
    status: dict[str, int] = Field(default_factory=dict, description="按状态计数")


class SearchResult(BaseModel):
    hits: list[Hit] = Field(description="本页命中")
    total: int = Field(description="命中总数(分页前)")
    facets: Facets = Field(description="分面计数(分页前的全部命中)")
    fuzzy: bool = Field(default=False, description="没有精确命中,结果来自容错匹配(错别字、同音字)")
    next_cursor: str | None = Field(default=None, description="下一页游标;为空表示没有更多")


class Suggestion(BaseModel):
    id: str
    kind: RecordKind
    name: str
    highlight: str = Field(description="名称,命中部分以 <em>…</em> 标出")


# --- query text ---------------------------------------------------------------------------------

# a catalogue code among other words (`A02010000 戴尔`): a filter on the class, not a term
_CATALOG_TOKEN = re.compile(r"[ABC](?:\d{2}){1,4}")


def catalog_words(q: str) -> tuple[str, list[str]]:
    """`A02010000 戴尔` → (`戴尔`, [`cat:A0201`]): catalogue codes typed among other words
    restrict the class; a code typed alone stays a code query (identifier tier)."""
    words = fold(q).split()
    if len(words) < 2:
        return q, []
    classes: list[str] = []
    rest: list[str] = []
    for word in words:
        code = normalize_catalog_code(word) if _CATALOG_TOKEN.fullmatch(word.upper()) else None
        if code is None:
            rest.append(word)
        else:
            classes.append(CATALOG_CODE + catalog_prefix(code))
    if not classes or not rest:
        return q, []
    return " ".join(rest), classes


# --- cursors ------------------------------------------------------------------------------------


def encode_cursor(score: Decimal, record_id: str) -> str:
    raw = json.dumps([str(score), record_id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Decimal, str]:
    """(score, id) of a cursor; 400 `invalid_cursor` for anything else."""
    invalid = BadRequest("分页游标无效,请从第一页重新开始", code="invalid_cursor")
    try:
        key = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid from exc
    if not (
        isinstance(key, list)
        and len(key) == 2
        and all(isinstance(k, str) and k and "\x00" not in k and len(k) <= 64 for k in key)
    ):
        raise invalid
    try:
        score = Decimal(key[0])
    except InvalidOperation as exc:
        raise invalid from exc
    if not score.is_finite():
        raise invalid
    return score, key[1]
