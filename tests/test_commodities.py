"""The commodities registry (电子卖场商品) and suppliers' offers, end to end through the API on a
real PostgreSQL: lifecycle, register once by the normalized key (also under concurrency), typed
specifications, offers, change requests, list filters and batch reads."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from threading import Barrier
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from models.account import EntityKind, StaffRole
from tests import orgdata
from tests.conftest import assert_problem, self_service, service, staff

ROOT = staff("150000", StaffRole.reviewer)  # manages commodities (region-wide by default)
ROOT_VIEWER = staff("150000", StaffRole.viewer)
XINCHENG = staff("150102", StaffRole.reviewer)  # the suppliers' county (新城区)
HUIMIN = staff("150103", StaffRole.reviewer)  # a sibling county (回民区)

TODAY = date.today()
HP_M404 = {"brand": "HP", "model": "LaserJet Pro M404dn"}


def create(client, auth_header, who=ROOT, **overrides: Any) -> dict[str, Any]:
    r = client.post(
        "/v1/commodities", json=orgdata.commodity(**overrides), headers=auth_header(who)
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert r.headers["location"] == f"/v1/commodities/{body['id']}"
    return body


def move(client, auth_header, com_id: str, name: str, reason: str | None = None, who=ROOT):
    body = {"reason": reason} if reason else None
    r = client.post(f"/v1/commodities/{com_id}/{name}", json=body, headers=auth_header(who))
    assert r.status_code == 200, r.text
    return r.json()


def listed(client, auth_header, **overrides: Any) -> dict[str, Any]:
    """A commodity created, submitted and approved: listed (已上架)."""
    com = create(client, auth_header, **overrides)
    move(client, auth_header, com["id"], "submit")
    return move(client, auth_header, com["id"], "approve")


def approved_supplier(client, auth_header, region: str = "150102") -> dict[str, Any]:
    h = auth_header(XINCHENG if region == "150102" else staff(region, StaffRole.reviewer))
    r = client.post("/v1/suppliers", json=orgdata.supplier(region), headers=h)
    assert r.status_code == 201, r.text
    sup = r.json()
    assert client.post(f"/v1/suppliers/{sup['id']}/submit", headers=h).status_code == 200
    r = client.post(f"/v1/suppliers/{sup['id']}/approve", headers=h)
    assert r.status_code == 200 and r.json()["eligible"], r.text
    return r.json()


def as_supplier(auth_header, sup: dict[str, Any]) -> dict[str, str]:
    header: dict[str, str] = auth_header(self_service(EntityKind.supplier, sup["id"]))
    return header


def offer_body(supplier_id: str, price: str = "2199.00", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "supplier_id": supplier_id,
        "price": price,
        "currency": "CNY",
        "stock_status": "in_stock",
        "valid_from": TODAY.isoformat(),
        "valid_to": (TODAY + timedelta(days=90)).isoformat(),
    }
    body.update(overrides)
    return body


def add_offer(client, com_id: str, headers: dict[str, str], body: dict[str, Any]):
    return client.post(f"/v1/commodities/{com_id}/offers", json=body, headers=headers)


def history_types(client, auth_header, com_id: str) -> list[str]:
    r = client.get(f"/v1/commodities/{com_id}/history", headers=auth_header(ROOT))
    assert r.status_code == 200, r.text
    return [e["type"] for e in r.json()]


def ids_of(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --- lifecycle --------------------------------------------------------------------------------


def test_create_submit_approve_delist_relist_with_history(client, auth_header):
    com = create(client, auth_header, **HP_M404)
    assert com["id"].startswith("com_") and com["kind"] == "commodity"
    assert com["status"] == "draft" and com["eligible"] is False and com["version"] == 1
    assert com["data"]["region_code"] == "150000"  # managed region-wide by default
    assert client.get(f"/v1/commodities/{com['id']}").status_code == 404  # drafts are not public

    submitted = move(client, auth_header, com["id"], "submit")
    assert submitted["status"] == "submitted"
    active = move(client, auth_header, com["id"], "approve")
    assert active["status"] == "active" and active["eligible"] is True
    assert active["approved_at"]

    public = client.get(f"/v1/commodities/{com['id']}")
    assert public.status_code == 200, public.text
    assert public.headers["etag"] == f'"{active["version"]}"'
    assert public.json()["data"]["model"] == "LaserJet Pro M404dn"
    assert public.json()["eligible"] is True

    no_reason = client.post(f"/v1/commodities/{com['id']}/delist", headers=auth_header(ROOT))
    problem = assert_problem(no_reason, 422, "reason_required")
    assert problem["errors"][0]["field"] == "reason"
    delisted = move(client, auth_header, com["id"], "delist", reason="厂家停产")
    assert delisted["status"] == "delisted" and delisted["eligible"] is False
    assert delisted["status_reason"] == "厂家停产"
    # delisted goods stay readable (they were published) but are not eligible
    assert client.get(f"/v1/commodities/{com['id']}").json()["status"] == "delisted"

    again = client.post(
        f"/v1/commodities/{com['id']}/delist", json={"reason": "再次"}, headers=auth_header(ROOT)
    )
    problem = assert_problem(again, 409, "invalid_transition")
    assert set(problem["allowed"]) == {"relist", "cancel"}

    relisted = move(client, auth_header, com["id"], "relist")
    assert relisted["status"] == "active" and relisted["eligible"] is True

    history = client.get(f"/v1/commodities/{com['id']}/history", headers=auth_header(ROOT)).json()
    assert [e["type"] for e in history] == ["created", "submit", "approve", "delist", "relist"]
    assert [e["status"] for e in history] == ["draft", "submitted", "active", "delisted", "active"]
    assert history[3]["reason"] == "厂家停产"
    assert history[3]["changes"] == {"status": ["active", "delisted"]}


def test_only_reviewers_in_jurisdiction_create_and_review_commodities(client, auth_header):
    # commodities are managed by the region bureau by default: a county may not register them
    r = client.post("/v1/commodities", json=orgdata.commodity(), headers=auth_header(XINCHENG))
    assert_problem(r, 403)
    # and the public and self-service accounts may not register at all
    assert_problem(client.post("/v1/commodities", json=orgdata.commodity()), 401)
    sup = self_service(EntityKind.supplier, "sup_someone")
    assert_problem(
        client.post("/v1/commodities", json=orgdata.commodity(), headers=auth_header(sup)), 403
    )
    com = create(client, auth_header)
    move(client, auth_header, com["id"], "submit")
    # a viewer of the region bureau sees the submission but may not approve it
    refused = client.post(f"/v1/commodities/{com['id']}/approve", headers=auth_header(ROOT_VIEWER))
    assert_problem(refused, 403)
    # a county bureau does not even see a commodity of the region bureau before it is listed
    hidden = client.post(f"/v1/commodities/{com['id']}/approve", headers=auth_header(XINCHENG))
    assert_problem(hidden, 404)


def test_return_needs_a_reason_and_a_returned_commodity_can_be_fixed_and_resubmitted(
    client, auth_header
):
    com = create(client, auth_header)
    move(client, auth_header, com["id"], "submit")
    assert_problem(
        client.post(f"/v1/commodities/{com['id']}/return", headers=auth_header(ROOT)),
        422,
        "reason_required",
    )
    returned = move(client, auth_header, com["id"], "return", reason="图片不清晰")
    assert returned["status"] == "returned"
    h = {**auth_header(ROOT), "If-Match": f'"{returned["version"]}"'}
    fixed = client.patch(
        f"/v1/commodities/{com['id']}",
        json={
            "images": ["https://img.example.cn/printer-front.jpg"],
            "specs": {"print_speed_ppm": 40, "duplex": True, "color_print": False},
        },
        headers=h,
    )
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert body["pending_change_request"] is None  # returned records change at once
    assert body["data"]["specs"]["print_speed_ppm"] == 40
    assert move(client, auth_header, com["id"], "submit")["status"] == "submitted"


# --- register once -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        {"brand": "hp", "model": "laserjet pro  m404dn"},
        {"brand": "HP", "model": "hp laserjet pro  m404dn"},
        {"brand": "ＨＰ", "model": "ＬａｓｅｒＪｅｔ Ｐｒｏ Ｍ４０４ｄｎ"},
        {"brand": "惠普", "model": "LaserJet Pro M404dn"},
        {"brand": "Hewlett-Packard", "model": "LaserJet-Pro M404-dn"},
        {"brand": "HP", "model": "LaserJet Pro M404dn", "catalog_code": "A0202"},
    ],
    ids=["case-and-spaces", "brand-in-model", "full-width", "chinese-alias", "long-alias", "short"],
)
def test_the_same_product_in_another_spelling_is_409_with_the_existing_id(
    client, auth_header, spelling
):
    first = create(client, auth_header, **HP_M404)
    again = client.post(
        "/v1/commodities",
        json=orgdata.commodity(**spelling),
        headers=auth_header(staff("150000", StaffRole.admin)),
    )
    problem = assert_problem(again, 409, "already_registered")
    assert problem["existing_id"] == first["id"]
    assert "报价" in problem["detail"]  # tells the caller to add an offer instead


def test_another_model_or_catalog_class_is_another_commodity(client, auth_header):
    first = create(client, auth_header, **HP_M404)
    other_model = create(client, auth_header, brand="HP", model="LaserJet Pro M404n")
    # the same brand and model in another class (图书档案设备: only the default attributes)
    other_class = create(
        client, auth_header, **HP_M404, catalog_code="A02040000", specs={"warranty_months": 12}
    )
    assert len({first["id"], other_model["id"], other_class["id"]}) == 3


def test_full_width_input_is_stored_half_width(client, auth_header):
    com = create(client, auth_header, brand="ＨＰ", model="ＬａｓｅｒＪｅｔ Ｐｒｏ Ｍ４０４ｄｎ")
    assert com["data"]["brand"] == "HP"
    assert com["data"]["model"] == "LaserJet Pro M404dn"


def test_a_cancelled_commodity_frees_its_key(client, auth_header):
    first = create(client, auth_header, **HP_M404)
    assert_problem(
        client.post(f"/v1/commodities/{first['id']}/cancel", headers=auth_header(ROOT)),
        422,
        "reason_required",
    )
    cancelled = move(client, auth_header, first["id"], "cancel", reason="重复录入")
    assert cancelled["status"] == "cancelled"
    second = create(client, auth_header, brand="惠普", model="laserjet pro m404dn")
    assert second["id"] != first["id"]
    found = client.get(
        "/v1/commodities/by-key",
        params={"catalog_code": "A02020000", "brand": "HP", "model": "LaserJet Pro M404dn"},
        headers=auth_header(ROOT),
    )
    assert found.status_code == 200 and found.json()["id"] == second["id"]


def test_by_key_finds_the_commodity_in_any_spelling(client, auth_header):
    com = listed(client, auth_header, **HP_M404)
    for catalog_code, brand, model in [
        ("A02020000", "HP", "LaserJet Pro M404dn"),
        ("A0202", "hp", "laserjet pro  m404dn"),
        ("A02020000", "ＨＰ", "ＬａｓｅｒＪｅｔ Ｐｒｏ Ｍ４０４ｄｎ"),
        ("a0202", "惠普", "HP LaserJet Pro M404-dn"),
    ]:
        r = client.get(
            "/v1/commodities/by-key",
            params={"catalog_code": catalog_code, "brand": brand, "model": model},
        )
        assert r.status_code == 200, (catalog_code, brand, model, r.text)
        assert r.json()["id"] == com["id"]
        assert r.headers["etag"] == f'"{com["version"]}"'
    missing = client.get(
        "/v1/commodities/by-key",
        params={"catalog_code": "A02020000", "brand": "HP", "model": "LaserJet Pro M404n"},
    )
    assert_problem(missing, 404, "not_found")


def test_by_key_does_not_show_a_draft_to_the_public(client, auth_header):
    com = create(client, auth_header, **HP_M404)
    params = {"catalog_code": "A02020000", "brand": "惠普", "model": "LaserJet Pro M404dn"}
    assert_problem(client.get("/v1/commodities/by-key", params=params), 404)
    mine = client.get("/v1/commodities/by-key", params=params, headers=auth_header(ROOT))
    assert mine.status_code == 200 and mine.json()["id"] == com["id"]


def test_a_brand_of_punctuation_only_is_422_not_500(app, auth_header):
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post(
            "/v1/commodities", json=orgdata.commodity(brand="---"), headers=auth_header(ROOT)
        )
    assert r.status_code == 422, r.text


def test_by_key_with_a_model_of_punctuation_only_is_not_a_500(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get(
            "/v1/commodities/by-key",
            params={"catalog_code": "A02020000", "brand": "HP", "model": "-- --"},
        )
    assert r.status_code in (404, 422), r.text


def test_editing_a_draft_into_another_commoditys_key_is_409(app, client, auth_header):
    first = create(client, auth_header, **HP_M404)
    second = create(client, auth_header, brand="HP", model="LaserJet Pro M404n")
    h = {**auth_header(ROOT), "If-Match": f'"{second["version"]}"'}
    with TestClient(app, raise_server_exceptions=False) as lenient:
        r = lenient.patch(
            f"/v1/commodities/{second['id']}",
            json={"brand": "惠普", "model": "laserjet pro m404-dn"},
            headers=h,
        )
    assert assert_problem(r, 409, "already_registered")["existing_id"] == first["id"]
    unchanged = client.get(f"/v1/commodities/{second['id']}", headers=auth_header(ROOT)).json()
    assert unchanged["data"]["model"] == "LaserJet Pro M404n" and unchanged["version"] == 1


def test_a_key_change_is_checked_again_when_its_request_is_approved(app, client, auth_header):
    first = listed(client, auth_header, **HP_M404)
    second = listed(client, auth_header, brand="HP", model="LaserJet Pro M404n")
    url = f"/v1/commodities/{second['id']}"
    h = {**auth_header(ROOT), "If-Match": f'"{second["version"]}"'}
    r = client.patch(url, json={"model": "LaserJet Pro M404dn"}, headers=h)
    assert r.status_code == 200, r.text
    cid = r.json()["pending_change_request"]
    assert cid and r.json()["data"]["model"] == "LaserJet Pro M404n"
    with TestClient(app, raise_server_exceptions=False) as lenient:
        decided = lenient.post(f"{url}/change-requests/{cid}/approve", headers=auth_header(ROOT))
    assert assert_problem(decided, 409, "already_registered")["existing_id"] == first["id"]
    after = client.get(url).json()
    assert after["data"]["model"] == "LaserJet Pro M404n"
    assert after["pending_change_request"] == cid  # still pending: nothing was written


def test_only_the_managing_bureau_edits_a_commodity(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    url = f"/v1/commodities/{com['id']}"
    patch = {"images": ["https://img.example.cn/other.jpg"]}
    for who in (
        self_service(EntityKind.supplier, sup["id"]),  # suppliers offer; they do not edit goods
        XINCHENG,  # a county may read the listed commodity but not edit it
        ROOT_VIEWER,
    ):
        h = {**auth_header(who), "If-Match": f'"{com["version"]}"'}
        assert_problem(client.patch(url, json=patch, headers=h), 403)
        delist = client.post(f"{url}/delist", json={"reason": "x"}, headers=auth_header(who))
        assert_problem(delist, 403)
    assert client.get(url).json()["data"]["images"] == com["data"]["images"]


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("catalog_code", "code"),
    [
        ("A02000000", "not_a_leaf"),  # 设备: has classes below it
        ("A02", "not_a_leaf"),  # the short form of the same
        ("A02990000", "unknown_code"),  # well-formed, not in the catalogue
        ("Z12345678", None),  # not a catalogue code at all
    ],
)
def test_catalog_code_must_be_a_current_leaf(client, auth_header, catalog_code, code):
    body = orgdata.commodity(catalog_code=catalog_code, specs={})
    r = client.post("/v1/commodities", json=body, headers=auth_header(ROOT))
    problem = assert_problem(r, 422, "validation_failed")
    fields = {e["field"]: e for e in problem["errors"]}
    assert "catalog_code" in fields, problem
    if code is not None:
        assert fields["catalog_code"]["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in fields["catalog_code"]["message"])


@pytest.mark.parametrize(
    ("specs", "field", "code", "in_message"),
    [
        (
            {"print_speed_ppm": 38, "color_print": False, "speed": 38},
            "specs.speed",
            "unknown_attribute",
            "不是品目 A02020000 的规格属性",
        ),
        (
            {"print_speed_ppm": "很快", "color_print": False},
            "specs.print_speed_ppm",
            "wrong_type",
            "打印速度",
        ),
        (
            {"color_print": "也许"},
            "specs.color_print",
            "wrong_type",
            "彩色打印",
        ),
        (
            {"color_print": False, "max_paper": "A5"},
            "specs.max_paper",
            "choice_not_allowed",
            "A4、A3",
        ),
        (
            {"print_speed_ppm": 38, "duplex": True},
            "specs.color_print",
            "required_missing",
            "缺少必填规格",
        ),
    ],
    ids=["unknown", "wrong-integer", "wrong-boolean", "choice", "required"],
)
def test_bad_specs_are_422_per_attribute_in_chinese(
    client, auth_header, specs, field, code, in_message
):
    r = client.post(
        "/v1/commodities", json=orgdata.commodity(specs=specs), headers=auth_header(ROOT)
    )
    problem = assert_problem(r, 422, "validation_failed")
    errors = {e["field"]: e for e in problem["errors"]}
    assert field in errors, problem
    assert errors[field]["code"] == code
    assert in_message in errors[field]["message"]
    assert in_message in problem["detail"] or errors[field]["message"] in problem["detail"]


def test_every_bad_attribute_is_reported_at_once(client, auth_header):
    specs = {"speed": 1, "duplex": "maybe", "max_paper": "B5"}
    r = client.post(
        "/v1/commodities", json=orgdata.commodity(specs=specs), headers=auth_header(ROOT)
    )
    problem = assert_problem(r, 422, "validation_failed")
    assert {e["field"] for e in problem["errors"]} == {
        "specs.speed",
        "specs.duplex",
        "specs.max_paper",
        "specs.color_print",
    }


def test_specs_are_stored_normalized(client, auth_header):
    com = create(
        client,
        auth_header,
        specs={
            "print_speed_ppm": "38",
            "duplex": "是",
            "color_print": "否",
            "max_paper": "a4",
            "network": "支持",
            "warranty_months": "36月",
            "origin": "  中国　北京 ",
            "print_tech": None,
        },
    )
    assert com["data"]["specs"] == {
        "origin": "中国 北京",
        "warranty_months": 36,
        "print_speed_ppm": 38,
        "duplex": True,
        "color_print": False,
        "max_paper": "A4",
        "network": True,
    }
    stored = client.get(f"/v1/commodities/{com['id']}", headers=auth_header(ROOT)).json()
    assert stored["data"]["specs"] == com["data"]["specs"]


@pytest.mark.parametrize(
    "images",
    [["ftp://img.example.cn/a.jpg"], ["img.example.cn/a.jpg"], ["https://x.cn/" + "a" * 500]],
)
def test_image_urls_must_be_http(client, auth_header, images):
    r = client.post(
        "/v1/commodities", json=orgdata.commodity(images=images), headers=auth_header(ROOT)
    )
    problem = assert_problem(r, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["images"]
    assert "图片地址" in problem["errors"][0]["message"]


def test_schema_errors_name_their_fields(client, auth_header):
    body = orgdata.commodity()
    del body["unit"]
    body["reference_price"] = {"amount": "-1", "as_of": "2026-11-01"}
    body["colour"] = "red"
    r = client.post("/v1/commodities", json=body, headers=auth_header(ROOT))
    problem = assert_problem(r, 422, "validation_failed")
    assert {e["field"] for e in problem["errors"]} >= {
        "unit",
        "reference_price.amount",
        "colour",
    }


# --- offers -----------------------------------------------------------------------------------


def test_a_signed_up_supplier_offers_with_its_own_token(client, auth_header):
    signup = client.post(
        "/v1/signup",
        json={
            "kind": "supplier",
            "username": "printer.seller",
            "password": "a-long-password-1",
            "display_name": "经办人王五",
            "organization": orgdata.supplier("150102"),
        },
    )
    assert signup.status_code == 201, signup.text
    sup = signup.json()["organization"]
    token = {"Authorization": f"Bearer {signup.json()['access_token']}"}
    com = listed(client, auth_header)

    # not approved yet: may not offer
    early = add_offer(client, com["id"], token, offer_body(sup["id"]))
    assert_problem(early, 409, "supplier_not_eligible")

    assert client.post(f"/v1/suppliers/{sup['id']}/submit", headers=token).status_code == 200
    r = client.post(f"/v1/suppliers/{sup['id']}/approve", headers=auth_header(XINCHENG))
    assert r.status_code == 200, r.text

    r = add_offer(client, com["id"], token, offer_body(sup["id"], price="2199.00"))
    assert r.status_code == 201, r.text
    offer = r.json()
    assert offer["id"].startswith("ofr_")
    assert offer["commodity_id"] == com["id"] and offer["supplier_id"] == sup["id"]
    assert offer["supplier_name"] == sup["data"]["name"]
    assert float(offer["price"]) == 2199.0 and offer["stock_status"] == "in_stock"
    assert offer["current"] is True and offer["withdrawn_at"] is None

    offers = client.get(f"/v1/commodities/{com['id']}/offers").json()  # public
    assert [o["id"] for o in offers] == [offer["id"]]


def test_one_live_offer_per_supplier_and_commodity(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)
    first = add_offer(client, com["id"], me, offer_body(sup["id"]))
    assert first.status_code == 201, first.text
    again = add_offer(client, com["id"], me, offer_body(sup["id"], price="1999.00"))
    problem = assert_problem(again, 409, "already_offered")
    assert problem["existing_id"] == first.json()["id"]
    # the same, made by the county bureau for the supplier
    by_bureau = add_offer(client, com["id"], auth_header(XINCHENG), offer_body(sup["id"]))
    assert assert_problem(by_bureau, 409, "already_offered")["existing_id"] == first.json()["id"]

    # once withdrawn, the supplier may offer again
    w = client.post(f"/v1/commodities/{com['id']}/offers/{first.json()['id']}/withdraw", headers=me)
    assert w.status_code == 200, w.text
    assert w.json()["withdrawn_at"] and w.json()["current"] is False
    renewed = add_offer(client, com["id"], me, offer_body(sup["id"], price="1999.00"))
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["id"] != first.json()["id"]


def test_who_may_offer_for_a_supplier(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header, "150102")
    other = approved_supplier(client, auth_header, "150102")
    body = offer_body(sup["id"])

    # another supplier's account may not offer on its behalf
    assert_problem(add_offer(client, com["id"], as_supplier(auth_header, other), body), 403)
    # a county bureau outside the supplier's region may not either
    assert_problem(add_offer(client, com["id"], auth_header(HUIMIN), body), 403)
    # a viewer of the supplier's own county may not write
    viewer = auth_header(staff("150102", StaffRole.viewer))
    assert_problem(add_offer(client, com["id"], viewer, body), 403)
    # service clients read, never write; the public must log in
    assert_problem(add_offer(client, com["id"], auth_header(service("registry.read")), body), 403)
    assert_problem(add_offer(client, com["id"], {}, body), 401)
    # an unknown supplier
    missing = add_offer(client, com["id"], auth_header(XINCHENG), offer_body("sup_nobody"))
    assert_problem(missing, 404, "supplier_not_found")
    # a commodity is not a supplier
    not_a_supplier = add_offer(client, com["id"], auth_header(ROOT), offer_body(com["id"]))
    assert_problem(not_a_supplier, 404, "supplier_not_found")

    # the bureau of the supplier's county may offer for it
    r = add_offer(client, com["id"], auth_header(XINCHENG), body)
    assert r.status_code == 201, r.text
    # and so may the league above it, for another of its suppliers
    hohhot = auth_header(staff("150100", StaffRole.reviewer))
    r = add_offer(client, com["id"], hohhot, offer_body(other["id"], price="2099.00"))
    assert r.status_code == 201, r.text


def test_offers_only_on_listed_commodities(client, auth_header):
    sup = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)

    draft = create(client, auth_header)
    # the supplier does not see a draft at all; the region bureau sees it is not listed
    assert_problem(add_offer(client, draft["id"], me, offer_body(sup["id"])), 404)
    r = add_offer(client, draft["id"], auth_header(ROOT), offer_body(sup["id"]))
    assert assert_problem(r, 409, "commodity_not_listed")["status_now"] == "draft"

    com = listed(client, auth_header)
    move(client, auth_header, com["id"], "delist", reason="停产")
    r = add_offer(client, com["id"], me, offer_body(sup["id"]))
    assert assert_problem(r, 409, "commodity_not_listed")["status_now"] == "delisted"

    move(client, auth_header, com["id"], "relist")
    assert add_offer(client, com["id"], me, offer_body(sup["id"])).status_code == 201

    assert_problem(add_offer(client, "com_nothing", me, offer_body(sup["id"])), 404)


def test_suspended_or_debarred_suppliers_may_not_offer(client, auth_header):
    com = listed(client, auth_header)
    suspended = approved_supplier(client, auth_header)
    r = client.post(
        f"/v1/suppliers/{suspended['id']}/suspend",
        json={"reason": "资质过期"},
        headers=auth_header(XINCHENG),
    )
    assert r.status_code == 200, r.text
    r = add_offer(
        client, com["id"], as_supplier(auth_header, suspended), offer_body(suspended["id"])
    )
    problem = assert_problem(r, 409, "supplier_not_eligible")
    assert "不能报价" in problem["detail"]

    debarred = approved_supplier(client, auth_header)
    r = client.post(
        f"/v1/suppliers/{debarred['id']}/debarments",
        json={
            "authority": "内蒙古自治区财政厅",
            "legal_basis": "《政府采购法》第七十七条",
            "reason": "提供虚假材料",
            "starts_on": TODAY.isoformat(),
        },
        headers=auth_header(XINCHENG),
    )
    assert r.status_code == 201, r.text
    r = add_offer(client, com["id"], auth_header(XINCHENG), offer_body(debarred["id"]))
    assert_problem(r, 409, "supplier_not_eligible")


def test_an_offer_post_retried_with_its_idempotency_key_is_answered_once(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    h = {**as_supplier(auth_header, sup), "Idempotency-Key": "offer-retry-0001"}
    first = add_offer(client, com["id"], h, offer_body(sup["id"]))
    assert first.status_code == 201, first.text
    retry = add_offer(client, com["id"], h, offer_body(sup["id"]))
    assert retry.status_code == 201, retry.text
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json()["id"] == first.json()["id"]
    changed = add_offer(client, com["id"], h, offer_body(sup["id"], price="1.00"))
    assert_problem(changed, 422)
    offers = client.get(f"/v1/commodities/{com['id']}/offers").json()
    assert [o["id"] for o in offers] == [first.json()["id"]]


def test_offer_validation(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)
    for bad in (
        offer_body(sup["id"], price="0"),
        offer_body(sup["id"], price="-5"),
        offer_body(sup["id"], stock_status="plenty"),
        offer_body(sup["id"], currency="yuan"),
        offer_body(sup["id"], valid_to=(TODAY - timedelta(days=1)).isoformat()),
        {**offer_body(sup["id"]), "discount": "10%"},
        {k: v for k, v in offer_body(sup["id"]).items() if k != "valid_from"},
    ):
        assert_problem(add_offer(client, com["id"], me, bad), 422)
    assert client.get(f"/v1/commodities/{com['id']}/offers?current=false").json() == []


def test_update_and_withdraw_an_offer(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    other = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)
    offer = add_offer(client, com["id"], me, offer_body(sup["id"], price="2199.00")).json()
    url = f"/v1/commodities/{com['id']}/offers/{offer['id']}"

    r = client.patch(url, json={"price": "2099.50", "stock_status": "low"}, headers=me)
    assert r.status_code == 200, r.text
    assert float(r.json()["price"]) == 2099.5 and r.json()["stock_status"] == "low"
    assert r.json()["valid_from"] == offer["valid_from"]

    # the county bureau may change it too; another supplier and a sibling county may not
    r = client.patch(url, json={"stock_status": "out_of_stock"}, headers=auth_header(XINCHENG))
    assert r.status_code == 200 and r.json()["stock_status"] == "out_of_stock"
    assert_problem(
        client.patch(url, json={"price": "1.00"}, headers=as_supplier(auth_header, other)), 403
    )
    assert_problem(client.patch(url, json={"price": "1.00"}, headers=auth_header(HUIMIN)), 403)
    assert_problem(client.patch(url, json={"price": "0"}, headers=me), 422)
    assert_problem(client.patch(url, json={"stock": 3}, headers=me), 422)
    early = (TODAY - timedelta(days=1)).isoformat()
    assert_problem(client.patch(url, json={"valid_to": early}, headers=me), 409, "invalid_period")
    assert_problem(
        client.patch(f"/v1/commodities/{com['id']}/offers/ofr_nothing", json={}, headers=me),
        404,
        "offer_not_found",
    )

    assert_problem(client.post(url + "/withdraw", headers=as_supplier(auth_header, other)), 403)
    w = client.post(url + "/withdraw", headers=me)
    assert w.status_code == 200, w.text
    assert w.json()["withdrawn_at"] and w.json()["current"] is False
    assert_problem(client.post(url + "/withdraw", headers=me), 409, "offer_withdrawn")
    assert_problem(client.patch(url, json={"price": "1999.00"}, headers=me), 409, "offer_withdrawn")

    assert client.get(f"/v1/commodities/{com['id']}/offers").json() == []
    everything = client.get(f"/v1/commodities/{com['id']}/offers", params={"current": "false"})
    [stored] = everything.json()
    assert stored["id"] == offer["id"] and stored["stock_status"] == "out_of_stock"
    assert float(stored["price"]) == 2099.5 and stored["current"] is False

    history = client.get(f"/v1/commodities/{com['id']}/history", headers=auth_header(ROOT)).json()
    offer_events = [e for e in history if e["type"].startswith("offer_")]
    assert [e["type"] for e in offer_events] == [
        "offer_added",
        "offer_updated",
        "offer_updated",
        "offer_withdrawn",
    ]
    added, first_update = offer_events[0], offer_events[1]
    assert added["changes"]["offer"][0] is None
    assert added["changes"]["offer"][1]["supplier_id"] == sup["id"]
    assert added["changes"]["offer"][1]["price"] == "2199.00"
    before, after = first_update["changes"]["offer"]
    assert (before["price"], after["price"]) == ("2199.00", "2099.50")
    assert (before["stock_status"], after["stock_status"]) == ("in_stock", "low")
    assert offer_events[3]["changes"]["offer"][1] is None
    assert offer_events[0]["actor_kind"] == "self_service"


def test_an_offer_update_that_changes_nothing_records_nothing(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)
    offer = add_offer(client, com["id"], me, offer_body(sup["id"], price="2199.00")).json()
    url = f"/v1/commodities/{com['id']}/offers/{offer['id']}"
    r = client.patch(url, json={"price": "2199.00", "stock_status": "in_stock"}, headers=me)
    assert r.status_code == 200, r.text
    assert history_types(client, auth_header, com["id"]).count("offer_updated") == 0


def test_the_same_price_in_another_notation_is_no_change(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)
    offer = add_offer(client, com["id"], me, offer_body(sup["id"], price="2199.00")).json()
    url = f"/v1/commodities/{com['id']}/offers/{offer['id']}"
    r = client.patch(url, json={"price": "2199"}, headers=me)
    assert r.status_code == 200, r.text
    assert history_types(client, auth_header, com["id"]).count("offer_updated") == 0


def test_an_offer_reads_the_same_from_every_route(client, auth_header):
    com = listed(client, auth_header)
    sup = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)
    offer = add_offer(client, com["id"], me, offer_body(sup["id"])).json()
    url = f"/v1/commodities/{com['id']}/offers/{offer['id']}"
    updated = client.patch(url, json={"stock_status": "low"}, headers=me).json()
    assert updated["supplier_name"] == sup["data"]["name"]
    withdrawn = client.post(url + "/withdraw", headers=me).json()
    assert withdrawn["supplier_name"] == sup["data"]["name"]


def test_offers_are_sorted_by_price_and_only_current_ones_by_default(client, auth_header):
    com = listed(client, auth_header)
    cheap, dear, future, ended, withdrawn, last_day = (
        approved_supplier(client, auth_header) for _ in range(6)
    )
    days = lambda n: (TODAY + timedelta(days=n)).isoformat()  # noqa: E731
    bodies = [
        offer_body(dear["id"], price="2500.00"),
        offer_body(cheap["id"], price="1899.00", valid_to=None),
        offer_body(future["id"], price="1500.00", valid_from=days(10), valid_to=None),
        offer_body(ended["id"], price="1600.00", valid_from=days(-30), valid_to=days(-1)),
        offer_body(withdrawn["id"], price="1700.00"),
        offer_body(last_day["id"], price="2600.00", valid_from=days(-30), valid_to=days(0)),
    ]
    added = {}
    for body in bodies:
        r = add_offer(client, com["id"], auth_header(XINCHENG), body)
        assert r.status_code == 201, r.text
        added[body["supplier_id"]] = r.json()
    assert added[future["id"]]["current"] is False  # starts in ten days
    assert added[ended["id"]]["current"] is False  # ended yesterday
    assert added[last_day["id"]]["current"] is True  # valid through today
    w = client.post(
        f"/v1/commodities/{com['id']}/offers/{added[withdrawn['id']]['id']}/withdraw",
        headers=auth_header(XINCHENG),
    )
    assert w.status_code == 200, w.text

    current = client.get(f"/v1/commodities/{com['id']}/offers").json()
    assert [o["supplier_id"] for o in current] == [cheap["id"], dear["id"], last_day["id"]]
    assert all(o["current"] for o in current)
    assert current[0]["supplier_name"] == cheap["data"]["name"]
    assert float(current[0]["price"]) == 1899.0

    everything = client.get(f"/v1/commodities/{com['id']}/offers", params={"current": False})
    assert [(o["supplier_id"], o["current"]) for o in everything.json()] == [
        (future["id"], False),
        (ended["id"], False),
        (withdrawn["id"], False),
        (cheap["id"], True),
        (dear["id"], True),
        (last_day["id"], True),
    ]

    # the list filter counts current offers only
    for sup, found in (
        (cheap, [com["id"]]),
        (last_day, [com["id"]]),
        (future, []),
        (ended, []),
        (withdrawn, []),
    ):
        assert ids_of(client.get("/v1/commodities", params={"supplier": sup["id"]})) == found


def test_offers_of_a_draft_are_not_public(client, auth_header):
    com = create(client, auth_header)
    assert_problem(client.get(f"/v1/commodities/{com['id']}/offers"), 404)
    r = client.get(f"/v1/commodities/{com['id']}/offers", headers=auth_header(ROOT))
    assert r.status_code == 200 and r.json() == []


def test_supplier_filter_finds_commodities_the_supplier_offers(client, auth_header):
    a = listed(client, auth_header)
    b = listed(client, auth_header)
    listed(client, auth_header)  # offered by nobody
    sup = approved_supplier(client, auth_header)
    other = approved_supplier(client, auth_header)
    me = as_supplier(auth_header, sup)
    offer_a = add_offer(client, a["id"], me, offer_body(sup["id"])).json()
    add_offer(client, b["id"], me, offer_body(sup["id"]))
    add_offer(client, b["id"], as_supplier(auth_header, other), offer_body(other["id"]))

    assert ids_of(client.get("/v1/commodities", params={"supplier": sup["id"]})) == sorted(
        [a["id"], b["id"]]
    )
    assert ids_of(client.get("/v1/commodities", params={"supplier": other["id"]})) == [b["id"]]
    client.post(f"/v1/commodities/{a['id']}/offers/{offer_a['id']}/withdraw", headers=me)
    assert ids_of(client.get("/v1/commodities", params={"supplier": sup["id"]})) == [b["id"]]
    assert ids_of(client.get("/v1/commodities", params={"supplier": "sup_nobody"})) == []


# --- edits and change requests ------------------------------------------------------------------


def test_reference_price_on_a_listed_commodity_waits_for_review_images_do_not(client, auth_header):
    com = listed(
        client,
        auth_header,
        reference_price={"amount": "2399.00", "currency": "CNY", "as_of": "2026-11-01"},
    )
    url = f"/v1/commodities/{com['id']}"
    new_price = {"amount": "2199.00", "currency": "CNY", "as_of": "2026-12-01"}
    assert_problem(
        client.patch(url, json={"reference_price": new_price}, headers=auth_header(ROOT)), 428
    )
    stale = {**auth_header(ROOT), "If-Match": f'"{com["version"] - 1}"'}
    assert_problem(client.patch(url, json={"reference_price": new_price}, headers=stale), 412)

    h = {**auth_header(ROOT), "If-Match": f'"{com["version"]}"'}
    r = client.patch(url, json={"reference_price": new_price}, headers=h)
    assert r.status_code == 200, r.text
    pending = r.json()
    assert pending["pending_change_request"]
    assert pending["data"]["reference_price"]["amount"] == "2399.00"  # still the approved one
    assert pending["version"] > com["version"]  # a pending request moves the ETag

    # reads, lists and price filters keep the approved price until the review
    public = client.get(url).json()
    assert public["data"]["reference_price"]["amount"] == "2399.00"
    assert public["pending_change_request"] == pending["pending_change_request"]
    in_old_range = {"price_min": "2300", "price_max": "2400", "catalog": "A0202"}
    assert com["id"] in ids_of(client.get("/v1/commodities", params=in_old_range))

    requests = client.get(f"{url}/change-requests", headers=auth_header(ROOT)).json()
    assert len(requests) == 1 and requests[0]["status"] == "pending"
    assert requests[0]["changes"]["reference_price"]["amount"] == "2199.00"
    assert requests[0]["current"]["reference_price"]["amount"] == "2399.00"

    # images change at once, even with the change request pending
    h = {**auth_header(ROOT), "If-Match": f'"{pending["version"]}"'}
    pictures = ["https://img.example.cn/m404-front.jpg", "https://img.example.cn/m404-side.jpg"]
    r = client.patch(url, json={"images": pictures}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["images"] == pictures
    assert r.json()["data"]["reference_price"]["amount"] == "2399.00"
    assert client.get(url).json()["data"]["images"] == pictures

    approved = client.post(
        f"{url}/change-requests/{pending['pending_change_request']}/approve",
        headers=auth_header(ROOT),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["pending_change_request"] is None
    assert approved.json()["data"]["reference_price"]["amount"] == "2199.00"
    assert approved.json()["data"]["images"] == pictures
    assert client.get(url).json()["data"]["reference_price"]["amount"] == "2199.00"
    assert com["id"] not in ids_of(client.get("/v1/commodities", params=in_old_range))
    new_range = {"price_min": "2100", "price_max": "2200", "catalog": "A0202"}
    assert com["id"] in ids_of(client.get("/v1/commodities", params=new_range))

    assert history_types(client, auth_header, com["id"]) == [
        "created",
        "submit",
        "approve",
        "change_requested",
        "updated",
        "change_approved",
    ]


def test_specs_change_on_a_listed_commodity_is_reviewed_and_can_be_rejected(client, auth_header):
    com = listed(client, auth_header)
    url = f"/v1/commodities/{com['id']}"
    h = {**auth_header(ROOT), "If-Match": f'"{com["version"]}"'}
    specs = {"print_speed_ppm": "40", "duplex": "是", "color_print": False}
    r = client.patch(url, json={"specs": specs}, headers=h)
    assert r.status_code == 200, r.text
    cid = r.json()["pending_change_request"]
    assert cid and r.json()["data"]["specs"]["print_speed_ppm"] == 38
    # the request holds the normalized specs
    [request] = client.get(f"{url}/change-requests", headers=auth_header(ROOT)).json()
    assert request["changes"]["specs"] == {
        "print_speed_ppm": 40,
        "duplex": True,
        "color_print": False,
    }

    # a bad spec in a later edit is refused like at registration
    h = {**auth_header(ROOT), "If-Match": f'"{r.json()["version"]}"'}
    bad = client.patch(url, json={"specs": {"color_print": "彩色"}}, headers=h)
    assert assert_problem(bad, 422)["errors"][0]["field"] == "specs.color_print"

    assert_problem(
        client.post(f"{url}/change-requests/{cid}/reject", headers=auth_header(ROOT)),
        422,
        "reason_required",
    )
    r = client.post(
        f"{url}/change-requests/{cid}/reject",
        json={"reason": "与厂家参数不符"},
        headers=auth_header(ROOT),
    )
    assert r.status_code == 200, r.text
    assert r.json()["pending_change_request"] is None
    assert r.json()["data"]["specs"]["print_speed_ppm"] == 38


@pytest.mark.committing
def test_as_of_reads_the_price_in_force_at_that_time(committing_app):
    """Over committed transactions: within one test transaction every event has the same time."""
    token = committing_app.state.tokens.issue(ROOT)[0]
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(committing_app) as c:
        com = c.post("/v1/commodities", json=orgdata.commodity(), headers=h).json()
        url = f"/v1/commodities/{com['id']}"
        c.post(f"{url}/submit", headers=h)
        approved = c.post(f"{url}/approve", headers=h).json()
        time.sleep(0.05)
        between = datetime.now(UTC)
        time.sleep(0.05)
        new_price = {"amount": "1999.00", "currency": "CNY", "as_of": "2026-12-01"}
        r = c.patch(
            url,
            json={"reference_price": new_price},
            headers={**h, "If-Match": f'"{approved["version"]}"'},
        )
        assert r.status_code == 200, r.text
        decided = c.post(
            f"{url}/change-requests/{r.json()['pending_change_request']}/approve", headers=h
        )
        assert decided.status_code == 200, decided.text

        then = c.get(url, params={"as_of": between.isoformat()})  # public: it was listed then
        assert then.status_code == 200, then.text
        assert then.json()["status"] == "active"
        assert then.json()["data"]["reference_price"]["amount"] == "2399.00"
        assert c.get(url).json()["data"]["reference_price"]["amount"] == "1999.00"
        long_ago = c.get(url, params={"as_of": "2000-01-01T00:00:00Z"}, headers=h)
        assert_problem(long_ago, 404, "not_found_at_time")


# --- lists and batch --------------------------------------------------------------------------


def test_list_filters(client, auth_header):
    hp = listed(
        client,
        auth_header,
        brand="惠普",
        model="LaserJet Pro M501dn",
        reference_price={"amount": "3299.00", "as_of": "2026-11-01"},
    )
    canon = listed(
        client,
        auth_header,
        brand="Canon",
        model="LBP-6230dn",
        reference_price={"amount": "1299.00", "as_of": "2026-11-01"},
    )
    laptop = listed(
        client,
        auth_header,
        catalog_code="A02010000",
        name="笔记本电脑",
        brand="联想",
        model="ThinkPad X1 Carbon",
        specs={"memory_gb": "16GB", "form_factor": "便携式计算机"},
        reference_price={"amount": "8999.00", "as_of": "2026-11-01"},
    )
    draft = create(
        client,
        auth_header,
        brand="HP",
        model="LaserJet Pro M15w",
        reference_price={"amount": "999.00", "as_of": "2026-11-01"},
    )
    delisted = listed(
        client,
        auth_header,
        brand="HP",
        model="LaserJet Pro M203dn",
        reference_price={"amount": "1599.00", "as_of": "2026-11-01"},
    )
    move(client, auth_header, delisted["id"], "delist", reason="停产")
    assert laptop["data"]["specs"] == {"form_factor": "便携式计算机", "memory_gb": 16}

    def found(who=None, **params: Any) -> set[str]:
        headers = auth_header(who) if who else {}
        r = client.get("/v1/commodities", params={"limit": 200, **params}, headers=headers)
        return set(ids_of(r))

    everyone = {hp["id"], canon["id"], laptop["id"], delisted["id"]}
    assert found() == everyone  # the public never sees drafts
    assert found(ROOT) == everyone | {draft["id"]}

    assert found(catalog="A0202") == {hp["id"], canon["id"], delisted["id"]}
    assert found(catalog="A02020000") == {hp["id"], canon["id"], delisted["id"]}
    assert found(catalog="A0201") == {laptop["id"]}
    assert found(catalog="A02") == everyone
    assert found(catalog="A05") == set()
    assert_problem(client.get("/v1/commodities", params={"catalog": "XYZ"}), 400)

    for alias in ("HP", "hp", "惠普", "ＨＰ", "Hewlett-Packard"):
        assert found(brand=alias) == {hp["id"], delisted["id"]}, alias
    assert found(ROOT, brand="惠普") == {hp["id"], delisted["id"], draft["id"]}
    assert found(brand="Lenovo") == {laptop["id"]}
    assert found(brand="佳能") == {canon["id"]}

    assert found(price_min="1299", price_max="3299") == {hp["id"], canon["id"], delisted["id"]}
    assert found(price_min="1299.01") == {hp["id"], laptop["id"], delisted["id"]}
    assert found(price_max="1599") == {canon["id"], delisted["id"]}
    assert found(price_min="5000", price_max="1000") == set()
    assert_problem(client.get("/v1/commodities", params={"price_min": "-1"}), 422)

    assert found(status="delisted") == {delisted["id"]}
    assert found(status=["active", "delisted"]) == everyone
    assert found(ROOT, status="draft") == {draft["id"]}
    assert found(status="draft") == set()

    assert found(eligible=True) == {hp["id"], canon["id"], laptop["id"]}
    assert found(eligible=False) == {delisted["id"]}
    assert found(ROOT, eligible=False) == {delisted["id"], draft["id"]}

    assert found(name="笔记本") == {laptop["id"]}
    assert found(brand="HP", eligible=True, price_max="5000") == {hp["id"]}


def test_list_pages_by_cursor(client, auth_header):
    made = sorted(listed(client, auth_header)["id"] for _ in range(3))
    first = client.get("/v1/commodities", params={"limit": 2}).json()
    assert [i["id"] for i in first["items"]] == made[:2] and first["next_cursor"]
    rest = client.get("/v1/commodities", params={"limit": 2, "cursor": first["next_cursor"]})
    assert ids_of(rest) == made[2:] and rest.json()["next_cursor"] is None


def test_batch_by_ids_names_the_missing(client, auth_header):
    a = listed(client, auth_header)
    b = listed(client, auth_header)
    draft = create(client, auth_header)
    asked = [a["id"], "com_missing", b["id"], draft["id"]]
    r = client.post("/v1/commodities/batch", json={"ids": asked})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["found"]) == {a["id"], b["id"]}
    assert body["found"][a["id"]]["data"]["model"] == a["data"]["model"]
    assert body["missing"] == ["com_missing", draft["id"]]  # drafts are not public

    mine = client.post("/v1/commodities/batch", json={"ids": asked}, headers=auth_header(ROOT))
    assert set(mine.json()["found"]) == {a["id"], b["id"], draft["id"]}
    assert mine.json()["missing"] == ["com_missing"]

    # commodities have no USCC
    no_codes = client.post("/v1/commodities/batch", json={"usccs": ["91150102MA0N123408"]})
    assert_problem(no_codes, 422, "not_applicable")
    # a supplier id is not a commodity
    sup = approved_supplier(client, auth_header)
    other_kind = client.post("/v1/commodities/batch", json={"ids": [sup["id"]]}).json()
    assert other_kind == {"found": {}, "missing": [sup["id"]], "merged": {}}


# --- register once, under concurrency ---------------------------------------------------------

RACERS = 20
SPELLINGS = [
    ("HP", "LaserJet Pro M404dn"),
    ("hp", "laserjet pro  m404dn"),
    ("ＨＰ", "ＬａｓｅｒＪｅｔ Ｐｒｏ Ｍ４０４ｄｎ"),
    ("惠普", "LaserJet Pro M404dn"),
    ("Hewlett-Packard", "LaserJet-Pro-M404dn"),
    ("惠普（HP）", "HP LaserJet Pro M404 dn"),
    ("HP Inc.", "LASERJET PRO M404DN"),
]


def race(call: Callable[[int], Any]) -> list[Any]:
    start = Barrier(RACERS)

    def run(i: int) -> Any:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(run, range(RACERS)))


@pytest.mark.committing
def test_twenty_concurrent_registrations_in_different_spellings_make_one(
    committing_app, committing_db
):
    tokens = [
        committing_app.state.tokens.issue(who)[0]
        for who in (ROOT, staff("150000", StaffRole.admin))
    ]
    with TestClient(committing_app) as c:

        def register(i: int) -> Any:
            brand, model = SPELLINGS[i % len(SPELLINGS)]
            return c.post(
                "/v1/commodities",
                json=orgdata.commodity(brand=brand, model=model, name=f"激光打印机{i}"),
                headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            )

        responses = race(register)

        created = [r for r in responses if r.status_code == 201]
        assert len(created) == 1, sorted({(r.status_code, r.text[:200]) for r in responses})
        winner = created[0].json()["id"]
        for r in responses:
            if r.status_code != 201:
                assert assert_problem(r, 409, "already_registered")["existing_id"] == winner
        found = c.get(
            "/v1/commodities/by-key",
            params={"catalog_code": "A0202", "brand": "惠普", "model": "m404dn laserjet pro"},
            headers={"Authorization": f"Bearer {tokens[0]}"},
        )
        # word order matters: a different model
        assert found.status_code == 404

    with committing_db.connect() as conn:
        rows = conn.execute(
            text("SELECT id, natural_key FROM organizations WHERE kind = 'commodity'")
        ).all()
        created_events = conn.execute(
            text("SELECT count(*) FROM events WHERE type = 'created'")
        ).scalar_one()
    assert [tuple(r) for r in rows] == [(winner, "A02020000|HP|LASERJETPROM404DN")]
    assert created_events == 1
