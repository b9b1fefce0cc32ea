"""Dedup through the API: flagged at registration, reviewed in the queue, merged, undone.

A near-duplicate registered later is flagged with its evidence and queued for the bureaus whose
jurisdiction holds one of the pair; a reviewer's judgements are an append-only log; a merge keeps
the loser resolving (by id, by code, in batches) and moves its references; an unmerge restores
it; a county reviewer cannot merge across counties.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.account import StaffRole
from registry.identifiers import make_uscc
from tests import orgdata
from tests.conftest import assert_problem, service, staff

XINCHENG, SAIHAN, HOHHOT, REGION = "150102", "150105", "150100", "150000"
ROOT = staff(REGION, StaffRole.reviewer, subject="root-reviewer")
_bodies = itertools.count(1)

DEBARMENT = {
    "authority": "呼和浩特市财政局",
    "legal_basis": "《中华人民共和国政府采购法》第七十七条",
    "reason": "提供虚假材料谋取中标",
    "starts_on": "2026-01-01",
    "ends_on": "2027-12-31",
}


def mengcao_pair(
    first_region: str = XINCHENG, second_region: str = XINCHENG
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The issue's example: one company under two names, registered twice. The two credit codes
    share the organization-code segment (a legacy conversion), so the pair is not vetoed."""
    body = f"MC{next(_bodies):06d}"
    first = orgdata.supplier(
        first_region,
        uscc=make_uscc("91", first_region, body),
        name="内蒙古蒙草生态环境(集团)股份有限公司",
        address="呼和浩特市赛罕区昭乌达路 216 号",
    )
    second = orgdata.supplier(
        second_region,
        uscc=make_uscc("91" if second_region != first_region else "92", second_region, body),
        name="蒙草生态环境集团股份有限公司",
        address="呼和浩特市赛罕区昭乌达路216号",
    )
    return first, second


def register(client, auth_header, body: dict[str, Any], *, approve: bool = True) -> dict[str, Any]:
    h = auth_header(ROOT)
    r = client.post("/v1/suppliers", json=body, headers=h)
    assert r.status_code == 201, r.text
    org = r.json()
    for move in ["submit", "approve"] if approve else []:
        r = client.post(f"/v1/suppliers/{org['id']}/{move}", headers=h)
        assert r.status_code == 200, r.text
    return org


