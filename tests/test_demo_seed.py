"""Demo organizations: valid identifiers, every lifecycle state, spread over the region tree,
deterministic, masked in API reads; the bulk (benchmark) path readable through the API; and
`registry seed --demo N` / `registry serve --demo` (organizations, experts and commodities; the
experts and commodities themselves are tested in tests/test_demo_people_goods.py)."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session
from stdnum.cn import ric
from typer.testing import CliRunner

import registry.cli
import registry.demo
import registry.logging
from api.app import create_app
from models.account import StaffRole
from models.kinds import DATA_MODELS
from models.organization import ORGANIZATION_KINDS, RecordKind, SupplierData
from registry.db import make_engine
from registry.demo import (
    DemoReport,
    bulk_insert_suppliers,
    bulk_supplier_rows,
    catalogue_codes,
    plan_demo_organizations,
    seed_demo_organizations,
)
from registry.identifiers import validate_phone, validate_uscc
from tests.conftest import TEMPLATE_DB, Server, service, staff

COUNT = 200
SEED = 2026
MASKED_ID = re.compile(r"^\d{6}\*{8}[\dX]{4}$")
MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")
MASKED_ACCOUNT = re.compile(r"^\*{4}\d{4}$")
PLURAL = {
    RecordKind.supplier: "suppliers",
    RecordKind.agent: "agents",
    RecordKind.purchaser: "purchasers",
}


@pytest.fixture(scope="module")
def demo_db(pg_server: Server, template_url: str) -> Iterator[tuple[Engine, DemoReport]]:
    """A private database with COUNT demo organizations, seeded once for the module."""
    name = f"registry_test_demo_{uuid.uuid4().hex[:8]}"
    engine = make_engine(pg_server.create_database(name, template=TEMPLATE_DB), pool_size=5)
    with Session(engine) as session:
        report = seed_demo_organizations(session, count=COUNT, seed=SEED)
        session.commit()
    yield engine, report
    engine.dispose()
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def demo_client(settings, demo_db) -> Iterator[tuple[TestClient, Any]]:
    app = create_app(settings, engine=demo_db[0])
    with TestClient(app) as c:
        yield c, lambda who: {"Authorization": f"Bearer {app.state.tokens.issue(who)[0]}"}


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def test_report_counts_what_was_created(demo_db):
    engine, report = demo_db
    assert (report.created, report.skipped) == (COUNT, 0)
    assert sum(report.by_kind.values()) == sum(report.by_status.values()) == COUNT
    assert min(report.change_requests, report.changes_approved, report.debarments) >= 1
    assert rows(engine, "SELECT count(*) FROM organizations")[0][0] == COUNT


def test_every_code_id_number_and_phone_validates(demo_db):
    engine, _ = demo_db
    catalogue = catalogue_codes()
    bodies = []
    for kind, uscc, data in rows(engine, "SELECT kind, uscc, data FROM organizations"):
        assert validate_uscc(uscc) == uscc == data["uscc"]
        authority = uscc[:2]
        assert authority in {"91", "92", "93", "31", "52", "11", "12"}, uscc
        if kind == "purchaser":
            assert authority in {"11", "12"}, uscc
        bodies.append(uscc[8:17])
        # the stored document is exactly what the kind's schema makes of it
        assert DATA_MODELS[RecordKind(kind)].model_validate(data).model_dump(mode="json") == data
        representative = data.get("legal_representative")
        if representative:
            assert ric.is_valid(representative["id_number"]), representative
            assert validate_phone(representative["phone"]) == representative["phone"]
        for contact in data["contacts"]:
            assert validate_phone(contact["phone"]) == contact["phone"]
        for account in data.get("bank_accounts", []):
            assert account["account_number"].isdigit()
        assert set(data.get("business_scope", [])) <= catalogue
    assert len(bodies) == len(set(bodies)) == COUNT  # organization codes never repeat


def test_names_are_unique_per_kind(demo_db):
    engine, _ = demo_db
    duplicates = rows(
        engine, "SELECT kind, name FROM organizations GROUP BY kind, name HAVING count(*) > 1"
    )
    assert duplicates == []
    names = [name for (name,) in rows(engine, "SELECT name FROM organizations")]
    assert all(re.search(r"[\u4e00-\u9fff]{4,}", n) for n in names)


def test_every_lifecycle_state_appears_with_its_reasons_and_events(demo_db):
    engine, _ = demo_db
    states = dict(
        rows(
            engine, "SELECT status, count(*) FROM organizations WHERE kind = 'supplier' GROUP BY 1"
        )
    )
    assert set(states) == {"draft", "submitted", "returned", "active", "suspended", "cancelled"}
    assert states["active"] > sum(n for s, n in states.items() if s != "active")
    for status in ("returned", "suspended", "cancelled"):
        assert rows(
            engine,
            "SELECT count(*) FROM organizations WHERE status = :s AND status_reason IS NULL",
            s=status,
        ) == [(0,)]
    pending = rows(
        engine,
        "SELECT o.kind, o.status FROM change_requests c JOIN organizations o "
        "ON o.id = c.organization_id WHERE c.status = 'pending'",
    )
    assert pending and set(pending) == {("supplier", "active")}
    approved = rows(
        engine,
        "SELECT count(*) FROM change_requests c JOIN events e ON e.entity_id = c.organization_id "
        "AND e.type = 'change_approved' WHERE c.status = 'approved'",
    )[0][0]
    assert approved >= 1
    debarred = rows(
        engine,
        "SELECT o.status FROM debarments d JOIN organizations o ON o.id = d.organization_id "
        "WHERE d.revoked_at IS NULL AND d.starts_on <= current_date "
        "AND (d.ends_on IS NULL OR d.ends_on >= current_date)",
    )
    assert debarred and {s for (s,) in debarred} == {"active"}
    # written through the services: every record's history starts with "created"
    firsts = rows(
        engine,
        "SELECT DISTINCT ON (entity_id) type FROM events ORDER BY entity_id, seq",
    )
    assert len(firsts) == COUNT and {t for (t,) in firsts} == {"created"}


def test_kinds_and_sizes_are_weighted(demo_db):
    engine, _ = demo_db
    kinds = Counter(dict(rows(engine, "SELECT kind, count(*) FROM organizations GROUP BY 1")))
    assert 0.6 * COUNT <= kinds["supplier"] <= 0.8 * COUNT
    assert kinds["agent"] >= 0.08 * COUNT and kinds["purchaser"] >= 0.08 * COUNT
    sizes = Counter(
        dict(
            rows(
                engine,
                "SELECT size, count(*) FROM organizations WHERE kind = 'supplier' GROUP BY 1",
            )
        )
    )
    assert min(sizes["micro"], sizes["small"]) > sizes["medium"] > sizes["large"] > 0


def test_records_span_every_county_and_prefecture(demo_db):
    engine, _ = demo_db
    used = {code for (code,) in rows(engine, "SELECT DISTINCT region_code FROM organizations")}
    counties = {code for (code,) in rows(engine, "SELECT code FROM regions WHERE level = 'county'")}
    prefectures = {
        code for (code,) in rows(engine, "SELECT code FROM regions WHERE level = 'prefecture'")
    }
    assert (len(counties), len(prefectures)) == (103, 12)
    assert counties | prefectures == used
    # the code's region digits mostly agree with the record's region (same prefecture)
    agree = rows(
        engine,
        "SELECT count(*) FROM organizations WHERE substr(uscc, 3, 4) = substr(region_code, 1, 4) "
        "OR substr(uscc, 3, 6) = '150000'",
    )[0][0]
    assert agree >= 0.9 * COUNT


def test_same_seed_same_records_and_a_longer_plan_extends_a_shorter_one(demo_db):
    engine, _ = demo_db

    def keys(plan):
        return [(o.id, o.kind, o.status, o.payload["uscc"], o.payload["name"]) for o in plan]

    plan = plan_demo_organizations(COUNT, SEED)
    assert keys(plan) == keys(plan_demo_organizations(COUNT, SEED))
    assert keys(plan_demo_organizations(50, SEED)) == keys(plan)[:50]
    other = plan_demo_organizations(COUNT, 7)
    assert not {o.payload["uscc"] for o in other} & {o.payload["uscc"] for o in plan}
    stored = {
        (r.id, r.kind, r.status, r.uscc): r.name
        for r in rows(engine, "SELECT id, kind, status, uscc, name FROM organizations")
    }
    assert stored == {(i, k.value, s.value, u): n for i, k, s, u, n in keys(plan)}


def test_seeding_again_skips_what_is_there_and_adds_the_rest(demo_db):
    engine, _ = demo_db
    with Session(engine) as session:  # never committed
        again = seed_demo_organizations(session, count=COUNT + 5, seed=SEED)
        session.rollback()
    assert (again.skipped, again.created) == (COUNT, 5)


def _assert_masked(kind: RecordKind, data: dict[str, Any]) -> None:
    for contact in data["contacts"]:
        assert MASKED_PHONE.match(contact["phone"]), contact  # landlines too: 047****3456
    representative = data.get("legal_representative")
    if representative:
        assert MASKED_ID.match(representative["id_number"]), representative
        assert MASKED_PHONE.match(representative["phone"]), representative
    for account in data.get("bank_accounts", []):
        assert MASKED_ACCOUNT.match(account["account_number"]), account


@pytest.mark.parametrize("kind", sorted(ORGANIZATION_KINDS))
@pytest.mark.parametrize(
    "who",
    [None, service("registry.read"), staff("150102", StaffRole.reviewer)],
    ids=["public", "service", "county-staff"],
)
def test_restricted_values_are_masked_in_list_reads(demo_db, demo_client, kind, who):
    engine, _ = demo_db
    client, auth = demo_client
    items = client.get(
        f"/v1/{PLURAL[kind]}", params={"limit": 200}, headers=auth(who) if who else {}
    ).json()["items"]
    assert items
    for item in items:
        # 新城区 staff see their own county's records in the clear, and nothing else
        mine = who is not None and who.region_code == item["data"]["region_code"]
        assert item["restricted_visible"] is mine
        if not mine:
            _assert_masked(kind, item["data"])
    if who is None:  # the public sees published records only
        published = rows(
            engine,
            "SELECT count(*) FROM organizations WHERE kind = :k AND approved_at IS NOT NULL",
            k=kind.value,
        )[0][0]
        assert len(items) == published
        assert {i["status"] for i in items} <= {"active", "suspended", "cancelled"}


def test_the_records_bureau_reads_them_in_the_clear(demo_db, demo_client):
    engine, _ = demo_db
    client, auth = demo_client
    for org_id, region, data in rows(
        engine,
        "SELECT id, region_code, data FROM organizations WHERE kind = 'supplier' LIMIT 20",
    ):
        prefecture = region[:4] + "00"
        seen = client.get(
            f"/v1/suppliers/{org_id}", headers=auth(staff(prefecture, StaffRole.viewer))
        ).json()
        assert seen["restricted_visible"] and seen["data"] == data
        public = client.get(f"/v1/suppliers/{org_id}")
        if public.status_code == 200:
            _assert_masked(RecordKind.supplier, public.json()["data"])
        else:
            assert public.status_code == 404  # not yet published


# --- bulk (benchmarks) --------------------------------------------------------------------------

BULK = 2000


def test_bulk_suppliers_are_readable_through_the_api(connection, client):
    events_before = connection.execute(text("SELECT count(*) FROM events")).scalar_one()
    assert bulk_insert_suppliers(connection, BULK, seed=99) == BULK
    expected = [org_id for org_id, _ in bulk_supplier_rows(BULK, seed=99)]
    stored = connection.execute(
        text(
            "SELECT id, uscc, name, region_code, size, business_scope, data FROM organizations "
            "WHERE id = ANY(:ids) AND kind = 'supplier' AND status = 'active' "
            "AND approved_at IS NOT NULL ORDER BY id"
        ),
        {"ids": expected},
    ).all()
    assert len(stored) == BULK
    for row in stored:
        data = row.data
        assert SupplierData.model_validate(data).model_dump(mode="json") == data
        assert (row.uscc, row.name, row.region_code, row.size) == (
            data["uscc"],
            data["name"],
            data["region_code"],
            data["size"],
        )
        assert list(row.business_scope) == data["business_scope"]
        assert ric.is_valid(data["legal_representative"]["id_number"])
    assert len({r.uscc for r in stored}) == BULK
    # the bulk path writes no events (benchmarks only)
    assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == events_before

    first = stored[0]
    one = client.get(f"/v1/suppliers/{first.id}")
    assert one.status_code == 200, one.text
    body = one.json()
    assert (body["status"], body["eligible"], body["restricted_visible"]) == ("active", True, False)
    _assert_masked(RecordKind.supplier, body["data"])
    assert client.get(f"/v1/suppliers/by-uscc/{first.uscc}").json()["id"] == first.id

    ids = [r.id for r in stored[:600]]
    codes = [r.uscc for r in stored[600:1000]]
    batch = client.post("/v1/suppliers/batch", json={"ids": ids, "usccs": codes})
    assert batch.status_code == 200, batch.text
    result = batch.json()
    assert result["missing"] == []
    assert set(result["found"]) == {*ids, *codes}
    assert {result["found"][c]["id"] for c in codes} == {r.id for r in stored[600:1000]}

    listed = client.get("/v1/suppliers", params={"within": "150100", "limit": 200}).json()
    assert listed["items"] and all(
        i["data"]["region_code"].startswith("1501") for i in listed["items"]
    )


def test_bulk_batches_of_one_seed_do_not_collide(connection):
    assert bulk_insert_suppliers(connection, 300, seed=5) == 300
    assert bulk_insert_suppliers(connection, 300, seed=5, start=300) == 300  # no unique violation
    counted = connection.execute(
        text("SELECT count(DISTINCT uscc), count(DISTINCT name) FROM organizations")
    ).one()
    assert counted[0] >= 600


# --- the command line ---------------------------------------------------------------------------


def count_orgs(engine: Engine) -> int:
    return rows(
        engine,
        "SELECT count(*) FROM organizations WHERE kind IN ('supplier', 'agent', 'purchaser')",
    )[0][0]


def count_kind(engine: Engine, kind: str) -> int:
    return rows(engine, "SELECT count(*) FROM organizations WHERE kind = :k", k=kind)[0][0]


def test_seed_demo_n_makes_accounts_and_n_organizations(cli_env):
    app = registry.cli.app
    runner = CliRunner()
    accounts_only = runner.invoke(app, ["seed", "--demo", "0"])
    assert accounts_only.exit_code == 0, accounts_only.output
    assert count_orgs(cli_env) == 0
    assert rows(cli_env, "SELECT count(*) FROM accounts WHERE username = 'admin'") == [(1,)]
    assert count_kind(cli_env, "expert") == count_kind(cli_env, "commodity") == 0
    first = runner.invoke(app, ["seed", "--demo", "15"])
    assert first.exit_code == 0, first.output
    assert "15 created" in first.output and count_orgs(cli_env) == 15
    # and N/5 experts and commodities, rounded up
    assert "demo experts: 3 created" in first.output
    assert "demo commodities: 3 created" in first.output
    assert count_kind(cli_env, "expert") == count_kind(cli_env, "commodity") == 3
    more = runner.invoke(app, ["seed", "--demo", "18"])
    assert more.exit_code == 0, more.output
    assert "3 created" in more.output and "15 already present" in more.output
    assert "demo experts: 1 created, 3 already present" in more.output
    assert count_orgs(cli_env) == 18
    assert count_kind(cli_env, "expert") == count_kind(cli_env, "commodity") == 4


def test_serve_demo_adds_organizations_to_an_empty_registry_only(cli_env, monkeypatch):
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: served.append(kw))
    monkeypatch.setattr(registry.cli.signal, "signal", lambda *a: None)
    monkeypatch.setattr(registry.logging, "configure_logging", lambda *a, **kw: None)
    monkeypatch.setattr(registry.demo, "SERVE_DEMO_COUNT", 12)
    runner = CliRunner()
    for _ in range(2):  # the second start finds organizations and adds none
        result = runner.invoke(registry.cli.app, ["serve", "--demo", "--port", "8999"])
        assert result.exit_code == 0, result.output
        assert count_orgs(cli_env) == 12
        assert count_kind(cli_env, "expert") == count_kind(cli_env, "commodity") == 3
    assert len(served) == 2
