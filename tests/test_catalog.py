"""The procurement catalogue: shipped edition, tree reads, all-or-nothing imports, versioning."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlmodel import col, func, select

from models.account import StaffRole
from models.catalog import CatalogItem
from models.region import ReferenceDataLoad
from registry import catalog
from registry.codes import catalog_level, catalog_prefix
from tests.conftest import assert_problem, staff

SHIPPED = catalog.DEFAULT_CATALOG_FILE
SHIPPED_VALID_FROM = date(2023, 1, 1)
IMPORT = "/v1/catalog/import"


def shipped_rows() -> list[dict[str, str]]:
    lines = [
        line
        for line in SHIPPED.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    return list(csv.DictReader(lines))


SHIPPED_ROWS = shipped_rows()
SHIPPED_CODES = [r["code"] for r in SHIPPED_ROWS]
# real level-3 parents from the data file (the shipped file stops at level 3)
GOODS_L3 = next(
    r for r in SHIPPED_ROWS if r["code"].startswith("A02") and catalog_level(r["code"]) == 3
)
SERVICES_L3 = next(
    r for r in SHIPPED_ROWS if r["code"].startswith("C") and catalog_level(r["code"]) == 3
)


def child_of(parent: str, pair: str = "01") -> str:
    """The official code of a new child of `parent` one level down."""
    return (catalog_prefix(parent) + pair).ljust(9, "0")


NEW_GOODS = child_of(GOODS_L3["code"])


def root_admin(auth_header) -> dict[str, str]:
    return auth_header(staff("150000"))


def post_import(client, headers, content: bytes, filename: str = "catalog.csv", **form: object):
    return client.post(
        IMPORT,
        files={"file": (filename, content, "application/octet-stream")},
        data={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()},
        headers=headers,
    )


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def list_all(client, **params) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {"limit": 200, **params}
        if cursor:
            query["cursor"] = cursor
        r = client.get("/v1/catalog", params=query)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def codes(items: list[dict]) -> list[str]:
    return [i["code"] for i in items]


def loads(session) -> int:
    return session.exec(select(func.count()).select_from(ReferenceDataLoad)).one()


def versions(session, code: str) -> list[CatalogItem]:
    session.expire_all()
    return list(
        session.exec(
            select(CatalogItem)
            .where(CatalogItem.code == code)
            .order_by(col(CatalogItem.valid_from))
        )
    )


# --- the shipped catalogue --------------------------------------------------------------------


def test_shipped_catalog_has_goods_works_services_roots(client):
    roots = client.get("/v1/catalog", params={"level": 1}).json()["items"]
    assert [(r["code"], r["name"], r["category"]) for r in roots] == [
        ("A", "货物", "goods"),
        ("B", "工程", "works"),
        ("C", "服务", "services"),
    ]
    assert all(r["parent_code"] is None and r["prefix"] == r["code"] for r in roots)


def test_shipped_catalog_matches_data_file_and_pages_in_code_order(client):
    items = list_all(client)
    assert codes(items) == sorted(SHIPPED_CODES)
    assert len(set(codes(items))) == len(SHIPPED_CODES) == 362
    by_code = {i["code"]: i for i in items}
    for row in SHIPPED_ROWS:
        item = by_code[row["code"]]
        assert (item["name"], item["parent_code"], item["category"]) == (
            row["name"],
            row["parent_code"] or None,
            row["category"],
        )
        assert item["valid_from"] == "2023-01-01"


@pytest.mark.parametrize("prefix", ["A02", "A02000000", "a02"])
def test_prefix_filter_returns_the_subtree_only(client, prefix):
    items = list_all(client, prefix=prefix)
    expected = sorted(c for c in SHIPPED_CODES if c.startswith("A02"))
    assert codes(items) == expected
    assert "A02000000" in codes(items)
    assert all(c.startswith("A02") for c in codes(items))


@pytest.mark.parametrize("code", ["A0201", "A02010000", "a0201"])
def test_item_detail_accepts_short_and_official_codes(client, code):
    r = client.get(f"/v1/catalog/{code}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == "A02010000"
    assert body["name"] == "信息化设备"
    assert body["level"] == 3
    assert body["prefix"] == "A0201"
    assert body["parent_code"] == "A02000000"
    assert codes(body["ancestors"]) == ["A", "A02000000"]
    assert body["children"] == []  # the shipped edition stops at level 3


def test_item_detail_lists_direct_children(client):
    body = client.get("/v1/catalog/A02").json()
    assert codes(body["ancestors"]) == ["A"]
    expected = [r["code"] for r in SHIPPED_ROWS if r["parent_code"] == "A02000000"]
    assert codes(body["children"]) == expected
    assert "A02010000" in codes(body["children"])


@pytest.mark.parametrize("parent", ["A02", "A02000000"])
def test_parent_filter_accepts_short_and_official_codes(client, parent):
    expected = [r["code"] for r in SHIPPED_ROWS if r["parent_code"] == "A02000000"]
    assert codes(list_all(client, parent=parent)) == expected


def test_subtree_endpoint_accepts_short_code(client):
    r = client.get("/v1/catalog/A02/subtree")
    assert r.status_code == 200
    assert codes(r.json()["items"]) == sorted(c for c in SHIPPED_CODES if c.startswith("A02"))


def test_name_filter_matches_substrings(client):
    items = list_all(client, name="设备")
    assert "A02000000" in codes(items)
    assert "A02010000" in codes(items)
    assert all("设备" in i["name"] for i in items)
    assert list_all(client, name="没有这种品目") == []


@pytest.mark.parametrize(
    ("category", "letter"), [("services", "C"), ("goods", "A"), ("works", "B")]
)
def test_category_filter_returns_only_that_letter(client, category, letter):
    items = list_all(client, category=category)
    assert codes(items) == sorted(c for c in SHIPPED_CODES if c.startswith(letter))
    assert {i["category"] for i in items} == {category}


def test_unknown_category_is_422(client):
    assert_problem(
        client.get("/v1/catalog", params={"category": "things"}), 422, "validation_failed"
    )


@pytest.mark.parametrize("code", ["X99", "A0", "A00010000", "A0002", "A020100001"])
def test_malformed_catalog_code_is_400_everywhere(client, code):
    assert_problem(client.get(f"/v1/catalog/{code}"), 400, "invalid_catalog_code")
    assert_problem(client.get(f"/v1/catalog/{code}/subtree"), 400, "invalid_catalog_code")
    assert_problem(client.get("/v1/catalog", params={"prefix": code}), 400, "invalid_catalog_code")
    assert_problem(client.get("/v1/catalog", params={"parent": code}), 400, "invalid_catalog_code")


@pytest.mark.parametrize("code", ["A99990000", "A9999"])
def test_unknown_but_valid_code_is_404(client, code):
    assert_problem(client.get(f"/v1/catalog/{code}"), 404, "catalog_item_not_found")


# --- import: good files -----------------------------------------------------------------------


def test_csv_import_adds_a_level_4_code(client, auth_header):
    content = csv_bytes(
        "code,name,parent_code,category",
        f"{NEW_GOODS},测试设备,{GOODS_L3['code']},goods",
    )
    r = post_import(client, root_admin(auth_header), content, valid_from="2026-01-01")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "accepted": True,
        "rows": 1,
        "created": 1,
        "renamed": 0,
        "retired": 0,
        "unchanged": 0,
        "errors": [],
    }
    item = client.get(f"/v1/catalog/{NEW_GOODS}").json()
    assert (item["name"], item["level"], item["parent_code"], item["category"]) == (
        "测试设备",
        4,
        GOODS_L3["code"],
        "goods",
    )
    assert item["valid_from"] == "2026-01-01"
    assert codes(item["ancestors"]) == ["A", "A02000000", GOODS_L3["code"]]
    parent = client.get(f"/v1/catalog/{GOODS_L3['code']}").json()
    assert codes(parent["children"]) == [NEW_GOODS]


def test_xlsx_import_adds_a_level_4_code(client, auth_header):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "name", "parent_code", "category"])
    sheet.append([NEW_GOODS, "表格导入的设备", GOODS_L3["code"], "goods"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    r = post_import(
        client,
        root_admin(auth_header),
        buffer.getvalue(),
        filename="目录.xlsx",
        valid_from="2026-01-01",
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert r.json()["accepted"] is True
    assert client.get(f"/v1/catalog/{NEW_GOODS}").json()["name"] == "表格导入的设备"


def test_chinese_headers_short_codes_and_category_names_are_accepted(client, auth_header):
    parent_short = catalog_prefix(SERVICES_L3["code"])
    content = csv_bytes(
        "品目编码,品目名称,上级编码,类别",
        f"{parent_short}01,测试服务,{parent_short},服务",
    )
    r = post_import(client, root_admin(auth_header), content, valid_from="2026-01-01")
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    new_code = child_of(SERVICES_L3["code"])
    item = client.get(f"/v1/catalog/{parent_short}01").json()
    assert (item["code"], item["name"], item["category"]) == (new_code, "测试服务", "services")


def test_file_header_valid_from_is_used_when_no_form_date(client, auth_header):
    content = csv_bytes("# valid_from: 2026-03-01", "code,name", f"{NEW_GOODS},文件头日期")
    r = post_import(client, root_admin(auth_header), content)
    assert r.status_code == 200, r.text
    assert client.get(f"/v1/catalog/{NEW_GOODS}").json()["valid_from"] == "2026-03-01"


def test_dry_run_reports_but_writes_nothing(client, session, auth_header):
    before = loads(session)
    content = csv_bytes("code,name", f"{NEW_GOODS},试运行设备", "A02010000,信息化设备(改)")
    r = post_import(client, root_admin(auth_header), content, valid_from="2026-01-01", dry_run=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["created"], body["renamed"], body["errors"]) == (False, 1, 1, [])
    assert_problem(client.get(f"/v1/catalog/{NEW_GOODS}"), 404, "catalog_item_not_found")
    assert client.get("/v1/catalog/A0201").json()["name"] == "信息化设备"
    assert loads(session) == before


# --- import: bad files ------------------------------------------------------------------------


def test_file_with_bad_rows_lists_every_problem_and_writes_nothing(client, session, auth_header):
    parent = GOODS_L3["code"]
    sibling_parent = next(
        r["code"] for r in SHIPPED_ROWS if r["parent_code"] == "A02000000" and r["code"] != parent
    )
    content = csv_bytes(
        "# a comment line counts as a line",
        "code,name,parent_code,category",
        f"{child_of(parent, '01')},好的品目,{parent},goods",  # 3: fine
        "A0201010X,坏编码,,goods",  # 4: code format
        f"{child_of(parent, '02')},,{parent},goods",  # 5: empty name
        f"{child_of(parent, '03')},错上级,{sibling_parent},goods",  # 6: wrong parent_code
        f"{child_of(parent, '04')},错类别,{parent},services",  # 7: category mismatch
        f"{child_of(parent, '01')},重复编码,{parent},goods",  # 8: duplicate code
        "A99010100,没有上级,,goods",  # 9: parent in neither file nor catalogue
    )
    before = loads(session)
    r = post_import(client, root_admin(auth_header), content, valid_from="2026-01-01")
    body = assert_problem(r, 422, "invalid_rows")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (4, "code"),
        (5, "name"),
        (6, "parent_code"),
        (7, "category"),
        (8, "code"),
        (9, "parent_code"),
    ]
    assert all(e["message"] for e in body["errors"])
    assert body["report"]["accepted"] is False
    # nothing written, not even the good row
    assert_problem(client.get(f"/v1/catalog/{child_of(parent, '01')}"), 404)
    assert codes(list_all(client, prefix=catalog_prefix(parent))) == [parent]
    assert loads(session) == before


def test_unsupported_file_type_is_400(client, auth_header):
    r = post_import(client, root_admin(auth_header), b"%PDF-1.4", filename="catalog.pdf")
    assert_problem(r, 400, "unsupported_file_type")


def test_corrupt_xlsx_is_400(client, auth_header):
    r = post_import(
        client,
        root_admin(auth_header),
        b"PK\x03\x04 this is not a workbook",
        filename="catalog.xlsx",
    )
    assert_problem(r, 400, "invalid_file")


def test_file_without_name_column_is_422(client, auth_header):
    r = post_import(client, root_admin(auth_header), csv_bytes("code,title", f"{NEW_GOODS},测试"))
    body = assert_problem(r, 422, "invalid_file")
    assert "name" in body["detail"]


def test_import_with_unknown_mode_is_422(client, auth_header):
    r = post_import(
        client, root_admin(auth_header), csv_bytes("code,name", f"{NEW_GOODS},测试"), mode="upsert"
    )
    assert_problem(r, 422, "validation_failed")


# --- import: authorization --------------------------------------------------------------------


def test_anonymous_import_is_401(client):
    assert_problem(post_import(client, {}, csv_bytes("code,name", f"{NEW_GOODS},测试")), 401)


@pytest.mark.parametrize(
    "principal",
    [staff("150100"), staff("150000", StaffRole.reviewer), staff("150102")],
    ids=["prefecture-admin", "root-reviewer", "county-admin"],
)
def test_only_the_root_admin_may_import(client, auth_header, principal):
    r = post_import(client, auth_header(principal), csv_bytes("code,name", f"{NEW_GOODS},测试"))
    assert_problem(r, 403)
    assert_problem(client.get(f"/v1/catalog/{NEW_GOODS}"), 404)


# --- versioning -------------------------------------------------------------------------------


def test_rename_closes_the_old_version_and_keeps_it_for_as_of_reads(client, session, auth_header):
    content = csv_bytes("code,name", "A0201,信息化设备(2026版)")
    r = post_import(client, root_admin(auth_header), content, valid_from="2026-01-01")
    assert r.status_code == 200, r.text
    assert (r.json()["renamed"], r.json()["created"]) == (1, 0)

    old, new = versions(session, "A02010000")
    assert (old.name, old.valid_from, old.valid_to) == (
        "信息化设备",
        SHIPPED_VALID_FROM,
        date(2026, 1, 1),
    )
    assert (new.name, new.valid_from, new.valid_to) == (
        "信息化设备(2026版)",
        date(2026, 1, 1),
        None,
    )

    current = client.get("/v1/catalog/A0201").json()
    assert current["name"] == "信息化设备(2026版)"
    then = client.get("/v1/catalog/A0201", params={"as_of": "2025-06-01"}).json()
    assert (then["name"], then["valid_to"]) == ("信息化设备", "2026-01-01")
    parent = client.get("/v1/catalog/A02").json()
    assert "信息化设备(2026版)" in [c["name"] for c in parent["children"]]


@pytest.mark.parametrize("valid_from", ["2023-01-01", "2022-06-01"])
def test_rename_not_later_than_the_current_version_is_422(client, session, auth_header, valid_from):
    content = csv_bytes("code,name", "A02010000,信息化设备(改)")
    r = post_import(client, root_admin(auth_header), content, valid_from=valid_from)
    body = assert_problem(r, 422, "invalid_rows")
    assert [e["field"] for e in body["errors"]] == ["valid_from"]
    assert [v.name for v in versions(session, "A02010000")] == ["信息化设备"]


def test_rename_date_error_points_at_the_file_line(client, auth_header):
    content = csv_bytes("code,name", f"{NEW_GOODS},新增", "A02010000,信息化设备(改)")
    r = post_import(client, root_admin(auth_header), content, valid_from="2023-01-01")
    body = assert_problem(r, 422, "invalid_rows")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "valid_from")]


def shipped_without(*drop: str) -> bytes:
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.split(",", 1)[0] not in drop]
    assert len(kept) == len(lines) - len(drop)
    return ("\n".join(kept) + "\n").encode("utf-8")


LEAF = "C24990000"  # a level-3 code: nothing below it in the shipped edition


def test_replace_retires_the_codes_the_file_no_longer_lists(client, session):
    assert not any(r["parent_code"] == LEAF for r in SHIPPED_ROWS)
    report = catalog.import_catalog(
        session,
        data=shipped_without(LEAF),
        filename="catalog.csv",
        mode="replace",
        valid_from=date(2026, 1, 1),
    )
    assert report.errors == []
    assert (report.accepted, report.retired, report.created, report.renamed) == (True, 1, 0, 0)
    assert report.unchanged == len(SHIPPED_CODES) - 1

    (only,) = versions(session, LEAF)  # retired, not deleted
    assert only.valid_to == date(2026, 1, 1)
    assert_problem(client.get(f"/v1/catalog/{LEAF}"), 404, "catalog_item_not_found")
    assert LEAF not in codes(list_all(client, prefix="C24"))
    assert (
        client.get(f"/v1/catalog/{LEAF}", params={"as_of": "2025-06-01"}).json()["valid_to"]
        == "2026-01-01"
    )
    assert client.get("/v1/catalog/C24").status_code == 200


def test_replace_cannot_retire_a_parent_whose_children_remain(session):
    parent = "A02000000"
    children = [r["code"] for r in SHIPPED_ROWS if r["parent_code"] == parent]
    before = loads(session)
    report = catalog.import_catalog(
        session,
        data=shipped_without(parent),
        filename="catalog.csv",
        mode="replace",
        valid_from=date(2026, 1, 1),
    )
    assert report.accepted is False
    assert len(report.errors) == len(children)
    assert {e.field for e in report.errors} == {"parent_code"}
    assert all(parent in e.message for e in report.errors)
    assert [v.valid_to for v in versions(session, parent)] == [None]
    assert loads(session) == before


def test_replace_dry_run_writes_nothing(session):
    report = catalog.import_catalog(
        session,
        data=shipped_without(LEAF),
        filename="catalog.csv",
        mode="replace",
        valid_from=date(2026, 1, 1),
        dry_run=True,
    )
    assert (report.accepted, report.retired, report.errors) == (False, 1, [])
    assert [v.valid_to for v in versions(session, LEAF)] == [None]


def test_merge_never_retires_unlisted_codes(session):
    report = catalog.import_catalog(
        session,
        data=csv_bytes("code,name", f"{NEW_GOODS},新增"),
        filename="x.csv",
        valid_from=date(2026, 1, 1),
    )
    assert (report.accepted, report.created, report.retired) == (True, 1, 0)
    current = session.exec(
        select(func.count()).select_from(CatalogItem).where(col(CatalogItem.valid_to).is_(None))
    )
    assert current.one() == len(SHIPPED_CODES) + 1


def test_replace_on_the_current_editions_date_is_a_row_error_not_a_crash(session):
    report = catalog.import_catalog(
        session,
        data=shipped_without(LEAF),
        filename="catalog.csv",
        mode="replace",
        valid_from=SHIPPED_VALID_FROM,
    )
    assert report.accepted is False
    assert [e.field for e in report.errors] == ["valid_from"]


def test_a_retired_code_comes_back_only_after_its_old_version_ended(session):
    retire = catalog.import_catalog(
        session,
        data=shipped_without(LEAF),
        filename="catalog.csv",
        mode="replace",
        valid_from=date(2026, 1, 1),
    )
    assert retire.accepted
    again = csv_bytes("code,name", f"{LEAF},其他社会服务(恢复)")
    too_early = catalog.import_catalog(
        session, data=again, filename="again.csv", valid_from=date(2025, 6, 1)
    )
    assert not too_early.accepted
    assert [(e.row, e.field) for e in too_early.errors] == [(2, "valid_from")]

    back = catalog.import_catalog(
        session, data=again, filename="again.csv", valid_from=date(2026, 3, 1)
    )
    assert (back.accepted, back.created) == (True, 1)
    old, new = versions(session, LEAF)
    assert (old.valid_to, new.valid_from, new.valid_to) == (
        date(2026, 1, 1),
        date(2026, 3, 1),
        None,
    )
