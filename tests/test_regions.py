"""Regions (GB/T 2260) and bureaus: the shipped tree, tree queries, new editions, bureau edits."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, func, select

from api.pagination import encode_cursor
from models.account import StaffRole
from models.region import Bureau, ReferenceDataLoad, Region
from registry import regions
from registry.codes import region_prefix
from registry.errors import RegistryError
from tests.conftest import assert_problem, staff

SHIPPED = regions.DEFAULT_REGION_FILE
SHIPPED_AS_OF = date(2024, 12, 31)
HOHHOT_COUNTIES = [
    "新城区",
    "回民区",
    "玉泉区",
    "赛罕区",
    "土默特左旗",
    "托克托县",
    "和林格尔县",
    "清水河县",
    "武川县",
]


def shipped_rows() -> list[dict[str, str]]:
    lines = [
        line
        for line in SHIPPED.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    return list(csv.DictReader(lines))


def all_regions(client, **params) -> list[dict]:
    r = client.get("/v1/regions", params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    return body["items"]


def codes(items: list[dict]) -> list[str]:
    return [i["code"] for i in items]


def write_edition(
    tmp_path: Path, as_of: str, rows: list[dict[str, str]], name: str = "regions.csv"
) -> Path:
    path = tmp_path / name
    lines = ["# source: test edition", f"# as_of: {as_of}", "code,name,level,parent_code"]
    lines += [f"{r['code']},{r['name']},{r['level']},{r['parent_code']}" for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the shipped tree -------------------------------------------------------------------------


def test_shipped_tree_has_one_province_12_prefectures_103_counties(client):
    assert codes(all_regions(client, level="province")) == ["150000"]
    assert len(all_regions(client, level="prefecture")) == 12
    assert len(all_regions(client, level="county")) == 103
    assert len(all_regions(client)) == 116


def test_shipped_tree_matches_data_file(client):
    expected = {
        r["code"]: (r["name"], r["level"], r["parent_code"] or None) for r in shipped_rows()
    }
    got = {i["code"]: (i["name"], i["level"], i["parent_code"]) for i in all_regions(client)}
    assert got == expected


def test_every_county_hangs_under_a_prefecture_sharing_its_prefix(client):
    by_code = {i["code"]: i for i in all_regions(client)}
    counties = [i for i in by_code.values() if i["level"] == "county"]
    assert counties
    for county in counties:
        parent = by_code[county["parent_code"]]
        assert parent["level"] == "prefecture", county
        assert county["code"].startswith(region_prefix(parent["code"])), county
    for prefecture in (i for i in by_code.values() if i["level"] == "prefecture"):
        assert prefecture["parent_code"] == "150000"


def test_every_current_region_has_exactly_one_bureau_named_after_it(session):
    current = session.exec(select(Region).where(col(Region.valid_to).is_(None))).all()
    assert len(current) == 116
    bureaus = session.exec(select(Bureau)).all()
    by_region: dict[str, list[Bureau]] = {}
    for bureau in bureaus:
        by_region.setdefault(bureau.region_code, []).append(bureau)
    for region in current:
        assert len(by_region.get(region.code, [])) == 1, region.code
        suffix = "财政厅" if region.code == "150000" else "财政局"
        assert by_region[region.code][0].name == f"{region.name}{suffix}"
    assert by_region["150000"][0].name == "内蒙古自治区财政厅"


# --- tree queries -----------------------------------------------------------------------------


def test_region_detail_lists_ancestors_root_first_and_its_bureau(client):
    body = client.get("/v1/regions/150102").json()
    assert body["name"] == "新城区"
    assert body["level"] == "county"
    assert codes(body["ancestors"]) == ["150000", "150100"]
    assert body["children"] == []
    assert body["bureau"]["region_code"] == "150102"
    assert body["bureau"]["name"] == "新城区财政局"


def test_prefecture_detail_lists_its_nine_counties_in_code_order(client):
    from_file = [r["name"] for r in shipped_rows() if r["parent_code"] == "150100"]
    assert from_file == HOHHOT_COUNTIES
    body = client.get("/v1/regions/150100").json()
    assert [c["name"] for c in body["children"]] == HOHHOT_COUNTIES
    assert codes(body["children"]) == sorted(codes(body["children"]))
    assert codes(body["ancestors"]) == ["150000"]
    assert body["bureau"]["name"] == "呼和浩特市财政局"


def test_subtree_is_the_prefecture_and_its_counties_only(client):
    r = client.get("/v1/regions/150100/subtree")
    assert r.status_code == 200
    items = r.json()["items"]
    expected = ["150100"] + [x["code"] for x in shipped_rows() if x["parent_code"] == "150100"]
    assert codes(items) == expected
    assert not any(c.startswith("1502") for c in codes(items))


def test_within_filter_returns_the_subtree_including_its_root(client):
    items = all_regions(client, within="152900")
    assert codes(items) == ["152900", "152921", "152922", "152923"]
    assert [i["name"] for i in items] == ["阿拉善盟", "阿拉善左旗", "阿拉善右旗", "额济纳旗"]


def test_parent_filter_returns_direct_children_only(client):
    items = all_regions(client, parent="150000")
    assert len(items) == 12
    assert {i["level"] for i in items} == {"prefecture"}
    assert codes(all_regions(client, parent="152900")) == ["152921", "152922", "152923"]


def test_name_filter_matches_substrings(client):
    assert codes(all_regions(client, name="阿拉善")) == ["152900", "152921", "152922"]
    names = [i["name"] for i in all_regions(client, name="旗")]
    assert names and all("旗" in n for n in names)
    assert all_regions(client, name="不存在的地名") == []


def test_name_filter_does_not_match_json_syntax_of_former_names(client):
    assert all_regions(client, name="[") == []


def test_keyset_paging_visits_every_region_once_in_code_order(client):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/regions", params=params).json()
        pages += 1
        assert len(body["items"]) <= 7
        seen += codes(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 30
    assert pages == 17  # 16 full pages and one of 4
    assert len(seen) == 116
    assert seen == sorted(set(seen))
    assert seen == sorted(r["code"] for r in shipped_rows())


@pytest.mark.parametrize(
    "cursor", ["not-a-cursor!", encode_cursor(["150100", "x"]), encode_cursor({"a": 1})]
)
def test_invalid_cursor_is_400(client, cursor):
    assert_problem(client.get("/v1/regions", params={"cursor": cursor}), 400, "invalid_cursor")


def test_cursor_with_a_non_string_key_is_400_not_500(client):
    assert_problem(
        client.get("/v1/regions", params={"cursor": encode_cursor([150100])}), 400, "invalid_cursor"
    )


@pytest.mark.parametrize("limit", [0, 201])
def test_limit_out_of_range_is_422(client, limit):
    body = assert_problem(
        client.get("/v1/regions", params={"limit": limit}), 422, "validation_failed"
    )
    assert body["errors"][0]["field"] == "limit"


def test_unknown_region_is_404(client):
    assert_problem(client.get("/v1/regions/159999"), 404, "region_not_found")
    assert_problem(client.get("/v1/regions/159999/subtree"), 404, "region_not_found")


@pytest.mark.parametrize("path", ["/v1/regions/15010", "/v1/regions/1501000", "/v1/regions/15010a"])
def test_malformed_region_code_is_422(client, path):
    assert_problem(client.get(path), 422, "validation_failed")


def test_malformed_filter_codes_are_422(client):
    assert_problem(client.get("/v1/regions", params={"parent": "1501"}), 422, "validation_failed")
    assert_problem(client.get("/v1/regions", params={"within": "abcdef"}), 422, "validation_failed")


# --- loading a new edition --------------------------------------------------------------------


@pytest.fixture
def new_edition(tmp_path: Path) -> Path:
    """2025-12-31: 150102 renamed, 152923 dropped, 152924 added."""
    rows = [dict(r) for r in shipped_rows() if r["code"] != "152923"]
    for row in rows:
        if row["code"] == "150102":
            row["name"] = "新城新区"
    rows.append({"code": "152924", "name": "测试旗", "level": "county", "parent_code": "152900"})
    return write_edition(tmp_path, "2025-12-31", rows)


def test_new_edition_report_lists_created_renamed_and_retired(session, new_edition):
    report = regions.load_region_file(session, new_edition)
    assert report.as_of == date(2025, 12, 31)
    assert report.created == ["152924"]
    assert report.renamed == ["150102"]
    assert report.retired == ["152923"]
    assert report.moved == []
    assert report.bureaus_created == 1
    assert not report.already_loaded


def test_renamed_county_keeps_its_former_name_and_is_found_by_it(session, client, new_edition):
    regions.load_region_file(session, new_edition)
    body = client.get("/v1/regions/150102").json()
    assert body["name"] == "新城新区"
    assert body["former_names"] == ["新城区"]
    assert codes(all_regions(client, name="新城区")) == ["150102"]
    assert codes(all_regions(client, name="新城新区")) == ["150102"]


def test_code_missing_from_new_edition_is_retired_not_deleted(session, client, new_edition):
    regions.load_region_file(session, new_edition)
    assert session.get(Region, "152923") is not None

    r = client.get("/v1/regions/152923")
    assert r.status_code == 200
    assert r.json()["valid_to"] == "2025-12-31"
    assert r.json()["name"] == "额济纳旗"

    assert "152923" not in codes(all_regions(client))
    assert "152923" not in codes(all_regions(client, within="152900"))
    assert "152923" in codes(all_regions(client, include_retired="true"))
    assert "152923" in codes(all_regions(client, within="152900", as_of="2025-06-01"))
    assert "152923" not in codes(all_regions(client, within="152900", as_of="2025-12-31"))
    children = client.get("/v1/regions/152900").json()["children"]
    assert "152923" not in codes(children)
    children_then = client.get("/v1/regions/152900", params={"as_of": "2025-06-01"}).json()[
        "children"
    ]
    assert "152923" in codes(children_then)


def test_new_code_appears_with_its_bureau(session, client, new_edition):
    regions.load_region_file(session, new_edition)
    body = client.get("/v1/regions/152924").json()
    assert body["name"] == "测试旗"
    assert body["valid_from"] == "2025-12-31"
    assert codes(body["ancestors"]) == ["150000", "152900"]
    assert body["bureau"]["name"] == "测试旗财政局"
    assert codes(all_regions(client, within="152900")) == ["152900", "152921", "152922", "152924"]
    # not yet valid on an earlier date
    assert "152924" not in codes(all_regions(client, within="152900", as_of="2025-06-01"))


def test_loading_the_same_edition_again_is_a_no_op(session, new_edition):
    regions.load_region_file(session, new_edition)
    loads_before = session.exec(select(func.count()).select_from(ReferenceDataLoad)).one()
    again = regions.load_region_file(session, new_edition)
    assert again.already_loaded
    assert (again.created, again.renamed, again.retired, again.bureaus_created) == ([], [], [], 0)
    assert session.exec(select(func.count()).select_from(ReferenceDataLoad)).one() == loads_before
    assert session.get(Region, "150102").former_names == ["新城区"]


def test_loading_the_shipped_edition_again_is_a_no_op(session):
    assert regions.load_region_file(session, SHIPPED).already_loaded


def test_loading_an_older_edition_is_refused_as_stale(session, tmp_path, new_edition):
    older = write_edition(tmp_path, "2024-06-30", shipped_rows()[:-1], name="older.csv")
    with pytest.raises(RegistryError) as exc:
        regions.load_region_file(session, older)
    assert exc.value.code == "stale_reference_data"

    regions.load_region_file(session, new_edition)
    with pytest.raises(RegistryError) as exc:
        regions.load_region_file(session, SHIPPED)  # 2024-12-31 after 2025-12-31 was loaded
    assert exc.value.code == "stale_reference_data"
    assert session.get(Region, "152923").valid_to == date(2025, 12, 31)


def test_edition_with_errors_lists_every_bad_row_and_writes_nothing(session, tmp_path):
    rows = shipped_rows()
    rows += [
        {"code": "15010x", "name": "坏代码", "level": "county", "parent_code": "150100"},
        {"code": "152801", "name": "无上级", "level": "county", "parent_code": "152800"},
        {"code": "150103", "name": "回民区", "level": "county", "parent_code": "150100"},
        {"code": "150199", "name": "错上级", "level": "county", "parent_code": "150200"},
    ]
    path = write_edition(tmp_path, "2025-12-31", rows)
    first_added_line = 3 + len(shipped_rows()) + 1  # two comment lines, the header, shipped rows
    loads_before = session.exec(select(func.count()).select_from(ReferenceDataLoad)).one()

    with pytest.raises(RegistryError) as exc:
        regions.load_region_file(session, path)

    assert exc.value.code == "invalid_rows"
    assert exc.value.status == 422
    got = sorted((e["row"], e["field"]) for e in exc.value.errors or [])
    assert got == [
        (first_added_line, "code"),
        (first_added_line + 1, "parent_code"),
        (first_added_line + 2, "code"),
        (first_added_line + 3, "parent_code"),
    ]
    assert all(
        any("\u4e00" <= ch <= "\u9fff" for ch in e["message"]) for e in exc.value.errors or []
    )
    session.expire_all()
    assert session.get(Region, "152801") is None
    assert session.get(Region, "150199") is None
    assert session.exec(select(func.count()).select_from(ReferenceDataLoad)).one() == loads_before


def test_edition_without_as_of_header_is_refused(session, tmp_path):
    path = tmp_path / "no-date.csv"
    path.write_text(
        "code,name,level,parent_code\n150000,内蒙古自治区,province,\n", encoding="utf-8"
    )
    with pytest.raises(RegistryError) as exc:
        regions.load_region_file(session, path)
    assert exc.value.code == "invalid_file"


def test_database_refuses_to_delete_a_region(session):
    with pytest.raises(DBAPIError) as exc, session.begin_nested():
        session.execute(text("DELETE FROM regions WHERE code = '152923'"))
    assert exc.value.orig is not None
    assert exc.value.orig.sqlstate == "23001"  # restrict_violation, raised by the trigger
    assert "never deleted" in str(exc.value.orig)
    # the test transaction survived the refused statement
    assert session.get(Region, "152923") is not None


# --- bureaus ----------------------------------------------------------------------------------


def test_bureau_read_is_public_and_carries_an_etag(client):
    r = client.get("/v1/bureaus/150102")
    assert r.status_code == 200
    assert r.headers["ETag"] == '"1"'
    body = r.json()
    assert body == {
        "region_code": "150102",
        "name": "新城区财政局",
        "address": None,
        "phone": None,
        "version": 1,
    }


def test_unknown_bureau_is_404(client):
    assert_problem(client.get("/v1/bureaus/159999"), 404, "bureau_not_found")


def test_prefecture_admin_updates_a_county_bureau_with_if_match(client, auth_header):
    etag = client.get("/v1/bureaus/150102").headers["ETag"]
    r = client.patch(
        "/v1/bureaus/150102",
        json={"address": " 呼和浩特市新城区 ", "phone": "0471-6600000"},
        headers={**auth_header(staff("150100")), "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    body = r.json()
    assert body["version"] == 2
    assert body["address"] == "呼和浩特市新城区"
    assert body["phone"] == "0471-6600000"
    assert body["name"] == "新城区财政局"
    again = client.get("/v1/bureaus/150102")
    assert again.headers["ETag"] == '"2"'
    assert again.json()["phone"] == "0471-6600000"


def test_bureau_admin_updates_its_own_bureau(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150100",
        json={"name": "呼和浩特市财政局(新)"},
        headers={**auth_header(staff("150100")), "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "呼和浩特市财政局(新)"


def test_admin_of_another_prefecture_may_not_update_the_bureau(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102",
        json={"phone": "0471-6600000"},
        headers={**auth_header(staff("150200")), "If-Match": '"1"'},
    )
    assert_problem(r, 403)
    assert client.get("/v1/bureaus/150102").json()["phone"] is None


def test_county_admin_may_not_update_the_prefecture_bureau(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150100",
        json={"phone": "0471-6600000"},
        headers={**auth_header(staff("150102")), "If-Match": '"1"'},
    )
    assert_problem(r, 403)


def test_reviewer_may_not_update_a_bureau(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102",
        json={"phone": "0471-6600000"},
        headers={**auth_header(staff("150100", StaffRole.reviewer)), "If-Match": '"1"'},
    )
    assert_problem(r, 403)


def test_anonymous_bureau_update_is_401(client):
    r = client.patch(
        "/v1/bureaus/150102", json={"phone": "0471-6600000"}, headers={"If-Match": '"1"'}
    )
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_bureau_update_without_if_match_is_428(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102", json={"phone": "0471-6600000"}, headers=auth_header(staff("150100"))
    )
    assert_problem(r, 428, "precondition_required")


def test_bureau_update_with_stale_etag_is_412(client, auth_header):
    headers = {**auth_header(staff("150100")), "If-Match": '"1"'}
    assert (
        client.patch(
            "/v1/bureaus/150102", json={"phone": "0471-1111111"}, headers=headers
        ).status_code
        == 200
    )
    r = client.patch("/v1/bureaus/150102", json={"phone": "0471-2222222"}, headers=headers)
    assert_problem(r, 412, "precondition_failed")
    assert client.get("/v1/bureaus/150102").json()["phone"] == "0471-1111111"


def test_explicit_null_bureau_name_is_422_with_chinese_message(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102",
        json={"name": None},
        headers={**auth_header(staff("150100")), "If-Match": '"1"'},
    )
    body = assert_problem(r, 422, "validation_failed")
    assert [(e["field"], e["message"]) for e in body["errors"]] == [("name", "名称不能为空")]


def test_too_short_bureau_name_is_422_with_chinese_message(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102",
        json={"name": "局"},
        headers={**auth_header(staff("150100")), "If-Match": '"1"'},
    )
    body = assert_problem(r, 422, "validation_failed")
    assert [(e["field"], e["message"]) for e in body["errors"]] == [
        ("name", "长度不能少于 2 个字符")
    ]


def test_bad_bureau_phone_is_422_with_chinese_message(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102",
        json={"phone": "call me maybe"},
        headers={**auth_header(staff("150100")), "If-Match": '"1"'},
    )
    body = assert_problem(r, 422, "validation_failed")
    assert [(e["field"], e["message"]) for e in body["errors"]] == [("phone", "格式不正确")]


def test_blank_bureau_name_is_422(client, auth_header):
    r = client.patch(
        "/v1/bureaus/150102",
        json={"name": "    "},
        headers={**auth_header(staff("150100")), "If-Match": '"1"'},
    )
    assert_problem(r, 422, "validation_failed")
