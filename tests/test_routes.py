"""The route surface: every route has a policy and a unit of work, and every error is problem+json."""

from __future__ import annotations

import re
import tempfile
import typing
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.params import File, Form
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.app import create_app, iter_api_routes
from api.deps import require, route_policies
from api.pagination import encode_cursor
from api.routing import UnitOfWorkRoute
from auth.policy import PUBLIC
from models.account import StaffRole
from registry.config import Settings
from tests.conftest import assert_problem, staff

DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
CJK = re.compile(r"[\u4e00-\u9fff]")
NUL = "ab\x00cd"


def _collection_app() -> FastAPI:
    """An app without a database, only to list its routes at collection time."""
    with tempfile.TemporaryDirectory(prefix="registry-routes-") as tmp:
        settings = Settings(environment="test", database_url=None, registry_data_dir=Path(tmp))
        return create_app(settings, session_factory=lambda: None)  # type: ignore[arg-type,return-value]


COLLECTION_APP = _collection_app()
ROUTE_KEYS = [
    (m, r.path) for r in iter_api_routes(COLLECTION_APP.routes) for m in sorted(r.methods)
]


def all_routes(routes: list[Any]) -> list[Any]:
    """Every route object, looking inside included routers."""
    out: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            out.extend(all_routes(list(inner.routes)))
        else:
            out.append(route)
    return out


def find_route(app: FastAPI, method: str, path: str) -> APIRoute:
    for route in iter_api_routes(app.routes):
        if route.path == path and method in route.methods:
            return route
    raise LookupError(f"{method} {path}")


def is_public(route: APIRoute) -> bool:
    return all(p is PUBLIC for p in route_policies(route.dependant))


def assert_error(response: Any, status: int | None = None, code: str | None = None) -> dict:
    """problem+json, 4xx unless told, with `request_id` equal to the `x-request-id` header."""
    if status is None:
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
        status = response.status_code
    body = assert_problem(response, status, code)
    assert body["request_id"], body
    assert body["request_id"] == response.headers.get("x-request-id"), (body, response.headers)
    return body


@pytest.fixture
def root_admin(auth_header) -> dict[str, str]:
    return auth_header(staff("150000", StaffRole.admin))


# --- every route is policed and transactional -------------------------------------------------


def test_every_api_route_declares_a_policy(app: FastAPI) -> None:
    routes = list(iter_api_routes(app.routes))
    assert routes
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if not route_policies(r.dependant)]
    assert not missing, f"routes without a RoutePolicy: {missing}"


def test_only_the_documentation_routes_are_not_api_routes(app: FastAPI) -> None:
    others = {
        getattr(r, "path", repr(r)) for r in all_routes(app.routes) if not isinstance(r, APIRoute)
    }
    assert others == DOC_ROUTES


def test_every_route_runs_in_a_unit_of_work(app: FastAPI) -> None:
    wrong = [
        f"{sorted(r.methods)} {r.path}: {type(r).__name__}"
        for r in iter_api_routes(app.routes)
        if not isinstance(r, UnitOfWorkRoute)
    ]
    assert not wrong, wrong


def test_parametrization_covers_the_live_app(app: FastAPI) -> None:
    live = [(m, r.path) for r in iter_api_routes(app.routes) for m in sorted(r.methods)]
    assert live == ROUTE_KEYS


# --- error paths ------------------------------------------------------------------------------


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    body = assert_error(client.get("/v1/no-such-thing"), 404, "not_found")
    assert body["instance"] == "/v1/no-such-thing"


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    assert_error(client.delete("/v1/regions"), 405)
    assert_error(client.put("/v1/bureaus/150102", json={}), 405)


def test_validation_errors_are_per_field_and_in_chinese(client: TestClient) -> None:
    body = assert_error(
        client.get("/v1/regions", params={"limit": "abc"}), 422, "validation_failed"
    )
    assert body["errors"], body
    fields = {e["field"]: e for e in body["errors"]}
    assert "limit" in fields, body
    for error in body["errors"]:
        assert CJK.search(error["message"]), error
    body = assert_error(client.get("/v1/regions", params={"limit": 0, "within": "15"}), 422)
    assert {e["field"] for e in body["errors"]} == {"limit", "within"}


