"""GB/T 2260 regions and their finance bureaus (地区与财政部门)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import CursorParam, IfMatch, Limit, SessionDep, etag_for, require
from api.errors import problem_responses
from api.pagination import Page, decode_cursor, encode_cursor
from api.routing import UnitOfWorkRoute
from auth.policy import PUBLIC, STAFF_ADMIN
from auth.principals import Principal
from models.region import (
    BureauPublic,
    BureauUpdate,
    Region,
    RegionDetail,
    RegionLevel,
    RegionSummary,
)
from registry import regions

router = APIRouter(prefix="/v1", tags=["地区与财政部门"], route_class=UnitOfWorkRoute)

RegionCode = Annotated[
    str, Path(pattern=r"^\d{6}$", description="6 位行政区划代码", examples=["150102"])
]
AsOf = Annotated[date | None, Query(description="查询该日期有效的区划(默认:现行)")]


def _page(items: list[Region], limit: int) -> Page[RegionSummary]:
    cursor = encode_cursor([items[-1].code]) if len(items) == limit else None
    return Page[RegionSummary](
        items=[RegionSummary.model_validate(r) for r in items], next_cursor=cursor
    )


@router.get(
    "/regions",
    summary="地区列表",
    description="按代码排序的地区列表。`parent` 取直属下级,`within` 取整棵子树(含自身)。",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(400, 422),
)
def list_regions(
    session: SessionDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    parent: Annotated[str | None, Query(pattern=r"^\d{6}$", description="上级代码")] = None,
    within: Annotated[str | None, Query(pattern=r"^\d{6}$", description="子树根代码")] = None,
    level: Annotated[RegionLevel | None, Query(description="层级")] = None,
    name: Annotated[str | None, Query(max_length=50, description="名称包含(含曾用名)")] = None,
    as_of: AsOf = None,
    include_retired: Annotated[bool, Query(description="包含已停用的代码")] = False,
) -> Page[RegionSummary]:
    after = decode_cursor(cursor, 1)
    items = regions.list_regions(
        session,
        parent=parent,
        within=within,
        level=level,
        name=name,
        as_of=as_of,
        include_retired=include_retired,
        after=after[0] if after else None,
        limit=limit,
    )
    return _page(items, limit)


@router.get(
    "/regions/{code}",
    summary="地区详情",
    description="地区及其上级链、直属下级和本级财政部门。",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(404, 422),
)
def get_region(session: SessionDep, code: RegionCode, as_of: AsOf = None) -> RegionDetail:
    return regions.region_detail(session, code, as_of=as_of)


@router.get(
    "/regions/{code}/subtree",
    summary="子树",
    description="该地区及其全部下级,按代码排序(分页)。",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(404, 422),
)
def subtree(
    session: SessionDep,
    code: RegionCode,
    limit: Limit = 200,
    cursor: CursorParam = None,
    as_of: AsOf = None,
) -> Page[RegionSummary]:
    regions.get_region(session, code)
    after = decode_cursor(cursor, 1)
    items = regions.list_regions(
        session, within=code, as_of=as_of, after=after[0] if after else None, limit=limit
    )
    return _page(items, limit)


@router.get(
    "/bureaus/{code}",
    summary="财政部门详情",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(404, 422),
)
def get_bureau(session: SessionDep, code: RegionCode, response: Response) -> BureauPublic:
    bureau = regions.get_bureau(session, code)
    response.headers["ETag"] = etag_for(bureau.version)
    return BureauPublic.model_validate(bureau)


@router.patch(
    "/bureaus/{code}",
    summary="修改财政部门信息",
    description="本级或上级财政部门管理员可修改名称、地址、电话。需要 `If-Match`。",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
def update_bureau(
    session: SessionDep,
    code: RegionCode,
    body: BureauUpdate,
    check_version: IfMatch,
    response: Response,
    actor: Annotated[Principal, require(STAFF_ADMIN)],
) -> BureauPublic:
    bureau = regions.update_bureau(
        session,
        actor=actor,
        code=code,
        changes=body.model_dump(exclude_unset=True),
        check_version=check_version,
    )
    response.headers["ETag"] = etag_for(bureau.version)
    return BureauPublic.model_validate(bureau)