def queue(client, auth_header, who=ROOT, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/v1/dedup/candidates", params=params, headers=auth_header(who))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_near_duplicate_is_flagged_at_registration_with_evidence_and_queued(client, auth_header):
    first, second = mengcao_pair()
    a = register(client, auth_header, first)
    b = register(client, auth_header, second, approve=False)
    [found] = b["possible_duplicates"]
    assert found["id"] == a["id"] and found["score"] >= 0.85
    assert "name" in found["evidence"] and "address" in found["evidence"], found
    assert any("疑似重复" in w for w in b["warnings"])

    [item] = queue(client, auth_header, record_id=b["id"])
    assert {item["left"]["id"], item["right"]["id"]} == {a["id"], b["id"]}
    assert item["source"] == "registration" and item["judgement"] is None
    assert "name after suffix normalization" in item["explanation"]
    assert {"name", "address", "uscc"} <= {e["field"] for e in item["evidence"]}

    # the side-by-side view: both records field by field, and what a merge would keep
    r = client.get(f"/v1/dedup/candidates/{item['id']}", headers=auth_header(ROOT))
    assert r.status_code == 200, r.text
    pair = r.json()
    fields = {f["field"]: f for f in pair["fields"]}
    assert fields["name"]["same"] is False and fields["size"]["same"] is True
    assert fields["uscc"]["rule"] == "标识字段保留存续记录的值"
    assert pair["suggested_survivor"] == a["id"]  # the approved one


def test_the_queue_is_per_jurisdiction_and_ordered_by_score(client, auth_header):
    first, second = mengcao_pair(XINCHENG, SAIHAN)
    register(client, auth_header, first)
    b = register(client, auth_header, second)
    for bureau, sees in ((XINCHENG, True), (SAIHAN, True), (HOHHOT, True), ("150203", False)):
        items = queue(client, auth_header, staff(bureau, StaffRole.reviewer), record_id=b["id"])
        assert bool(items) is sees, bureau
    # a weaker variant of the same company: a typo in the name, another house number
    weaker = orgdata.supplier(
        XINCHENG,
        uscc=make_uscc("93", XINCHENG, first["uscc"][8:16]),
        name="内蒙古蒙草生太环境(集团)股份有限公司",
        address="呼和浩特市赛罕区昭乌达路 218 号",
    )
    register(client, auth_header, weaker, approve=False)
    scores = [i["score"] for i in queue(client, auth_header, limit=200)]
    assert len(set(scores)) >= 2, scores  # an order to check
    assert scores == sorted(scores, reverse=True)
    # viewers and the entities themselves do not review
    r = client.get("/v1/dedup/candidates", headers=auth_header(staff(HOHHOT, StaffRole.viewer)))
    assert_problem(r, 403)
    assert_problem(client.get("/v1/dedup/candidates", headers=auth_header(service("read"))), 403)


def test_judgements_are_an_append_only_log_and_not_same_leaves_the_queue(client, auth_header):
    first, second = mengcao_pair()
    register(client, auth_header, first)
    b = register(client, auth_header, second)
    [item] = queue(client, auth_header, record_id=b["id"])
    url = f"/v1/dedup/candidates/{item['id']}/judgements"
    h = auth_header(ROOT)
    assert_problem(client.post(url, json={"decision": "maybe"}, headers=h), 422, "invalid_decision")
    assert_problem(client.post(url, json={"decision": "not_same"}, headers=h), 422)
    r = client.post(url, json={"decision": "unsure"}, headers=h)
    assert r.status_code == 200 and r.json()["judgement"] == "unsure"
    assert queue(client, auth_header, record_id=b["id"], state="unsure")
    r = client.post(url, json={"decision": "not_same", "reason": "两家不同的公司"}, headers=h)
    assert r.json()["judgement"] == "negative"
    assert queue(client, auth_header, record_id=b["id"]) == []
    assert queue(client, auth_header, record_id=b["id"], state="not_same")
    # an edit of the record compares it again, but a "not the same" pair is not suggested again
    r = client.patch(
        f"/v1/suppliers/{b['id']}",
        json={"contacts": [{"name": "李娜", "phone": "0471-6600124"}]},
        headers={**h, "If-Match": '"3"'},
    )
    assert r.status_code == 200, r.text
    assert queue(client, auth_header, record_id=b["id"]) == []
    pair = client.get(f"/v1/dedup/candidates/{item['id']}", headers=h).json()
    assert [j["judgement"] for j in pair["judgements"]] == ["unsure", "negative"]


def test_an_edit_that_parts_a_pair_takes_it_off_the_queue(client, auth_header):
    first, second = mengcao_pair()
    register(client, auth_header, first)
    b = register(client, auth_header, second, approve=False)
    assert queue(client, auth_header, record_id=b["id"])
    r = client.patch(
        f"/v1/suppliers/{b['id']}",
        json={"name": "包头市稀土新材料科技有限公司", "address": "包头市昆都仑区钢铁大街 9 号"},
        headers={**auth_header(ROOT), "If-Match": f'"{b["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["possible_duplicates"] == []
    assert queue(client, auth_header, record_id=b["id"]) == []


def _merge(client, auth_header, survivor: str, loser: str, who=ROOT, **extra: Any) -> Any:
    return client.post(
        "/v1/dedup/merges",
        json={"survivor_id": survivor, "loser_id": loser, **extra},
        headers=auth_header(who),
    )


def test_a_merged_record_keeps_resolving_and_its_references_move(client, auth_header):
    first, second = mengcao_pair()
    a = register(client, auth_header, first)
    b = register(client, auth_header, second)
    h = auth_header(ROOT)
    r = client.post(f"/v1/suppliers/{b['id']}/debarments", json=DEBARMENT, headers=h)
    assert r.status_code == 201, r.text

    r = _merge(client, auth_header, a["id"], b["id"], reason="同一公司重复登记")
    assert r.status_code == 201, r.text
    merge = r.json()
    assert merge["moved"] == {"debarments": 1}

    # by id: the survivor answers, saying which id was asked for
    r = client.get(f"/v1/suppliers/{b['id']}", headers=h)
    assert r.status_code == 200 and r.json()["id"] == a["id"]
    assert r.json()["resolved_from"] == b["id"]
    assert r.headers["Content-Location"] == f"/v1/suppliers/{a['id']}"
    # anonymously too (the survivor is published), and by the loser's credit code
    assert client.get(f"/v1/suppliers/{b['id']}").json()["id"] == a["id"]
    r = client.get(f"/v1/suppliers/by-uscc/{second['uscc']}")
    assert r.json()["id"] == a["id"] and r.json()["resolved_from"] == b["id"]
    # batches say which keys were merged
    r = client.post(
        "/v1/suppliers/batch", json={"ids": [b["id"]], "usccs": [second["uscc"]]}, headers=h
    )
    batch = r.json()
    assert batch["found"][b["id"]]["id"] == a["id"]
    assert batch["merged"] == {b["id"]: a["id"], second["uscc"]: a["id"]}
    # the debarment moved: the survivor is debarred now
    assert client.get(f"/v1/suppliers/{a['id']}", headers=h).json()["debarred"] is True
    # the loser's history and the change feed say "merged into"
    history = client.get(f"/v1/suppliers/{b['id']}/history", headers=h).json()
    assert history[-1]["type"] == "merged_into"
    assert history[-1]["changes"]["merged_into"] == [None, a["id"]]
    # tombstones leave lists and search
    ids = [o["id"] for o in client.get("/v1/suppliers?limit=200", headers=h).json()["items"]]
    assert b["id"] not in ids and a["id"] in ids
    hits = client.get("/v1/search", params={"q": "蒙草生态环境"}, headers=h).json()["hits"]
    assert a["id"] in {hit["id"] for hit in hits} and b["id"] not in {hit["id"] for hit in hits}
    # a tombstone cannot be changed or merged again
    for r in (
        client.patch(
            f"/v1/suppliers/{b['id']}", json={"address": "x"}, headers={**h, "If-Match": '"9"'}
        ),
        client.post(f"/v1/suppliers/{b['id']}/suspend", json={"reason": "x"}, headers=h),
        client.post(f"/v1/suppliers/{b['id']}/debarments", json=DEBARMENT, headers=h),
    ):
        assert assert_problem(r, 409, "merged")["merged_into"] == a["id"]
    assert_problem(_merge(client, auth_header, a["id"], b["id"]), 409, "not_mergeable")
    # the cluster is derived from the judgement the merge recorded
    r = client.get(f"/v1/dedup/clusters/{a['id']}", headers=h)
    assert r.json()["members"] == sorted([a["id"], b["id"]])


def test_unmerge_restores_the_record_and_its_references(client, auth_header):
    first, second = mengcao_pair()
    a = register(client, auth_header, first)
    b = register(client, auth_header, second)
    h = auth_header(ROOT)
    client.post(f"/v1/suppliers/{b['id']}/debarments", json=DEBARMENT, headers=h)
    before = client.get(f"/v1/suppliers/{b['id']}", headers=h).json()
    survivor_before = client.get(f"/v1/suppliers/{a['id']}", headers=h).json()
    merge = _merge(client, auth_header, a["id"], b["id"], fields={"address": "loser"}).json()
    assert merge["survivorship"]["address"]["source"] == "loser"
    merged = client.get(f"/v1/suppliers/{a['id']}", headers=h).json()
    assert (
        merged["data"]["address"] == before["data"]["address"] != survivor_before["data"]["address"]
    )

    r = client.post(
        f"/v1/dedup/merges/{merge['id']}/undo",
        json={"reason": "误合并", "not_same": True},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["undone_at"]
    after = client.get(f"/v1/suppliers/{b['id']}", headers=h).json()
    assert after["id"] == b["id"] and after["resolved_from"] is None
    for name in ("status", "data", "debarred", "eligible"):
        assert after[name] == before[name], name
    survivor_after = client.get(f"/v1/suppliers/{a['id']}", headers=h).json()
    assert survivor_after["data"] == survivor_before["data"]
    assert survivor_after["debarred"] is False
    history = client.get(f"/v1/suppliers/{b['id']}/history", headers=h).json()
    assert [e["type"] for e in history[-2:]] == ["merged_into", "unmerged"]
    # judged not the same on the way: never suggested again, and a second undo is refused
    assert queue(client, auth_header, record_id=b["id"]) == []
    assert_problem(
        client.post(f"/v1/dedup/merges/{merge['id']}/undo", json={}, headers=h),
        409,
        "already_undone",
    )
    assert_problem(_merge(client, auth_header, a["id"], b["id"]), 409, "judged_not_same")


def test_a_county_reviewer_cannot_merge_across_counties(client, auth_header):
    first, second = mengcao_pair(XINCHENG, SAIHAN)
    a = register(client, auth_header, first)
    b = register(client, auth_header, second)
    county = staff(XINCHENG, StaffRole.reviewer)
    r = _merge(client, auth_header, a["id"], b["id"], who=county)
    problem = assert_problem(r, 403, "outside_jurisdiction")
    assert b["id"] in problem["detail"]
    assert client.get(f"/v1/suppliers/{b['id']}", headers=auth_header(ROOT)).json()["id"] == b["id"]
    # the league/city bureau holds both counties
    r = _merge(client, auth_header, a["id"], b["id"], who=staff(HOHHOT, StaffRole.reviewer))
    assert r.status_code == 201, r.text
    # and the county reviewer cannot undo it either
    undo = client.post(
        f"/v1/dedup/merges/{r.json()['id']}/undo", json={}, headers=auth_header(county)
    )
    assert_problem(undo, 403, "outside_jurisdiction")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"fields": {"uscc": "loser"}}, "fixed_field"),
        ({"fields": {"address": "both"}}, "invalid_survivorship"),
        ({"fields": {"size": "loser"}}, "invalid_survivorship"),  # same on both sides
    ],
)
def test_bad_merge_requests_are_422_and_change_nothing(client, auth_header, body, code):
    first, second = mengcao_pair()
    a = register(client, auth_header, first)
    b = register(client, auth_header, second)
    assert_problem(_merge(client, auth_header, a["id"], b["id"], **body), 422, code)
    r = client.get(f"/v1/suppliers/{b['id']}", headers=auth_header(ROOT))
    assert r.json()["id"] == b["id"] and r.json()["status"] == "active"