def test_bad_bearer_token_is_401(client: TestClient) -> None:
    r = client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert_error(r, 401, "invalid_token")
    assert r.headers["www-authenticate"].startswith("Bearer")
    # HTTP Basic is only for the token endpoint: elsewhere the caller is simply not logged in
    basic = client.get("/v1/me", headers={"Authorization": "Basic abc"})
    assert_error(basic, 401, "authentication_required")


def test_anonymous_on_a_staff_route_is_401(client: TestClient) -> None:
    assert_error(client.get("/v1/accounts"), 401, "authentication_required")


def test_reviewer_may_not_edit_a_bureau(client: TestClient, auth_header) -> None:
    r = client.patch(
        "/v1/bureaus/150102",
        json={"phone": "0471-1234567"},
        headers={**auth_header(staff("150100", StaffRole.reviewer)), "If-Match": "*"},
    )
    body = assert_error(r, 403, "forbidden")
    assert CJK.search(body["detail"])


def test_malformed_json_body_is_422(client: TestClient, root_admin) -> None:
    r = client.patch(
        "/v1/bureaus/150102",
        content=b'{"phone": ',
        headers={**root_admin, "If-Match": "*", "Content-Type": "application/json"},
    )
    body = assert_error(r, 422, "validation_failed")
    assert any(CJK.search(e["message"]) for e in body["errors"]), body


SECRET = "boom: password=hunter2 at /srv/registry"


def test_unexpected_exception_is_a_500_problem_without_details(app: FastAPI) -> None:
    def explode() -> None:
        raise RuntimeError(SECRET)

    app.add_api_route("/__test/explode", explode, methods=["GET"], dependencies=[require(PUBLIC)])
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/__test/explode")
    body = assert_problem(r, 500, "internal_error")
    assert "hunter2" not in r.text and "RuntimeError" not in r.text and "boom" not in r.text
    assert body["request_id"]


def test_unexpected_exception_answer_carries_the_request_id_header(app: FastAPI) -> None:
    def explode() -> None:
        raise RuntimeError(SECRET)

    app.add_api_route("/__test/explode", explode, methods=["GET"], dependencies=[require(PUBLIC)])
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/__test/explode", headers={"x-request-id": "trace-500-abc"})
    assert r.status_code == 500
    assert r.json()["request_id"] == "trace-500-abc"
    assert r.headers.get("x-request-id") == "trace-500-abc"


# regression: SQLModel ignored Field(regex=...) under pydantic v2 (phone, username)
def test_bureau_phone_pattern_is_enforced(client: TestClient, root_admin) -> None:
    r = client.patch(
        "/v1/bureaus/150102", json={"phone": "call me"}, headers={**root_admin, "If-Match": "*"}
    )
    assert_error(r, 422, "validation_failed")


def _new_account(username: str, display_name: str = "测试") -> dict[str, Any]:
    return {
        "username": username,
        "display_name": display_name,
        "kind": "staff",
        "password": "correct horse battery",
        "region_code": "150100",
        "role": "viewer",
    }


def test_account_username_pattern_is_enforced(client: TestClient, root_admin) -> None:
    r = client.post("/v1/accounts", json=_new_account("no spaces!"), headers=root_admin)
    assert_error(r, 422, "validation_failed")


def test_overlong_username_is_a_422(app: FastAPI, root_admin) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/accounts", json=_new_account("x" * 100), headers=root_admin)
    assert_error(r, 422, "validation_failed")


def test_nul_in_account_display_name_is_a_422(app: FastAPI, root_admin) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/accounts", json=_new_account("nul.tester", NUL), headers=root_admin)
    assert_error(r, 422)


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": NUL, "password": "whatever-password"},
        {"grant_type": "client_credentials", "client_id": NUL, "client_secret": "whatever"},
    ],
    ids=["password", "client_credentials"],
)
def test_nul_in_login_is_a_4xx(app: FastAPI, form: dict[str, str]) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/auth/token", data=form)
    assert_error(r)


def test_request_id_is_echoed_in_problem_and_header(client: TestClient) -> None:
    r = client.get("/v1/regions/159999", headers={"x-request-id": "trace-404-abc"})
    body = assert_error(r, 404)
    assert body["request_id"] == "trace-404-abc"


