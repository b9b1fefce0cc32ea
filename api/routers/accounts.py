"""Account administration by bureau admins, within their subtree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import CursorParam, IfMatch, Limit, SessionDep, etag_for, require
from api.errors import problem_responses
from api.pagination import Page, decode_cursor, encode_cursor
from api.routing import UnitOfWorkRoute
from auth.policy import STAFF_ADMIN
from auth.principals import Principal
from models.account import Account, AccountCreate, AccountKind, AccountPublic, AccountUpdate
from registry import accounts

router = APIRouter(prefix="/v1/accounts", tags=["账号管理"], route_class=UnitOfWorkRoute)

Admin = Annotated[Principal, require(STAFF_ADMIN)]
AccountId = Annotated[str, Path(max_length=64, description="账号编号")]


def _public(account: Account, response: Response | None = None) -> AccountPublic:
    if response is not None:
        response.headers["ETag"] = etag_for(account.version)
    return AccountPublic.model_validate(account)


@router.post(
    "",
    summary="创建账号",
    description="管理员可在本级及下级地区创建工作人员账号;系统账号(client_credentials)仅限自治区财政厅管理员。支持 `Idempotency-Key`。",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
def create_account(
    session: SessionDep, body: AccountCreate, actor: Admin, response: Response
) -> AccountPublic:
    account = accounts.create_account(session, data=body, actor=actor)
    response.headers["Location"] = f"/v1/accounts/{account.id}"
    return _public(account, response)


@router.get(
    "",
    summary="账号列表",
    description="本级及下级地区的账号,按登录名排序。",
    responses=problem_responses(401, 403),
)
def list_accounts(
    session: SessionDep,
    actor: Admin,
    limit: Limit = 50,
    cursor: CursorParam = None,
    within: Annotated[str | None, Query(pattern=r"^\d{6}$", description="地区子树")] = None,
    kind: Annotated[AccountKind | None, Query(description="账号类型")] = None,
) -> Page[AccountPublic]:
    after = decode_cursor(cursor, 1)
    items = accounts.list_accounts(
        session,
        actor=actor,
        region_within=within,
        kind=kind,
        after=after[0] if after else None,
        limit=limit,
    )
    next_cursor = encode_cursor([items[-1].username.lower()]) if len(items) == limit else None
    return Page[AccountPublic](items=[_public(a) for a in items], next_cursor=next_cursor)


@router.get("/{account_id}", summary="账号详情", responses=problem_responses(401, 403, 404))
def get_account(
    session: SessionDep, account_id: AccountId, actor: Admin, response: Response
) -> AccountPublic:
    return _public(accounts.get_account(session, actor=actor, account_id=account_id), response)


@router.patch(
    "/{account_id}",
    summary="修改账号",
    description="修改姓名、角色、停用状态或授权范围。需要 `If-Match`。",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
def update_account(
    session: SessionDep,
    account_id: AccountId,
    body: AccountUpdate,
    check_version: IfMatch,
    actor: Admin,
    response: Response,
) -> AccountPublic:
    account = accounts.update_account(
        session,
        actor=actor,
        account_id=account_id,
        changes=body.model_dump(exclude_unset=True),
        check_version=check_version,
    )
    return _public(account, response)


@router.post(
    "/{account_id}/unlock",
    summary="解除锁定",
    description="清除连续登录失败造成的锁定。",
    responses=problem_responses(401, 403, 404),
)
def unlock_account(
    session: SessionDep, account_id: AccountId, actor: Admin, response: Response
) -> AccountPublic:
    return _public(accounts.unlock_account(session, actor=actor, account_id=account_id), response)
