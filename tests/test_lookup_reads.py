"""Lookups by id and by code on a really committing app.

These reads run in autocommit (`one_statement_read`), unlike the test-transaction sessions the
rest of the suite uses, so this file checks that path end to end: committed records are found,
drafts stay invisible to the public, restricted values stay masked, ETags and 404s behave.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from models.account import StaffRole
from tests import orgdata
from tests.conftest import assert_problem, service, staff

pytestmark = pytest.mark.committing


def _bearer(app, principal) -> dict[str, str]:
    token, _ = app.state.tokens.issue(principal)
    return {"Authorization": f"Bearer {token}"}


def test_lookups_on_the_autocommit_path(committing_app):
    admin = _bearer(committing_app, staff("150102", StaffRole.admin))
    body = orgdata.supplier("150102")
    with TestClient(committing_app) as client:
        created = client.post("/v1/suppliers", json=body, headers=admin)
        assert created.status_code == 201, created.text
        org_id = created.json()["id"]

        # a draft is the bureau's business only
        assert_problem(client.get(f"/v1/suppliers/{org_id}"), 404, "not_found")
        assert_problem(client.get(f"/v1/suppliers/by-uscc/{body['uscc']}"), 404, "not_found")
        assert client.get(f"/v1/suppliers/{org_id}", headers=admin).status_code == 200

        for move in ("submit", "approve"):
            version = client.get(f"/v1/suppliers/{org_id}", headers=admin).json()["version"]
            r = client.post(
                f"/v1/suppliers/{org_id}/{move}",
                json={},
                headers={**admin, "If-Match": f'"{version}"'},
            )
            assert r.status_code == 200, r.text

        public = client.get(f"/v1/suppliers/{org_id}")
        assert public.status_code == 200
        assert public.headers["etag"] == f'"{public.json()["version"]}"'
        assert public.json()["status"] == "active" and public.json()["eligible"] is True
        account = body["bank_accounts"][0]["account_number"]
        assert account not in public.text
        assert public.json()["restricted_visible"] is False

        by_code = client.get(f"/v1/suppliers/by-uscc/{body['uscc'].lower()}")
        assert by_code.status_code == 200 and by_code.json()["id"] == org_id

        restricted = client.get(
            f"/v1/suppliers/{org_id}",
            headers=_bearer(committing_app, service("registry.read", "registry.read.restricted")),
        )
        assert restricted.json()["restricted_visible"] is True
        assert account in restricted.text

        # another kind's route does not find a supplier's id
        assert_problem(client.get(f"/v1/agents/{org_id}"), 404, "not_found")


def test_masking_copies_what_it_masks_and_leaves_the_stored_data_alone():
    import copy

    from models.organization import RecordKind
    from registry.masking import masked

    data = orgdata.supplier("150102")
    data["legal_representative"]["id_number"] = "15010219800101123X"
    data["contacts"].append({"name": "王五", "phone": "13912345678"})
    before = copy.deepcopy(data)
    shown = masked(RecordKind.supplier, data)
    assert data == before  # the record read from the database is not touched
    assert (
        shown["bank_accounts"][0]["account_number"]
        == "****" + before["bank_accounts"][0]["account_number"][-4:]
    )
    assert shown["legal_representative"]["id_number"] == "150102********123X"
    assert [c["phone"] for c in shown["contacts"]][-1] == "139****5678"
    assert shown["name"] == before["name"] and shown["business_scope"] == before["business_scope"]