# --- every route, fed malformed input ---------------------------------------------------------


@dataclass
class Params:
    path_params: list[Any] = field(default_factory=list)
    query_params: list[Any] = field(default_factory=list)
    body_params: list[Any] = field(default_factory=list)


def _flat(route: APIRoute) -> Params:
    """All parameters of a route's dependency tree (deduplicated by name)."""
    out = Params()
    seen: set[tuple[str, str]] = set()
    stack = [route.dependant]
    while stack:
        node = stack.pop()
        for kind in ("path_params", "query_params", "body_params"):
            for param in getattr(node, kind):
                if (kind, param.name) not in seen:
                    seen.add((kind, param.name))
                    getattr(out, kind).append(param)
        stack.extend(node.dependencies)
    return out


def _fill_path(route: APIRoute, value: str | None = None) -> str:
    """The route's path with every parameter set to `value` (default: the param's example)."""
    path = route.path
    for param in _flat(route).path_params:
        examples = param.field_info.examples or ["150102"]
        path = path.replace("{" + param.name + "}", value if value is not None else examples[0])
    return path


def _is_form(route: APIRoute) -> bool:
    return any(isinstance(p.field_info, (Form, File)) for p in _flat(route).body_params)


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    params = _flat(route).body_params
    if len(params) == 1 and not _is_form(route):
        annotation = params[0].field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
    return None


def _string_fields(model: type[BaseModel]) -> list[str]:
    def stringy(annotation: Any) -> bool:
        return annotation is str or any(stringy(a) for a in typing.get_args(annotation))

    return [name for name, f in model.model_fields.items() if stringy(f.annotation)]


Request = tuple[str, dict[str, Any], int | None, str | None]  # label, kwargs, status, code


def malformed_requests(route: APIRoute, method: str, category: str) -> list[Request]:
    """Malformed requests of one category for one route, derived from its parameters."""
    flat = _flat(route)
    url = _fill_path(route)
    query = [q.alias for q in flat.query_params]
    json_body = bool(flat.body_params) and not _is_form(route)
    base: dict[str, Any] = {"json": {}, "headers": {"If-Match": "*"}} if json_body else {}
    out: list[Request] = []
    match category:
        case "auth":
            bad = {"url": url, "headers": {"Authorization": "Bearer x.y.z"}}
            out.append(("bad token", bad, 401, "invalid_token"))
            out.append(
                ("not bearer", {"url": url, "headers": {"Authorization": "Token x"}}, 401, None)
            )
            if not is_public(route):
                out.append(("anonymous", {"url": url}, 401, "authentication_required"))
        case "path":
            for value in ("x" * 70, "%E4%B8%AD!", "..%2F..%2Fetc", "-1", str(uuid.uuid4())):
                out.append(
                    (f"path {value!r}", {**base, "url": _fill_path(route, value)}, None, None)
                )
        case "query":
            overlong = dict.fromkeys(query, "x" * 600)
            out.append(
                ("query overlong", {"url": url, "params": overlong}, 422, "validation_failed")
            )
            if "cursor" in query:
                for cursor in ("@@@", "e30", "bm90IGpzb24"):  # not base64, {}, "not json"
                    out.append(
                        (
                            f"cursor {cursor}",
                            {"url": url, "params": {"cursor": cursor}},
                            400,
                            "invalid_cursor",
                        )
                    )
        case "cursor":
            for key in ([123], [{"a": 1}], [None], [["x"]], [NUL], [True]):
                cursor = encode_cursor(key)
                out.append(
                    (
                        f"cursor {key!r}",
                        {"url": url, "params": {"cursor": cursor}},
                        400,
                        "invalid_cursor",
                    )
                )
        case "body":
            headers = {"Content-Type": "application/json", "If-Match": "*"}
            body_required = any(p.field_info.is_required() for p in flat.body_params)
            for raw in (b"{", b"[]", b'"x"', b"null", b"\xff\xfe", b"NaN"):
                # an optional body (a transition's reason) may be null: then any 4xx will do
                expect = None if raw == b"null" and not body_required else 422
                out.append(
                    (
                        f"body {raw!r}",
                        {"url": url, "content": raw, "headers": headers},
                        expect,
                        None,
                    )
                )
            out.append(
                (
                    "body as form",
                    {"url": url, "data": {"a": "b"}, "headers": {"If-Match": "*"}},
                    None,
                    None,
                )
            )
        case "form":
            out.append(("form missing", {"url": url, "data": {}}, 422, "validation_failed"))
            out.append(
                ("form as json", {"url": url, "json": {"grant_type": "password"}}, 422, None)
            )
            out.append(
                (
                    "form bad multipart",
                    {
                        "url": url,
                        "content": b"--zz\r\nContent-Disposition: form-data\r\n\r\n",
                        "headers": {"Content-Type": "multipart/form-data; boundary=zz"},
                    },
                    None,
                    None,
                )
            )
        case "idempotency":
            for key in ("short", "x" * 300, "ключ-идемпотентности".encode(), "has space inside"):
                req = {
                    **base,
                    "url": url,
                    "headers": {**base.get("headers", {}), "Idempotency-Key": key},
                }
                out.append((f"idempotency-key {key[:12]!r}", req, None, None))
        case "nul":
            if flat.path_params:
                out.append(("path NUL", {**base, "url": _fill_path(route, "ab%00cd")}, None, None))
            for name in query:
                out.append((f"query {name}=NUL", {"url": url, "params": {name: NUL}}, None, None))
            model = _body_model(route)
            for name in _string_fields(model) if model else []:
                req = {"url": url, "json": {name: NUL}, "headers": {"If-Match": "*"}}
                out.append((f"body {name}=NUL", req, None, None))
            for p in flat.body_params if _is_form(route) else []:
                if not isinstance(p.field_info, File):
                    out.append(
                        (f"form {p.alias}=NUL", {"url": url, "data": {p.alias: NUL}}, None, None)
                    )
    return out