def test_merging_two_kinds_or_a_record_with_itself_is_refused(client, auth_header):
    a = register(client, auth_header, orgdata.supplier())
    h = auth_header(ROOT)
    agent = client.post("/v1/agents", json=orgdata.agent(), headers=h).json()
    assert_problem(_merge(client, auth_header, a["id"], a["id"]), 422, "same_record")
    assert_problem(_merge(client, auth_header, a["id"], agent["id"]), 422, "different_kinds")
    assert_problem(_merge(client, auth_header, a["id"], "sup_nothing"), 404)


def test_the_change_feed_tells_consumers_a_record_was_merged_into_another(committing_app):
    """Committed for real: the feed serves only finished transactions."""
    with TestClient(committing_app) as client:

        def auth_header(principal):
            token, _ = committing_app.state.tokens.issue(principal)
            return {"Authorization": f"Bearer {token}"}

        reader = auth_header(service("changes.read"))
        cursor = client.get("/v1/changes", params={"limit": 1}, headers=reader).json()
        first, second = mengcao_pair()
        a = register(client, auth_header, first)
        b = register(client, auth_header, second)
        after = None
        while True:  # to the end of the feed
            page = client.get(
                "/v1/changes", params={"after": after} if after else {}, headers=reader
            ).json()
            if not page["items"]:
                break
            after = page["next_cursor"]
        assert cursor
        assert _merge(client, auth_header, a["id"], b["id"]).status_code == 201
        items = client.get("/v1/changes", params={"after": after}, headers=reader).json()["items"]
        assert [(i["id"], i["type"], i["merged_into"]) for i in items] == [
            (a["id"], "merged", None),
            (b["id"], "merged_into", a["id"]),
        ]
        assert items[1]["status"] == "merged"


