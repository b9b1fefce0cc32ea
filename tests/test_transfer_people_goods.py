"""Import and export of experts and commodities (CSV / XLSX) through the API and the CLI."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from models.account import StaffRole
from models.organization import RecordKind
from registry import transfer
from registry.cli import app as cli_app
from tests import orgdata
from tests.conftest import assert_problem, service, staff
from tests.test_transfer import csv_bytes, export, read_csv, read_xlsx, upload, xlsx_bytes

XINCHENG_REVIEWER = staff("150102", StaffRole.reviewer)
HOHHOT_REVIEWER = staff("150100", StaffRole.reviewer)
HUIMIN_REVIEWER = staff("150103", StaffRole.reviewer)
REGION_REVIEWER = staff("150000", StaffRole.reviewer)  # commodities are the region's
MASKED_ID = re.compile(r"^\d{6}\*{8}[\dX]{4}$")
MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")
runner = CliRunner()


def expert_row(**overrides: Any) -> dict[str, str]:
    return transfer.data_to_row(RecordKind.expert, orgdata.expert(**overrides))


def commodity_row(**overrides: Any) -> dict[str, str]:
    return transfer.data_to_row(RecordKind.commodity, orgdata.commodity(**overrides))


def count(session, kind: str) -> int:
    return session.execute(
        text("SELECT count(*) FROM organizations WHERE kind = :k"), {"k": kind}
    ).scalar_one()


def same_person(payload: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Another record of the person `payload` describes (same ID number, birth date, sex)."""
    facts = {k: payload[k] for k in ("id_number", "birth_date", "sex")}
    return orgdata.expert(**{**facts, **overrides})


def id_fragments(number: str) -> list[str]:
    """The number, and the parts of it a validation message could quote."""
    born = number[6:14]
    return [number, number.lower(), born, f"{born[:4]}-{born[4:6]}-{born[6:]}"]


# --- experts: import --------------------------------------------------------------------------


def test_good_expert_csv_with_chinese_headers_creates_drafts(client, auth_header):
    first, second = orgdata.expert(), orgdata.expert()
    employer = orgdata.uscc(authority="12")
    header = (
        "姓名,身份证号码,性别,出生日期,手机号码,电子邮箱,工作单位,工作单位统一社会信用代码,"
        "职称,从业年限,评审专业,地区代码,聘期开始,聘期结束,回避关系"
    )
    born = first["birth_date"].replace("-", "/")
    lines = [
        f"张敏,{first['id_number']},{'男' if first['sex'] == 'male' else '女'},{born},"
        f"{first['phone']},zm@example.cn,内蒙古大学,{employer},高级工程师,20,A0101、D0205,150102,"
        f"2026/1/1,2028年12月31日,原工作单位|呼和浩特市青城科技有限公司||2024-06-30",
        f"李娜,{second['id_number']},{second['sex']},{second['birth_date']},{second['phone']},,"
        "内蒙古医科大学,,主任医师,15.0,A0501;A0502;C0801,150102,2026-01-01,2028-12-31,",
    ]
    content = ("\ufeff" + header + "\r\n" + "\r\n".join(lines) + "\r\n").encode()
    r = upload(client, auth_header, content, plural="experts")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["kind"], report["accepted"], report["created"], report["errors"]) == (
        "expert",
        True,
        2,
        [],
    )
    assert [(rec["row"], rec["name"], rec["uscc"]) for rec in report["records"]] == [
        (2, "张敏", None),
        (3, "李娜", None),
    ]
    assert first["id_number"] not in r.text and first["phone"] not in r.text
    data = client.get(
        f"/v1/experts/{report['records'][0]['id']}", headers=auth_header(XINCHENG_REVIEWER)
    ).json()["data"]
    assert data["id_number"] == first["id_number"] and data["phone"] == first["phone"]
    assert data["birth_date"] == first["birth_date"]
    assert data["specialties"] == ["A0101", "D0205"]
    assert data["employer"] == {"name": "内蒙古大学", "uscc": employer}
    assert data["term"] == {"starts_on": "2026-01-01", "ends_on": "2028-12-31"}
    assert data["relationships"] == [
        {
            "relation": "former_employer",
            "name": "呼和浩特市青城科技有限公司",
            "uscc": None,
            "until": "2024-06-30",
            "note": None,
        }
    ]
    other = client.get(
        f"/v1/experts/{report['records'][1]['id']}", headers=auth_header(XINCHENG_REVIEWER)
    ).json()["data"]
    assert other["years_of_experience"] == 15 and other["employer"]["uscc"] is None


