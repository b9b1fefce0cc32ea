"""An expert registers themself: account and draft at once, sees their own restricted values,
submits for review."""

from __future__ import annotations

from tests import orgdata
from tests.conftest import assert_problem


def _signup(client, body, username="expert-zhang"):
    return client.post(
        "/v1/signup",
        json={
            "kind": "expert",
            "username": username,
            "password": "a-long-password-1",
            "display_name": "张专家",
            "organization": body,
        },
    )


def test_expert_signs_up_sees_own_id_number_and_submits(client):
    body = orgdata.expert("150102")
    r = _signup(client, body)
    assert r.status_code == 201, r.text
    location = r.headers["location"]
    assert location.startswith("/v1/experts/exp_")
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    own = client.get(location, headers=auth)
    assert own.status_code == 200
    assert own.json()["data"]["id_number"] == body["id_number"]
    assert own.json()["restricted_visible"] is True
    submitted = client.post(
        f"{location}/submit", json={}, headers={**auth, "If-Match": f'"{own.json()["version"]}"'}
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    # the public sees nothing of a record under review
    assert_problem(client.get(location), 404, "not_found")


def test_a_second_sign_up_with_the_same_id_number_is_refused_without_repeating_it(client):
    body = orgdata.expert("150102")
    assert _signup(client, body).status_code == 201
    again = _signup(client, {**body, "name": "另一个人"}, username="expert-other")
    assert_problem(again, 409, "already_registered")
    assert body["id_number"] not in again.text
    # nothing of the second attempt stays: its username is still free
    assert _signup(client, orgdata.expert("150102"), username="expert-other").status_code == 201
