"""The experts registry (评审专家) through the API, on a real PostgreSQL.

Experts reuse the organizations' machinery (lifecycle, change requests, history, batch reads)
and add: the resident ID number as the key (stored encrypted, found by a blind index, masked for
those who may not see it), its agreement with the stated sex and birth date, specialties from
their own tree, the term of appointment (expire, reappoint, dismiss) and conflicts of interest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from threading import Barrier
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from auth.principals import Principal
from models.account import EntityKind, StaffRole
from registry.experts import expire_ended_terms
from registry.identifiers import Sex, make_resident_id, resident_id_check
from tests import orgdata
from tests.conftest import assert_problem, self_service, service, staff

XINCHENG = staff("150102", StaffRole.reviewer)  # 新城区: the experts' own county bureau
XINCHENG_VIEWER = staff("150102", StaffRole.viewer)
HUIMIN = staff("150103", StaffRole.reviewer)  # 回民区: a sibling county
HOHHOT = staff("150100", StaffRole.reviewer)  # 呼和浩特市: the league-level bureau above both
REGION = staff("150000", StaffRole.admin)  # 自治区财政厅
BAOTOU = staff("150200", StaffRole.reviewer)  # 包头市: another league
READER = service("registry.read")
RESTRICTED_READER = service("registry.read", "registry.read.restricted")
ONLY_RESTRICTED = service("registry.read.restricted")

Headers = Callable[[Principal], dict[str, str]]


# --- helpers ---------------------------------------------------------------------------------


def mask_id(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def full_width(value: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in value)


def has_chinese(text_: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text_)


def person_with_x(region: str = "150102", born: date = date(1958, 3, 14)) -> dict[str, Any]:
    """An expert whose ID number ends in the check character X."""
    for seq in range(500):
        sex = Sex.male if seq % 2 else Sex.female
        number = make_resident_id(region, born, seq, sex)
        if number.endswith("X"):
            return orgdata.expert(
                region, id_number=number, sex=sex.value, birth_date=born.isoformat()
            )
    raise AssertionError("no sequence gives the check character X")  # pragma: no cover


def create(client: TestClient, h: Headers, body: dict[str, Any], who: Principal = XINCHENG):
    r = client.post("/v1/experts", json=body, headers=h(who))
    assert r.status_code == 201, r.text
    return r.json()


def move(client: TestClient, h: Headers, exp: dict[str, Any], name: str, who=XINCHENG, **body):
    r = client.post(f"/v1/experts/{exp['id']}/{name}", json=body or None, headers=h(who))
    assert r.status_code == 200, r.text
    return r.json()


def publish(client: TestClient, h: Headers, exp: dict[str, Any], who=XINCHENG):
    move(client, h, exp, "submit", who)
    return move(client, h, exp, "approve", who)


def patch(client: TestClient, h: Headers, exp: dict[str, Any], body: dict[str, Any], who=XINCHENG):
    return client.patch(
        f"/v1/experts/{exp['id']}",
        json=body,
        headers={**h(who), "If-Match": f'"{exp["version"]}"'},
    )


def read(client: TestClient, h: Headers, exp_id: str, who: Principal | None = None, **params):
    return client.get(f"/v1/experts/{exp_id}", params=params, headers=h(who) if who else {})


# --- 1. end to end -----------------------------------------------------------------------------


@pytest.fixture
def committed(committing_app: FastAPI) -> Iterator[tuple[TestClient, Headers]]:
    """A client whose every request really commits (events get their own times)."""

    def h(principal: Principal) -> dict[str, str]:
        token, _ = committing_app.state.tokens.issue(principal)
        return {"Authorization": f"Bearer {token}"}

    with TestClient(committing_app) as c:
        yield c, h


@pytest.mark.committing
def test_end_to_end_register_review_edit_history_and_as_of(committed):
    client, h = committed
    body = orgdata.expert("150102")
    number, phone = body["id_number"], body["phone"]

    draft = create(client, h, body)
    assert draft["id"].startswith("exp_") and draft["kind"] == "expert"
    assert (draft["status"], draft["version"], draft["restricted_visible"]) == ("draft", 1, True)
    assert draft["data"]["id_number"] == number and draft["data"]["phone"] == phone
    assert_problem(read(client, h, draft["id"]), 404, "not_found")  # drafts are not public

    active = publish(client, h, draft)
    assert active["status"] == "active" and active["eligible"] is True
    assert active["approved_at"]

    # the public, a system with registry.read and a sibling county see it masked
    for who in (None, READER, HUIMIN):
        seen = read(client, h, draft["id"], who)
        assert seen.status_code == 200, seen.text
        out = seen.json()
        assert out["restricted_visible"] is False
        assert out["data"]["id_number"] == mask_id(number)
        assert out["data"]["phone"] == mask_phone(phone)
        assert out["data"]["name"] == body["name"] and out["data"]["title"] == body["title"]
        assert number not in seen.text and phone not in seen.text
        assert seen.headers["etag"] == f'"{active["version"]}"'

    time.sleep(0.05)
    before_edits = datetime.now(UTC)
    time.sleep(0.05)

    # the phone is not reviewed: it changes at once, without a change request
    new_phone = "13700001234"
    r = patch(client, h, active, {"phone": new_phone})
    assert r.status_code == 200, r.text
    phoned = r.json()
    assert phoned["data"]["phone"] == new_phone and phoned["pending_change_request"] is None
    assert phoned["version"] == active["version"] + 1
    assert read(client, h, draft["id"]).json()["data"]["phone"] == mask_phone(new_phone)

    # title and employer are reviewed: a pending change request, the approved version in force
    new_employer = {"name": "内蒙古工业大学", "uscc": orgdata.uscc("150102", "12")}
    r = patch(client, h, phoned, {"title": "正高级工程师", "employer": new_employer})
    assert r.status_code == 200, r.text
    requested = r.json()
    assert requested["pending_change_request"]
    assert requested["data"]["title"] == body["title"]
    assert requested["data"]["employer"] == body["employer"]
    assert requested["version"] == phoned["version"] + 1  # a pending request moves the ETag
    public = read(client, h, draft["id"]).json()
    assert public["data"]["title"] == body["title"]

    listed = client.get(f"/v1/experts/{draft['id']}/change-requests", headers=h(XINCHENG)).json()
    assert [(c["status"], c["changes"]["title"]) for c in listed] == [("pending", "正高级工程师")]
    assert listed[0]["current"]["title"] == body["title"]

    # a county outside the jurisdiction may not decide it; the league bureau may
    cid = requested["pending_change_request"]
    assert_problem(
        client.post(f"/v1/experts/{draft['id']}/change-requests/{cid}/approve", headers=h(HUIMIN)),
        403,
    )
    r = client.post(f"/v1/experts/{draft['id']}/change-requests/{cid}/approve", headers=h(HOHHOT))
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["data"]["title"] == "正高级工程师"
    assert approved["data"]["employer"] == new_employer
    assert approved["pending_change_request"] is None
    assert read(client, h, draft["id"]).json()["data"]["title"] == "正高级工程师"
    decided = client.get(f"/v1/experts/{draft['id']}/change-requests", headers=h(XINCHENG)).json()
    assert [c["status"] for c in decided] == ["approved"]

    # history, in order; the phone change masked for a reader who may not see it
    expected = ["created", "submit", "approve", "updated", "change_requested", "change_approved"]
    for who, shown_old, shown_new in (
        (XINCHENG, phone, new_phone),
        (HOHHOT, phone, new_phone),
        (HUIMIN, mask_phone(phone), mask_phone(new_phone)),
        (READER, mask_phone(phone), mask_phone(new_phone)),
    ):
        r = client.get(f"/v1/experts/{draft['id']}/history", headers=h(who))
        assert r.status_code == 200, r.text
        events = r.json()
        assert [e["type"] for e in events] == expected, who
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
        updated = events[3]
        assert updated["changes"] == {"phone": [shown_old, shown_new]}, who
        assert events[4]["changes"]["title"] == [body["title"], "正高级工程师"]
        assert events[-1]["status"] == "active"
        if who in (HUIMIN, READER):
            assert phone not in r.text and new_phone not in r.text and number not in r.text
    assert_problem(client.get(f"/v1/experts/{draft['id']}/history"), 401)

    # as_of: the version in force before the edits, for the bureau in clear, for others masked
    then = read(client, h, draft["id"], XINCHENG, as_of=before_edits.isoformat()).json()
    assert then["version"] == active["version"]
    assert (then["data"]["title"], then["data"]["phone"]) == (body["title"], phone)
    assert then["data"]["id_number"] == number
    public_then = read(client, h, draft["id"], None, as_of=before_edits.isoformat())
    assert public_then.json()["data"]["phone"] == mask_phone(phone)
    assert phone not in public_then.text and number not in public_then.text
    now = read(client, h, draft["id"], XINCHENG).json()
    assert now["data"]["phone"] == new_phone and now["version"] == approved["version"]
    too_early = read(client, h, draft["id"], XINCHENG, as_of="2000-01-01T00:00:00+00:00")
    assert_problem(too_early, 404, "not_found_at_time")


def test_change_request_decisions_reject_and_withdraw(client, auth_header):
    exp = publish(client, auth_header, create(client, auth_header, orgdata.expert("150102")))
    pending = patch(client, auth_header, exp, {"years_of_experience": 30}).json()
    cid = pending["pending_change_request"]
    url = f"/v1/experts/{exp['id']}/change-requests/{cid}"
    assert_problem(
        client.post(f"{url}/reject", headers=auth_header(HOHHOT)), 422, "reason_required"
    )
    rejected = client.post(
        f"{url}/reject", json={"reason": "无证明材料"}, headers=auth_header(HOHHOT)
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["data"]["years_of_experience"] == 15
    assert rejected.json()["pending_change_request"] is None
    assert_problem(
        client.post(f"{url}/approve", headers=auth_header(HOHHOT)), 409, "change_request_closed"
    )

    again = patch(client, auth_header, rejected.json(), {"title": "研究员"}).json()
    withdrawn = client.post(
        f"/v1/experts/{exp['id']}/change-requests/{again['pending_change_request']}/withdraw",
        headers=auth_header(XINCHENG),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["data"]["title"] == "高级工程师"
    listed = client.get(f"/v1/experts/{exp['id']}/change-requests", headers=auth_header(XINCHENG))
    # (both were made in this test's one transaction: same time, so compare as a set)
    assert {(c["status"], c["reason"]) for c in listed.json()} == {
        ("withdrawn", None),
        ("rejected", "无证明材料"),
    }
    assert_problem(client.get(f"/v1/experts/{exp['id']}/change-requests"), 401)


def test_a_corrected_id_number_is_a_reviewed_change_masked_for_others(client, auth_header):
    body = orgdata.expert("150102")
    old = body["id_number"]
    born, sex = date.fromisoformat(body["birth_date"]), Sex(body["sex"])
    new = make_resident_id("150102", born, 499 if sex is Sex.male else 498, sex)
    assert new != old
    exp = publish(client, auth_header, create(client, auth_header, body))
    r = patch(client, auth_header, exp, {"id_number": new})
    assert r.status_code == 200, r.text
    pending = r.json()
    assert pending["pending_change_request"] and pending["data"]["id_number"] == old
    url = f"/v1/experts/{exp['id']}/change-requests"

    mine = client.get(url, headers=auth_header(XINCHENG)).json()[0]
    assert (mine["changes"]["id_number"], mine["current"]["id_number"]) == (new, old)
    theirs = client.get(url, headers=auth_header(HUIMIN))
    assert theirs.status_code == 200, theirs.text
    shown = theirs.json()[0]
    assert (shown["changes"]["id_number"], shown["current"]["id_number"]) == (
        mask_id(new),
        mask_id(old),
    )
    assert old not in theirs.text and new not in theirs.text
    # the record is still found by the number in force until the change is approved
    lookup = {"headers": auth_header(XINCHENG)}
    assert client.post("/v1/experts/lookup", json={"id_number": old}, **lookup).status_code == 200
    assert client.post("/v1/experts/lookup", json={"id_number": new}, **lookup).status_code == 404

    cid = pending["pending_change_request"]
    approved = client.post(f"{url}/{cid}/approve", headers=auth_header(HOHHOT))
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["id_number"] == new
    assert (
        client.post("/v1/experts/lookup", json={"id_number": new}, **lookup).json()["id"]
        == exp["id"]
    )
    assert client.post("/v1/experts/lookup", json={"id_number": old}, **lookup).status_code == 404

    history = client.get(f"/v1/experts/{exp['id']}/history", headers=auth_header(HUIMIN))
    assert old not in history.text and new not in history.text
    approved_event = history.json()[-1]
    assert approved_event["type"] == "change_approved"
    assert approved_event["changes"]["id_number"] == [mask_id(old), mask_id(new)]
    clear = client.get(f"/v1/experts/{exp['id']}/history", headers=auth_header(XINCHENG)).json()
    assert clear[-1]["changes"]["id_number"] == [old, new]
    # the old number is free again: it belongs to no live record
    assert create(client, auth_header, {**body, "name": "新登记专家"})["id"] != exp["id"]


def _taken_and_mine(client, auth_header) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A registered expert, and a second one (draft) of the same birth date and sex: the first
    one's ID number agrees with the second one's stated facts."""
    taken_body = orgdata.expert("150102")
    taken = create(client, auth_header, taken_body)
    born, sex = date.fromisoformat(taken_body["birth_date"]), Sex(taken_body["sex"])
    body = orgdata.expert(
        "150102",
        id_number=make_resident_id("150102", born, 499 if sex is Sex.male else 498, sex),
        sex=sex.value,
        birth_date=born.isoformat(),
    )
    assert body["id_number"] != taken_body["id_number"]
    return taken, taken_body, create(client, auth_header, body)


