"""History and as_of reads over committed transactions (each with its own time)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from models.account import StaffRole
from tests import orgdata
from tests.conftest import staff

OWNER = staff("150102", StaffRole.reviewer)
SIBLING = staff("150103", StaffRole.reviewer)


@pytest.fixture
def api(committing_app):
    def headers(principal):
        token, _ = committing_app.state.tokens.issue(principal)
        return {"Authorization": f"Bearer {token}"}

    with TestClient(committing_app) as c:
        yield c, headers


def test_as_of_reads_the_version_in_force_at_that_time(api):
    client, headers = api
    h = headers(OWNER)
    org = client.post("/v1/suppliers", json=orgdata.supplier(), headers=h).json()
    client.post(f"/v1/suppliers/{org['id']}/submit", headers=h)
    approved = client.post(f"/v1/suppliers/{org['id']}/approve", headers=h).json()
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    new_accounts = [
        {"bank": "中国工商银行", "account_name": "测试", "account_number": "6222020000000001"}
    ]
    patched = client.patch(
        f"/v1/suppliers/{org['id']}",
        json={"name": "内蒙古改名后科技有限公司", "bank_accounts": new_accounts},
        headers={**h, "If-Match": f'"{approved["version"]}"'},
    ).json()
    client.post(
        f"/v1/suppliers/{org['id']}/change-requests/{patched['pending_change_request']}/approve",
        headers=h,
    )

    then = client.get(
        f"/v1/suppliers/{org['id']}", params={"as_of": between.isoformat()}, headers=h
    ).json()
    now = client.get(f"/v1/suppliers/{org['id']}", headers=h).json()
    assert then["data"]["name"] == org["data"]["name"]
    assert then["data"]["bank_accounts"][0]["account_number"] == "6217000012345678"
    assert now["data"]["name"] == "内蒙古改名后科技有限公司"

    public_then = client.get(
        f"/v1/suppliers/{org['id']}", params={"as_of": between.isoformat()}
    ).json()
    assert public_then["data"]["bank_accounts"][0]["account_number"] == "****5678"

    mine = client.get(f"/v1/suppliers/{org['id']}/history", headers=h).json()
    theirs = client.get(f"/v1/suppliers/{org['id']}/history", headers=headers(SIBLING)).json()
    assert [e["type"] for e in mine][-2:] == ["change_requested", "change_approved"]
    approved_event = mine[-1]
    assert approved_event["changes"]["bank_accounts"][1][0]["account_number"] == "6222020000000001"
    assert theirs[-1]["changes"]["bank_accounts"][1][0]["account_number"] == "****0001"
    assert all(e["request_id"] for e in mine)
    assert "6222020000000001" not in str(theirs)
