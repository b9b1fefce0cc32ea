"""Dependencies every router uses: the request's session, the caller, route policies, paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from auth.policy import RoutePolicy
from auth.principals import ANONYMOUS, Principal
from auth.tokens import InvalidToken, TokenService
from registry.errors import Forbidden, PreconditionFailed, PreconditionRequired, Unauthorized

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token",
    auto_error=False,
    description="登录:`POST /v1/auth/token`(password 或 client_credentials)",
)


# The dependencies below are `async def` on purpose: they do no I/O, and a sync dependency
# would cost a trip to the thread pool on every request.


async def get_session(request: Request) -> Session:
    """The request's session; `api/routing.py` opened it and commits or rolls it back."""
    session: Session = request.state.db
    return session


SessionDep = Annotated[Session, Depends(get_session)]


def resolve_principal(request: Request) -> Principal:
    """Decode the bearer token once per request (also used by the idempotency store)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    principal = ANONYMOUS
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic":
            # client credentials for the token endpoint, which reads them itself; a caller
            # presenting them anywhere else is simply not logged in
            request.state.principal = ANONYMOUS
            return ANONYMOUS
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization 请求头应为 “Bearer <令牌>”", code="invalid_token")
        tokens: TokenService = request.app.state.tokens
        try:
            principal = tokens.verify(token.strip())
        except InvalidToken as exc:
            raise Unauthorized(exc.reason, code="invalid_token") from exc
    request.state.principal = principal
    return principal


async def _current_principal(
    request: Request, _token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    return resolve_principal(request)


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]


def require(policy: RoutePolicy) -> Any:
    """Declare a route's policy: `Annotated[Principal, require(STAFF)]` or `dependencies=[...]`.

    The route walk test finds every route's policy through the `route_policy` attribute.
    """

    async def check(principal: CurrentPrincipal) -> Principal:
        if not policy.allows(principal):
            if principal.is_anonymous:
                raise Unauthorized("请先登录", code="authentication_required")
            raise Forbidden(f"此操作仅限{policy.description}")
        return principal

    check.route_policy = policy  # type: ignore[attr-defined]
    check.__name__ = f"require_{policy.name}"
    return Depends(check)


def route_policies(dependant: Any) -> list[RoutePolicy]:
    """All policies declared anywhere in a route's dependency tree."""
    found: list[RoutePolicy] = []
    stack = [dependant]
    while stack:
        node = stack.pop()
        policy = getattr(node.call, "route_policy", None)
        if policy is not None:
            found.append(policy)
        stack.extend(node.dependencies)
    return found


# --- paging and concurrency -------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=200, description="每页条数(1–200)")]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="上一页返回的 next_cursor;首页不填")
]


def etag_for(version: int) -> str:
    return f'"{version}"'


def version_check(if_match: str | None) -> Callable[[int], None]:
    """A checker the service calls with the record's current version (428 without, 412 stale)."""

    def check(current: int) -> None:
        if if_match is None:
            raise PreconditionRequired("更新记录时必须提供 If-Match 请求头(取自读取时的 ETag)")
        candidates = [c.strip().removeprefix("W/") for c in if_match.split(",")]
        if "*" in candidates or etag_for(current) in candidates:
            return
        raise PreconditionFailed(
            "记录已被他人修改,请重新读取后再提交", current_etag=etag_for(current)
        )

    return check


async def if_match_version(
    if_match: Annotated[
        str | None, Header(description="记录的 ETag(乐观并发控制,更新时必填)")
    ] = None,
) -> Callable[[int], None]:
    return version_check(if_match)


IfMatch = Annotated[Callable[[int], None], Depends(if_match_version)]