def test_expert_xlsx_import_with_submit(client, auth_header):
    rows = [expert_row() for _ in range(3)]
    r = upload(client, auth_header, xlsx_bytes(rows), plural="experts", submit=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["submitted"]) == (3, 3)
    assert {rec["status"] for rec in report["records"]} == {"submitted"}
    history = client.get(
        f"/v1/experts/{report['records'][0]['id']}/history",
        headers=auth_header(XINCHENG_REVIEWER),
    ).json()
    assert [e["type"] for e in history] == ["created", "submit"]


def _bad_expert_file(client, auth_header) -> tuple[bytes, dict[int, tuple[str, str]], list[str]]:
    """Two good rows and eight bad ones; (column, code) of each bad line; the file's secrets."""
    registered = orgdata.expert()
    r = client.post("/v1/experts", json=registered, headers=auth_header(XINCHENG_REVIEWER))
    assert r.status_code == 201, r.text
    good = orgdata.expert()
    bad_check = orgdata.expert()
    number = bad_check["id_number"]
    bad_check["id_number"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    wrong_birth = orgdata.expert()
    day = wrong_birth["birth_date"]
    wrong_birth["birth_date"] = day[:-2] + ("02" if day[-2:] != "02" else "03")
    wrong_sex = orgdata.expert()
    wrong_sex["sex"] = "female" if wrong_sex["sex"] == "male" else "male"
    payloads = [
        good,  # line 2
        bad_check,  # 3
        wrong_birth,  # 4
        wrong_sex,  # 5
        orgdata.expert(specialties=["A01"]),  # 6: not a leaf
        same_person(good, id_number=good["id_number"].lower()),  # 7: line 2's number
        same_person(registered),  # 8: registered before
        orgdata.expert(phone="1390000"),  # 9
        orgdata.expert(term={"starts_on": "2027-01-01", "ends_on": "2026-01-01"}),  # 10
        orgdata.expert(),  # 11
    ]
    expected = {
        3: ("id_number", "value_error"),
        4: ("birth_date", "disagrees_with_id_number"),
        5: ("sex", "disagrees_with_id_number"),
        6: ("specialties", "not_a_leaf"),
        7: ("id_number", "duplicate_in_file"),
        8: ("id_number", "already_registered"),
        9: ("phone", "value_error"),
        10: ("term_ends_on", "value_error"),
    }
    secrets = [p["phone"] for p in payloads]
    for p in payloads:
        secrets += id_fragments(p["id_number"])
    rows = [transfer.data_to_row(RecordKind.expert, p) for p in payloads]
    return csv_bytes(rows), expected, secrets


def test_expert_file_with_errors_writes_nothing_and_never_shows_an_id_number(
    client, auth_header, session
):
    content, expected, secrets = _bad_expert_file(client, auth_header)
    before = count(session, "expert")
    r = upload(client, auth_header, content, plural="experts")
    problem = assert_problem(r, 422, "invalid_rows")
    assert {e["row"]: (e["field"], e["code"]) for e in problem["errors"]} == expected
    messages = {e["row"]: e["message"] for e in problem["errors"]}
    assert "第 2 行" in messages[7]
    assert "不是末级" in messages[6]
    assert "****" in messages[4]  # the number's birth date is masked, the mismatch still said
    assert problem["report"]["created"] == 0 and problem["report"]["failed"] == 8
    assert count(session, "expert") == before
    for secret in secrets:
        assert secret not in r.text, secret


def test_expert_take_good_rows_keeps_the_good_ones(client, auth_header, session):
    content, expected, secrets = _bad_expert_file(client, auth_header)
    before = count(session, "expert")
    r = upload(client, auth_header, content, plural="experts", take_good_rows=True)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["accepted"], report["rows"], report["created"], report["failed"]) == (
        True,
        10,
        2,
        8,
    )
    assert [rec["row"] for rec in report["records"]] == [2, 11]
    assert {e["row"] for e in report["errors"]} == set(expected)
    assert count(session, "expert") == before + 2
    for secret in secrets:
        assert secret not in r.text, secret


