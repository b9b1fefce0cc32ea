"""Import and export of purchasers, agents and suppliers (CSV / XLSX) through the API and the CLI."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from models.account import StaffRole
from models.organization import RecordKind
from registry import transfer
from registry.cli import app as cli_app
from registry.organizations import OrgFilters
from tests import orgdata
from tests.conftest import assert_problem, staff

XINCHENG_REVIEWER = staff("150102", StaffRole.reviewer)
HOHHOT_REVIEWER = staff("150100", StaffRole.reviewer)
HUIMIN_REVIEWER = staff("150103", StaffRole.reviewer)  # 回民区: a sibling county
HOHHOT_VIEWER = staff("150100", StaffRole.viewer)

ID_NUMBER = "150102198501011232"  # what tests/orgdata.py puts in every supplier
MOBILE = "13800138000"
LANDLINE = "0471-6600123"
ACCOUNT = "6217000012345678"
MAKERS = {
    "suppliers": (RecordKind.supplier, orgdata.supplier),
    "agents": (RecordKind.agent, orgdata.agent),
    "purchasers": (RecordKind.purchaser, orgdata.purchaser),
}
runner = CliRunner()


# --- building files ---------------------------------------------------------------------------


def flat(kind: RecordKind, payload: dict[str, Any]) -> dict[str, str]:
    """A payload as the file's columns (every key, empty where the payload has nothing)."""
    return transfer.data_to_row(kind, payload)


def csv_bytes(rows: list[dict[str, str]], header: list[str] | None = None, encoding="utf-8-sig"):
    header = header or list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[dict[str, str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    header = list(rows[0])
    sheet.append(header)
    for row in rows:
        sheet.append([row[c] for c in header])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client, auth_header, content, *, who=XINCHENG_REVIEWER, plural="suppliers", **form):
    name = "orgs.xlsx" if content[:2] == b"PK" else "orgs.csv"
    return client.post(
        f"/v1/{plural}/import",
        files={"file": (name, content, "application/octet-stream")},
        data={k: str(v).lower() for k, v in form.items()},
        headers=auth_header(who) if who else {},
    )


def read_csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith("\ufeff".encode())  # a BOM, for spreadsheet programs
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def read_xlsx(content: bytes) -> list[dict[str, str]]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def export(client, auth_header, who=None, plural="suppliers", **params) -> Any:
    r = client.get(f"/v1/{plural}/export", params=params, headers=auth_header(who) if who else {})
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    return r


def live_count(session, region_prefix: str = "1501") -> int:
    return session.execute(
        text("SELECT count(*) FROM organizations WHERE region_code LIKE :p"),
        {"p": region_prefix + "%"},
    ).scalar_one()


# --- imports ----------------------------------------------------------------------------------


def test_good_csv_with_chinese_headers_creates_drafts(client, auth_header):
    codes = [orgdata.uscc() for _ in range(3)]
    header = (
        "统一社会信用代码,名称,地区代码,地址,组织形式,企业规模,法定代表人,法定代表人身份证号,"
        "法定代表人电话,注册资本,经营范围,联系人,联系电话,电子邮箱,开户银行,户名,账号,资质"
    )
    lines = [
        f"{codes[0]},内蒙古青城科技有限公司,150102,新华大街 1 号,有限责任公司,小型,张伟,{ID_NUMBER},"
        f"{MOBILE},500,A0201;C16,李娜;王芳,{LANDLINE};13900000000,;wf@example.cn,"
        f"中国银行呼和浩特分行,内蒙古青城科技有限公司,{ACCOUNT},"
        "安全生产许可证|(蒙)JZ安许证字〔2020〕000123|内蒙古自治区住房和城乡建设厅|2020-01-01|2026-12-31",
        f"{codes[1]},内蒙古北疆商贸有限公司,150102,,limited_liability,micro,赵六,,,,A02,,,,,,,",
        f"{codes[2]},内蒙古草原信息有限公司,150102,,股份有限公司,中型,钱七,,,1200.50,C16,,,,,,,",
    ]
    content = ("\ufeff" + header + "\r\n" + "\r\n".join(lines) + "\r\n").encode()
    r = upload(client, auth_header, content)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["accepted"], report["rows"], report["created"], report["errors"]) == (
        True,
        3,
        3,
        [],
    )
    assert [rec["row"] for rec in report["records"]] == [2, 3, 4]
    assert {rec["status"] for rec in report["records"]} == {"draft"}
    first = client.get(
        f"/v1/suppliers/{report['records'][0]['id']}", headers=auth_header(XINCHENG_REVIEWER)
    ).json()
    data = first["data"]
    assert data["legal_form"] == "limited_liability" and data["size"] == "small"
    assert data["business_scope"] == ["A02010000", "C16000000"]
    assert data["contacts"] == [
        {"name": "李娜", "phone": LANDLINE, "email": None, "role": None},
        {"name": "王芳", "phone": "13900000000", "email": "wf@example.cn", "role": None},
    ]
    assert data["bank_accounts"][0]["account_number"] == ACCOUNT
    assert data["qualifications"][0]["valid_to"] == "2026-12-31"
    assert data["legal_representative"]["id_number"] == ID_NUMBER


