"""Every error leaves the service as RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import RegistryError
from registry.validation import validation_errors

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "未认证"),
    403: ("forbidden", "无权操作"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "与现有数据冲突"),
    412: ("precondition_failed", "记录已被修改"),
    428: ("precondition_required", "缺少 If-Match 请求头"),
    406: ("not_acceptable", "无法提供所要求的格式"),
    413: ("payload_too_large", "请求体过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_failed", "数据校验未通过"),
    429: ("too_many_requests", "请求过于频繁"),
    500: ("internal_error", "服务内部错误"),
    503: ("service_unavailable", "服务暂不可用"),
}


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RegistryError)
    async def _registry_error(request: Request, exc: RegistryError) -> JSONResponse:
        return problem(
            request,
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        fields = "、".join(dict.fromkeys(e["field"] for e in errors))
        return problem(
            request,
            status=422,
            code="validation_failed",
            title="数据校验未通过",
            detail=f"请检查以下字段:{fields}",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _STATUS_CODES.get(
            exc.status_code, ("error", HTTPStatus(exc.status_code).phrase)
        )
        detail = (
            title if exc.detail in (None, HTTPStatus(exc.status_code).phrase) else str(exc.detail)
        )
        if exc.status_code == 404:
            detail = "请求的地址不存在"
        return problem(
            request,
            status=exc.status_code,
            code=code,
            title=title,
            detail=detail,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # psycopg refuses NUL characters in text and PostgreSQL values out of a column's range;
        # both are bad input, found only when the value reaches the database.
        return problem(
            request,
            status=422,
            code="invalid_characters",
            title="数据校验未通过",
            detail="请求中有无法保存的值:含有不允许的字符(如 NUL)或超出取值范围",
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        return problem(
            request,
            status=503,
            code="database_unavailable",
            title="服务暂不可用",
            detail="数据库暂时无法访问,请稍后重试",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        request_id = getattr(request.state, "request_id", None)
        return problem(
            request,
            status=500,
            code="internal_error",
            title="服务内部错误",
            detail="服务内部错误,请联系管理员并提供 request_id",
            # answered by Starlette's outermost error middleware, outside ours: add the id here
            headers={"x-request-id": request_id} if request_id else None,
        )


# OpenAPI description of problem+json, for routes' `responses=`.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/not_found"]},
        "title": {"type": "string", "description": "中文标题", "examples": ["未找到"]},
        "status": {"type": "integer", "examples": [404]},
        "detail": {
            "type": "string",
            "description": "中文说明",
            "examples": ["地区 159999 不存在"],
        },
        "code": {
            "type": "string",
            "description": "稳定的英文错误码",
            "examples": ["not_found"],
        },
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "逐字段错误",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {
            "description": _STATUS_CODES.get(s, ("", HTTPStatus(s).phrase))[1],
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for s in statuses
    }
