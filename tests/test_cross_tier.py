"""The tiers of jurisdiction through the API: county (旗县区) → league/city (盟市) → region (自治区).

A bureau reads and acts on the records of its own subtree; elsewhere it sees published records
only, masked, and may do nothing. Self-service accounts act on their own record only; service
clients only read.
"""

from __future__ import annotations

from typing import Any

import pytest

from models.account import EntityKind, StaffRole
from tests import orgdata
from tests.conftest import assert_problem, self_service, service, staff

XINCHENG = "150102"  # 新城区, a county of 呼和浩特
SAIHAN = "150105"  # 赛罕区, its sibling county
KUNDULUN = "150203"  # 昆都仑区, a county of 包头
HOHHOT = "150100"  # the league/city bureau of both 呼和浩特 counties
BAOTOU = "150200"
REGION = "150000"

ROOT = staff(REGION, StaffRole.reviewer, subject="root-reviewer")
DEBARMENT = {
    "authority": "财政局",
    "legal_basis": "《中华人民共和国政府采购法》第七十七条",
    "reason": "提供虚假材料谋取中标",
    "starts_on": "2026-01-01",
    "ends_on": "2027-12-31",
}


def make(client, auth_header, region: str, state: str = "active") -> dict[str, Any]:
    """A supplier of `region` in `state` (draft, submitted or active), made by the region bureau."""
    h = auth_header(ROOT)
    r = client.post("/v1/suppliers", json=orgdata.supplier(region), headers=h)
    assert r.status_code == 201, r.text
    org = r.json()
    for move in {"draft": [], "submitted": ["submit"], "active": ["submit", "approve"]}[state]:
        r = client.post(f"/v1/suppliers/{org['id']}/{move}", headers=h)
        assert r.status_code == 200, r.text
        org = r.json()
    return org


def current(client, auth_header, org_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/suppliers/{org_id}", headers=auth_header(ROOT))
    assert r.status_code == 200, r.text
    return r.json()


# --- reads ------------------------------------------------------------------------------------

# bureau, record's region, what it gets of a draft, of a published record
READS = [
    (XINCHENG, XINCHENG, "clear", "clear"),
    (XINCHENG, SAIHAN, 404, "masked"),
    (XINCHENG, KUNDULUN, 404, "masked"),
    (HOHHOT, SAIHAN, "clear", "clear"),
    (HOHHOT, KUNDULUN, 404, "masked"),
    (BAOTOU, KUNDULUN, "clear", "clear"),
    (BAOTOU, SAIHAN, 404, "masked"),
    (REGION, SAIHAN, "clear", "clear"),
    (REGION, KUNDULUN, "clear", "clear"),
]


@pytest.mark.parametrize(("bureau", "region", "draft", "published"), READS)
def test_what_a_bureau_reads(client, auth_header, bureau, region, draft, published):
    h = auth_header(staff(bureau, StaffRole.viewer))
    for state, expected in (("draft", draft), ("active", published)):
        org = make(client, auth_header, region, state)
        r = client.get(f"/v1/suppliers/{org['id']}", headers=h)
        listed = client.get(
            "/v1/suppliers", params={"within": region, "limit": 200}, headers=h
        ).json()["items"]
        by_code = client.get(f"/v1/suppliers/by-uscc/{org['data']['uscc']}", headers=h)
        if expected == 404:
            assert_problem(r, 404, "not_found")
            assert_problem(by_code, 404)
            assert org["id"] not in {i["id"] for i in listed}
            continue
        assert r.status_code == by_code.status_code == 200, r.text
        seen = r.json()
        assert seen["restricted_visible"] is (expected == "clear")
        bank = seen["data"]["bank_accounts"][0]["account_number"]
        representative = seen["data"]["legal_representative"]
        if expected == "clear":
            assert bank == org["data"]["bank_accounts"][0]["account_number"]
            assert representative == org["data"]["legal_representative"]
        else:
            assert bank == "****" + org["data"]["bank_accounts"][0]["account_number"][-4:]
            assert "*" in representative["id_number"] and "*" in representative["phone"]
        assert org["id"] in {i["id"] for i in listed}


# --- actions ----------------------------------------------------------------------------------

# bureau, record's region, may it act
REACH = [
    (XINCHENG, XINCHENG, True),
    (XINCHENG, SAIHAN, False),
    (XINCHENG, KUNDULUN, False),
    (HOHHOT, XINCHENG, True),
    (HOHHOT, SAIHAN, True),
    (HOHHOT, KUNDULUN, False),
    (REGION, SAIHAN, True),
    (REGION, KUNDULUN, True),
]
# action, the state it acts on, answer when allowed, answer when not (404: the record is not
# published, so an outsider cannot even see it; 403: it can see it, but not act on it)
ACTIONS = [
    ("register", None, 201, 403),
    ("submit", "draft", 200, 404),
    ("edit-draft", "draft", 200, 404),
    ("approve", "submitted", 200, 404),
    ("suspend", "active", 200, 403),
    ("debar", "active", 201, 403),
    ("edit", "active", 200, 403),
    ("cancel", "active", 200, 403),
]


def act(client, headers, action: str, org: dict[str, Any] | None, region: str) -> Any:
    if action == "register":
        return client.post("/v1/suppliers", json=orgdata.supplier(region), headers=headers)
    assert org is not None
    url = f"/v1/suppliers/{org['id']}"
    if action in ("edit", "edit-draft"):
        return client.patch(
            url,
            json={"address": "内蒙古自治区呼和浩特市新城区新华大街 99 号"},
            headers={**headers, "If-Match": f'"{org["version"]}"'},
        )
    if action == "debar":
        return client.post(f"{url}/debarments", json=DEBARMENT, headers=headers)
    body = {"reason": "核查"} if action in ("suspend", "cancel") else None
    return client.post(f"{url}/{action}", json=body, headers=headers)


@pytest.mark.parametrize(("action", "state", "ok", "refused"), ACTIONS, ids=[a[0] for a in ACTIONS])
@pytest.mark.parametrize(("bureau", "region", "allowed"), REACH)
def test_who_may_act_where(
    client, auth_header, bureau, region, allowed, action, state, ok, refused
):
    org = make(client, auth_header, region, state) if state else None
    h = auth_header(staff(bureau, StaffRole.reviewer))
    r = act(client, h, action, org, region)
    if allowed:
        assert r.status_code == ok, r.text
        return
    assert_problem(r, refused)
    if org is not None:  # nothing changed
        after = current(client, auth_header, org["id"])
        assert (after["status"], after["version"], after["debarred"]) == (
            org["status"],
            org["version"],
            False,
        )
        assert after["pending_change_request"] is None


@pytest.mark.parametrize("action", ["submit", "approve", "suspend", "edit", "debar"])
def test_a_viewer_may_not_act_even_at_home(client, auth_header, action):
    state = {"submit": "draft", "approve": "submitted"}.get(action, "active")
    org = make(client, auth_header, XINCHENG, state)
    r = act(client, auth_header(staff(XINCHENG, StaffRole.viewer)), action, org, XINCHENG)
    assert_problem(r, 403)


# --- self-service accounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "state", "edit", "read"),
    [
        ("own", "draft", 200, "clear"),
        ("own", "active", 200, "clear"),  # becomes a change request
        ("other", "draft", 404, 404),
        ("other", "active", 403, "masked"),
    ],
)
def test_a_self_service_account_edits_only_its_own_record(
    client, auth_header, target, state, edit, read
):
    own = make(client, auth_header, SAIHAN, state)
    other = make(client, auth_header, SAIHAN, state)
    me = auth_header(self_service(EntityKind.supplier, own["id"]))
    org = own if target == "own" else other
    r = act(client, me, "edit", org, SAIHAN)
    assert r.status_code == edit, r.text
    if edit == 200 and state == "active":
        assert r.json()["pending_change_request"]
    seen = client.get(f"/v1/suppliers/{org['id']}", headers=me)
    if read == 404:
        assert_problem(seen, 404)
    else:
        assert seen.json()["restricted_visible"] is (read == "clear")
    # never a reviewer, not even of its own record
    for action in ("approve", "suspend", "debar"):
        assert act(client, me, action, org, SAIHAN).status_code in (403, 404, 409)