@pytest.mark.parametrize("plural", ["suppliers", "agents", "purchasers"])
def test_good_xlsx_import_of_each_kind_with_submit(client, auth_header, plural):
    kind, make = MAKERS[plural]
    rows = [flat(kind, make()) for _ in range(4)]
    r = upload(client, auth_header, xlsx_bytes(rows), plural=plural, submit=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["submitted"]) == (4, 4)
    listed = client.get(
        f"/v1/{plural}", params={"within": "150102"}, headers=auth_header(XINCHENG_REVIEWER)
    ).json()["items"]
    mine = {o["id"]: o for o in listed}
    for record in report["records"]:
        assert mine[record["id"]]["status"] == "submitted"
    history = client.get(
        f"/v1/{plural}/{report['records'][0]['id']}/history",
        headers=auth_header(XINCHENG_REVIEWER),
    ).json()
    assert [e["type"] for e in history] == ["created", "submit"]


def test_gb18030_csv_is_read(client, auth_header):
    row = flat(RecordKind.purchaser, orgdata.purchaser())
    r = upload(client, auth_header, csv_bytes([row], encoding="gb18030"), plural="purchasers")
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1


def _bad_file(client, auth_header) -> tuple[bytes, dict[int, str], str]:
    """Two good rows and six bad ones; the line of each bad row and its column."""
    registered = orgdata.supplier()
    r = client.post("/v1/suppliers", json=registered, headers=auth_header(XINCHENG_REVIEWER))
    assert r.status_code == 201, r.text
    good = orgdata.supplier()
    bad_check = orgdata.supplier()
    last = bad_check["uscc"][-1]
    bad_check["uscc"] = bad_check["uscc"][:-1] + ("0" if last != "0" else "1")
    rows = [
        good,  # line 2
        bad_check,  # 3
        orgdata.supplier(name=""),  # 4
        orgdata.supplier(region="159999"),  # 5
        orgdata.supplier(business_scope=["A0201", "A0299"]),  # 6
        orgdata.supplier(uscc=good["uscc"]),  # 7: the same code as line 2
        orgdata.supplier(uscc=registered["uscc"]),  # 8: registered before
        orgdata.supplier(),  # 9
    ]
    expected = {
        3: "uscc",
        4: "name",
        5: "region_code",
        6: "business_scope",
        7: "uscc",
        8: "uscc",
    }
    return csv_bytes([flat(RecordKind.supplier, p) for p in rows]), expected, registered["uscc"]