def test_a_draft_edited_to_a_taken_id_number_is_409(client, auth_header):
    taken, taken_body, draft = _taken_and_mine(client, auth_header)
    r = patch(client, auth_header, draft, {"id_number": taken_body["id_number"]})
    assert assert_problem(r, 409, "already_registered")["existing_id"] == taken["id"]
    assert taken_body["id_number"] not in r.text


def test_approving_a_change_to_a_taken_id_number_is_409(client, auth_header):
    taken, taken_body, draft = _taken_and_mine(client, auth_header)
    active = publish(client, auth_header, draft)
    r = patch(client, auth_header, active, {"id_number": taken_body["id_number"]})
    assert r.status_code == 200, r.text  # a reviewed change: pending, checked when it applies
    cid = r.json()["pending_change_request"]
    r = client.post(
        f"/v1/experts/{draft['id']}/change-requests/{cid}/approve", headers=auth_header(HOHHOT)
    )
    assert assert_problem(r, 409, "already_registered")["existing_id"] == taken["id"]
    assert taken_body["id_number"] not in r.text
    still = read(client, auth_header, draft["id"], XINCHENG).json()
    assert still["data"]["id_number"] == draft["data"]["id_number"]
    assert still["pending_change_request"] == cid


# --- 2. register once ---------------------------------------------------------------------------