# --- service clients ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "published", "draft"),
    [
        (("registry.read",), "masked", 404),
        (("registry.read", "registry.read.restricted"), "clear", 404),
        (("changes.read",), 404, 404),  # a client gets exactly its scopes: no reading
    ],
    ids=["read", "read+restricted", "feed-only"],
)
def test_service_clients_read_published_records_and_never_write(
    client, auth_header, scopes, published, draft
):
    active = make(client, auth_header, KUNDULUN, "active")
    unpublished = make(client, auth_header, KUNDULUN, "draft")
    h = auth_header(service(*scopes))
    seen = client.get(f"/v1/suppliers/{active['id']}", headers=h)
    batch = client.post(
        "/v1/suppliers/batch", json={"ids": [active["id"], unpublished["id"]]}, headers=h
    ).json()
    if published == 404:
        assert_problem(seen, 404)
        assert batch["missing"] == [active["id"], unpublished["id"]]
    else:
        assert seen.status_code == 200, seen.text
        assert seen.json()["restricted_visible"] is (published == "clear")
        assert batch["missing"] == [unpublished["id"]]
        assert batch["found"][active["id"]]["restricted_visible"] is (published == "clear")
        account = seen.json()["data"]["bank_accounts"][0]["account_number"]
        assert ("*" in account) is (published == "masked")
    assert_problem(client.get(f"/v1/suppliers/{unpublished['id']}", headers=h), draft)
    for action, org in [
        ("register", None),
        ("edit", active),
        ("suspend", active),
        ("cancel", active),
        ("debar", active),
        ("submit", unpublished),
        ("edit-draft", unpublished),
    ]:
        r = act(client, h, action, org, KUNDULUN)
        assert r.status_code in (403, 404), (action, r.text)
    after = current(client, auth_header, active["id"])
    assert (after["status"], after["version"], after["debarred"]) == (
        "active",
        active["version"],
        False,
    )
