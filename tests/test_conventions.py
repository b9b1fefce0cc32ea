"""Conventions every route inherits: request ids, health, readiness, metrics, logs without secrets."""

from __future__ import annotations

import logging

import structlog
from fastapi.testclient import TestClient

from api.app import create_app
from registry.db import make_engine
from registry.logging import configure_logging
from tests import orgdata
from tests.conftest import assert_problem, staff


def test_request_id_is_echoed_or_generated(client):
    mine = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_problem_carries_the_request_id(client):
    r = client.get("/v1/regions/159999", headers={"X-Request-ID": "trace-1"})
    body = assert_problem(r, 404, "region_not_found")
    assert body["request_id"] == "trace-1"
    assert "159999" in body["detail"]


def test_health_and_readiness(client, auth_header):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    before = ready.json()["search_backlog"]
    r = client.post("/v1/suppliers", json=orgdata.supplier(), headers=auth_header(staff("150102")))
    assert r.status_code == 201, r.text
    # one change waiting for the search worker (an engine deployment watches this)
    assert client.get("/readyz").json()["search_backlog"] == before + 1


def test_not_ready_while_migrations_are_pending(pg_server, settings):
    name = "registry_test_unmigrated"
    url = pg_server.create_database(name)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with TestClient(create_app(settings, engine=engine)) as c:
            r = c.get("/readyz")
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
    finally:
        engine.dispose()
        pg_server.drop_database(name)


def test_database_down_is_503_not_500(settings):
    engine = make_engine(
        "postgresql://nobody@/nowhere?host=/nonexistent-socket-dir", pool_size=1, max_overflow=0
    )
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as c:
        r = c.get("/v1/regions")
    body = assert_problem(r, 503, "database_unavailable")
    assert r.headers["retry-after"]
    assert "nowhere" not in body["detail"]


def test_metrics_count_requests_by_route_template(client):
    client.get("/v1/regions/150102")
    text = client.get("/metrics").text
    assert (
        'registry_http_requests_total{method="GET",route="/v1/regions/{code}",status="200"}' in text
    )
    assert "registry_http_request_duration_seconds_bucket" in text


def test_access_log_has_request_id_and_never_the_token(client, auth_header, capsys):
    configure_logging("INFO")
    try:
        headers = auth_header(staff("150100")) | {"X-Request-ID": "log-check-1"}
        token = headers["Authorization"].split()[1]
        client.get("/v1/me?secret_in_query=1", headers=headers)
        err = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    server_side = "\n".join(
        line for line in err.splitlines() if '"logger": "httpx' not in line
    )  # not the test client
    lines = [line for line in server_side.splitlines() if "log-check-1" in line]
    assert lines, err
    assert '"path": "/v1/me"' in lines[0]
    assert token not in err
    assert "secret_in_query" not in server_side


def test_openapi_documents_problem_responses_and_auth(client):
    spec = client.get("/openapi.json").json()
    patch = spec["paths"]["/v1/bureaus/{code}"]["patch"]
    assert "application/problem+json" in patch["responses"]["412"]["content"]
    assert (
        spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"][
            "tokenUrl"
        ]
        == "/v1/auth/token"
    )
    assert client.get("/docs").status_code == 200


def test_server_timing_header_reports_time_in_the_service(client):
    r = client.get("/v1/regions/150102")
    name, _, duration = r.headers["server-timing"].partition(";dur=")
    assert name == "app" and float(duration) >= 0