def test_bad_rows_are_each_reported_and_nothing_is_written(client, auth_header, session):
    content, expected, _ = _bad_file(client, auth_header)
    before = live_count(session)
    r = upload(client, auth_header, content)
    problem = assert_problem(r, 422, "invalid_rows")
    assert {(e["row"], e["field"]) for e in problem["errors"]} == set(expected.items())
    codes = {e["row"]: e["code"] for e in problem["errors"]}
    assert codes[5] == "region_not_found"
    assert codes[6] == "unknown_code" and "A02990000" in problem["errors"][3]["message"]
    assert codes[7] == "duplicate_in_file" and "第 2 行" in problem["errors"][4]["message"]
    assert codes[8] == "already_registered"
    assert problem["report"]["accepted"] is False and problem["report"]["created"] == 0
    assert problem["report"]["failed"] == 6
    assert live_count(session) == before
    assert "****" not in r.text  # nothing restricted was even near a message


def test_take_good_rows_keeps_the_good_ones(client, auth_header, session):
    content, expected, _ = _bad_file(client, auth_header)
    before = live_count(session)
    r = upload(client, auth_header, content, take_good_rows=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["accepted"] is True
    assert (report["rows"], report["created"], report["failed"]) == (8, 2, 6)
    assert [rec["row"] for rec in report["records"]] == [2, 9]
    assert {(e["row"], e["field"]) for e in report["errors"]} == set(expected.items())
    assert live_count(session) == before + 2


def test_take_good_rows_with_no_good_row_is_422(client, auth_header):
    rows = [flat(RecordKind.supplier, orgdata.supplier(region="159999"))]
    r = upload(client, auth_header, csv_bytes(rows), take_good_rows=True)
    assert_problem(r, 422, "invalid_rows")


def test_a_county_cannot_import_for_another_county(client, auth_header, session):
    before = live_count(session)
    rows = [
        flat(RecordKind.supplier, orgdata.supplier(region="150103")),
        flat(RecordKind.supplier, orgdata.supplier(region="150102")),
    ]
    r = upload(client, auth_header, csv_bytes(rows), who=HUIMIN_REVIEWER)
    problem = assert_problem(r, 422, "invalid_rows")
    [error] = problem["errors"]
    assert (error["row"], error["field"], error["code"]) == (3, "region_code", "forbidden")
    assert "管辖" in error["message"]
    assert live_count(session) == before
    # the league above both counties may import both
    ok = upload(client, auth_header, csv_bytes(rows), who=HOHHOT_REVIEWER)
    assert ok.status_code == 200 and ok.json()["created"] == 2


def test_only_staff_may_import(client, auth_header):
    content = csv_bytes([flat(RecordKind.supplier, orgdata.supplier())])
    assert_problem(upload(client, auth_header, content, who=None), 401)
    # a viewer passes the gate but may not register: the row is refused
    problem = assert_problem(upload(client, auth_header, content, who=HOHHOT_VIEWER), 422)
    assert problem["errors"][0]["code"] == "forbidden"


def test_no_restricted_value_appears_in_any_error(client, auth_header):
    bad_id = "150102198501011233"  # wrong check digit
    bad_phone = "1380013800"  # ten digits
    bad_account = "62170-01"  # too short
    rows = [
        # valid restricted values in rows with other errors
        orgdata.supplier(name=""),
        orgdata.supplier(region="159999"),
        orgdata.supplier(business_scope=["A0299"]),
        orgdata.supplier(uscc="91150102MA0000000Z"),
        # invalid restricted values
        orgdata.supplier(legal_representative={"name": "张伟", "id_number": bad_id}),
        orgdata.supplier(legal_representative={"name": "张伟", "phone": bad_phone}),
        orgdata.supplier(contacts=[{"name": "李娜", "phone": bad_phone}]),
        orgdata.supplier(
            bank_accounts=[
                {"bank": "中国银行", "account_name": "测试", "account_number": bad_account}
            ]
        ),
    ]
    r = upload(client, auth_header, csv_bytes([flat(RecordKind.supplier, p) for p in rows]))
    problem = assert_problem(r, 422, "invalid_rows")
    fields = {e["row"]: e["field"] for e in problem["errors"]}
    assert fields[6] == "legal_rep_id_number"
    assert fields[7] == "legal_rep_phone"
    assert fields[8] == "contact_phone"
    assert fields[9] == "bank_account_number"
    for secret in (ID_NUMBER, MOBILE, LANDLINE, ACCOUNT, bad_id, bad_phone, bad_account, "6217001"):
        assert secret not in r.text, secret


def test_file_level_problems(client, auth_header):
    no_uscc = b"name,region_code\n\xe6\xb5\x8b\xe8\xaf\x95,150102\n"
    assert_problem(upload(client, auth_header, no_uscc), 422, "invalid_file")
    row = flat(RecordKind.supplier, orgdata.supplier())
    stray = csv_bytes([{**row, "favourite_colour": "blue"}])
    problem = assert_problem(upload(client, auth_header, stray), 422, "invalid_file")
    assert "favourite_colour" in problem["detail"]
    agent_columns = csv_bytes([{**row, "staff": "赵敏"}])  # staff is an agent's column
    assert_problem(upload(client, auth_header, agent_columns), 422, "invalid_file")
    assert_problem(upload(client, auth_header, b"uscc,name,region_code\n"), 422, "empty_file")
    r = client.post(
        "/v1/suppliers/import",
        files={"file": ("orgs.pdf", b"%PDF")},
        headers=auth_header(XINCHENG_REVIEWER),
    )
    assert_problem(r, 400, "unsupported_file_type")


def test_malformed_packed_cells_are_row_errors(client, auth_header):
    row = flat(RecordKind.supplier, orgdata.supplier())
    row["qualifications"] = "资质|编号|机关|2020-01-01|2025-01-01|多余"
    other = flat(RecordKind.supplier, orgdata.supplier())
    other["qualifications"] = "资质|编号|机关|2026-01-01|2025-01-01"
    problem = assert_problem(upload(client, auth_header, csv_bytes([row, other])), 422)
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        (2, "qualifications"),
        (3, "qualifications"),
    ]