def test_expert_import_is_held_to_the_jurisdiction(client, auth_header, session):
    before = count(session, "expert")
    rows = [expert_row(region="150103"), expert_row(region="150102")]
    r = upload(client, auth_header, csv_bytes(rows), who=HUIMIN_REVIEWER, plural="experts")
    problem = assert_problem(r, 422, "invalid_rows")
    [error] = problem["errors"]
    assert (error["row"], error["field"], error["code"]) == (3, "region_code", "forbidden")
    assert count(session, "expert") == before


def test_expert_file_with_organization_columns_is_refused(client, auth_header):
    row = {**expert_row(), "uscc": orgdata.uscc()}
    problem = assert_problem(
        upload(client, auth_header, csv_bytes([row]), plural="experts"), 422, "invalid_file"
    )
    assert "uscc" in problem["detail"]
    no_number = {k: v for k, v in expert_row().items() if k != "id_number"}
    assert_problem(
        upload(client, auth_header, csv_bytes([no_number]), plural="experts"), 422, "invalid_file"
    )


# --- commodities: import ----------------------------------------------------------------------


def test_good_commodity_csv_with_chinese_headers_and_labels(client, auth_header):
    header = "品目编码,商品名称,品牌,型号,计量单位,参考价格,币种,价格日期,规格参数,图片"
    lines = [
        'A0202,黑白激光打印机,奔图,P3305DN-T1,台,"¥1,499.00",CNY,2026/11/1,'
        "打印速度=33;彩色打印=否;自动双面=是;max_paper=A4;质保期=24月,"
        "https://img.example.com/p3305.jpg",
        "A02030000,纯电动轿车,比亚迪,汉 EV 2099款,辆,209800,,2026-11-01,"
        "fuel=纯电动;battery_kwh=85.4 kWh;seats=5,",
    ]
    content = ("\ufeff" + header + "\r\n" + "\r\n".join(lines) + "\r\n").encode()
    r = upload(client, auth_header, content, who=REGION_REVIEWER, plural="commodities")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["kind"], report["created"], report["errors"]) == ("commodity", 2, [])
    printer = client.get(f"/v1/commodities/{report['records'][0]['id']}").status_code
    assert printer == 404  # a draft is not public
    data = client.get(
        f"/v1/commodities/{report['records'][0]['id']}", headers=auth_header(REGION_REVIEWER)
    ).json()["data"]
    assert data["catalog_code"] == "A02020000" and data["region_code"] == "150000"
    assert data["specs"] == {
        "warranty_months": 24,
        "print_speed_ppm": 33,
        "duplex": True,
        "color_print": False,
        "max_paper": "A4",
    }
    assert data["reference_price"] == {
        "amount": "1499.00",
        "currency": "CNY",
        "as_of": "2026-11-01",
    }
    assert data["images"] == ["https://img.example.com/p3305.jpg"]
    car = client.get(
        f"/v1/commodities/{report['records'][1]['id']}", headers=auth_header(REGION_REVIEWER)
    ).json()["data"]
    assert car["specs"] == {"fuel": "纯电动", "seats": 5, "battery_kwh": "85.4"}
    assert car["reference_price"]["currency"] == "CNY"


