from models.account import StaffRole
from tests import orgdata
from tests.conftest import staff


def test_expert_round_trip(client, auth_header):
    admin = auth_header(staff("150102", StaffRole.admin))
    body = orgdata.expert("150102")
    r = client.post("/v1/experts", json=body, headers=admin)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["data"]["id_number"] == body["id_number"], out
    eid = out["id"]
    dup = client.post("/v1/experts", json={**body, "id_number": body["id_number"].lower()}, headers=admin)
    assert dup.status_code == 409, dup.text
    assert body["id_number"] not in dup.text
    other = auth_header(staff("150103", StaffRole.admin))
    g = client.get(f"/v1/experts/{eid}", headers=other)
    print(g.status_code, g.text[:300])
    for move in ("submit", "approve"):
        v = client.get(f"/v1/experts/{eid}", headers=admin).json()["version"]
        r = client.post(f"/v1/experts/{eid}/{move}", json={}, headers={**admin, "If-Match": f'"{v}"'})
        assert r.status_code == 200, r.text
    pub = client.get(f"/v1/experts/{eid}")
    assert pub.status_code == 200, pub.text
    print(pub.json()["data"])
    assert body["id_number"] not in pub.text and body["phone"] not in pub.text
    h = client.get(f"/v1/experts/{eid}/history", headers=admin)
    print(h.text[:500])


def test_commodity_round_trip(client, auth_header):
    admin = auth_header(staff("150000", StaffRole.admin))
    body = orgdata.commodity()
    r = client.post("/v1/commodities", json=body, headers=admin)
    assert r.status_code == 201, r.text
    dup = client.post("/v1/commodities", json={**body, "brand": "惠普", "model": body["model"].lower()}, headers=admin)
    assert dup.status_code == 409, dup.text
    print(dup.json())
    bad = client.post("/v1/commodities", json={**orgdata.commodity(), "specs": {"speed": 1}}, headers=admin)
    print(bad.status_code, bad.text[:400])


def test_expert_signs_up_and_sees_own_id_number(client):
    body = orgdata.expert("150102")
    r = client.post(
        "/v1/signup",
        json={
            "kind": "expert",
            "username": "expert-zhang",
            "password": "a-long-password-1",
            "display_name": "张专家",
            "organization": body,
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["location"].startswith("/v1/experts/exp_")
    token = r.json()["access_token"]
    own = client.get(r.headers["location"], headers={"Authorization": f"Bearer {token}"})
    assert own.status_code == 200 and own.json()["data"]["id_number"] == body["id_number"]
    sub = client.post(r.headers["location"] + "/submit", json={}, headers={"Authorization": f"Bearer {token}", "If-Match": f'"{own.json()["version"]}"'})
    assert sub.status_code == 200, sub.text