# --- exports ----------------------------------------------------------------------------------


def _imported_and_approved(client, auth_header, n: int = 3) -> list[str]:
    rows = [flat(RecordKind.supplier, orgdata.supplier()) for _ in range(n)]
    r = upload(client, auth_header, csv_bytes(rows), submit=True)
    assert r.status_code == 200, r.text
    ids = [rec["id"] for rec in r.json()["records"]]
    for org_id in ids:
        ok = client.post(f"/v1/suppliers/{org_id}/approve", headers=auth_header(XINCHENG_REVIEWER))
        assert ok.status_code == 200, ok.text
    return ids


def test_export_masks_as_the_api_does(client, auth_header):
    ids = _imported_and_approved(client, auth_header)
    draft = upload(client, auth_header, csv_bytes([flat(RecordKind.supplier, orgdata.supplier())]))
    draft_id = draft.json()["records"][0]["id"]
    for who in (None, HUIMIN_REVIEWER):
        r = export(client, auth_header, who, within="150102")
        assert r.headers["content-type"].startswith("text/csv")
        rows = {row["id"]: row for row in read_csv(r.content)}
        assert set(ids) <= set(rows) and draft_id not in rows  # drafts are not public
        for org_id in ids:
            row = rows[org_id]
            assert row["status"] == "active"
            assert row["legal_rep_id_number"] == "150102********1232"
            assert row["legal_rep_phone"] == "138****8000"
            assert row["contact_phone"] == "047****0123"
            assert row["bank_account_number"] == "****5678"
        assert ID_NUMBER not in r.text and ACCOUNT not in r.text
    for who in (XINCHENG_REVIEWER, HOHHOT_REVIEWER):
        rows = {row["id"]: row for row in read_csv(export(client, auth_header, who).content)}
        assert draft_id in rows and rows[draft_id]["status"] == "draft"
        for org_id in ids:
            assert rows[org_id]["legal_rep_id_number"] == ID_NUMBER
            assert rows[org_id]["bank_account_number"] == ACCOUNT