def _bad_commodity_file(client, auth_header) -> tuple[bytes, dict[int, tuple[str, str]]]:
    registered = orgdata.commodity()
    r = client.post("/v1/commodities", json=registered, headers=auth_header(REGION_REVIEWER))
    assert r.status_code == 201, r.text
    good = commodity_row()
    rows = [
        good,  # line 2
        commodity_row(catalog_code="A02990000", specs={}),  # 3: not in the catalogue
        commodity_row(catalog_code="A02000000", specs={}),  # 4: not a leaf
        {**commodity_row(), "specs": "print_speed_ppm=fast;color_print=false"},  # 5
        {**commodity_row(), "specs": "print_speed_ppm=30"},  # 6: color_print is required
        {**commodity_row(), "specs": "color_print=false;duplex"},  # 7: not key=value
        {**good, "brand": "惠普", "model": good["model"].lower()},  # 8: line 2 again
        transfer.data_to_row(RecordKind.commodity, registered),  # 9: registered before
        {**commodity_row(), "price": "-5"},  # 10
        commodity_row(),  # 11
    ]
    expected = {
        3: ("catalog_code", "unknown_code"),
        4: ("catalog_code", "not_a_leaf"),
        5: ("specs", "wrong_type"),
        6: ("specs", "required_missing"),
        7: ("specs", "invalid_format"),
        8: ("model", "duplicate_in_file"),
        9: ("model", "already_registered"),
        10: ("price", "greater_than"),
    }
    return csv_bytes(rows), expected


def test_commodity_file_with_errors_writes_nothing(client, auth_header, session):
    content, expected = _bad_commodity_file(client, auth_header)
    before = count(session, "commodity")
    r = upload(client, auth_header, content, who=REGION_REVIEWER, plural="commodities")
    problem = assert_problem(r, 422, "invalid_rows")
    assert {e["row"]: (e["field"], e["code"]) for e in problem["errors"]} == expected
    messages = {e["row"]: e["message"] for e in problem["errors"]}
    assert "第 2 行" in messages[8] and "打印速度" in messages[5]
    assert count(session, "commodity") == before


def test_commodity_take_good_rows(client, auth_header, session):
    content, expected = _bad_commodity_file(client, auth_header)
    before = count(session, "commodity")
    r = upload(
        client, auth_header, content, who=REGION_REVIEWER, plural="commodities", take_good_rows=True
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["failed"]) == (2, 8)
    assert [rec["row"] for rec in report["records"]] == [2, 11]
    assert {e["row"] for e in report["errors"]} == set(expected)
    assert count(session, "commodity") == before + 2


def test_a_county_may_not_import_the_regions_commodities(client, auth_header):
    r = upload(client, auth_header, csv_bytes([commodity_row()]), plural="commodities")
    problem = assert_problem(r, 422, "invalid_rows")
    assert (problem["errors"][0]["field"], problem["errors"][0]["code"]) == (
        "region_code",
        "forbidden",
    )


# --- exports ----------------------------------------------------------------------------------


