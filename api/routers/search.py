"""Search over all registries (检索): `GET /v1/search` and `GET /v1/search/suggest`."""

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import CurrentPrincipal, CursorParam, SessionDep, require
from api.errors import problem_responses
from api.routing import UnitOfWorkRoute
from auth.policy import PUBLIC
from models.organization import EnterpriseSize, RecordKind, Status
from registry.codes import normalize_catalog_code
from registry.errors import NotFound, Unprocessable
from registry.regions import get_region
from registry.validation import validate_or_422
from search.backend import SearchBackend, get_backend
from search.query import MAX_LIMIT, MAX_QUERY_LENGTH, SearchQuery, SearchResult, Suggestion

router = APIRouter(prefix="/v1/search", tags=["检索"], route_class=UnitOfWorkRoute)

# no control characters (NUL cannot even be stored); tabs and line breaks of pasted text pass
_PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
QueryText = Annotated[
    str | None,
    Query(
        max_length=MAX_QUERY_LENGTH,
        pattern=_PRINTABLE,
        description="检索词:名称片段、拼音(mengcao)、首字母(nmgjs)、统一社会信用代码、品目编码、型号…",
    ),
]
Kinds = Annotated[
    list[str] | None,
    Query(description="主体类型:purchaser、agent、supplier、expert、commodity(可重复或用逗号分隔)"),
]


def _kinds(values: list[str] | None) -> tuple[RecordKind, ...]:
    kinds: list[RecordKind] = []
    for value in values or []:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                kinds.append(RecordKind(part))
            except ValueError:
                allowed = "、".join(k.value for k in RecordKind)
                raise Unprocessable(
                    f"主体类型 {part[:20]!r} 无效,应为 {allowed}",
                    errors=[
                        {"field": "kinds", "code": "enum", "message": f"必须是以下之一:{allowed}"}
                    ],
                ) from None
    return tuple(dict.fromkeys(kinds))


def _backend(request: Request) -> SearchBackend:
    backend: SearchBackend | None = getattr(request.app.state, "search_backend", None)
    if backend is None:
        backend = request.app.state.search_backend = get_backend(request.app.state.settings)
    return backend


def _field_error(field: str, code: str, message: str) -> Unprocessable:
    return Unprocessable(
        message, code=code, errors=[{"field": field, "code": code, "message": message}]
    )


@router.get(
    "",
    summary="全库检索",
    description=(
        "在采购人、代理机构、供应商、评审专家和商品中检索:名称片段(`蒙草`)、多个词(`呼和浩特 建设`)、"
        "全拼(`mengcao`)、首字母(`nmgjs`)、繁体与全角输入、统一社会信用代码、品目编码、商品型号;"
        "精确代码命中最先,其次名称完全一致、名称前缀、全文匹配;没有结果时自动容错(错别字、同音字)。"
        "可见范围与各库列表相同:公众只看到已入库的记录,财政部门还能看到本辖区的草稿与待审记录。"
        "`facets` 为分页前全部命中的分类计数;用 `next_cursor` 翻页。"
    ),
    dependencies=[require(PUBLIC)],
    response_model=SearchResult,
    responses=problem_responses(400, 422),
    operation_id="search",
)
def search(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    q: QueryText = None,
    kinds: Kinds = None,
    within: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="地区子树(含下级)的 6 位代码")
    ] = None,
    status_: Annotated[
        list[Status] | None, Query(alias="status", description="状态(可多选)")
    ] = None,
    eligible: Annotated[
        bool | None, Query(description="可参加政府采购活动(已入库、未暂停、未被禁止、在聘期内)")
    ] = None,
    catalog: Annotated[
        str | None, Query(max_length=16, description="品目(该品目或其下级):经营范围或商品品目")
    ] = None,
    specialty: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]\d{0,6}$", description="评审专业(该分类或其下级)")
    ] = None,
    size: Annotated[list[EnterpriseSize] | None, Query(description="企业规模(可多选)")] = None,
    price_min: Annotated[Decimal | None, Query(ge=0, description="参考价格不低于")] = None,
    price_max: Annotated[Decimal | None, Query(ge=0, description="参考价格不高于")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数(1–100)")] = 20,
    cursor: CursorParam = None,
) -> SearchResult:
    if within is not None:
        try:
            get_region(session, within)
        except NotFound:
            raise _field_error("within", "unknown_region", f"地区 {within} 不存在") from None
    catalog_code = None
    if catalog:
        catalog_code = normalize_catalog_code(catalog)
        if catalog_code is None:
            raise _field_error(
                "catalog",
                "invalid_catalog_code",
                f"品目编码 {catalog!r} 格式不正确(应如 A、A02000000 或 A0201)",
            )
    query: SearchQuery = validate_or_422(
        SearchQuery,
        {
            "q": q,
            "kinds": _kinds(kinds),
            "within": within,
            "status": tuple(status_ or ()),
            "eligible": eligible,
            "catalog": catalog_code,
            "specialty": specialty.upper() if specialty else None,
            "size": tuple(size or ()),
            "price_min": price_min,
            "price_max": price_max,
            "limit": limit,
            "cursor": cursor,
        },
    )
    return _backend(request).search(session, query, actor)


@router.get(
    "/suggest",
    summary="输入提示",
    description=(
        "边输入边提示:名称(或去掉地区与组织形式后的字号)以输入开头的记录,输入为拼音时按全拼或首字母开头匹配,"
        "不足时补充名称中包含输入的记录;短名称在前。可见范围与检索相同。"
    ),
    dependencies=[require(PUBLIC)],
    response_model=list[Suggestion],
    responses=problem_responses(422),
    operation_id="search_suggest",
)
def suggest(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    q: Annotated[
        str, Query(min_length=1, max_length=50, pattern=_PRINTABLE, description="已输入的内容")
    ],
    kinds: Kinds = None,
    limit: Annotated[int, Query(ge=1, le=20, description="条数(1–20)")] = 10,
) -> list[Suggestion]:
    return _backend(request).suggest(session, q, _kinds(kinds), actor, limit)
