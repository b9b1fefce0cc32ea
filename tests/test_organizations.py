"""Purchasers, agents and suppliers end to end through the API."""

from __future__ import annotations

import pytest

from models.account import EntityKind, StaffRole
from tests import orgdata
from tests.conftest import assert_problem, self_service, service, staff

XINCHENG_REVIEWER = staff("150102", StaffRole.reviewer)
HOHHOT_REVIEWER = staff("150100", StaffRole.reviewer)
HUIMIN_REVIEWER = staff("150103", StaffRole.reviewer)  # 回民区: a sibling county


def register(client, auth_header, body, who=XINCHENG_REVIEWER, plural="suppliers"):
    r = client.post(f"/v1/{plural}", json=body, headers=auth_header(who))
    assert r.status_code == 201, r.text
    return r.json()


def approve(client, auth_header, org, who=XINCHENG_REVIEWER, plural="suppliers"):
    h = auth_header(who)
    assert client.post(f"/v1/{plural}/{org['id']}/submit", headers=h).status_code == 200
    r = client.post(f"/v1/{plural}/{org['id']}/approve", headers=h)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("plural", "make"),
    [("suppliers", orgdata.supplier), ("agents", orgdata.agent), ("purchasers", orgdata.purchaser)],
)
def test_register_review_and_read_each_kind(client, auth_header, plural, make):
    org = register(client, auth_header, make(), plural=plural)
    assert org["status"] == "draft" and org["version"] == 1 and org["id"]
    assert client.get(f"/v1/{plural}/{org['id']}").status_code == 404  # drafts are not public
    active = approve(client, auth_header, org, plural=plural)
    assert active["status"] == "active" and active["eligible"] is True
    public = client.get(f"/v1/{plural}/{org['id']}")
    assert public.status_code == 200
    assert public.headers["etag"] == f'"{active["version"]}"'
    by_code = client.get(f"/v1/{plural}/by-uscc/{org['data']['uscc']}")
    assert by_code.json()["id"] == org["id"]


def test_second_registration_of_a_code_is_409_with_the_existing_id(client, auth_header):
    body = orgdata.supplier()
    first = register(client, auth_header, body)
    again = client.post(
        "/v1/suppliers",
        json={**body, "name": "另一个名字有限公司"},
        headers=auth_header(HOHHOT_REVIEWER),
    )
    problem = assert_problem(again, 409, "already_registered")
    assert problem["existing_id"] == first["id"]


def test_restricted_fields_are_masked_for_the_public_and_other_counties(client, auth_header):
    org = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    mine = client.get(f"/v1/suppliers/{org['id']}", headers=auth_header(XINCHENG_REVIEWER)).json()
    assert (
        mine["restricted_visible"]
        and mine["data"]["bank_accounts"][0]["account_number"] == "6217000012345678"
    )
    for who in (None, HUIMIN_REVIEWER, service("registry.read")):
        headers = auth_header(who) if who else {}
        seen = client.get(f"/v1/suppliers/{org['id']}", headers=headers).json()
        assert not seen["restricted_visible"]
        assert seen["data"]["bank_accounts"][0]["account_number"] == "****5678"
        assert seen["data"]["legal_representative"]["id_number"] == "150102********1232"
        assert seen["data"]["legal_representative"]["phone"] == "138****8000"
    league = client.get(f"/v1/suppliers/{org['id']}", headers=auth_header(HOHHOT_REVIEWER)).json()
    assert league["restricted_visible"]
    restricted_client = client.get(
        f"/v1/suppliers/{org['id']}",
        headers=auth_header(service("registry.read", "registry.read.restricted")),
    ).json()
    assert restricted_client["restricted_visible"]


def test_a_county_cannot_act_on_another_countys_supplier_but_its_league_can(client, auth_header):
    org = register(client, auth_header, orgdata.supplier())
    h = auth_header(HUIMIN_REVIEWER)
    assert (
        client.post(f"/v1/suppliers/{org['id']}/submit", headers=h).status_code == 404
    )  # draft: invisible
    client.post(f"/v1/suppliers/{org['id']}/submit", headers=auth_header(XINCHENG_REVIEWER))
    assert_problem(client.post(f"/v1/suppliers/{org['id']}/approve", headers=h), 404)
    ok = client.post(f"/v1/suppliers/{org['id']}/approve", headers=auth_header(HOHHOT_REVIEWER))
    assert ok.status_code == 200
    # published now: the sibling county may read it but not act on it
    assert client.get(f"/v1/suppliers/{org['id']}", headers=h).status_code == 200
    refused = client.post(f"/v1/suppliers/{org['id']}/suspend", json={"reason": "测试"}, headers=h)
    assert_problem(refused, 403)