def test_an_expert_typed_twice_is_flagged_and_a_namesake_is_not(client, auth_header):
    from datetime import date

    from registry.identifiers import Sex, make_resident_id

    h = auth_header(ROOT)
    base = orgdata.expert(
        name="王丽",
        sex="female",
        birth_date="1980-03-12",
        id_number=make_resident_id(XINCHENG, date(1980, 3, 12), 7, Sex.female),
        phone="13947100001",
    )
    r = client.post("/v1/experts", json=base, headers=h)
    assert r.status_code == 201, r.text
    first = r.json()
    # the same person: a homophone of the name, day and month of the birth date swapped
    again = {
        **base,
        "name": "王莉",
        "birth_date": "1980-12-03",
        "id_number": make_resident_id(XINCHENG, date(1980, 12, 3), 7, Sex.female),
    }
    r = client.post("/v1/experts", json=again, headers=h)
    assert r.status_code == 201, r.text
    second = r.json()
    [found] = second["possible_duplicates"]
    assert found["id"] == first["id"], found
    # a namesake: same name, another ID number, nothing else in common
    namesake = orgdata.expert(name="王丽", sex="female", phone="13947100002")
    namesake["birth_date"] = "1975-06-01"
    namesake["id_number"] = make_resident_id(SAIHAN, date(1975, 6, 1), 31, Sex.female)
    r = client.post("/v1/experts", json=namesake, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["possible_duplicates"] == []
    # personal values are not evidence text, and the keys are not stored in clear
    assert again["id_number"] not in found["evidence"] and "1394710" not in found["evidence"]
    # merged, the second ID number finds the first record (for those who may look it up)
    assert _merge(client, auth_header, first["id"], second["id"]).status_code == 201
    r = client.post("/v1/experts/lookup", json={"id_number": again["id_number"]}, headers=h)
    assert (r.json()["id"], r.json()["resolved_from"]) == (first["id"], second["id"])


def test_one_printer_under_two_models_is_flagged_and_merging_moves_its_offers(client, auth_header):
    h = auth_header(ROOT)

    def listed(body: dict[str, Any]) -> dict[str, Any]:
        r = client.post("/v1/commodities", json=body, headers=h)
        assert r.status_code == 201, r.text
        for move in ("submit", "approve"):
            assert client.post(f"/v1/commodities/{r.json()['id']}/{move}", headers=h).is_success
        return r.json()

    first = listed(orgdata.commodity(brand="HP", model="LaserJet Pro M404dn", name="激光打印机"))
    second = listed(orgdata.commodity(brand="惠普", model="M404dn", name="惠普黑白激光打印机"))
    [item] = queue(client, auth_header, record_id=second["id"], kind="commodity")
    assert "model" in item["explanation"]
    supplier = register(client, auth_header, orgdata.supplier())
    offer = {"supplier_id": supplier["id"], "price": "2299.00", "valid_from": "2026-01-01"}
    assert client.post(f"/v1/commodities/{second['id']}/offers", json=offer, headers=h).is_success
    r = _merge(client, auth_header, first["id"], second["id"])
    assert r.status_code == 201, r.text
    assert r.json()["moved"] == {"commodity_offers": 1}
    offers = client.get(f"/v1/commodities/{first['id']}/offers", headers=h).json()
    assert [o["supplier_id"] for o in offers] == [supplier["id"]]
    assert client.get(f"/v1/commodities/{second['id']}").json()["id"] == first["id"]
    by_key = client.get(
        "/v1/commodities/by-key",
        params={"catalog_code": "A02020000", "brand": "惠普", "model": "M404dn"},
    ).json()
    assert (by_key["id"], by_key["resolved_from"]) == (first["id"], second["id"])


@pytest.mark.committing
def test_racing_merges_of_one_record_make_one_merge(committing_app, committing_db):
    """Ten reviewers merge one loser into ten different survivors at once: one merge wins, the
    others get 409, and the loser points at the winner's survivor."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from sqlalchemy import text

    racers = 10
    with TestClient(committing_app) as client:

        def auth_header(principal):
            token, _ = committing_app.state.tokens.issue(principal)
            return {"Authorization": f"Bearer {token}"}

        loser = register(client, auth_header, orgdata.supplier())
        survivors = [register(client, auth_header, orgdata.supplier()) for _ in range(racers)]
        start = Barrier(racers)

        def run(i: int) -> Any:
            start.wait()
            return _merge(client, auth_header, survivors[i]["id"], loser["id"])

        with ThreadPoolExecutor(max_workers=racers) as pool:
            answers = list(pool.map(run, range(racers)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * (racers - 1), [r.text for r in answers]
    winner = next(r.json() for r in answers if r.status_code == 201)
    with committing_db.connect() as conn:
        merged_into = conn.execute(
            text("SELECT merged_into FROM organizations WHERE id = :id"), {"id": loser["id"]}
        ).scalar_one()
        live = conn.execute(
            text("SELECT count(*) FROM merges WHERE loser_id = :id AND undone_at IS NULL"),
            {"id": loser["id"]},
        ).scalar_one()
    assert merged_into == winner["survivor_id"] and live == 1


def test_an_expert_related_to_a_merged_supplier_still_avoids_the_survivor(client, auth_header):
    """Conflicts of interest follow the merge: the expert named the loser's code; the draw asks
    with the survivor's."""
    first, second = mengcao_pair()
    a = register(client, auth_header, first)
    b = register(client, auth_header, second)
    h = auth_header(ROOT)
    relation = {"relation": "relative_employer", "name": "蒙草生态", "uscc": second["uscc"]}
    r = client.post("/v1/experts", json=orgdata.expert(relationships=[relation]), headers=h)
    assert r.status_code == 201, r.text
    expert = r.json()

    def conflict(code: str) -> bool:
        r = client.get(f"/v1/experts/{expert['id']}/conflicts", params={"uscc": code}, headers=h)
        assert r.status_code == 200, r.text
        return bool(r.json()["conflict"])

    assert conflict(second["uscc"]) and not conflict(first["uscc"])
    assert _merge(client, auth_header, a["id"], b["id"]).status_code == 201
    assert conflict(first["uscc"]) and conflict(second["uscc"])
    batch = client.post(
        "/v1/experts/conflicts",
        json={"expert_ids": [expert["id"]], "usccs": [first["uscc"]]},
        headers=h,
    ).json()
    assert [(x["uscc"], x["conflict"]) for x in batch] == [(first["uscc"], True)]


def test_merging_experts_keeps_the_relationships_of_both(client, auth_header):
    h = auth_header(ROOT)
    one = {"relation": "other", "name": "甲公司", "uscc": orgdata.uscc()}
    two = {"relation": "other", "name": "乙公司", "uscc": orgdata.uscc()}
    first = client.post("/v1/experts", json=orgdata.expert(relationships=[one]), headers=h).json()
    second = client.post(
        "/v1/experts", json=orgdata.expert(relationships=[two, one]), headers=h
    ).json()
    r = _merge(client, auth_header, first["id"], second["id"])
    assert r.status_code == 201, r.text
    assert r.json()["survivorship"]["relationships"]["source"] == "both"
    kept = client.get(f"/v1/experts/{first['id']}", headers=h).json()["data"]["relationships"]
    assert [x["name"] for x in kept] == ["甲公司", "乙公司"]


def test_a_crowded_key_does_not_hide_the_duplicate(client, auth_header, session):
    """Six hundred records share a switchboard number with the newcomer; its duplicate shares
    the organization code. The per-key cap keeps the duplicate in the comparison."""
    from sqlalchemy import text

    first, second = mengcao_pair()
    a = register(client, auth_header, first)
    other = register(
        client, auth_header, orgdata.supplier(name="包头市某某建筑工程有限公司"), approve=False
    )
    session.execute(  # 600 more suppliers filed under the same phone key
        text(
            "INSERT INTO organizations (id, kind, uscc, name, region_code, status, data, version,"
            " business_scope) SELECT 'sup_crowd' || lpad(g::text, 6, '0'), kind,"
            " lpad(g::text, 18, 'X'), name || g, region_code, status, data, 1, business_scope"
            " FROM organizations, generate_series(1, 600) g WHERE id = :b"
        ),
        {"b": other["id"]},
    )
    session.execute(
        text(
            "INSERT INTO dedup_keys (record_id, key, kind) SELECT 'sup_crowd'"
            " || lpad(g::text, 6, '0'), key, kind FROM dedup_keys, generate_series(1, 600) g"
            " WHERE record_id = :b"
        ),
        {"b": other["id"]},
    )
    r = client.post("/v1/suppliers", json=second, headers=auth_header(ROOT))
    assert [d["id"] for d in r.json()["possible_duplicates"]] == [a["id"]]


def test_a_merged_record_s_own_past_stays_as_private_as_it_was(client, auth_header):
    """History and `as_of` of a merged id are judged on the merged record itself, not on the
    survivor it resolves to; its references are read through the survivor."""
    first, second = mengcao_pair(XINCHENG, SAIHAN)
    a = register(client, auth_header, first)
    b = register(client, auth_header, second, approve=False)  # a draft of another county
    h = auth_header(ROOT)
    client.post(f"/v1/suppliers/{a['id']}/debarments", json=DEBARMENT, headers=h)
    when = client.get(f"/v1/suppliers/{b['id']}", headers=h).json()["updated_at"]
    r = _merge(client, auth_header, a["id"], b["id"], who=staff(HOHHOT, StaffRole.reviewer))
    assert r.status_code == 201, r.text
    county = auth_header(staff(XINCHENG, StaffRole.reviewer))
    for headers in ({}, county):
        r = client.get(f"/v1/suppliers/{b['id']}", params={"as_of": when}, headers=headers)
        assert r.status_code == 404, r.text
    assert client.get(f"/v1/suppliers/{b['id']}/history", headers=county).status_code == 404
    assert [e["type"] for e in client.get(f"/v1/suppliers/{b['id']}/history", headers=h).json()][
        -1
    ] == "merged_into"
    # the survivor's debarment, asked for by the merged id
    [debarment] = client.get(f"/v1/suppliers/{b['id']}/debarments").json()
    assert debarment["organization_id"] == a["id"]


def _listed_commodity(client, h) -> dict[str, Any]:
    r = client.post("/v1/commodities", json=orgdata.commodity(), headers=h)
    assert r.status_code == 201, r.text
    for move in ("submit", "approve"):
        assert client.post(f"/v1/commodities/{r.json()['id']}/{move}", headers=h).is_success
    return r.json()


def test_merges_that_touched_the_same_rows_are_undone_last_first(client, auth_header):
    """A commodity merge and a later supplier merge both moved one offer: the earlier one cannot
    be undone while the later one is in force (it would break the one-live-offer rule)."""
    h = auth_header(ROOT)
    c1, c2 = _listed_commodity(client, h), _listed_commodity(client, h)
    x = register(client, auth_header, orgdata.supplier())
    y = register(client, auth_header, orgdata.supplier())
    for commodity, supplier in ((c1, x), (c2, x), (c2, y)):
        body = {"supplier_id": supplier["id"], "price": "100.00", "valid_from": "2026-01-01"}
        assert client.post(f"/v1/commodities/{commodity['id']}/offers", json=body, headers=h)
    first = _merge(client, auth_header, c1["id"], c2["id"]).json()
    second = _merge(client, auth_header, y["id"], x["id"]).json()
    r = client.post(f"/v1/dedup/merges/{first['id']}/undo", json={}, headers=h)
    assert assert_problem(r, 409, "merged_again")["later_merges"] == [second["id"]]
    for merge in (second, first):
        r = client.post(f"/v1/dedup/merges/{merge['id']}/undo", json={}, headers=h)
        assert r.status_code == 200, r.text
    offers = client.get(f"/v1/commodities/{c2['id']}/offers", headers=h).json()
    assert sorted(o["supplier_id"] for o in offers) == sorted([x["id"], y["id"]])


def test_two_merges_into_one_survivor_are_undone_last_first(client, auth_header):
    h = auth_header(ROOT)
    s = register(client, auth_header, orgdata.supplier(name="甲科技有限公司"))
    one = register(client, auth_header, orgdata.supplier(name="乙科技有限公司"))
    two = register(client, auth_header, orgdata.supplier(name="丙科技有限公司"))
    first = _merge(client, auth_header, s["id"], one["id"], fields={"name": "loser"}).json()
    second = _merge(client, auth_header, s["id"], two["id"], fields={"name": "loser"}).json()
    r = client.post(f"/v1/dedup/merges/{first['id']}/undo", json={}, headers=h)
    assert_problem(r, 409, "merged_again")
    for merge in (second, first):
        assert client.post(f"/v1/dedup/merges/{merge['id']}/undo", json={}, headers=h).is_success
    assert client.get(f"/v1/suppliers/{s['id']}", headers=h).json()["data"]["name"] == (
        "甲科技有限公司"
    )


def test_a_merge_cannot_lift_a_sanction_or_hide_an_approved_record(client, auth_header):
    h = auth_header(ROOT)
    active = register(client, auth_header, orgdata.supplier())
    suspended = register(client, auth_header, orgdata.supplier())
    r = client.post(f"/v1/suppliers/{suspended['id']}/suspend", json={"reason": "核查"}, headers=h)
    assert r.status_code == 200, r.text
    assert_problem(
        _merge(client, auth_header, active["id"], suspended["id"]), 409, "loser_sanctioned"
    )
    draft = register(client, auth_header, orgdata.supplier(), approve=False)
    refused = _merge(client, auth_header, draft["id"], active["id"])
    assert_problem(refused, 409, "survivor_not_approved")
    # the other way round is the merge the reviewer means
    assert _merge(client, auth_header, active["id"], draft["id"]).status_code == 201


def test_reviewers_are_not_shown_unpublished_records_of_other_jurisdictions(client, auth_header):
    """The Saihan draft is not the Xincheng reviewer's to read: registering its duplicate in
    Xincheng queues the pair, but neither the registration answer nor the queue shows the
    draft's name or fields."""
    first, second = mengcao_pair(SAIHAN, XINCHENG)
    draft = register(client, auth_header, first, approve=False)
    county = staff(XINCHENG, StaffRole.reviewer)
    assert (
        client.get(f"/v1/suppliers/{draft['id']}", headers=auth_header(county)).status_code == 404
    )
    r = client.post("/v1/suppliers", json=second, headers=auth_header(county))
    assert r.status_code == 201, r.text
    assert r.json()["possible_duplicates"] == []  # queued all the same:
    [item] = queue(client, auth_header, county, record_id=r.json()["id"])
    hidden = item["left"] if item["left"]["id"] == draft["id"] else item["right"]
    assert hidden["name"] == "(辖区外未公开的记录)" and hidden["region_code"] == SAIHAN
    pair = client.get(f"/v1/dedup/candidates/{item['id']}", headers=auth_header(county)).json()
    side = "left" if item["left"]["id"] == draft["id"] else "right"
    assert all(f[side] is None for f in pair["fields"])
    # the league/city bureau holding both sees both
    [item] = queue(client, auth_header, staff(HOHHOT, StaffRole.reviewer), record_id=draft["id"])
    assert first["name"] in (item["left"]["name"], item["right"]["name"])