def test_a_second_registration_of_an_id_number_is_409_without_the_number(client, auth_header):
    body = person_with_x("150102")
    number = body["id_number"]
    assert number.endswith("X")
    first = create(client, auth_header, body)
    variants = {
        "lower-case x": number[:-1] + "x",
        "full-width": full_width(number),
        "full-width lower-case x": full_width(number[:-1]) + "ｘ",
        "spaces": f" {number[:6]} {number[6:14]} {number[14:]} ",
    }
    for label, variant in variants.items():
        for who in (XINCHENG, HOHHOT):
            again = client.post(
                "/v1/experts",
                json={**body, "id_number": variant, "name": "另一个名字", "phone": "13912345678"},
                headers=auth_header(who),
            )
            problem = assert_problem(again, 409, "already_registered")
            assert problem["existing_id"] == first["id"], label
            for form in (number, number.lower(), variant.strip(), number[:-1]):
                assert form not in again.text, (label, form)


def test_a_cancelled_registration_frees_the_id_number(client, auth_header):
    body = orgdata.expert("150102")
    first = create(client, auth_header, body)
    move(client, auth_header, first, "cancel", reason="重复录入")
    second = create(client, auth_header, body)
    assert second["id"] != first["id"] and second["status"] == "draft"


def _race(n: int, call: Callable[[int], Any]) -> list[Any]:
    start = Barrier(n)

    def run(i: int) -> Any:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.mark.committing
def test_fifty_concurrent_registrations_of_one_id_number_make_one_expert(
    committing_app, committing_db
):
    racers = 50
    body = person_with_x("150102", born=date(1961, 7, 9))
    number = body["id_number"]
    # the same person, written the ways people type it, by bureaus of three tiers
    forms = [number, number[:-1] + "x", full_width(number)]
    callers = [XINCHENG, staff("150100", StaffRole.admin), staff("150000", StaffRole.reviewer)]
    tokens = [committing_app.state.tokens.issue(who)[0] for who in callers]

    with TestClient(committing_app) as c:

        def register(i: int) -> Any:
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            if i % 2:
                headers["Idempotency-Key"] = f"race-expert-{i:04d}"
            return c.post(
                "/v1/experts",
                json={**body, "id_number": forms[i % len(forms)], "name": f"竞速专家{i}"},
                headers=headers,
            )

        responses = _race(racers, register)

    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1, sorted({(r.status_code, r.text[:200]) for r in responses})
    winner = created[0].json()["id"]
    for r in responses:
        if r.status_code != 201:
            assert assert_problem(r, 409, "already_registered")["existing_id"] == winner
            assert number not in r.text and number.lower() not in r.text
    assert _scalar(committing_db, "SELECT count(*) FROM organizations WHERE kind = 'expert'") == 1
    assert _scalar(committing_db, "SELECT count(*) FROM events WHERE type = 'created'") == 1
    assert _scalar(committing_db, "SELECT entity_id FROM events WHERE type = 'created'") == winner


# --- 3. validation -------------------------------------------------------------------------------


def _wrong_check_digit(body: dict[str, Any]) -> None:
    n = body["id_number"]
    body["id_number"] = n[:-1] + ("0" if n[-1] != "0" else "1")


def _impossible_birth_date(body: dict[str, Any]) -> None:
    core = "150102" + "19850230" + "123"  # 30 February
    body["id_number"] = core + resident_id_check(core)


