from tests.conftest import assert_problem, staff


def test_region_tree_is_loaded(client):
    body = client.get("/v1/regions/150000").json()
    assert body["name"] == "内蒙古自治区"
    assert len(body["children"]) == 12


def test_bureau_update_needs_if_match(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102", json={"phone": "0471-1234567"}, headers=auth_header(staff("150100"))
    )
    assert_problem(r, 428, "precondition_required")