def test_invalid_transition_is_409_naming_the_allowed_ones(client, auth_header):
    org = register(client, auth_header, orgdata.supplier())
    r = client.post(f"/v1/suppliers/{org['id']}/approve", headers=auth_header(XINCHENG_REVIEWER))
    problem = assert_problem(r, 409, "invalid_transition")
    assert problem["allowed"] == ["submit", "cancel"]
    assert problem["allowed_states"] == ["cancelled", "submitted"]


def test_return_and_suspend_need_a_reason(client, auth_header):
    org = register(client, auth_header, orgdata.supplier())
    h = auth_header(XINCHENG_REVIEWER)
    client.post(f"/v1/suppliers/{org['id']}/submit", headers=h)
    assert_problem(
        client.post(f"/v1/suppliers/{org['id']}/return", headers=h), 422, "reason_required"
    )
    returned = client.post(
        f"/v1/suppliers/{org['id']}/return", json={"reason": "营业执照照片不清晰"}, headers=h
    ).json()
    assert returned["status"] == "returned" and returned["status_reason"] == "营业执照照片不清晰"


def test_edit_of_an_active_record_becomes_a_change_request(client, auth_header):
    org = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    h = {**auth_header(XINCHENG_REVIEWER), "If-Match": f'"{org["version"]}"'}
    r = client.patch(
        f"/v1/suppliers/{org['id']}",
        json={
            "name": "内蒙古新名称科技有限公司",
            "contacts": [{"name": "王芳", "phone": "13900000000"}],
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["data"]["name"] == org["data"]["name"]  # the approved version stays in force
    assert after["data"]["contacts"][0]["name"] == "王芳"  # contacts change at once
    assert after["pending_change_request"]
    approved = client.post(
        f"/v1/suppliers/{org['id']}/change-requests/{after['pending_change_request']}/approve",
        headers=auth_header(HOHHOT_REVIEWER),
    ).json()
    assert (
        approved["data"]["name"] == "内蒙古新名称科技有限公司"
        and approved["pending_change_request"] is None
    )
    history = client.get(
        f"/v1/suppliers/{org['id']}/history", headers=auth_header(XINCHENG_REVIEWER)
    ).json()
    assert [e["type"] for e in history] == [
        "created",
        "submit",
        "approve",
        "updated",
        "change_requested",
        "change_approved",
    ]


def test_if_match_is_required_and_checked(client, auth_header):
    org = register(client, auth_header, orgdata.supplier())
    h = auth_header(XINCHENG_REVIEWER)
    assert_problem(
        client.patch(f"/v1/suppliers/{org['id']}", json={"address": "x 路"}, headers=h), 428
    )
    stale = client.patch(
        f"/v1/suppliers/{org['id']}", json={"address": "x 路"}, headers={**h, "If-Match": '"9"'}
    )
    assert_problem(stale, 412, "precondition_failed")


def test_bad_identifiers_are_422_naming_the_field_in_chinese(client, auth_header):
    body = orgdata.supplier()
    body["uscc"] = body["uscc"][:-1] + ("0" if body["uscc"][-1] != "0" else "1")
    r = client.post("/v1/suppliers", json=body, headers=auth_header(XINCHENG_REVIEWER))
    problem = assert_problem(r, 422, "validation_failed")
    assert problem["errors"][0]["field"] == "uscc"
    assert "校验位" in problem["errors"][0]["message"]


def test_region_mismatch_is_a_warning_not_an_error(client, auth_header):
    body = orgdata.supplier(region="150102")
    body["uscc"] = orgdata.uscc("150203")  # 包头 code, registered in 呼和浩特
    org = register(client, auth_header, body)
    assert org["warnings"] and "150203" in org["warnings"][0]


def test_self_service_sees_own_draft_only(client, auth_header):
    org = register(client, auth_header, orgdata.supplier())
    me = self_service(EntityKind.supplier, org["id"])
    other = self_service(EntityKind.supplier, "sup_other")
    assert client.get(f"/v1/suppliers/{org['id']}", headers=auth_header(me)).json()[
        "restricted_visible"
    ]
    assert client.get(f"/v1/suppliers/{org['id']}", headers=auth_header(other)).status_code == 404


def test_batch_lookup_answers_by_the_keys_asked(client, auth_header):
    a = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    b = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    r = client.post(
        "/v1/suppliers/batch", json={"ids": [a["id"], "sup_missing"], "usccs": [b["data"]["uscc"]]}
    )
    body = r.json()
    assert set(body["found"]) == {a["id"], b["data"]["uscc"]}
    assert body["missing"] == ["sup_missing"]
    too_many = client.post("/v1/suppliers/batch", json={"ids": [f"x{i}" for i in range(1001)]})
    assert_problem(too_many, 422)


def test_debarment_anywhere_makes_the_supplier_ineligible_everywhere(client, auth_header):
    org = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    body = {
        "authority": "新城区财政局",
        "legal_basis": "《政府采购法》第七十七条",
        "reason": "提供虚假材料",
        "starts_on": "2026-01-01",
        "ends_on": "2029-12-31",
    }
    assert_problem(
        client.post(
            f"/v1/suppliers/{org['id']}/debarments", json=body, headers=auth_header(HUIMIN_REVIEWER)
        ),
        403,
    )
    issued = client.post(
        f"/v1/suppliers/{org['id']}/debarments", json=body, headers=auth_header(XINCHENG_REVIEWER)
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["active"] is True
    seen = client.get(f"/v1/suppliers/{org['id']}").json()
    assert (seen["eligible"], seen["debarred"]) == (False, True)
    listed = client.get("/v1/debarments", params={"kind": "supplier"}).json()["items"]
    assert org["id"] in {d["organization_id"] for d in listed}
    eligible = client.get("/v1/suppliers", params={"eligible": "true", "within": "150102"}).json()[
        "items"
    ]
    assert org["id"] not in {o["id"] for o in eligible}
    revoked = client.post(
        f"/v1/debarments/{issued.json()['id']}/revoke",
        json={"reason": "复议撤销"},
        headers=auth_header(HOHHOT_REVIEWER),
    )
    assert revoked.json()["active"] is False
    assert client.get(f"/v1/suppliers/{org['id']}").json()["eligible"] is True


def test_future_debarment_is_not_yet_active(client, auth_header):
    org = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    body = {
        "authority": "新城区财政局",
        "legal_basis": "《政府采购法》第七十七条",
        "reason": "串通投标",
        "starts_on": "2099-01-01",
    }
    issued = client.post(
        f"/v1/suppliers/{org['id']}/debarments", json=body, headers=auth_header(XINCHENG_REVIEWER)
    ).json()
    assert issued["active"] is False
    assert client.get(f"/v1/suppliers/{org['id']}").json()["eligible"] is True


def test_signup_creates_account_and_draft_then_the_owner_submits(client):
    body = {
        "kind": "supplier",
        "username": "qingcheng.tech",
        "password": "a-long-password-1",
        "display_name": "李娜",
        "organization": orgdata.supplier(),
    }
    r = client.post("/v1/signup", json=body)
    assert r.status_code == 201, r.text
    result = r.json()
    h = {"Authorization": f"Bearer {result['access_token']}"}
    org_id = result["organization"]["id"]
    me = client.get("/v1/me", headers=h).json()
    assert (me["kind"], me["entity_id"]) == ("self_service", org_id)
    submitted = client.post(f"/v1/suppliers/{org_id}/submit", headers=h).json()
    assert submitted["status"] == "submitted"
    assert_problem(client.post(f"/v1/suppliers/{org_id}/approve", headers=h), 403)
    login = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "qingcheng.tech",
            "password": "a-long-password-1",
        },
    )
    assert login.status_code == 200
    again = client.post("/v1/signup", json={**body, "username": "someone.else"})
    assert_problem(again, 409, "already_registered")


def test_two_editors_with_the_same_etag_cannot_overwrite_each_others_request(client, auth_header):
    org = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    etag = {"If-Match": f'"{org["version"]}"'}
    first = client.patch(
        f"/v1/suppliers/{org['id']}",
        json={"name": "甲公司改名有限公司"},
        headers={**auth_header(XINCHENG_REVIEWER), **etag},
    )
    assert first.status_code == 200 and first.json()["pending_change_request"]
    second = client.patch(
        f"/v1/suppliers/{org['id']}",
        json={"name": "乙公司改名有限公司"},
        headers={**auth_header(HOHHOT_REVIEWER), **etag},
    )
    assert_problem(second, 412, "precondition_failed")


def test_reject_needs_a_reason_and_keeps_the_approved_version(client, auth_header):
    org = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    h = {**auth_header(XINCHENG_REVIEWER), "If-Match": f'"{org["version"]}"'}
    pending = client.patch(f"/v1/suppliers/{org['id']}", json={"size": "medium"}, headers=h).json()[
        "pending_change_request"
    ]
    url = f"/v1/suppliers/{org['id']}/change-requests/{pending}"
    assert_problem(
        client.post(f"{url}/reject", headers=auth_header(HOHHOT_REVIEWER)), 422, "reason_required"
    )
    rejected = client.post(
        f"{url}/reject", json={"reason": "无证明材料"}, headers=auth_header(HOHHOT_REVIEWER)
    ).json()
    assert rejected["data"]["size"] == "small" and rejected["pending_change_request"] is None
    assert_problem(
        client.post(f"{url}/approve", headers=auth_header(HOHHOT_REVIEWER)),
        409,
        "change_request_closed",
    )
    listed = client.get(
        f"/v1/suppliers/{org['id']}/change-requests", headers=auth_header(XINCHENG_REVIEWER)
    ).json()
    assert [(c["status"], c["reason"]) for c in listed] == [("rejected", "无证明材料")]


def test_as_of_returns_the_version_in_force_then(client, auth_header, session):
    from datetime import UTC, datetime

    from sqlalchemy import text

    org = approve(client, auth_header, register(client, auth_header, orgdata.supplier()))
    # events carry their transaction's time; in one test transaction they share it, so read
    # the as_of of the last event and compare versions through the history instead
    at = session.execute(
        text("SELECT max(at) FROM events WHERE entity_id = :i"), {"i": org["id"]}
    ).scalar_one()
    then = client.get(f"/v1/suppliers/{org['id']}", params={"as_of": at.isoformat()}).json()
    assert then["version"] == org["version"] and then["status"] == "active"
    before = client.get(
        f"/v1/suppliers/{org['id']}", params={"as_of": datetime(2000, 1, 1, tzinfo=UTC).isoformat()}
    )
    assert_problem(before, 404, "not_found_at_time")


def test_list_filters_scope_size_status_eligibility_region_and_name(client, auth_header):
    """Each filter of `GET /v1/suppliers` narrows to what it names (the public view)."""
    it = approve(
        client,
        auth_header,
        register(
            client,
            auth_header,
            orgdata.supplier(
                "150102", size="micro", business_scope=["A02010000"], name="青城信息技术有限公司"
            ),
        ),
    )
    works = approve(
        client,
        auth_header,
        register(
            client,
            auth_header,
            orgdata.supplier(
                "150103", size="large", business_scope=["B01"], name="回民建设工程有限公司"
            ),
            who=HUIMIN_REVIEWER,
        ),
        who=HUIMIN_REVIEWER,
    )
    h = auth_header(HUIMIN_REVIEWER)
    version = client.get(f"/v1/suppliers/{works['id']}", headers=h).json()["version"]
    suspended = client.post(
        f"/v1/suppliers/{works['id']}/suspend",
        json={"reason": "核查中"},
        headers={**h, "If-Match": f'"{version}"'},
    )
    assert suspended.status_code == 200, suspended.text

    def ids(**params):
        r = client.get("/v1/suppliers", params={**params, "limit": 200})
        assert r.status_code == 200, r.text
        return {item["id"] for item in r.json()["items"]} & {it["id"], works["id"]}

    assert ids(scope="A02") == {it["id"]}  # a scope code below A02
    assert ids(scope="A0201") == {it["id"]}
    assert ids(scope="B") == {works["id"]}
    assert ids(scope="C") == set()
    assert ids(size="micro") == {it["id"]}
    assert ids(size=["micro", "large"]) == {it["id"], works["id"]}
    assert ids(status="suspended") == {works["id"]}
    assert ids(eligible="true") == {it["id"]}
    assert ids(eligible="false") == {works["id"]}
    assert ids(within="150103") == {works["id"]}
    assert ids(within="150100") == {it["id"], works["id"]}
    assert ids(name="青城信息") == {it["id"]}
