"""The request examples shown in the OpenAPI docs are accepted as they stand."""

from __future__ import annotations

import pytest

from api.routers.organizations import EXAMPLES, PLURAL
from models.account import StaffRole
from models.organization import RecordKind
from tests.conftest import staff


@pytest.mark.parametrize("kind", list(RecordKind))
def test_each_registration_example_registers(client, auth_header, kind):
    r = client.post(
        f"/v1/{PLURAL[kind]}",
        json=EXAMPLES[kind],
        headers=auth_header(staff("150000", StaffRole.admin)),
    )
    assert r.status_code == 201, r.text
