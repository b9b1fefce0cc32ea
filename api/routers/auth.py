"""Tokens: the OAuth2 token endpoint, the public keys, and who am I."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field

from api.deps import CurrentPrincipal, SessionDep, require
from api.errors import problem_responses
from api.routing import UnitOfWorkRoute
from auth.policy import AUTHENTICATED, PUBLIC
from auth.principals import Principal
from auth.tokens import TokenService
from models.account import TokenResponse
from registry import accounts
from registry.errors import BadRequest, Unauthorized

router = APIRouter(tags=["认证"], route_class=UnitOfWorkRoute)


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = (
            base64.b64decode(value.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized(
            "HTTP Basic 认证信息格式不正确", code="invalid_client", error="invalid_client"
        ) from exc
    return (client_id, secret) if sep else None


@router.post(
    "/v1/auth/token",
    summary="获取访问令牌",
    description=(
        "OAuth2 令牌端点。`grant_type=password`:工作人员与自助账号用登录名和密码;"
        "`grant_type=client_credentials`:其他业务系统用 client_id / client_secret(表单或 HTTP Basic),"
        "可用 `scope` 请求其授权范围的子集。连续失败达到上限后账号锁定一段时间。"
    ),
    dependencies=[require(PUBLIC)],
    responses=problem_responses(400, 401, 422),
)
def token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str, Form(description="password 或 client_credentials")],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=128)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=128)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
) -> TokenResponse:
    settings = request.app.state.settings
    tokens: TokenService = request.app.state.tokens
    principal: Principal
    if grant_type == "password":
        if not username or not password:
            raise BadRequest("请提供登录名和密码", code="invalid_request", error="invalid_request")
        principal = accounts.login_with_password(
            session, username=username, password=password, settings=settings
        )
    elif grant_type == "client_credentials":
        basic = _basic_credentials(request)
        cid, secret = basic if basic else (client_id, client_secret)
        if not cid or not secret:
            raise Unauthorized(
                "请提供 client_id 和 client_secret", code="invalid_client", error="invalid_client"
            )
        requested = set(scope.split()) if scope else None
        principal = accounts.login_client(
            session, client_id=cid, client_secret=secret, requested=requested, settings=settings
        )
    else:
        raise BadRequest(
            "grant_type 只支持 password 和 client_credentials",
            code="unsupported_grant_type",
            error="unsupported_grant_type",
        )
    access_token, lifetime = tokens.issue(principal)
    return TokenResponse(
        access_token=access_token, expires_in=lifetime, scope=" ".join(sorted(principal.scopes))
    )


@router.get(
    "/.well-known/jwks.json",
    summary="令牌验证公钥(JWKS)",
    description="本服务签发令牌所用的公钥;其他系统用它离线验证令牌。",
    dependencies=[require(PUBLIC)],
)
def jwks(request: Request) -> dict[str, Any]:
    tokens: TokenService = request.app.state.tokens
    return tokens.keys.public_jwks()


class Me(BaseModel):
    kind: str = Field(description="主体类型")
    subject: str = Field(description="主体标识")
    name: str = Field(description="名称")
    region_code: str | None = Field(default=None, description="所属地区(工作人员)")
    role: str | None = Field(default=None, description="角色(工作人员)")
    entity_kind: str | None = Field(default=None, description="绑定主体类型(自助账号)")
    entity_id: str | None = Field(default=None, description="绑定主体编号(自助账号)")
    scopes: list[str] = Field(default_factory=list, description="授权范围(系统账号)")


@router.get(
    "/v1/me",
    summary="当前身份",
    description="当前令牌代表的主体及其权限范围。",
    responses=problem_responses(401),
)
def me(principal: Annotated[Principal, require(AUTHENTICATED)]) -> Me:
    return Me(
        kind=principal.kind.value,
        subject=principal.subject,
        name=principal.name,
        region_code=principal.region_code,
        role=principal.role.value if principal.role else None,
        entity_kind=principal.entity_kind.value if principal.entity_kind else None,
        entity_id=principal.entity_id,
        scopes=sorted(principal.scopes),
    )


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=128, description="当前密码")
    new_password: str = Field(min_length=12, max_length=128, description="新密码(至少 12 位)")


@router.post(
    "/v1/me/password",
    summary="修改本人密码",
    status_code=204,
    responses=problem_responses(400, 401, 422),
)
def change_password(
    session: SessionDep,
    body: PasswordChange,
    principal: Annotated[Principal, require(AUTHENTICATED)],
) -> None:
    accounts.change_own_password(
        session, actor=principal, current=body.current_password, new=body.new_password
    )


__all__ = ["CurrentPrincipal", "router"]