def _categories(route: APIRoute, method: str) -> list[str]:
    flat = _flat(route)
    query = {q.alias for q in flat.query_params}
    json_body = bool(flat.body_params) and not _is_form(route)
    string_body = bool(_body_model(route) and _string_fields(_body_model(route)))  # type: ignore[arg-type]
    wanted = {
        "auth": True,
        "path": bool(flat.path_params),
        "query": bool(query),
        "cursor": "cursor" in query,
        "body": json_body,
        "form": _is_form(route),
        "idempotency": method == "POST",
        "nul": bool(flat.path_params or query or string_body or _is_form(route)),
    }
    return [c for c, on in wanted.items() if on]


def _route_category_params() -> list[Any]:
    out = []
    for method, path in ROUTE_KEYS:
        route = find_route(COLLECTION_APP, method, path)
        for category in _categories(route, method):
            out.append(pytest.param(method, path, category, id=f"{method} {path} [{category}]"))
    return out


ROUTE_CATEGORY_PARAMS = _route_category_params()


@pytest.mark.parametrize(("method", "path", "category"), ROUTE_CATEGORY_PARAMS)
def test_malformed_input_is_a_4xx_problem(
    app: FastAPI, method: str, path: str, category: str, root_admin
) -> None:
    route = find_route(app, method, path)
    requests = malformed_requests(route, method, category)
    assert requests
    failures: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as c:
        for label, kwargs, status, code in requests:
            kwargs = dict(kwargs)
            headers = dict(kwargs.pop("headers", {}))
            if category != "auth":
                headers = {**root_admin, **headers}
            r = c.request(method, headers=headers, **kwargs)
            try:
                assert_error(r, status, code)
            except AssertionError:
                failures.append(f"{label}: {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_lists_every_route_with_a_summary(client: TestClient, app: FastAPI) -> None:
    spec = client.get("/openapi.json").json()
    hidden = set()
    for route in iter_api_routes(app.routes):
        for method in route.methods:
            if not route.include_in_schema:
                hidden.add(route.path)
                continue
            operation = spec["paths"].get(route.path, {}).get(method.lower())
            assert operation is not None, f"{method} {route.path} missing from /openapi.json"
            assert operation.get("summary"), f"{method} {route.path} has no summary"
    assert hidden == {"/metrics"}  # Prometheus scrape target: deliberately undocumented
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path}"


def test_docs_are_served(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "swagger" in r.text.lower()
    assert client.get("/redoc").status_code == 200
