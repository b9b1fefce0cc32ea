"""Demo experts and commodities: valid ID numbers that agree with birth date and sex, real regions,
leaf specialties, demo employers, every state; goods of the classes with specifications, valid
specs, offers of active demo suppliers; deterministic; written through the services."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session
from stdnum.cn import ric

from api.app import create_app
from models.account import StaffRole
from models.commodity import CommodityData
from models.expert import ExpertData
from models.organization import RecordKind
from registry import crypto, personal
from registry.commodity_specs import load_spec_table
from registry.db import make_engine
from registry.demo import (
    EXPERT_OPENING,
    DemoSeedReport,
    demo_counts,
    plan_demo_commodities,
    plan_demo_experts,
    seed_demo,
    seed_demo_commodities,
    seed_demo_experts,
    specialty_leaves,
)
from registry.identifiers import (
    check_resident_id_facts,
    resident_id_birth_date,
    resident_id_sex,
    validate_resident_id,
)
from registry.normalize import commodity_key
from tests.conftest import TEMPLATE_DB, Server, staff

COUNT = 100  # organizations; and 20 experts, 20 commodities
SEED = 2026
SPEC_CLASSES = {"A02010000", "A02020000", "A02030000", "A05010000"}


@pytest.fixture(autouse=True)
def personal_data_keys(settings) -> None:
    """The cipher the demo was seeded with (another test may have configured another)."""
    crypto.configure(crypto.load_cipher(settings))


@pytest.fixture(scope="module")
def demo_db(
    pg_server: Server, template_url: str, settings
) -> Iterator[tuple[Engine, DemoSeedReport]]:
    crypto.configure(crypto.load_cipher(settings))
    name = f"registry_test_demo_pg_{uuid.uuid4().hex[:8]}"
    engine = make_engine(pg_server.create_database(name, template=TEMPLATE_DB), pool_size=5)
    with Session(engine) as session:
        report = seed_demo(session, count=COUNT, seed=SEED)
        session.commit()
    yield engine, report
    engine.dispose()
    pg_server.drop_database(name)


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def experts(engine: Engine) -> list[Any]:
    return rows(
        engine,
        "SELECT id, status, status_reason, region_code, specialties, term_ends_on, natural_key,"
        " data FROM organizations WHERE kind = 'expert' ORDER BY id",
    )


def test_counts_follow_n(demo_db):
    engine, report = demo_db
    assert demo_counts(COUNT) == (20, 20) and demo_counts(101) == (21, 21)
    assert (report.organizations.created, report.experts.created) == (COUNT, 20)
    assert report.commodities.created == 20
    kinds = dict(rows(engine, "SELECT kind, count(*) FROM organizations GROUP BY kind"))
    assert (kinds["expert"], kinds["commodity"]) == (20, 20)
    assert sum(kinds[k] for k in ("supplier", "agent", "purchaser")) == COUNT
    summary = report.summary()
    assert "demo experts: 20 created" in summary and "demo commodities: 20 created" in summary


def test_id_numbers_are_valid_encrypted_and_agree_with_birth_date_and_sex(demo_db):
    engine, _ = demo_db
    numbers = []
    for record in experts(engine):
        stored = record.data
        assert crypto.is_encrypted(stored["id_number"]) and crypto.is_encrypted(stored["phone"])
        data = personal.unseal(RecordKind.expert, stored)
        number = data["id_number"]
        assert ric.is_valid(number) and validate_resident_id(number) == number
        assert resident_id_birth_date(number).isoformat() == data["birth_date"]
        assert resident_id_sex(number).value == data["sex"]
        assert (
            check_resident_id_facts(
                number,
                birth_date=date.fromisoformat(data["birth_date"]),
                sex=resident_id_sex(number),
            )
            == []
        )
        assert number.startswith("15")  # born in Inner Mongolia
        assert record.natural_key == personal.blind_index(RecordKind.expert, "id_number", number)
        assert ExpertData.model_validate(data).model_dump(mode="json") == data
        numbers.append(number)
    assert len(numbers) == len(set(numbers)) == 20


def test_regions_specialties_and_employers_are_real(demo_db):
    engine, report = demo_db
    regions = {
        code
        for (code,) in rows(
            engine, "SELECT code FROM regions WHERE level IN ('prefecture', 'county')"
        )
    }
    leaves = {
        code
        for (code,) in rows(
            engine,
            "SELECT code FROM specialties s WHERE NOT EXISTS "
            "(SELECT 1 FROM specialties c WHERE c.parent_code = s.code)",
        )
    }
    demo_usccs = {
        u for (u,) in rows(engine, "SELECT uscc FROM organizations WHERE uscc IS NOT NULL")
    }
    related = 0
    for record in experts(engine):
        data = personal.unseal(RecordKind.expert, record.data)
        assert record.region_code in regions
        assert 1 <= len(data["specialties"]) <= 3 and set(data["specialties"]) <= leaves
        assert list(record.specialties) == data["specialties"]
        assert data["employer"]["uscc"] in demo_usccs
        assert 8 <= data["years_of_experience"] <= 45
        for relationship in data["relationships"]:
            related += 1
            assert relationship["uscc"] in demo_usccs
            assert relationship["uscc"] != data["employer"]["uscc"]
    assert related == report.experts.relationships >= 1


def test_experts_are_in_every_state_with_fitting_terms(demo_db):
    engine, _ = demo_db
    today = date.today()
    records = experts(engine)
    states = Counter(r.status for r in records)
    assert set(states) == {s.value for s in EXPERT_OPENING}
    assert states["active"] == max(states.values())
    for record in records:
        term = record.data["term"]
        starts, ends = date.fromisoformat(term["starts_on"]), date.fromisoformat(term["ends_on"])
        assert record.term_ends_on == ends
        if record.status == "expired":
            assert ends < today
        elif record.status in ("active", "suspended"):
            assert starts <= today <= ends
        if record.status in ("suspended", "dismissed"):
            assert record.status_reason
    history = dict(
        rows(
            engine,
            "SELECT o.status, array_agg(e.type ORDER BY e.seq) FROM organizations o "
            "JOIN events e ON e.entity_id = o.id WHERE o.kind = 'expert' "
            "AND o.status IN ('expired', 'dismissed') GROUP BY o.id, o.status",
        )
    )
    assert history["expired"] == ["created", "submit", "approve", "expire"]
    assert history["dismissed"] == ["created", "submit", "approve", "dismiss"]


def test_commodities_have_valid_specs_of_classes_with_attributes(demo_db):
    engine, _ = demo_db
    table = load_spec_table()
    leaves = {
        code
        for (code,) in rows(
            engine,
            "SELECT code FROM catalog_items c WHERE valid_to IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM catalog_items k WHERE k.parent_code = c.code AND k.valid_to IS NULL)",
        )
    }
    records = rows(
        engine,
        "SELECT status, status_reason, catalog_code, price, data FROM organizations"
        " WHERE kind = 'commodity'",
    )
    for record in records:
        data = record.data
        assert record.catalog_code in SPEC_CLASSES and record.catalog_code in leaves
        specs, errors = table.validate(data["catalog_code"], data["specs"])
        assert errors == [] and specs == data["specs"]
        assert CommodityData.model_validate(data).model_dump(mode="json") == data
        assert record.price == float(data["reference_price"]["amount"]) > 0
        if record.status == "delisted":
            assert record.status_reason
    states = Counter(r.status for r in records)
    assert {"active", "delisted", "draft"} <= set(states)
    assert states["active"] == max(states.values())
    keys = {
        commodity_key(r.data["catalog_code"], r.data["brand"], r.data["model"]) for r in records
    }
    assert len(keys) == len(records)


def test_offers_come_from_eligible_demo_suppliers(demo_db):
    engine, report = demo_db
    offers = rows(
        engine,
        "SELECT c.status, s.kind, s.status, o.price, c.price FROM commodity_offers o "
        "JOIN organizations c ON c.id = o.commodity_id JOIN organizations s ON s.id = o.supplier_id",
    )
    assert len(offers) == report.commodities.offers >= 1
    for commodity_status, kind, supplier_status, offered, reference in offers:
        assert (commodity_status, kind, supplier_status) == ("active", "supplier", "active")
        assert 0 < offered <= reference
    events = rows(engine, "SELECT count(*) FROM events WHERE type = 'offer_added'")[0][0]
    assert events == len(offers)


def test_same_seed_same_data_and_a_longer_plan_extends_a_shorter_one(demo_db):
    engine, _ = demo_db
    day = date(2026, 6, 30)
    assert plan_demo_experts(30, SEED, as_of=day) == plan_demo_experts(30, SEED, as_of=day)
    assert plan_demo_experts(12, SEED, as_of=day) == plan_demo_experts(30, SEED, as_of=day)[:12]
    goods = plan_demo_commodities(30, SEED, as_of=day)
    assert goods == plan_demo_commodities(30, SEED, as_of=day)
    assert plan_demo_commodities(12, SEED, as_of=day) == goods[:12]
    other = plan_demo_experts(30, 7, as_of=day)
    assert not {e.payload["id_number"] for e in other} & {
        e.payload["id_number"] for e in plan_demo_experts(30, SEED, as_of=day)
    }
    # what was stored is the plan (today's)
    planned = {e.id: e for e in plan_demo_experts(20, SEED)}
    for record in experts(engine):
        expert = planned[record.id]
        data = personal.unseal(RecordKind.expert, record.data)
        assert record.status == expert.status.value
        assert data == ExpertData.model_validate(expert.payload).model_dump(mode="json")
    stored = dict(rows(engine, "SELECT id, data FROM organizations WHERE kind = 'commodity'"))
    for commodity in plan_demo_commodities(20, SEED):
        assert stored[commodity.id]["model"] == commodity.payload["model"]


def test_seeding_again_skips_what_is_there(demo_db):
    engine, _ = demo_db
    with Session(engine) as session:  # never committed
        again = seed_demo_experts(session, count=22, seed=SEED)
        goods = seed_demo_commodities(session, count=22, seed=SEED)
        session.rollback()
    assert (again.skipped, again.created) == (20, 2)
    assert (goods.skipped, goods.created) == (20, 2)


def test_plans_of_any_size_are_valid(demo_db):
    """A bigger plan, checked without a database: schemas, specs, distinct keys, all classes."""
    day = date(2026, 1, 15)
    leaves = {code for codes in specialty_leaves().values() for code in codes}
    plan = plan_demo_experts(150, 11, as_of=day)
    assert len({e.payload["id_number"] for e in plan}) == 150
    for expert in plan:
        ExpertData.model_validate(expert.payload)
        assert set(expert.payload["specialties"]) <= leaves
        assert not check_resident_id_facts(
            expert.payload["id_number"],
            birth_date=date.fromisoformat(expert.payload["birth_date"]),
            sex=resident_id_sex(expert.payload["id_number"]),
        )
    table = load_spec_table()
    goods = plan_demo_commodities(150, 11, as_of=day)
    assert {g.payload["catalog_code"] for g in goods} == SPEC_CLASSES
    for good in goods:
        CommodityData.model_validate(good.payload)
        assert table.validate(good.payload["catalog_code"], good.payload["specs"])[1] == []
    assert sum(len(g.offers) for g in goods) > 0


@pytest.fixture(scope="module")
def demo_client(settings, demo_db) -> Iterator[tuple[TestClient, Any]]:
    app = create_app(settings, engine=demo_db[0])
    with TestClient(app) as c:
        yield c, lambda who: {"Authorization": f"Bearer {app.state.tokens.issue(who)[0]}"}


def test_the_public_sees_demo_experts_masked_and_the_bureau_in_clear(demo_db, demo_client):
    engine, _ = demo_db
    client, auth = demo_client
    public = client.get("/v1/experts", params={"limit": 200}).json()["items"]
    assert public and {i["status"] for i in public} <= {
        "active",
        "expired",
        "suspended",
        "dismissed",
    }
    for item in public:
        data = personal.unseal(
            RecordKind.expert,
            rows(engine, "SELECT data FROM organizations WHERE id = :id", id=item["id"])[0][0],
        )
        assert item["restricted_visible"] is False
        assert item["data"]["id_number"] != data["id_number"]
        assert item["data"]["id_number"][-4:] == data["id_number"][-4:]
        bureau = staff(data["region_code"][:4] + "00", StaffRole.viewer)
        clear = client.get(f"/v1/experts/{item['id']}", headers=auth(bureau)).json()
        assert clear["data"]["id_number"] == data["id_number"]
    goods = client.get("/v1/commodities", params={"limit": 200, "status": "active"}).json()
    assert goods["items"]
    offered = [i for i in goods["items"] if client.get(f"/v1/commodities/{i['id']}/offers").json()]
    assert offered