def test_export_xlsx_matches_csv_and_applies_filters(client, auth_header):
    ids = _imported_and_approved(client, auth_header, n=2)
    upload(client, auth_header, csv_bytes([flat(RecordKind.supplier, orgdata.supplier())]))
    xlsx = export(client, auth_header, XINCHENG_REVIEWER, format="xlsx", status="active")
    assert xlsx.headers["content-type"] == transfer.CONTENT_TYPES["xlsx"]
    assert 'filename="suppliers-' in xlsx.headers["content-disposition"]
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')
    csv_rows = read_csv(
        export(client, auth_header, XINCHENG_REVIEWER, format="csv", status="active").content
    )
    xlsx_rows = read_xlsx(xlsx.content)
    assert xlsx_rows == csv_rows
    assert {r["status"] for r in csv_rows} == {"active"}
    assert set(ids) <= {r["id"] for r in csv_rows}
    assert list(csv_rows[0]) == transfer.export_columns(RecordKind.supplier)
    elsewhere = read_csv(export(client, auth_header, XINCHENG_REVIEWER, within="150103").content)
    assert not set(ids) & {r["id"] for r in elsewhere}


def test_export_reimports_unchanged(client, auth_header, session):
    """Exported columns are importable: an unmasked export, imported again, exports the same."""
    kind = RecordKind.agent
    rows = [flat(kind, orgdata.agent(qualifications=[_qualification()])) for _ in range(3)]
    assert upload(client, auth_header, csv_bytes(rows), plural="agents").status_code == 200
    first = read_csv(export(client, auth_header, XINCHENG_REVIEWER, plural="agents").content)
    mine = [r for r in first if r["uscc"] in {row["uscc"] for row in rows}]
    assert len(mine) == 3
    # cancel them so that their codes may be registered again, then import the export
    for row in mine:
        session.execute(
            text("UPDATE organizations SET status = 'cancelled' WHERE id = :id"), {"id": row["id"]}
        )
    session.commit()
    again = upload(client, auth_header, csv_bytes(mine), plural="agents")
    assert again.status_code == 200, again.text
    new_ids = {rec["id"] for rec in again.json()["records"]}
    second = read_csv(export(client, auth_header, XINCHENG_REVIEWER, plural="agents").content)
    reimported = [r for r in second if r["id"] in new_ids]

    def strip(rs):
        return sorted(
            ({k: v for k, v in r.items() if k not in ("id", "status")} for r in rs), key=str
        )

    assert strip(reimported) == strip(mine)


def _qualification() -> dict[str, str]:
    return {
        "name": "政府采购代理资格",
        "number": "ZC-2024-001",
        "issuer": "内蒙古自治区财政厅",
        "valid_from": "2024-01-01",
    }


def test_export_pages_through_every_record(client, auth_header, session):
    rows = [flat(RecordKind.purchaser, orgdata.purchaser()) for _ in range(5)]
    assert upload(client, auth_header, csv_bytes(rows), plural="purchasers").status_code == 200
    content = transfer.export_organizations(
        session,
        kind=RecordKind.purchaser,
        actor=XINCHENG_REVIEWER,
        filters=OrgFilters(within="150102"),
        fmt="csv",
        page_size=2,
    )
    exported = read_csv(content)
    ids = [r["id"] for r in exported]
    assert len(ids) == len(set(ids))
    assert {r["uscc"] for r in rows} <= {r["uscc"] for r in exported}


def test_export_query_is_validated(client):
    assert_problem(client.get("/v1/suppliers/export", params={"format": "pdf"}), 422)
    assert_problem(client.get("/v1/suppliers/export", params={"within": "15"}), 422)
    assert_problem(client.get("/v1/suppliers/export", params={"scope": "ZZ"}), 400)


