"""Purchasers (采购人), agents (代理机构) and suppliers (供应商): one router shape per kind."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response, status
from sqlmodel import Session

from api.deps import CurrentPrincipal, CursorParam, IfMatch, Limit, SessionDep, etag_for, require
from api.errors import problem_responses
from api.pagination import Page, decode_cursor, encode_cursor
from api.routers import commodities as commodities_routes
from api.routers import experts as experts_routes
from api.routing import UnitOfWorkRoute, one_statement_read
from auth.policy import AUTHENTICATED, PUBLIC, STAFF
from auth.principals import Principal
from models.change_request import ChangeRequestOut
from models.event import EventOut
from models.kinds import DATA_MODELS
from models.organization import (
    ORGANIZATION_KINDS,
    BatchLookup,
    BatchResult,
    EnterpriseSize,
    OrganizationOut,
    RecordKind,
    Status,
    TransitionBody,
)
from registry import lifecycle, organizations
from registry.catalog import parse_code
from registry.organizations import OrgFilters, OrgRow

PLURAL = {
    RecordKind.purchaser: "purchasers",
    RecordKind.agent: "agents",
    RecordKind.supplier: "suppliers",
    RecordKind.expert: "experts",
    RecordKind.commodity: "commodities",
}
LABEL = organizations.KIND_LABEL
OrgId = Annotated[str, Path(max_length=24, description="编号")]

EXAMPLES: dict[RecordKind, dict[str, Any]] = {
    RecordKind.supplier: {
        "uscc": "91150102MA0N123408",
        "name": "呼和浩特市青城科技有限公司",
        "region_code": "150102",
        "address": "内蒙古自治区呼和浩特市新城区新华大街 1 号",
        "legal_form": "limited_liability",
        "size": "small",
        "legal_representative": {"name": "张伟", "phone": "13800138000"},
        "registered_capital": "500.00",
        "business_scope": ["A0201", "C16"],
        "contacts": [{"name": "李娜", "phone": "0471-6600123"}],
        "bank_accounts": [
            {
                "bank": "中国银行呼和浩特分行",
                "account_name": "呼和浩特市青城科技有限公司",
                "account_number": "6217000012345678",
            }
        ],
    },
    RecordKind.agent: {
        "uscc": "91150102MA0N123408",
        "name": "内蒙古正信招标代理有限公司",
        "region_code": "150102",
        "legal_representative": {"name": "王强"},
        "business_scope": ["A", "C"],
        "staff": [{"name": "赵敏", "title": "招标师"}],
    },
    RecordKind.purchaser: {
        "uscc": "12150100011634500H",
        "name": "呼和浩特市第一中学",
        "region_code": "150102",
        "budget_unit_code": "150102001",
    },
    RecordKind.expert: {
        "name": "张敏",
        "id_number": "150102198001012474",
        "sex": "male",
        "birth_date": "1980-01-01",
        "phone": "13800138000",
        "employer": {"name": "内蒙古大学", "uscc": "121500004600000011"},
        "title": "高级工程师",
        "years_of_experience": 20,
        "specialties": ["A0101"],
        "region_code": "150102",
        "term": {"starts_on": "2026-01-01", "ends_on": "2028-12-31"},
        "relationships": [
            {
                "relation": "former_employer",
                "name": "呼和浩特市青城科技有限公司",
                "until": "2024-06-30",
            }
        ],
    },
    RecordKind.commodity: {
        "catalog_code": "A02020000",
        "name": "激光打印机",
        "brand": "HP",
        "model": "LaserJet Pro M404dn",
        "specs": {"print_speed_ppm": 38, "duplex": True, "color_print": False},
        "unit": "台",
        "reference_price": {"amount": "2399.00", "currency": "CNY", "as_of": "2026-11-01"},
    },
}


async def org_filters(
    within: Annotated[str | None, Query(pattern=r"^\d{6}$", description="地区子树(含下级)")] = None,
    status_: Annotated[
        list[Status] | None, Query(alias="status", description="状态(可多选)")
    ] = None,
    size: Annotated[list[EnterpriseSize] | None, Query(description="企业规模(可多选)")] = None,
    scope: Annotated[
        str | None, Query(max_length=16, description="经营范围包含该品目或其下级")
    ] = None,
    eligible: Annotated[bool | None, Query(description="可参加政府采购活动")] = None,
    name: Annotated[str | None, Query(max_length=50, description="名称包含")] = None,
) -> OrgFilters:
    """The list filters, shared by the list and the export of each kind."""
    return OrgFilters(
        within=within,
        status=status_,
        size=size,
        scope=parse_code(scope) if scope else None,
        eligible=eligible,
        name=name,
    )


OrgFiltersDep = Annotated[OrgFilters, Depends(org_filters)]


async def expert_filters(
    within: Annotated[str | None, Query(pattern=r"^\d{6}$", description="地区子树(含下级)")] = None,
    status_: Annotated[
        list[Status] | None, Query(alias="status", description="状态(可多选)")
    ] = None,
    specialty: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]\d{0,6}$", description="评审专业(该分类或其下级)")
    ] = None,
    eligible: Annotated[bool | None, Query(description="在聘且在聘期内、未暂停")] = None,
    name: Annotated[str | None, Query(max_length=50, description="姓名包含")] = None,
) -> OrgFilters:
    return OrgFilters(
        within=within,
        status=status_,
        specialty=specialty.upper() if specialty else None,
        eligible=eligible,
        name=name,
    )


async def commodity_filters(
    status_: Annotated[
        list[Status] | None, Query(alias="status", description="状态(可多选)")
    ] = None,
    catalog: Annotated[str | None, Query(max_length=16, description="品目(该品目或其下级)")] = None,
    brand: Annotated[
        str | None,
        Query(max_length=100, pattern=r"^[^\x00-\x1f]*$", description="品牌(别名视为同一品牌)"),
    ] = None,
    price_min: Annotated[Decimal | None, Query(ge=0, description="参考价格不低于")] = None,
    price_max: Annotated[Decimal | None, Query(ge=0, description="参考价格不高于")] = None,
    supplier: Annotated[
        str | None, Query(max_length=24, description="该供应商有现行报价的商品")
    ] = None,
    eligible: Annotated[bool | None, Query(description="已上架")] = None,
    name: Annotated[str | None, Query(max_length=50, description="名称包含")] = None,
) -> OrgFilters:
    return OrgFilters(
        status=status_,
        catalog=parse_code(catalog) if catalog else None,
        brand=brand,
        price_min=price_min,
        price_max=price_max,
        supplier=supplier,
        eligible=eligible,
        name=name,
    )


FILTERS: dict[RecordKind, Callable[..., Awaitable[OrgFilters]]] = {
    **dict.fromkeys(ORGANIZATION_KINDS, org_filters),
    RecordKind.expert: expert_filters,
    RecordKind.commodity: commodity_filters,
}


def _out(row: OrgRow, actor: Principal, response: Response | None = None) -> OrganizationOut:
    if response is not None:
        response.headers["ETag"] = etag_for(row.org.version)
    return organizations.to_out(row, actor)


def _answer(session: Session, out: OrganizationOut) -> Response:
    """A read's whole answer, built in the worker thread that ran the query.

    The read transaction ends here too, so a lookup costs one trip to the thread pool instead of
    three (handler, response validation, session close): the hottest reads, by id and by code,
    are what other systems call all day.
    """
    body = out.model_dump_json()
    session.close()
    headers = {"ETag": etag_for(out.version)}
    if out.resolved_from:  # a merged record's id or key: the answer is the survivor
        headers["Content-Location"] = f"/v1/{PLURAL[out.kind]}/{out.id}"
    return Response(body, media_type="application/json", headers=headers)


def build_router(kind: RecordKind) -> APIRouter:
    plural, label = PLURAL[kind], LABEL[kind]
    router = APIRouter(prefix=f"/v1/{plural}", tags=[f"{label}库"], route_class=UnitOfWorkRoute)
    data_model = DATA_MODELS[kind]
    filters_of_kind = Depends(FILTERS[kind])
    key_rule = {
        RecordKind.expert: "同一居民身份证号码全区只能有一条有效记录",
        RecordKind.commodity: "同一品目、品牌和型号(规范化后比较)只能有一条有效记录,其他供应商请添加报价",
    }.get(kind, "同一统一社会信用代码全区只能有一条有效记录")
    self_service = {
        RecordKind.supplier: f"{label}本身请使用 `POST /v1/signup` 自助注册。",
        RecordKind.agent: f"{label}本身请使用 `POST /v1/signup` 自助注册。",
    }.get(kind, "")

    @router.post(
        "",
        summary=f"登记{label}(草稿)",
        description=(
            f"财政部门工作人员在本辖区内登记{label},生成草稿,随后提交审核。"
            f"{key_rule}:重复登记返回 409 和已有记录的编号。"
            f"{self_service}支持 `Idempotency-Key`。"
        ),
        status_code=status.HTTP_201_CREATED,
        responses=problem_responses(401, 403, 409, 422),
        operation_id=f"create_{kind.value}",
    )
    def create(
        session: SessionDep,
        response: Response,
        actor: Annotated[Principal, require(STAFF)],
        body: Annotated[
            dict[str, Any],
            Body(
                description=f"{label}数据,字段见 {data_model.__name__}", examples=[EXAMPLES[kind]]
            ),
        ],
    ) -> OrganizationOut:
        row = organizations.register(session, kind=kind, payload=body, actor=actor)
        response.headers["Location"] = f"/v1/{plural}/{row.org.id}"
        return _out(row, actor, response)

    @router.get(
        "",
        summary=f"{label}列表",
        description=(
            "按编号排序的游标分页列表。公众与其他系统只看到已入库(审核通过过)的记录;"
            "财政部门还能看到本辖区的草稿与待审记录。受限字段对无权查看者脱敏。"
        ),
        dependencies=[require(PUBLIC)],
        responses=problem_responses(400, 422),
        operation_id=f"list_{plural}",
    )
    def list_(
        session: SessionDep,
        actor: CurrentPrincipal,
        limit: Limit = 50,
        cursor: CursorParam = None,
        filters: OrgFilters = filters_of_kind,
    ) -> Page[OrganizationOut]:
        after = decode_cursor(cursor, 1)
        rows = organizations.list_orgs(
            session,
            kind=kind,
            actor=actor,
            filters=filters,
            after=after[0] if after else None,
            limit=limit,
        )
        next_cursor = encode_cursor([rows[-1].org.id]) if len(rows) == limit else None
        return Page[OrganizationOut](items=[_out(r, actor) for r in rows], next_cursor=next_cursor)

    @router.post(
        "/batch",
        summary="批量查询",
        description=(
            "一次按编号和/或统一社会信用代码(组织)、居民身份证号码(专家,仅对有权查看受限字段者匹配)"
            "查询最多 1000 条(一次数据库查询)。结果按请求的键给出;找不到或无权查看的列在 missing 中。"
        ),
        dependencies=[require(PUBLIC)],
        response_model=BatchResult,
        responses=problem_responses(422),
        operation_id=f"batch_{plural}",
    )
    def batch(session: SessionDep, actor: CurrentPrincipal, body: BatchLookup) -> Response:
        found, missing = organizations.batch(
            session,
            kind=kind,
            ids=body.ids,
            usccs=body.usccs,
            id_numbers=body.id_numbers,
            actor=actor,
        )
        result = BatchResult(
            found={k: _out(r, actor) for k, r in found.items()},
            missing=missing,
            merged={k: r.org.id for k, r in found.items() if r.resolved_from},
        )
        # built from validated models already: serialize once instead of FastAPI re-validating
        # up to 1,000 records against the response model
        return Response(result.model_dump_json(), media_type="application/json")

    if kind in ORGANIZATION_KINDS:

        @router.get(
            "/by-uscc/{uscc}",
            summary="按统一社会信用代码查询",
            dependencies=[require(PUBLIC)],
            response_model=OrganizationOut,
            responses=problem_responses(404, 422),
            operation_id=f"get_{kind.value}_by_uscc",
        )
        @one_statement_read
        def by_uscc(
            session: SessionDep,
            actor: CurrentPrincipal,
            uscc: Annotated[str, Path(max_length=40)],
        ) -> Response:
            row = organizations.by_uscc(session, kind=kind, uscc=uscc, actor=actor)
            return _answer(session, organizations.to_out(row, actor))

    # kind-specific routes go before `/{org_id}`, which would take `by-key` for an id
    if kind is RecordKind.expert:
        experts_routes.add_routes(router)
    if kind is RecordKind.commodity:
        commodities_routes.add_routes(router)

    @router.get(
        "/{org_id}",
        summary=f"{label}详情",
        description="现行版本(待审核的变更不生效)。`as_of` 给出该时刻的历史版本。",
        dependencies=[require(PUBLIC)],
        response_model=OrganizationOut,
        responses=problem_responses(404),
        operation_id=f"get_{kind.value}",
    )
    @one_statement_read
    def get(
        session: SessionDep,
        actor: CurrentPrincipal,
        org_id: OrgId,
        as_of: Annotated[datetime | None, Query(description="历史时刻(ISO 8601)")] = None,
    ) -> Response:
        if as_of is not None:
            out = organizations.as_of(session, kind=kind, org_id=org_id, actor=actor, at=as_of)
        else:
            out = organizations.to_out(
                organizations.get(session, kind=kind, org_id=org_id, actor=actor), actor
            )
        return _answer(session, out)

    @router.patch(
        "/{org_id}",
        summary=f"修改{label}",
        description=(
            "只传需要修改的字段(顶层字段整体替换)。草稿和退回的记录直接修改;已入库的记录中,"
            "联系人等非审核字段立即生效,其余字段形成变更申请,审核通过前现行版本不变。需要 `If-Match`。"
        ),
        responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
        operation_id=f"update_{kind.value}",
    )
    def update(
        session: SessionDep,
        response: Response,
        org_id: OrgId,
        check_version: IfMatch,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        body: Annotated[
            dict[str, Any],
            Body(
                description="要修改的字段",
                examples=[{"contacts": [{"name": "李娜", "phone": "13900000000"}]}],
            ),
        ],
    ) -> OrganizationOut:
        row = organizations.edit(
            session, kind=kind, org_id=org_id, patch=body, actor=actor, check_version=check_version
        )
        return _out(row, actor, response)

    for move in lifecycle.transitions_for(kind).values():
        _add_transition(router, kind, move)

    @router.get(
        "/{org_id}/history",
        summary="变更历史",
        description="审计日志:谁、何时、改了什么(变更前/后)、理由、请求编号。",
        responses=problem_responses(401, 404),
        operation_id=f"history_{kind.value}",
    )
    def history(
        session: SessionDep, org_id: OrgId, actor: Annotated[Principal, require(AUTHENTICATED)]
    ) -> list[EventOut]:
        return organizations.history(session, kind=kind, org_id=org_id, actor=actor)

    @router.get(
        "/{org_id}/change-requests",
        summary="变更申请",
        responses=problem_responses(401, 404),
        operation_id=f"change_requests_{kind.value}",
    )
    def change_requests(
        session: SessionDep, org_id: OrgId, actor: Annotated[Principal, require(AUTHENTICATED)]
    ) -> list[ChangeRequestOut]:
        return organizations.change_requests(session, kind=kind, org_id=org_id, actor=actor)

    for decision, summary in (
        ("approve", "通过变更申请"),
        ("reject", "驳回变更申请"),
        ("withdraw", "撤回变更申请"),
    ):
        _add_decision(router, kind, decision, summary)
    return router


def _add_transition(router: APIRouter, kind: RecordKind, move: lifecycle.Transition) -> None:
    sources = "、".join(lifecycle.status_label(s, kind) for s in sorted(move.sources))

    def endpoint(
        session: SessionDep,
        response: Response,
        org_id: OrgId,
        actor: Annotated[Principal, require(AUTHENTICATED)],
        body: TransitionBody | None = None,
    ) -> OrganizationOut:
        body = body or TransitionBody()
        row = organizations.transition(
            session,
            kind=kind,
            org_id=org_id,
            name=move.name,
            actor=actor,
            reason=body.reason,
            until=body.until,
        )
        return _out(row, actor, response)

    router.add_api_route(
        f"/{{org_id}}/{move.name}",
        endpoint,
        methods=["POST"],
        summary=move.label,
        description=(
            f"从“{sources}”变为“{lifecycle.status_label(move.target, kind)}”。"
            + ("需要填写理由。" if move.reason_required else "")
            + " 状态不允许时返回 409,并列出可进行的操作。"
        ),
        responses=problem_responses(401, 403, 404, 409, 422),
        operation_id=f"{move.name}_{kind.value}",
    )


def _add_decision(router: APIRouter, kind: RecordKind, decision: str, summary: str) -> None:
    def endpoint(
        session: SessionDep,
        response: Response,
        org_id: OrgId,
        request_id: Annotated[str, Path(max_length=24)],
        actor: Annotated[Principal, require(AUTHENTICATED)],
        body: TransitionBody | None = None,
    ) -> OrganizationOut:
        row = organizations.decide_change_request(
            session,
            kind=kind,
            org_id=org_id,
            request_id=request_id,
            decision=decision,
            actor=actor,
            reason=(body or TransitionBody()).reason,
        )
        return _out(row, actor, response)

    router.add_api_route(
        f"/{{org_id}}/change-requests/{{request_id}}/{decision}",
        endpoint,
        methods=["POST"],
        summary=summary,
        responses=problem_responses(401, 403, 404, 409, 422),
        operation_id=f"{decision}_change_request_{kind.value}",
    )


routers = [build_router(kind) for kind in RecordKind]
