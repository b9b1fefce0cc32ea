"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import SessionDep, require
from api.errors import problem_responses
from api.routing import UnitOfWorkRoute
from auth.policy import PUBLIC
from registry import migrate
from registry.errors import ServiceUnavailable
from search.sync import backlog

router = APIRouter(tags=["运维"], route_class=UnitOfWorkRoute, dependencies=[require(PUBLIC)])


@router.get("/healthz", summary="存活检查", description="进程在运行即返回 200,不访问数据库。")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="就绪检查",
    description=(
        "数据库可用且结构已迁移到最新版本时返回 200,否则 503。"
        "`search_backlog` 为尚未同步到检索引擎的变更数,`search_backlog_seconds` 为其中最早一条已等待的秒数"
        "(使用检索引擎时,持续增长说明 `registry worker` 未运行或引擎不可用;不影响就绪)。"
    ),
    responses=problem_responses(503),
)
def readyz(session: SessionDep) -> dict[str, str | int]:
    session.execute(text("SELECT 1"))
    current = MigrationContext.configure(session.connection()).get_current_revision()
    head = migrate.head_revision()
    if current != head:
        raise ServiceUnavailable(
            f"数据库结构版本 {current} 不是最新的 {head},请运行 registry db upgrade",
            code="migrations_pending",
        )
    waiting, oldest = backlog(session)
    return {
        "status": "ready",
        "database": "ok",
        "schema": str(current),
        "search_backlog": waiting,
        "search_backlog_seconds": oldest,
    }


@router.get("/metrics", summary="Prometheus 指标", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