def _birth_date_disagrees(body: dict[str, Any]) -> None:
    body["birth_date"] = (date.fromisoformat(body["birth_date"]) + timedelta(days=1)).isoformat()


def _sex_disagrees(body: dict[str, Any]) -> None:
    body["sex"] = "female" if body["sex"] == "male" else "male"


@pytest.mark.parametrize(
    ("spoil", "field", "code", "words"),
    [
        (_wrong_check_digit, "id_number", "value_error", "校验位"),
        (_impossible_birth_date, "id_number", "value_error", "不存在"),
        (_birth_date_disagrees, "birth_date", "disagrees_with_id_number", "出生日期"),
        (_sex_disagrees, "sex", "disagrees_with_id_number", "性别"),
    ],
    ids=["check-digit", "impossible-birth-date", "birth-date-disagrees", "sex-disagrees"],
)
def test_id_number_problems_are_422_naming_the_field(
    client, auth_header, spoil, field, code, words
):
    body = orgdata.expert("150102")
    spoil(body)
    r = client.post("/v1/experts", json=body, headers=auth_header(XINCHENG))
    problem = assert_problem(r, 422, "validation_failed")
    by_field = {e["field"]: e for e in problem["errors"]}
    assert set(by_field) == {field}, problem["errors"]
    assert by_field[field]["code"] == code
    assert words in by_field[field]["message"] and has_chinese(by_field[field]["message"])


def test_sex_and_birth_date_both_disagreeing_are_both_reported(client, auth_header):
    body = orgdata.expert("150102")
    _sex_disagrees(body)
    _birth_date_disagrees(body)
    r = client.post("/v1/experts", json=body, headers=auth_header(XINCHENG))
    problem = assert_problem(r, 422, "validation_failed")
    assert sorted(e["field"] for e in problem["errors"]) == ["birth_date", "sex"]
    assert body["id_number"] not in r.text


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"specialties": ["A9999"]}, "specialties", "不在专业分类中"),
        ({"specialties": ["A01"]}, "specialties", "不是末级"),
        ({"specialties": ["A0101", "A0102", "A0103", "A0201"]}, "specialties", "3"),
        ({"specialties": []}, "specialties", "1"),
        ({"specialties": ["A0101", "a0101"]}, "specialties", "重复"),
        (
            {"term": {"starts_on": "2026-01-01", "ends_on": "2025-12-31"}},
            "term",
            "聘期结束日期应晚于开始日期",
        ),
        ({"term": {"starts_on": "2026-01-01", "ends_on": "2026-01-01"}}, "term", "聘期"),
        ({"phone": "12345"}, "phone", "电话"),
        (
            {"relationships": [{"relation": "former_employer", "name": "某某公司"}]},
            "relationships.0",
            "离职日期",
        ),
        ({"employer": {"name": "某大学", "uscc": "91150102MA0000000A"}}, "employer.uscc", "代码"),
    ],
    ids=[
        "unknown-specialty",
        "non-leaf-specialty",
        "four-specialties",
        "no-specialty",
        "repeated-specialty",
        "term-ends-before-it-starts",
        "term-of-no-length",
        "bad-phone",
        "former-employer-without-date",
        "bad-employer-uscc",
    ],
)
def test_bad_expert_data_is_422_naming_the_field(client, auth_header, overrides, field, words):
    body = orgdata.expert("150102", **overrides)
    r = client.post("/v1/experts", json=body, headers=auth_header(XINCHENG))
    assert r.status_code == 422, r.text
    problem = assert_problem(r, 422)
    assert problem["code"] == "validation_failed"
    named = [e for e in problem["errors"] if e["field"].startswith(field)]
    assert named, problem
    assert any(words in e["message"] and has_chinese(e["message"]) for e in named), problem


def test_an_unknown_region_is_422_naming_the_field(client, auth_header):
    body = orgdata.expert("150102", region_code="159999")
    r = client.post("/v1/experts", json=body, headers=auth_header(REGION))
    problem = assert_problem(r, 422, "region_not_found")
    assert [e["field"] for e in problem["errors"]] == ["region_code"]
    assert "159999" in problem["errors"][0]["message"]


def test_an_edit_is_validated_like_a_registration(client, auth_header):
    exp = create(client, auth_header, orgdata.expert("150102"))
    r = patch(client, auth_header, exp, {"specialties": ["A01"]})
    problem = assert_problem(r, 422, "validation_failed")
    assert problem["errors"][0]["field"] == "specialties"
    r = patch(
        client, auth_header, exp, {"sex": "female" if exp["data"]["sex"] == "male" else "male"}
    )
    assert assert_problem(r, 422, "validation_failed")["errors"][0]["field"] == "sex"
    assert read(client, auth_header, exp["id"], XINCHENG).json()["version"] == exp["version"]


# --- 4. lifecycle ---------------------------------------------------------------------------------


def test_the_scheduled_check_expires_ended_terms(client, auth_header, session):
    ended = create(client, auth_header, orgdata.expert("150102"))
    r = patch(
        client, auth_header, ended, {"term": {"starts_on": "2020-01-01", "ends_on": "2024-12-31"}}
    )
    assert r.status_code == 200, r.text
    ended = publish(client, auth_header, r.json())
    current = publish(client, auth_header, create(client, auth_header, orgdata.expert("150102")))

    # active, but the term is over: not eligible, even before the check has run
    assert (ended["status"], ended["eligible"]) == ("active", False)
    assert read(client, auth_header, ended["id"]).json()["eligible"] is False
    assert current["eligible"] is True
    eligible = client.get("/v1/experts", params={"eligible": "true", "within": "150102"}).json()
    assert {e["id"] for e in eligible["items"]} == {current["id"]}
    ineligible = client.get("/v1/experts", params={"eligible": "false", "within": "150102"}).json()
    assert {e["id"] for e in ineligible["items"]} == {ended["id"]}

    expired_ids = expire_ended_terms(session)
    assert expired_ids == [ended["id"]]
    after = read(client, auth_header, ended["id"]).json()
    assert (after["status"], after["eligible"]) == ("expired", False)
    assert read(client, auth_header, current["id"]).json()["status"] == "active"
    history = client.get(f"/v1/experts/{ended['id']}/history", headers=auth_header(XINCHENG)).json()
    assert history[-1]["type"] == "expire"
    assert history[-1]["actor_kind"] == "operator" and history[-1]["reason"]
    assert expire_ended_terms(session) == []  # nothing left to do: the check is idempotent


