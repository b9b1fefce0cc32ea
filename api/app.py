"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlmodel import Session

from api.errors import install_error_handlers
from api.middleware import RequestContextMiddleware
from api.routers import (
    accounts,
    auth,
    catalog,
    dedup,
    health,
    organizations,
    regions,
    registry_extras,
    search,
    transfer,
)
from auth.keys import KeyRing, generate_signing_key, load_signing_keys
from auth.tokens import TokenService
from registry import crypto
from registry.config import Settings, get_settings
from registry.db import make_engine
from search import text as search_text

DESCRIPTION = """
内蒙古自治区政府采购基础数据统一注册中心(一处注册,全区有效)。

**Unified master-data registry** for government procurement: regions and finance bureaus, the
procurement catalogue, and (next) purchasers, agents, suppliers, experts and commodities.

* 登录:`POST /v1/auth/token`,再点右上角 **Authorize** 填入令牌(或直接用用户名/密码)。
* 错误一律为 `application/problem+json`:稳定的英文 `code`,中文 `title` / `detail`,逐字段 `errors`。
* 列表使用游标分页(`limit` ≤ 200,`next_cursor`);更新需要 `If-Match`;POST 支持 `Idempotency-Key`。
"""

TAGS = [
    {
        "name": "地区与财政部门",
        "description": "GB/T 2260 行政区划树(自治区 / 盟市 / 旗县区)及各级财政部门",
    },
    {
        "name": "品目分类目录",
        "description": "政府采购品目分类目录(货物 A / 工程 B / 服务 C),按版本生效",
    },
    {"name": "认证", "description": "OAuth2 令牌、公钥与当前身份"},
    {"name": "账号管理", "description": "财政部门管理员在本辖区内管理账号"},
    {"name": "采购人库", "description": "采购人:一处注册,全区有效"},
    {"name": "代理机构库", "description": "采购代理机构"},
    {
        "name": "供应商库",
        "description": "供应商:登记、审核、变更申请、暂停、注销、禁止参加政府采购活动",
    },
    {"name": "自助注册", "description": "供应商、代理机构自助注册"},
    {"name": "信息公开", "description": "禁止参加政府采购活动名单"},
    {"name": "变更流", "description": "供其他业务系统同步的有序、无遗漏变更事件"},
    {"name": "检索", "description": "全库检索与输入提示(名称、拼音、代码;可见范围同各库列表)"},
    {"name": "运维", "description": "健康检查与指标"},
]


def build_key_ring(settings: Settings) -> KeyRing:
    key_dir = settings.signing_key_dir
    if not list(key_dir.glob("*.pem")):
        generate_signing_key(key_dir)
    return KeyRing(
        signing_keys=load_signing_keys(key_dir),
        jwks_file=settings.jwt_jwks_file,
        jwks_url=settings.jwt_jwks_url,
        cache_seconds=settings.jwt_jwks_cache_seconds,
        dev_hs256_secret=settings.jwt_dev_hs256_secret,
    )


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    session_factory: Callable[[], Session] | None = None,
) -> FastAPI:
    """Build the app. Tests pass their own `session_factory` (sessions joined to a test transaction)."""
    settings = settings or get_settings()
    owned_engine: Engine | None = None
    if session_factory is None:
        if engine is None:
            if not settings.database_url:
                raise RuntimeError(
                    "DATABASE_URL is not set: start the service with `registry serve`"
                )
            engine = owned_engine = make_engine(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            )
        bound = engine
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

        def session_factory() -> Session:
            return Session(bound, expire_on_commit=False)

        def one_statement_factory() -> Session:
            return Session(autocommit, expire_on_commit=False)

    else:
        one_statement_factory = session_factory

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the search text dictionaries (about a second), now rather than in the first search
        await anyio.to_thread.run_sync(search_text.load)
        yield
        if owned_engine is not None:
            owned_engine.dispose()

    app = FastAPI(
        title="政府采购基础数据注册中心 Procurement Registry",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        swagger_ui_parameters={"persistAuthorization": True},
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.one_statement_session_factory = one_statement_factory
    app.state.tokens = TokenService(settings, build_key_ring(settings))
    # experts' personal data at rest; keys added by another process are picked up when seen
    crypto.configure(crypto.load_cipher(settings), reload=lambda: crypto.load_cipher(settings))
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    for module in (health, auth, regions, catalog, accounts):
        app.include_router(module.router)
    # before the organization routers: `/v1/{plural}/export` must not be taken for an id
    for router in [*transfer.routers, *organizations.routers]:
        app.include_router(router)
    app.include_router(registry_extras.router)
    app.include_router(dedup.router)
    app.include_router(search.router)
    return app


def worker_app() -> FastAPI:
    """The app in each process of `registry serve --workers N` (settings from the environment)."""
    from registry.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def iter_api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute of the app, also inside included routers (FastAPI may keep them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from iter_api_routes(list(inner.routes))