# --- command line -----------------------------------------------------------------------------


def _count(engine, kind: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM organizations WHERE kind = :k"), {"k": kind}
        ).scalar_one()


@pytest.mark.parametrize("command", [["import"], ["export"]])
def test_help(command):
    result = runner.invoke(cli_app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_cli_import_with_bad_rows_writes_nothing(cli_env, tmp_path):
    rows = [
        flat(RecordKind.supplier, orgdata.supplier()),
        flat(RecordKind.supplier, orgdata.supplier(region="159999")),
        flat(RecordKind.supplier, orgdata.supplier(name="")),
    ]
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(rows))
    result = runner.invoke(cli_app, ["import", "suppliers", str(path)])
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    assert "region_code" in result.output and "name" in result.output
    assert ID_NUMBER not in result.output and ACCOUNT not in result.output
    assert _count(cli_env, "supplier") == 0
    kept = runner.invoke(cli_app, ["import", "suppliers", str(path), "--take-good-rows"])
    assert kept.exit_code == 0, kept.output
    assert _count(cli_env, "supplier") == 1


def test_cli_region_admin_is_held_to_its_jurisdiction(cli_env, tmp_path):
    path = tmp_path / "other.csv"
    path.write_bytes(csv_bytes([flat(RecordKind.purchaser, orgdata.purchaser(region="150102"))]))
    refused = runner.invoke(
        cli_app, ["import", "purchasers", str(path), "--region-admin", "150103"]
    )
    assert refused.exit_code == 1, refused.output
    assert _count(cli_env, "purchaser") == 0
    ok = runner.invoke(
        cli_app, ["import", "purchasers", str(path), "--region-admin", "150100", "--submit"]
    )
    assert ok.exit_code == 0, ok.output
    with cli_env.connect() as conn:
        assert conn.execute(text("SELECT status FROM organizations")).scalar_one() == "submitted"


def test_round_trip_from_the_api_into_a_fresh_database_by_cli(
    client, auth_header, cli_env, tmp_path
):
    """Export (unmasked, by the managing bureau) → `registry import` elsewhere → `registry export`."""
    rows = [flat(RecordKind.supplier, orgdata.supplier()) for _ in range(3)]
    rows[0]["qualifications"] = "安全生产许可证|AQ-001|应急管理厅|2024-01-01|2027-01-01"
    rows[1]["contact_name"], rows[1]["contact_phone"] = "李娜;王芳", f"{LANDLINE};"
    assert upload(client, auth_header, xlsx_bytes(rows)).status_code == 200
    exported = export(client, auth_header, XINCHENG_REVIEWER, format="xlsx", within="150102")
    source = tmp_path / "from-api.xlsx"
    source.write_bytes(exported.content)
    imported = runner.invoke(cli_app, ["import", "suppliers", str(source)])
    assert imported.exit_code == 0, imported.output
    assert _count(cli_env, "supplier") == len(read_xlsx(exported.content))

    def strip(rs):
        return sorted(
            ({k: v for k, v in r.items() if k not in ("id", "status")} for r in rs), key=str
        )

    for fmt, reader in (("csv", read_csv), ("xlsx", read_xlsx)):
        out = tmp_path / f"from-cli.{fmt}"
        result = runner.invoke(cli_app, ["export", "suppliers", "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "unmasked" in result.output
        again = reader(out.read_bytes())
        assert strip(again) == strip(read_xlsx(exported.content))
        assert {r["status"] for r in again} == {"draft"}
        assert ID_NUMBER in {r["legal_rep_id_number"] for r in again}  # the operator sees all
    filtered = tmp_path / "none.csv"
    result = runner.invoke(
        cli_app,
        ["export", "suppliers", "--out", str(filtered), "--status", "active", "--within", "150102"],
    )
    assert result.exit_code == 0, result.output
    assert read_csv(filtered.read_bytes()) == []
