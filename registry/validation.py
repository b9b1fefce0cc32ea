"""Pydantic validation errors as per-field problems with Chinese messages (API and services)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from registry.errors import Unprocessable
from registry.identifiers import IdentifierError

# Chinese messages for pydantic's error types; `{…}` are filled from the error's context.
_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": "必填字段缺失",
    "string_type": "必须是字符串",
    "string_too_short": "长度不能少于 {min_length} 个字符",
    "string_too_long": "长度不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "必须是整数",
    "int_parsing": "必须是整数",
    "float_parsing": "必须是数字",
    "bool_parsing": "必须是 true 或 false",
    "greater_than": "必须大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "必须小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "enum": "必须是以下之一:{expected}",
    "literal_error": "必须是以下之一:{expected}",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式应为 ISO 8601(如 2026-01-31T08:00:00+08:00)",
    "datetime_from_date_parsing": "时间格式应为 ISO 8601(如 2026-01-31T08:00:00+08:00)",
    "uuid_parsing": "不是有效的编号",
    "json_invalid": "请求体不是合法的 JSON",
    "list_type": "必须是数组",
    "dict_type": "必须是对象",
    "model_attributes_type": "必须是对象",
    "extra_forbidden": "不允许的字段",
    "too_long": "条目不能超过 {max_length} 个",
    "too_short": "条目不能少于 {min_length} 个",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])  # our own validators raise ValueError with a Chinese message
    template = _VALIDATION_MESSAGES.get(kind)
    if template is None:
        return "取值不正确"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split("{")[0].rstrip(":")


def validation_errors(raw: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "field": _field_name(tuple(e.get("loc", ()))),
            "code": e.get("type", "invalid"),
            "message": _validation_message(e),
        }
        for e in raw
    ]


def validate_or_422(model: type[BaseModel], payload: Any, *, prefix: str = "") -> Any:
    """`model.model_validate(payload)`, or 422 `validation_failed` listing every bad field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = validation_errors(list(exc.errors()))
        if prefix:
            for error in errors:
                error["field"] = (
                    f"{prefix}.{error['field']}" if error["field"] != "body" else prefix
                )
        fields = "、".join(dict.fromkeys(e["field"] for e in errors))
        raise Unprocessable(f"请检查以下字段:{fields}", errors=errors) from exc


def identifier_or_422(check: Callable[[str], str], value: str, *, field: str, code: str) -> str:
    """`check(value)` (an identifier validator), or 422 naming `field` with its Chinese message."""
    try:
        return check(value)
    except IdentifierError as exc:
        raise Unprocessable(
            str(exc), code=code, errors=[{"field": field, "code": "invalid", "message": str(exc)}]
        ) from exc
