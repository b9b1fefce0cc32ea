"""The procurement item catalogue (政府采购品目分类目录)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import CursorParam, Limit, SessionDep, require
from api.errors import problem_responses
from api.pagination import Page, decode_cursor, encode_cursor
from api.routing import UnitOfWorkRoute
from auth.policy import PUBLIC, ROOT_ADMIN
from models.catalog import (
    CatalogCategory,
    CatalogImportReport,
    CatalogItem,
    CatalogItemDetail,
    CatalogItemPublic,
)
from registry import catalog
from registry.errors import Unprocessable

router = APIRouter(prefix="/v1/catalog", tags=["品目分类目录"], route_class=UnitOfWorkRoute)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
ItemCode = Annotated[
    str, Path(max_length=16, description="品目编码(A02010000 或简写 A0201)", examples=["A0201"])
]
AsOf = Annotated[date | None, Query(description="查询该日期有效的目录版本(默认:现行)")]


def _page(items: list[CatalogItem], limit: int) -> Page[CatalogItemPublic]:
    cursor = encode_cursor([items[-1].code]) if len(items) == limit else None
    return Page[CatalogItemPublic](items=[catalog.to_public(i) for i in items], next_cursor=cursor)


@router.get(
    "",
    summary="品目列表",
    description="按编码排序。`prefix` 取该品目的整棵子树(A02、A0201、A02010000 均可),`name` 按名称包含检索。",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(400, 422),
)
def list_items(
    session: SessionDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    prefix: Annotated[str | None, Query(max_length=16, description="编码前缀(子树)")] = None,
    parent: Annotated[str | None, Query(max_length=16, description="直属上级编码")] = None,
    name: Annotated[str | None, Query(max_length=50, description="名称包含")] = None,
    category: Annotated[CatalogCategory | None, Query(description="类别")] = None,
    level: Annotated[int | None, Query(ge=1, le=5, description="层级")] = None,
    as_of: AsOf = None,
) -> Page[CatalogItemPublic]:
    after = decode_cursor(cursor, 1)
    items = catalog.list_items(
        session,
        prefix=prefix,
        parent=parent,
        name=name,
        category=category.value if category else None,
        level=level,
        as_of=as_of,
        after=after[0] if after else None,
        limit=limit,
    )
    return _page(items, limit)


@router.get(
    "/{code}",
    summary="品目详情",
    description="品目及其上级链和直属下级。",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(400, 404),
)
def get_item(session: SessionDep, code: ItemCode, as_of: AsOf = None) -> CatalogItemDetail:
    return catalog.item_detail(session, code, as_of=as_of)


@router.get(
    "/{code}/subtree",
    summary="品目子树",
    description="该品目及其全部下级,按编码排序(分页)。",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(400, 404),
)
def subtree(
    session: SessionDep,
    code: ItemCode,
    limit: Limit = 200,
    cursor: CursorParam = None,
    as_of: AsOf = None,
) -> Page[CatalogItemPublic]:
    item = catalog.get_item(session, code, as_of=as_of)
    after = decode_cursor(cursor, 1)
    items = catalog.list_items(
        session, prefix=item.code, as_of=as_of, after=after[0] if after else None, limit=limit
    )
    return _page(items, limit)


@router.post(
    "/import",
    summary="导入目录(CSV / XLSX)",
    description=(
        "逐行校验,任何一行有错则整个文件不写入,并返回每一行的错误。"
        "`merge`:新增和改名;`replace`:另外停用文件中没有的现行品目。`dry_run` 只校验。"
        "仅限自治区财政厅管理员。"
    ),
    responses=problem_responses(400, 401, 403, 413, 422),
)
async def import_items(
    session: SessionDep,
    file: Annotated[
        UploadFile, File(description="CSV(UTF-8)或 XLSX;表头 code,name,parent_code,category")
    ],
    _: Annotated[object, require(ROOT_ADMIN)],
    mode: Annotated[Literal["merge", "replace"], Form(description="导入方式")] = "merge",
    valid_from: Annotated[
        date | None, Form(description="生效日期(默认取文件头 valid_from,否则今天)")
    ] = None,
    dry_run: Annotated[bool, Form(description="只校验不写入")] = False,
) -> CatalogImportReport:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Unprocessable("文件超过 20 MB", code="file_too_large", status=413, title="请求体过大")
    report = await run_in_threadpool(
        catalog.import_catalog,
        session,
        data=data,
        filename=file.filename or "upload.csv",
        valid_from=valid_from,
        mode=mode,
        dry_run=dry_run,
    )
    if report.errors:
        raise Unprocessable(
            f"文件有 {len(report.errors)} 处错误,未写入任何数据",
            code="invalid_rows",
            errors=[e.model_dump() for e in report.errors],
            report=report.model_dump(mode="json"),
        )
    return report
