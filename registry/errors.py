"""The one error family. Services raise these; `api/errors.py` renders them as problem+json.

`code` is stable English for programs; `title` and `detail` are Chinese for people.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    status = 400
    code = "bad_request"
    title = "请求有误"
    # Writes made before the error are committed anyway (a failed-login counter, say);
    # by default any error rolls the whole request back.
    keep_writes = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        keep_writes: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.code = code or self.code
        self.title = title or self.title
        self.status = status or self.status
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra
        self.keep_writes = keep_writes


class BadRequest(RegistryError):
    status, code, title = 400, "bad_request", "请求有误"


class Unauthorized(RegistryError):
    status, code, title = 401, "unauthorized", "未认证"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="registry"'})
        super().__init__(detail, **kw)


class Forbidden(RegistryError):
    status, code, title = 403, "forbidden", "无权操作"


class NotFound(RegistryError):
    status, code, title = 404, "not_found", "未找到"


class Conflict(RegistryError):
    status, code, title = 409, "conflict", "与现有数据冲突"


class PreconditionFailed(RegistryError):
    status, code, title = 412, "precondition_failed", "记录已被修改"


class PreconditionRequired(RegistryError):
    status, code, title = 428, "precondition_required", "缺少 If-Match 请求头"


class Unprocessable(RegistryError):
    status, code, title = 422, "validation_failed", "数据校验未通过"


class TooManyRequests(RegistryError):
    status, code, title = 429, "too_many_requests", "请求过于频繁"


class ServiceUnavailable(RegistryError):
    status, code, title = 503, "service_unavailable", "服务暂不可用"