def test_reappointment_needs_an_approved_new_term(client, auth_header, session):
    exp = create(client, auth_header, orgdata.expert("150102"))
    exp = patch(
        client, auth_header, exp, {"term": {"starts_on": "2021-01-01", "ends_on": "2023-12-31"}}
    ).json()
    publish(client, auth_header, exp)
    assert expire_ended_terms(session) == [exp["id"]]
    expired = read(client, auth_header, exp["id"], XINCHENG).json()
    assert expired["status"] == "expired"

    refused = client.post(f"/v1/experts/{exp['id']}/reappoint", headers=auth_header(XINCHENG))
    assert_problem(refused, 409, "term_ended")

    # a new term is a reviewed change: pending, the old term stays in force, still refused
    r = patch(
        client, auth_header, expired, {"term": {"starts_on": "2024-01-01", "ends_on": "2099-12-31"}}
    )
    assert r.status_code == 200, r.text
    pending = r.json()
    assert pending["pending_change_request"] and pending["data"]["term"]["ends_on"] == "2023-12-31"
    still = client.post(f"/v1/experts/{exp['id']}/reappoint", headers=auth_header(XINCHENG))
    assert_problem(still, 409, "term_ended")

    r = client.post(
        f"/v1/experts/{exp['id']}/change-requests/{pending['pending_change_request']}/approve",
        headers=auth_header(HOHHOT),
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["term"]["ends_on"] == "2099-12-31"
    assert r.json()["status"] == "expired" and r.json()["eligible"] is False
    reappointed = move(client, auth_header, exp, "reappoint")
    assert (reappointed["status"], reappointed["eligible"]) == ("active", True)


def test_dismissal_needs_a_reason_and_is_final(client, auth_header):
    exp = publish(client, auth_header, create(client, auth_header, orgdata.expert("150102")))
    url = f"/v1/experts/{exp['id']}/dismiss"
    assert_problem(client.post(url, headers=auth_header(XINCHENG)), 422, "reason_required")
    assert_problem(
        client.post(url, json={"reason": "   "}, headers=auth_header(XINCHENG)),
        422,
        "reason_required",
    )
    dismissed = move(client, auth_header, exp, "dismiss", reason="评审中存在违规行为")
    assert dismissed["status"] == "dismissed" and dismissed["status_reason"] == "评审中存在违规行为"
    assert dismissed["eligible"] is False
    again = client.post(f"/v1/experts/{exp['id']}/reinstate", headers=auth_header(XINCHENG))
    problem = assert_problem(again, 409, "invalid_transition")
    assert problem["allowed"] == [] and problem["allowed_states"] == []
    frozen = patch(client, auth_header, dismissed, {"title": "研究员"})
    assert_problem(frozen, 409, "not_editable")


@pytest.mark.parametrize(
    ("setup", "name", "allowed", "allowed_states"),
    [
        ([], "approve", ["submit", "cancel"], ["cancelled", "submitted"]),
        ([], "reappoint", ["submit", "cancel"], ["cancelled", "submitted"]),
        (
            ["submit", "approve"],
            "cancel",
            ["suspend", "expire", "dismiss"],
            ["dismissed", "expired", "suspended"],
        ),
        (
            ["submit", "approve"],
            "reappoint",
            ["suspend", "expire", "dismiss"],
            ["dismissed", "expired", "suspended"],
        ),
        (["submit"], "submit", ["approve", "return"], ["active", "returned"]),
    ],
    ids=["approve-draft", "reappoint-draft", "cancel-active", "reappoint-active", "submit-twice"],
)
def test_invalid_transitions_are_409_naming_the_allowed_ones(
    client, auth_header, setup, name, allowed, allowed_states
):
    exp = create(client, auth_header, orgdata.expert("150102"))
    for step in setup:
        move(client, auth_header, exp, step)
    r = client.post(
        f"/v1/experts/{exp['id']}/{name}", json={"reason": "测试"}, headers=auth_header(XINCHENG)
    )
    problem = assert_problem(r, 409, "invalid_transition")
    assert problem["allowed"] == allowed
    assert problem["allowed_states"] == allowed_states
    assert has_chinese(problem["detail"])


def test_experts_have_no_organization_only_transitions(client, auth_header):
    exp = create(client, auth_header, orgdata.expert("150102"))
    r = client.post(f"/v1/experts/{exp['id']}/delist", json={}, headers=auth_header(XINCHENG))
    assert r.status_code in (404, 405), r.text


def test_suspend_with_until_then_reinstate(client, auth_header):
    exp = publish(client, auth_header, create(client, auth_header, orgdata.expert("150102")))
    url = f"/v1/experts/{exp['id']}"
    h = auth_header(XINCHENG)
    assert_problem(client.post(f"{url}/suspend", headers=h), 422, "reason_required")
    past = (date.today() - timedelta(days=1)).isoformat()
    assert_problem(
        client.post(f"{url}/suspend", json={"reason": "无故缺席评审", "until": past}, headers=h),
        422,
    )
    until = (date.today() + timedelta(days=90)).isoformat()
    suspended = move(client, auth_header, exp, "suspend", reason="无故缺席评审", until=until)
    assert suspended["status"] == "suspended" and suspended["suspended_until"] == until
    assert suspended["eligible"] is False
    listed = client.get("/v1/experts", params={"eligible": "true", "within": "150102"}).json()
    assert exp["id"] not in {e["id"] for e in listed["items"]}
    # a date only applies to a suspension
    assert_problem(
        client.post(f"{url}/reinstate", json={"until": until}, headers=h),
        422,
        "until_not_applicable",
    )
    reinstated = move(client, auth_header, exp, "reinstate")
    assert reinstated["status"] == "active" and reinstated["suspended_until"] is None
    assert reinstated["eligible"] is True
    types = [e["type"] for e in client.get(f"{url}/history", headers=h).json()]
    assert types[-2:] == ["suspend", "reinstate"]


def test_a_returned_expert_is_edited_directly_and_resubmitted(client, auth_header):
    exp = create(client, auth_header, orgdata.expert("150102"))
    move(client, auth_header, exp, "submit")
    assert_problem(
        client.post(f"/v1/experts/{exp['id']}/return", headers=auth_header(XINCHENG)),
        422,
        "reason_required",
    )
    returned = move(client, auth_header, exp, "return", reason="职称证书不清晰")
    assert returned["status"] == "returned"
    r = patch(client, auth_header, returned, {"title": "教授"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["title"] == "教授" and r.json()["pending_change_request"] is None
    assert move(client, auth_header, exp, "submit")["status"] == "submitted"


# --- 5. cross-tier ---------------------------------------------------------------------------------


def test_a_sibling_county_cannot_act_and_sees_masked_values(client, auth_header):
    body = orgdata.expert("150102")
    exp = create(client, auth_header, body)
    h = auth_header(HUIMIN)
    url = f"/v1/experts/{exp['id']}"

    # a draft is invisible outside its jurisdiction: 404, not 403
    assert_problem(client.get(url, headers=h), 404, "not_found")
    assert_problem(client.post(f"{url}/submit", headers=h), 404)
    assert_problem(client.patch(url, json={"title": "教授"}, headers={**h, "If-Match": '"1"'}), 404)
    assert_problem(client.get(f"{url}/history", headers=h), 404)
    move(client, auth_header, exp, "submit")
    assert_problem(client.post(f"{url}/approve", headers=h), 404)

    # the league bureau above may review it, and sees clear values
    approved = move(client, auth_header, exp, "approve", HOHHOT)
    assert approved["status"] == "active" and approved["restricted_visible"] is True
    assert approved["data"]["id_number"] == body["id_number"]
    for who in (HOHHOT, REGION, XINCHENG, XINCHENG_VIEWER):
        seen = client.get(url, headers=auth_header(who)).json()
        assert seen["restricted_visible"] is True, who
        assert (seen["data"]["id_number"], seen["data"]["phone"]) == (
            body["id_number"],
            body["phone"],
        )

    # published: the sibling county reads it, masked, and may not act on it
    seen = client.get(url, headers=h)
    assert seen.status_code == 200
    assert seen.json()["restricted_visible"] is False
    assert seen.json()["data"]["id_number"] == mask_id(body["id_number"])
    assert body["id_number"] not in seen.text and body["phone"] not in seen.text
    for name, payload in (("suspend", {"reason": "测试"}), ("dismiss", {"reason": "测试"})):
        assert_problem(client.post(f"{url}/{name}", json=payload, headers=h), 403)
    refused = client.patch(
        url, json={"phone": "13600000000"}, headers={**h, "If-Match": f'"{approved["version"]}"'}
    )
    assert_problem(refused, 403)
    # a viewer of the county itself reads in clear but may not act either
    assert_problem(
        client.post(
            f"{url}/suspend", json={"reason": "测试"}, headers=auth_header(XINCHENG_VIEWER)
        ),
        403,
    )
    # another league's bureau is as far away as the sibling county
    assert client.get(url, headers=auth_header(BAOTOU)).json()["restricted_visible"] is False
    assert_problem(
        client.post(f"{url}/suspend", json={"reason": "测试"}, headers=auth_header(BAOTOU)), 403
    )
    # the league bureau may sanction
    assert move(client, auth_header, exp, "suspend", HOHHOT, reason="测试")["status"] == "suspended"


def test_staff_register_only_within_their_jurisdiction(client, auth_header):
    r = client.post("/v1/experts", json=orgdata.expert("150102"), headers=auth_header(HUIMIN))
    assert_problem(r, 403)
    assert_problem(client.post("/v1/experts", json=orgdata.expert("150102")), 401)
    assert_problem(
        client.post(
            "/v1/experts", json=orgdata.expert("150102"), headers=auth_header(RESTRICTED_READER)
        ),
        403,
    )
    created = create(client, auth_header, orgdata.expert("150102"), who=HOHHOT)
    assert created["data"]["region_code"] == "150102"


def test_the_expert_sees_own_record_in_clear(client, auth_header):
    body = orgdata.expert("150102")
    exp = create(client, auth_header, body)
    me = self_service(EntityKind.expert, exp["id"])
    mine = read(client, auth_header, exp["id"], me).json()
    assert mine["restricted_visible"] is True and mine["data"]["id_number"] == body["id_number"]
    other = self_service(EntityKind.expert, "exp_someoneelse00")
    assert_problem(read(client, auth_header, exp["id"], other), 404)


# --- 6. lookups by ID number ---------------------------------------------------------------------


def test_lookup_by_id_number_only_for_those_who_may_read_it(client, auth_header):
    body = person_with_x("150102", born=date(1963, 11, 2))
    number = body["id_number"]
    exp = create(client, auth_header, body)

    def lookup(who: Principal | None, value: str = number):
        return client.post(
            "/v1/experts/lookup",
            json={"id_number": value},
            headers=auth_header(who) if who else {},
        )

    # a draft: only its bureaus (and the expert) find it
    assert lookup(XINCHENG).json()["id"] == exp["id"]
    assert_problem(lookup(RESTRICTED_READER), 404, "not_found")
    publish(client, auth_header, exp)

    for who in (XINCHENG, HOHHOT, REGION, RESTRICTED_READER, ONLY_RESTRICTED):
        r = lookup(who)
        assert r.status_code == 200, (who, r.text)
        assert r.json()["id"] == exp["id"] and r.json()["restricted_visible"] is True
        assert r.json()["data"]["id_number"] == number
        assert r.headers["etag"] == f'"{r.json()["version"]}"'
    me = self_service(EntityKind.expert, exp["id"])
    assert lookup(me).json()["id"] == exp["id"]
    for variant in (number[:-1] + "x", full_width(number)):
        assert lookup(XINCHENG, variant).json()["id"] == exp["id"]

    # everyone else is told nothing: the same 404 as for a number nobody registered
    unknown = orgdata.expert("150102")["id_number"]
    nobody = assert_problem(lookup(XINCHENG, unknown), 404, "not_found")
    for who in (HUIMIN, BAOTOU, READER, self_service(EntityKind.expert, "exp_someoneelse00")):
        problem = assert_problem(lookup(who), 404, "not_found")
        assert problem["detail"] == nobody["detail"], who
        assert number not in lookup(who).text
    assert_problem(lookup(None), 401, "authentication_required")
    bad = lookup(XINCHENG, number[:-1] + ("1" if number[-1] != "1" else "2"))
    assert assert_problem(bad, 422)["errors"][0]["field"] == "id_number"
    assert_problem(
        client.post(
            "/v1/experts/lookup", json={"id_number": number, "x": 1}, headers=auth_header(XINCHENG)
        ),
        422,
    )


def test_batch_matches_id_numbers_only_for_entitled_callers(client, auth_header):
    a_body, b_body = orgdata.expert("150102"), orgdata.expert("150102")
    a = publish(client, auth_header, create(client, auth_header, a_body))
    b = publish(client, auth_header, create(client, auth_header, b_body))
    draft = create(client, auth_header, orgdata.expert("150102"))
    unknown = orgdata.expert("150102")["id_number"]
    ask = {
        "ids": [a["id"], draft["id"], "exp_missing000000"],
        "id_numbers": [b_body["id_number"].lower(), unknown, "not-a-number"],
    }

    def batch(who: Principal | None) -> dict[str, Any]:
        r = client.post("/v1/experts/batch", json=ask, headers=auth_header(who) if who else {})
        assert r.status_code == 200, r.text
        return r.json()

    for who in (XINCHENG, HOHHOT):
        found = batch(who)
        assert set(found["found"]) == {a["id"], draft["id"], b_body["id_number"].lower()}
        assert found["found"][b_body["id_number"].lower()]["id"] == b["id"]
        assert found["found"][a["id"]]["data"]["id_number"] == a_body["id_number"]
        assert found["missing"] == ["exp_missing000000", unknown, "not-a-number"]
    service_view = batch(RESTRICTED_READER)
    assert set(service_view["found"]) == {a["id"], b_body["id_number"].lower()}
    assert service_view["found"][a["id"]]["data"]["phone"] == a_body["phone"]

    for who in (None, READER, HUIMIN):
        found = batch(who)
        assert set(found["found"]) == {a["id"]}, who
        assert found["missing"] == [
            draft["id"],
            "exp_missing000000",
            b_body["id_number"].lower(),
            unknown,
            "not-a-number",
        ]
        shown = found["found"][a["id"]]
        assert shown["restricted_visible"] is False
        assert shown["data"]["id_number"] == mask_id(a_body["id_number"])
        assert a_body["id_number"] not in str(found) and b["id"] not in str(found)

    assert_problem(
        client.post("/v1/experts/batch", json={"usccs": [orgdata.uscc()]}), 422, "not_applicable"
    )
    assert_problem(client.post("/v1/experts/batch", json={}), 422)


# --- 7. conflicts of interest ----------------------------------------------------------------------


def _years_ago(years: int) -> str:
    return (date.today() - timedelta(days=round(365.25 * years))).isoformat()


@pytest.fixture
def conflicted(client, auth_header):
    """Two published experts with employers and relationships; the codes they relate to."""
    codes = {
        k: orgdata.uscc("150102")
        for k in ("employer", "left2", "left4", "relative", "past", "other", "unrelated")
    }
    x_body = orgdata.expert(
        "150102",
        employer={"name": "内蒙古甲科技有限公司", "uscc": codes["employer"]},
        relationships=[
            {
                "relation": "former_employer",
                "name": "乙公司",
                "uscc": codes["left2"],
                "until": _years_ago(2),
            },
            {
                "relation": "former_employer",
                "name": "丙公司",
                "uscc": codes["left4"],
                "until": _years_ago(4),
            },
            {
                "relation": "relative_employer",
                "name": "丁公司",
                "uscc": codes["relative"],
                "note": "配偶",
            },
            {"relation": "other", "name": "戊公司", "uscc": codes["past"], "until": _years_ago(1)},
            {"relation": "other", "name": "己公司", "uscc": codes["other"]},
        ],
    )
    y_body = orgdata.expert(
        "150102", employer={"name": "内蒙古丁公司", "uscc": codes["relative"]}, relationships=[]
    )
    x = publish(client, auth_header, create(client, auth_header, x_body))
    y = publish(client, auth_header, create(client, auth_header, y_body))
    return x, y, codes


@pytest.mark.parametrize(
    ("code", "relation"),
    [
        ("employer", "employer"),
        ("left2", "former_employer"),
        ("left4", None),
        ("relative", "relative_employer"),
        ("past", None),
        ("other", "other"),
        ("unrelated", None),
    ],
)
def test_conflict_of_interest_for_one_organization(client, auth_header, conflicted, code, relation):
    x, _, codes = conflicted
    r = client.get(
        f"/v1/experts/{x['id']}/conflicts",
        params={"uscc": codes[code]},
        headers=auth_header(READER),
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["expert_id"], answer["uscc"]) == (x["id"], codes[code])
    if relation is None:
        assert answer == {**answer, "conflict": False, "reasons": []}
    else:
        assert answer["conflict"] is True
        assert [reason["relation"] for reason in answer["reasons"]] == [relation]


def test_conflict_check_normalizes_and_validates_the_code(client, auth_header, conflicted):
    x, _, codes = conflicted
    url = f"/v1/experts/{x['id']}/conflicts"
    lower = client.get(url, params={"uscc": codes["employer"].lower()}, headers=auth_header(READER))
    assert lower.json()["conflict"] is True and lower.json()["uscc"] == codes["employer"]
    bad = codes["employer"][:-1] + ("0" if codes["employer"][-1] != "0" else "1")
    problem = assert_problem(
        client.get(url, params={"uscc": bad}, headers=auth_header(READER)), 422
    )
    assert problem["code"] == "invalid_uscc" and problem["errors"][0]["field"] == "uscc"
    assert_problem(client.get(url, params={"uscc": codes["employer"]}), 401)
    assert_problem(
        client.get(
            "/v1/experts/exp_missing000000/conflicts",
            params={"uscc": codes["employer"]},
            headers=auth_header(READER),
        ),
        404,
    )


def test_batch_conflicts_are_exactly_the_conflicting_pairs(client, auth_header, conflicted):
    x, y, codes = conflicted
    draft = create(
        client,
        auth_header,
        orgdata.expert("150102", employer={"name": "某单位", "uscc": codes["unrelated"]}),
    )
    r = client.post(
        "/v1/experts/conflicts",
        json={
            "expert_ids": [x["id"], y["id"], draft["id"], "exp_missing000000"],
            "usccs": [
                codes[k] for k in ("employer", "left2", "left4", "relative", "past", "unrelated")
            ],
        },
        headers=auth_header(READER),
    )
    assert r.status_code == 200, r.text
    pairs = {
        (a["expert_id"], a["uscc"]): [reason["relation"] for reason in a["reasons"]]
        for a in r.json()
    }
    assert pairs == {
        (x["id"], codes["employer"]): ["employer"],
        (x["id"], codes["left2"]): ["former_employer"],
        (x["id"], codes["relative"]): ["relative_employer"],
        (y["id"], codes["relative"]): ["employer"],
    }
    assert len(r.json()) == len(pairs) and all(a["conflict"] for a in r.json())
    # the bureau sees its own draft too
    r = client.post(
        "/v1/experts/conflicts",
        json={"expert_ids": [draft["id"]], "usccs": [codes["unrelated"]]},
        headers=auth_header(XINCHENG),
    )
    assert [(a["expert_id"], a["uscc"]) for a in r.json()] == [(draft["id"], codes["unrelated"])]
    bad = client.post(
        "/v1/experts/conflicts",
        json={"expert_ids": [x["id"]], "usccs": [codes["employer"], "91150102MA0000000A"]},
        headers=auth_header(READER),
    )
    assert_problem(bad, 422, "invalid_uscc")
    assert_problem(
        client.post(
            "/v1/experts/conflicts", json={"expert_ids": [x["id"]], "usccs": [codes["employer"]]}
        ),
        401,
    )
    assert_problem(
        client.post(
            "/v1/experts/conflicts",
            json={"expert_ids": [], "usccs": [codes["employer"]]},
            headers=auth_header(READER),
        ),
        422,
    )


def test_batch_conflicts_name_each_pair_once(client, auth_header, conflicted):
    x, _, codes = conflicted
    r = client.post(
        "/v1/experts/conflicts",
        json={
            "expert_ids": [x["id"], x["id"]],
            "usccs": [codes["employer"], codes["employer"].lower()],
        },
        headers=auth_header(READER),
    )
    assert r.status_code == 200, r.text
    assert [(a["expert_id"], a["uscc"]) for a in r.json()] == [(x["id"], codes["employer"])]


# --- 8. list filters --------------------------------------------------------------------------------


@pytest.fixture
def listed(client, auth_header):
    """Published experts in two counties of 呼和浩特 and one of 包头, and a draft."""
    made = {
        "xincheng": publish(
            client,
            auth_header,
            create(client, auth_header, orgdata.expert("150102", specialties=["A0101", "C0101"])),
        ),
        "huimin": publish(
            client,
            auth_header,
            create(client, auth_header, orgdata.expert("150103", specialties=["A0201"]), HUIMIN),
            HUIMIN,
        ),
        "baotou": publish(
            client,
            auth_header,
            create(client, auth_header, orgdata.expert("150203", specialties=["A0102"]), BAOTOU),
            BAOTOU,
        ),
        "draft": create(client, auth_header, orgdata.expert("150102", specialties=["A0103"])),
    }
    ours = {e["id"]: name for name, e in made.items()}

    def names(who: Principal | None = None, **params: Any) -> set[str]:
        r = client.get(
            "/v1/experts",
            params={"limit": 200, **params},
            headers=auth_header(who) if who else {},
        )
        assert r.status_code == 200, r.text
        return {ours[e["id"]] for e in r.json()["items"] if e["id"] in ours}

    return made, names


def test_list_filters_within_status_and_name(client, listed):
    made, names = listed
    assert names(within="150100") == {"xincheng", "huimin"}
    assert names(within="150102") == {"xincheng"}
    assert names(within="150000") == {"xincheng", "huimin", "baotou"}
    assert names(status="active") == {"xincheng", "huimin", "baotou"}
    # drafts only for the bureaus of their jurisdiction
    assert names(status="draft") == set()
    assert names(XINCHENG, status="draft") == {"draft"}
    assert names(HOHHOT, status="draft") == {"draft"}
    assert names(HUIMIN, status="draft") == set()
    assert names(XINCHENG, status=["draft", "active"], within="150102") == {"xincheng", "draft"}
    assert names(name=made["xincheng"]["data"]["name"]) == {"xincheng"}
    assert names(eligible="true", within="150100") == {"xincheng", "huimin"}

    by_id = {e["id"]: e for e in made.values()}
    public = client.get("/v1/experts", params={"within": "150100"}).json()["items"]
    assert {item["id"] for item in public} == {made["xincheng"]["id"], made["huimin"]["id"]}
    for item in public:
        assert item["restricted_visible"] is False
        assert item["data"]["id_number"] == mask_id(by_id[item["id"]]["data"]["id_number"])
    assert_problem(client.get("/v1/experts", params={"specialty": "A01%"}), 422)
    assert_problem(client.get("/v1/experts", params={"within": "1501"}), 422)
    assert_problem(client.get("/v1/experts", params={"status": "retired"}), 422)


def test_list_filter_specialty_is_a_prefix(client, listed):
    _, names = listed
    assert names(specialty="A01") == {"xincheng", "baotou"}
    assert names(specialty="a01") == {"xincheng", "baotou"}
    assert names(specialty="A0101") == {"xincheng"}
    assert names(specialty="A") == {"xincheng", "huimin", "baotou"}
    assert names(specialty="C01") == {"xincheng"}
    assert names(within="150100", specialty="A02") == {"huimin"}
    assert names(HOHHOT, status="draft", specialty="A01") == {"draft"}


def test_list_pages_by_cursor(client, auth_header):
    made = {
        publish(
            client,
            auth_header,
            create(client, auth_header, orgdata.expert("150104"), HOHHOT),
            HOHHOT,
        )["id"]
        for _ in range(3)
    }
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"within": "150104", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/experts", params=params).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(seen) == made and len(seen) == len(made) and seen == sorted(seen)
