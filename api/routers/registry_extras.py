"""Debarments, the change feed and self-service sign-up."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from api.deps import CurrentPrincipal, CursorParam, Limit, SessionDep, require
from api.errors import problem_responses
from api.pagination import Page, decode_cursor, encode_cursor
from api.routers.organizations import PLURAL
from api.routing import UnitOfWorkRoute
from auth.policy import CHANGE_FEED_READER, PUBLIC, STAFF
from auth.principals import Principal
from models.debarment import DebarmentCreate, DebarmentOut
from models.event import FeedPage
from models.organization import OrganizationOut, RecordKind, TransitionBody
from registry import debarments, events, organizations
from registry.signup import SignupRequest, sign_up

router = APIRouter(route_class=UnitOfWorkRoute)
OrgId = Annotated[str, Path(max_length=24)]


for _kind, _plural in ((RecordKind.supplier, "suppliers"), (RecordKind.agent, "agents")):

    def _make(kind: RecordKind, plural: str) -> None:
        label = organizations.KIND_LABEL[kind]

        @router.post(
            f"/v1/{plural}/{{org_id}}/debarments",
            tags=[f"{label}库"],
            summary="禁止参加政府采购活动",
            description="本辖区的审核人员或管理员作出决定;全区生效。生效与否由起止日期计算。",
            status_code=status.HTTP_201_CREATED,
            responses=problem_responses(401, 403, 404, 409, 422),
            operation_id=f"debar_{kind.value}",
        )
        def debar(
            session: SessionDep,
            org_id: OrgId,
            body: DebarmentCreate,
            actor: Annotated[Principal, require(STAFF)],
        ) -> DebarmentOut:
            return debarments.issue(session, kind=kind, org_id=org_id, body=body, actor=actor)

        @router.get(
            f"/v1/{plural}/{{org_id}}/debarments",
            tags=[f"{label}库"],
            summary="处罚记录",
            dependencies=[require(PUBLIC)],
            responses=problem_responses(404),
            operation_id=f"debarments_of_{kind.value}",
        )
        def debarments_of(
            session: SessionDep, actor: CurrentPrincipal, org_id: OrgId
        ) -> list[DebarmentOut]:
            return debarments.for_organization(session, kind=kind, org_id=org_id, actor=actor)

    _make(_kind, _plural)


@router.get(
    "/v1/debarments",
    tags=["信息公开"],
    summary="禁止参加政府采购活动名单",
    description="当前生效的禁止参加政府采购活动记录(公开)。",
    dependencies=[require(PUBLIC)],
    responses=problem_responses(400, 422),
)
def public_debarments(
    session: SessionDep,
    limit: Limit = 50,
    cursor: CursorParam = None,
    kind: Annotated[RecordKind | None, Query(description="主体类型")] = None,
    name: Annotated[str | None, Query(max_length=50, description="名称包含")] = None,
) -> Page[DebarmentOut]:
    after = decode_cursor(cursor, 1)
    items = debarments.public_list(
        session, kind=kind, name=name, after=after[0] if after else None, limit=limit
    )
    return Page[DebarmentOut](
        items=items, next_cursor=encode_cursor([items[-1].id]) if len(items) == limit else None
    )


@router.post(
    "/v1/debarments/{debarment_id}/revoke",
    tags=["信息公开"],
    summary="撤销禁止参加政府采购活动的决定",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def revoke_debarment(
    session: SessionDep,
    debarment_id: Annotated[str, Path(max_length=24)],
    body: TransitionBody,
    actor: Annotated[Principal, require(STAFF)],
) -> DebarmentOut:
    return debarments.revoke(session, debarment_id=debarment_id, actor=actor, reason=body.reason)


@router.get(
    "/v1/changes",
    tags=["变更流"],
    summary="变更流",
    description=(
        "按顺序、可续读、无遗漏的变更事件:保存上次返回的 `next_cursor`,下次作为 `after` 传入。"
        "只返回比仍在进行中的最早事务更早的事件,因此后提交的事务不会被跳过。"
        "`data` 为事件后记录的公开数据(受限字段脱敏;未入库的记录不含数据)。"
    ),
    responses=problem_responses(400, 401, 403, 422),
)
def changes(
    session: SessionDep,
    _: Annotated[Principal, require(CHANGE_FEED_READER)],
    after: Annotated[
        str | None, Query(max_length=100, description="上次的 next_cursor;从头读取时不填")
    ] = None,
    kinds: Annotated[list[RecordKind] | None, Query(description="只看这些类型")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="最多条数")] = 200,
) -> FeedPage:
    return events.feed_page(
        session, after=after, kinds=[k.value for k in kinds] if kinds else None, limit=limit
    )


class SignupResult(BaseModel):
    access_token: str = Field(description="自助账号的访问令牌")
    token_type: str = "Bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    organization: OrganizationOut


@router.post(
    "/v1/signup",
    tags=["自助注册"],
    summary="供应商、代理机构、评审专家自助注册",
    description=(
        "同时创建自助账号和本单位(或专家本人)的草稿记录,返回访问令牌;随后补充信息并提交审核"
        "(如 `POST /v1/suppliers/{id}/submit`),在详情中查看审核状态。"
        "统一社会信用代码(专家:身份证号码)已登记时返回 409。"
    ),
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(PUBLIC)],
    responses=problem_responses(409, 422),
)
def signup(
    session: SessionDep, request: Request, response: Response, body: SignupRequest
) -> SignupResult:
    principal, row = sign_up(session, body=body)
    token, lifetime = request.app.state.tokens.issue(principal)
    response.headers["Location"] = f"/v1/{PLURAL[body.kind]}/{row.org.id}"
    return SignupResult(
        access_token=token, expires_in=lifetime, organization=organizations.to_out(row, principal)
    )