def _approved_experts(
    client, auth_header, n: int = 2, specialties: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    chosen = specialties or ["A0101", "D0205"]
    payloads = [orgdata.expert(specialties=chosen) for _ in range(n)]
    rows = [transfer.data_to_row(RecordKind.expert, p) for p in payloads]
    r = upload(client, auth_header, csv_bytes(rows), plural="experts", submit=True)
    assert r.status_code == 200, r.text
    out = {}
    for record, payload in zip(r.json()["records"], payloads, strict=True):
        ok = client.post(
            f"/v1/experts/{record['id']}/approve", headers=auth_header(XINCHENG_REVIEWER)
        )
        assert ok.status_code == 200, ok.text
        out[record["id"]] = payload
    return out


@pytest.mark.parametrize(
    "who",
    [None, HUIMIN_REVIEWER, service("registry.read")],
    ids=["public", "other-county", "service"],
)
def test_expert_export_masks_for_callers_who_may_not_read_in_clear(client, auth_header, who):
    experts = _approved_experts(client, auth_header)
    r = export(client, auth_header, who, plural="experts", within="150102")
    rows = {row["id"]: row for row in read_csv(r.content)}
    assert set(experts) <= set(rows)
    for expert_id, payload in experts.items():
        row = rows[expert_id]
        assert MASKED_ID.match(row["id_number"]), row
        assert row["id_number"][-4:] == payload["id_number"][-4:]
        assert MASKED_PHONE.match(row["phone"]), row
        assert payload["id_number"] not in r.text and payload["phone"] not in r.text
        assert row["specialties"] == "A0101;D0205" and row["status"] == "active"


@pytest.mark.parametrize(
    "who",
    [XINCHENG_REVIEWER, HOHHOT_REVIEWER, service("registry.read", "registry.read.restricted")],
    ids=["county", "league", "restricted-service"],
)
def test_expert_export_is_clear_for_those_who_may_read_it(client, auth_header, who):
    experts = _approved_experts(client, auth_header)
    rows = {
        row["id"]: row
        for row in read_csv(export(client, auth_header, who, plural="experts").content)
    }
    for expert_id, payload in experts.items():
        assert rows[expert_id]["id_number"] == payload["id_number"]
        assert rows[expert_id]["phone"] == payload["phone"]


def test_expert_export_csv_and_xlsx_agree_and_filter(client, auth_header):
    experts = _approved_experts(client, auth_header)
    other = orgdata.expert(specialties=["C0401"])
    upload(
        client,
        auth_header,
        csv_bytes([transfer.data_to_row(RecordKind.expert, other)]),
        plural="experts",
    )
    params = {"name": "测试专家", "status": "active"}
    xlsx = export(client, auth_header, XINCHENG_REVIEWER, plural="experts", format="xlsx", **params)
    assert xlsx.headers["content-type"] == transfer.CONTENT_TYPES["xlsx"]
    assert 'filename="experts-' in xlsx.headers["content-disposition"]
    as_csv = read_csv(
        export(client, auth_header, XINCHENG_REVIEWER, plural="experts", **params).content
    )
    assert read_xlsx(xlsx.content) == as_csv
    assert list(as_csv[0]) == transfer.export_columns(RecordKind.expert)
    assert set(experts) <= {r["id"] for r in as_csv}
    assert other["id_number"] not in {r["id_number"] for r in as_csv}  # a draft
    assert_problem(client.get("/v1/experts/export", params={"specialty": "A-1"}), 422)


def test_expert_export_filters_by_specialty(client, auth_header):
    """The list's specialty filter (a code or any code above it), through the export."""
    experts = _approved_experts(client, auth_header)
    other = _approved_experts(client, auth_header, n=1, specialties=["C0401"])
    rows = read_csv(
        export(client, auth_header, XINCHENG_REVIEWER, plural="experts", specialty="a01").content
    )
    assert set(experts) <= {r["id"] for r in rows}
    assert not set(other) & {r["id"] for r in rows}
    assert all("A01" in r["specialties"] for r in rows)


def _strip(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(
        ({k: v for k, v in r.items() if k not in ("id", "status")} for r in rows), key=str
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_expert_export_reimports_unchanged(client, auth_header, session, fmt):
    payloads = [orgdata.expert(), orgdata.expert(), orgdata.expert()]
    payloads[0]["relationships"] = [
        {
            "relation": "relative_employer",
            "name": "呼和浩特市某科技有限公司",
            "uscc": orgdata.uscc(),
            "note": "配偶",
        }
    ]
    payloads[1]["email"] = "li@example.cn"
    rows = [transfer.data_to_row(RecordKind.expert, p) for p in payloads]
    assert upload(client, auth_header, csv_bytes(rows), plural="experts").status_code == 200
    reader = read_csv if fmt == "csv" else read_xlsx
    first = reader(
        export(client, auth_header, XINCHENG_REVIEWER, plural="experts", format=fmt).content
    )
    mine = [r for r in first if r["id_number"] in {p["id_number"] for p in payloads}]
    assert len(mine) == 3
    for row in mine:  # cancelled: their ID numbers may be registered again
        session.execute(
            text("UPDATE organizations SET status = 'cancelled' WHERE id = :id"), {"id": row["id"]}
        )
    session.commit()
    content = csv_bytes(mine) if fmt == "csv" else xlsx_bytes(mine)
    again = upload(client, auth_header, content, plural="experts")
    assert again.status_code == 200, again.text
    new_ids = {rec["id"] for rec in again.json()["records"]}
    second = read_csv(export(client, auth_header, XINCHENG_REVIEWER, plural="experts").content)
    assert _strip([r for r in second if r["id"] in new_ids]) == _strip(mine)


def test_commodity_export_round_trip_and_filters(client, auth_header, session):
    payloads = [
        orgdata.commodity(),
        orgdata.commodity(
            catalog_code="A05010000",
            name="职员办公桌",
            brand="圣奥",
            model=f"SA-ZY1470A-{orgdata.uscc()[-6:]}",
            unit="张",
            specs={"material": "三聚氰胺饰面刨花板", "formaldehyde_grade": "E0"},
        ),
    ]
    rows = [transfer.data_to_row(RecordKind.commodity, p) for p in payloads]
    r = upload(client, auth_header, xlsx_bytes(rows), who=REGION_REVIEWER, plural="commodities")
    assert r.status_code == 200, r.text
    ids = [rec["id"] for rec in r.json()["records"]]
    for commodity_id in ids:
        for move in ("submit", "approve"):
            ok = client.post(
                f"/v1/commodities/{commodity_id}/{move}", headers=auth_header(REGION_REVIEWER)
            )
            assert ok.status_code == 200, ok.text
    # the public sees listed goods; the filters are the list's
    printers = read_csv(export(client, auth_header, plural="commodities", catalog="A0202").content)
    assert ids[0] in {p["id"] for p in printers} and ids[1] not in {p["id"] for p in printers}
    printer = next(p for p in printers if p["id"] == ids[0])
    assert printer["specs"] == "print_speed_ppm=38;duplex=true;color_print=false"
    assert (printer["price"], printer["currency"], printer["price_date"]) == (
        "2399.00",
        "CNY",
        "2026-11-01",
    )
    by_brand = read_csv(
        export(client, auth_header, plural="commodities", brand="SAINT OAK", format="csv").content
    )
    assert ids[1] not in {b["id"] for b in by_brand}
    desks = read_xlsx(
        export(client, auth_header, plural="commodities", brand="圣奥", format="xlsx").content
    )
    assert ids[1] in {d["id"] for d in desks}
    cheap = read_csv(export(client, auth_header, plural="commodities", price_max="100").content)
    assert not set(ids) & {c["id"] for c in cheap}
    # re-import the public export once the originals are gone
    mine = [
        r
        for r in read_csv(export(client, auth_header, plural="commodities").content)
        if r["id"] in ids
    ]
    for row in mine:
        session.execute(
            text("UPDATE organizations SET status = 'cancelled' WHERE id = :id"), {"id": row["id"]}
        )
    session.commit()
    again = upload(client, auth_header, csv_bytes(mine), who=REGION_REVIEWER, plural="commodities")
    assert again.status_code == 200, again.text
    new_ids = {rec["id"] for rec in again.json()["records"]}
    second = read_csv(export(client, auth_header, REGION_REVIEWER, plural="commodities").content)
    assert _strip([r for r in second if r["id"] in new_ids]) == _strip(mine)


def test_export_routes_are_not_taken_for_ids(client):
    for plural in ("experts", "commodities"):
        r = client.get(f"/v1/{plural}/export")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert_problem(client.get(f"/v1/{plural}/export", params={"format": "pdf"}), 422)


# --- command line -----------------------------------------------------------------------------


def _count(engine, kind: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM organizations WHERE kind = :k"), {"k": kind}
        ).scalar_one()


def test_cli_expert_import_and_unmasked_export(cli_env, tmp_path):
    good = [orgdata.expert(), orgdata.expert()]
    bad = orgdata.expert(region="159999")
    wrong_sex = orgdata.expert()
    wrong_sex["sex"] = "female" if wrong_sex["sex"] == "male" else "male"
    path = tmp_path / "experts.csv"
    path.write_bytes(
        csv_bytes([transfer.data_to_row(RecordKind.expert, p) for p in [*good, bad, wrong_sex]])
    )
    refused = runner.invoke(cli_app, ["import", "experts", str(path)])
    assert refused.exit_code == 1, refused.output
    assert "nothing was written" in refused.output and "region_code" in refused.output
    for payload in (*good, bad, wrong_sex):
        for secret in (*id_fragments(payload["id_number"]), payload["phone"]):
            assert secret not in refused.output, secret
    assert _count(cli_env, "expert") == 0
    kept = runner.invoke(cli_app, ["import", "experts", str(path), "--take-good-rows", "--submit"])
    assert kept.exit_code == 0, kept.output
    assert "2 drafts created, 2 submitted" in kept.output
    out = tmp_path / "experts.xlsx"
    result = runner.invoke(
        cli_app, ["export", "experts", "--format", "xlsx", "--out", str(out), "--name", "测试专家"]
    )
    assert result.exit_code == 0, result.output
    assert "2 experts written" in result.output and "unmasked" in result.output
    exported = read_xlsx(out.read_bytes())
    # the operator's export is in clear: decrypted, not the stored ciphertext
    assert {r["id_number"] for r in exported} == {p["id_number"] for p in good}
    assert {r["phone"] for r in exported} == {p["phone"] for p in good}
    assert {r["status"] for r in exported} == {"submitted"}
    wrong = runner.invoke(cli_app, ["export", "experts", "--out", str(out), "--size", "small"])
    assert wrong.exit_code == 2 and "--size" in wrong.output


def test_cli_commodity_import_and_export(cli_env, tmp_path):
    rows = [commodity_row(), commodity_row(), {**commodity_row(), "specs": "duplex=maybe"}]
    path = tmp_path / "goods.xlsx"
    path.write_bytes(xlsx_bytes(rows))
    refused = runner.invoke(cli_app, ["import", "commodities", str(path)])
    assert refused.exit_code == 1 and "specs" in refused.output
    kept = runner.invoke(cli_app, ["import", "commodities", str(path), "--take-good-rows"])
    assert kept.exit_code == 0, kept.output
    assert _count(cli_env, "commodity") == 2
    out = tmp_path / "goods.csv"
    result = runner.invoke(
        cli_app,
        ["export", "commodities", "--out", str(out), "--catalog", "A02", "--price-min", "2000.5"],
    )
    assert result.exit_code == 0, result.output
    exported = read_csv(out.read_bytes())
    assert _strip(exported) == _strip(
        [{**r, "region_code": "150000", "currency": "CNY"} for r in rows[:2]]
    )
    none = runner.invoke(
        cli_app, ["export", "commodities", "--out", str(out), "--price-max", "100"]
    )
    assert none.exit_code == 0 and read_csv(out.read_bytes()) == []
    wrong = runner.invoke(
        cli_app, ["export", "commodities", "--out", str(out), "--within", "150100"]
    )
    assert wrong.exit_code == 2
