"""The experts' scheduled check: suspensions with a period end, ended terms expire."""

from __future__ import annotations

from datetime import date, timedelta

from models.account import StaffRole
from registry.experts import end_suspensions, expire_ended_terms
from tests import orgdata
from tests.conftest import staff


def _active_expert(client, headers, **overrides):
    r = client.post("/v1/experts", json=orgdata.expert("150102", **overrides), headers=headers)
    assert r.status_code == 201, r.text
    expert_id = r.json()["id"]
    for move in ("submit", "approve"):
        version = client.get(f"/v1/experts/{expert_id}", headers=headers).json()["version"]
        r = client.post(
            f"/v1/experts/{expert_id}/{move}",
            json={},
            headers={**headers, "If-Match": f'"{version}"'},
        )
        assert r.status_code == 200, r.text
    return expert_id


def _move(client, headers, expert_id, name, body):
    version = client.get(f"/v1/experts/{expert_id}", headers=headers).json()["version"]
    return client.post(
        f"/v1/experts/{expert_id}/{name}",
        json=body,
        headers={**headers, "If-Match": f'"{version}"'},
    )


def test_a_suspension_with_a_period_ends_the_day_after_it(client, auth_header, session):
    admin = auth_header(staff("150102", StaffRole.admin))
    expert_id = _active_expert(client, admin)
    today = date.today()
    r = _move(client, admin, expert_id, "suspend", {"reason": "违规", "until": today.isoformat()})
    assert r.status_code == 200 and r.json()["eligible"] is False

    assert end_suspensions(session, today=today) == []  # the last day of the period
    assert end_suspensions(session, today=today + timedelta(days=1)) == [expert_id]
    session.commit()

    read = client.get(f"/v1/experts/{expert_id}", headers=admin).json()
    assert read["status"] == "active" and read["eligible"] is True
    history = client.get(f"/v1/experts/{expert_id}/history", headers=admin).json()
    assert history[-1]["type"] == "reinstate" and history[-1]["actor_kind"] == "operator"


def test_an_indefinite_suspension_is_left_alone(client, auth_header, session):
    admin = auth_header(staff("150102", StaffRole.admin))
    expert_id = _active_expert(client, admin)
    assert _move(client, admin, expert_id, "suspend", {"reason": "调查中"}).status_code == 200
    assert end_suspensions(session, today=date.today() + timedelta(days=400)) == []


def test_ended_terms_expire_once(client, auth_header, session):
    admin = auth_header(staff("150102", StaffRole.admin))
    ends = date.today() + timedelta(days=10)
    expert_id = _active_expert(
        client, admin, term={"starts_on": "2024-01-01", "ends_on": ends.isoformat()}
    )
    assert expire_ended_terms(session, today=ends) == []
    assert expire_ended_terms(session, today=ends + timedelta(days=1)) == [expert_id]
    assert expire_ended_terms(session, today=ends + timedelta(days=2)) == []
    session.commit()
    read = client.get(f"/v1/experts/{expert_id}", headers=admin).json()
    assert read["status"] == "expired" and read["eligible"] is False
