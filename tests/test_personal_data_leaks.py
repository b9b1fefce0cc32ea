"""Experts' personal data (resident ID numbers, personal phones) never leaves its place.

One scenario on a really committing app (the change feed serves committed transactions only)
exercises every path that touches the values — registration, a duplicate, a rejected payload,
edits, change requests, approval, suspension, history, as_of, lists, batches, lookups, conflict
checks, the change feed — while everything the service logs is captured. Then the plaintext
values must appear nowhere but in the answers to callers entitled to them: not in the logs, not
in what the other callers received, not in the feed, and not in any row of the database.

The key-rotation test checks that records written under one key stay readable after a new key
is added, and that new writes use the new key.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from auth.principals import Principal
from models.account import StaffRole
from models.organization import RecordKind
from registry import crypto, personal
from registry.config import Settings
from registry.identifiers import Sex, make_resident_id
from tests import orgdata
from tests.conftest import assert_problem, service, staff

XINCHENG = staff("150102", StaffRole.reviewer)  # manages the experts below
HOHHOT = staff("150100", StaffRole.admin)  # the league bureau above
HUIMIN = staff("150103", StaffRole.reviewer)  # a sibling county: not entitled
READER = service("registry.read")  # a system without the restricted scope
FEED = service("changes.read")
RESTRICTED_READER = service("registry.read", "registry.read.restricted")


def mask_id(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def forms(number: str) -> set[str]:
    """The ways a leaked ID number could show: whole (either case of X), or all but the first
    six (address) digits, or all but the check character."""
    return {number, number.lower(), number[6:], number[:17]}


def corrected(body: dict[str, Any]) -> str:
    """Another valid number agreeing with the body's birth date and sex (a corrected number)."""
    sex = Sex(body["sex"])
    number = make_resident_id(
        body["region_code"],
        date.fromisoformat(body["birth_date"]),
        499 if sex is Sex.male else 498,
        sex,
    )
    assert number != body["id_number"]
    return number


class Leaks:
    """The plaintext values to look for, and where they were found."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}  # plaintext form -> what it is

    def add_id(self, number: str, what: str) -> None:
        for form in forms(number):
            self.values[form] = f"{what} ID number ({form})"

    def add_phone(self, phone: str, what: str) -> None:
        self.values[phone] = f"{what} phone"

    def found_in(self, haystack: str) -> list[str]:
        return sorted(what for value, what in self.values.items() if value in haystack)


@pytest.fixture
def api(committing_app: FastAPI) -> Iterator[tuple[TestClient, Callable[..., dict[str, str]]]]:
    def h(principal: Principal | None) -> dict[str, str]:
        if principal is None:
            return {}
        token, _ = committing_app.state.tokens.issue(principal)
        return {"Authorization": f"Bearer {token}"}

    with TestClient(committing_app) as c:
        yield c, h


@pytest.mark.committing
def test_no_plaintext_personal_data_in_logs_responses_feed_or_database(
    api, committing_db: Engine, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    client, h = api
    leaks = Leaks()
    received: list[tuple[str, str]] = []  # (what, body) answered to callers not entitled

    def keep(what: str, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, (what, response.text)
        received.append((what, response.text))
        return response

    def ok(response: Any, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        return response.json()

    def publish(exp: dict[str, Any], who: Principal = XINCHENG) -> dict[str, Any]:
        ok(client.post(f"/v1/experts/{exp['id']}/submit", headers=h(who)))
        return ok(client.post(f"/v1/experts/{exp['id']}/approve", headers=h(who)))

    def patch(exp: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        headers = {**h(XINCHENG), "If-Match": f'"{exp["version"]}"'}
        return ok(client.patch(f"/v1/experts/{exp['id']}", json=body, headers=headers))

    # --- writes by the entitled bureaus ---------------------------------------------------------
    bodies = {
        "a": orgdata.expert("150102"),
        "b": orgdata.expert("150102"),
        "c": orgdata.expert("150105"),
    }
    # b's number ends in X: the lower-case x must not leak either
    for seq in range(500):
        sex = Sex.male if seq % 2 else Sex.female
        number = make_resident_id("150102", date(1966, 4, 8), seq, sex)
        if number.endswith("X"):
            bodies["b"] = orgdata.expert(
                "150102", id_number=number, sex=sex.value, birth_date="1966-04-08"
            )
            break
    for key, body in bodies.items():
        leaks.add_id(body["id_number"], key)
        leaks.add_phone(body["phone"], key)
    experts = {
        "a": ok(client.post("/v1/experts", json=bodies["a"], headers=h(XINCHENG)), 201),
        "b": ok(
            client.post(
                "/v1/experts",
                json={**bodies["b"], "id_number": bodies["b"]["id_number"].lower()},
                headers=h(XINCHENG),
            ),
            201,
        ),
        "c": ok(client.post("/v1/experts", json=bodies["c"], headers=h(HOHHOT)), 201),
    }
    assert experts["b"]["data"]["id_number"] == bodies["b"]["id_number"]  # stored upper-case
    experts = {k: publish(e, HOHHOT if k == "c" else XINCHENG) for k, e in experts.items()}
    ids = {k: e["id"] for k, e in experts.items()}

    # a: a new phone (at once), then a corrected ID number and a new title (reviewed), approved
    a_phone = "13611112222"
    a_number = corrected(bodies["a"])
    leaks.add_phone(a_phone, "a's new")
    leaks.add_id(a_number, "a's corrected")
    a = patch(experts["a"], {"phone": a_phone})
    a = patch(a, {"id_number": a_number, "title": "正高级工程师"})
    assert a["pending_change_request"] and a["data"]["phone"] == a_phone
    a = ok(
        client.post(
            f"/v1/experts/{ids['a']}/change-requests/{a['pending_change_request']}/approve",
            headers=h(HOHHOT),
        )
    )
    assert a["data"]["id_number"] == a_number
    # b: a corrected number left pending (the change request holds it)
    b_number = corrected(bodies["b"])
    leaks.add_id(b_number, "b's pending")
    b = patch(experts["b"], {"id_number": b_number})
    assert b["pending_change_request"]
    # c: suspended for a while
    c = ok(
        client.post(
            f"/v1/experts/{ids['c']}/suspend",
            json={"reason": "无故缺席评审", "until": "2099-01-01"},
            headers=h(HOHHOT),
        )
    )
    assert c["status"] == "suspended"

    # a duplicate registration and a rejected payload: their answers carry no number
    keep(
        "duplicate registration",
        client.post(
            "/v1/experts",
            json={**bodies["b"], "id_number": bodies["b"]["id_number"].lower(), "name": "重复登记"},
            headers=h(XINCHENG),
        ),
        409,
    )
    someone = orgdata.expert("150102")  # another person, never registered
    leaks.add_id(someone["id_number"], "a stranger's")
    leaks.add_phone(someone["phone"], "a stranger's")
    wrong_sex = "female" if someone["sex"] == "male" else "male"
    rejected = keep(
        "rejected payload",
        client.post("/v1/experts", json={**someone, "sex": wrong_sex}, headers=h(XINCHENG)),
        422,
    )
    assert [e["field"] for e in rejected.json()["errors"]] == ["sex"]
    a_wrong_sex = "female" if bodies["a"]["sex"] == "male" else "male"
    keep(
        "rejected payload with a registered number",
        client.post(
            "/v1/experts",
            json={**bodies["a"], "id_number": a_number, "sex": a_wrong_sex},
            headers=h(HOHHOT),
        ),
        422,
    )

    # --- reads by callers who may not see the values ------------------------------------------
    outsiders: dict[str, Principal | None] = {
        "public": None,
        "sibling county": HUIMIN,
        "system": READER,
    }
    now = datetime.now(UTC).isoformat()
    for who_name, who in outsiders.items():
        for key, exp_id in ids.items():
            seen = keep(
                f"{who_name} reads {key}", client.get(f"/v1/experts/{exp_id}", headers=h(who))
            )
            assert seen.json()["restricted_visible"] is False
            keep(
                f"{who_name} reads {key} as of now",
                client.get(f"/v1/experts/{exp_id}", params={"as_of": now}, headers=h(who)),
            )
            if who is not None:
                keep(
                    f"{who_name} history {key}",
                    client.get(f"/v1/experts/{exp_id}/history", headers=h(who)),
                )
                keep(
                    f"{who_name} change requests {key}",
                    client.get(f"/v1/experts/{exp_id}/change-requests", headers=h(who)),
                )
                keep(
                    f"{who_name} conflicts {key}",
                    client.get(
                        f"/v1/experts/{exp_id}/conflicts",
                        params={"uscc": bodies[key]["employer"]["uscc"]},
                        headers=h(who),
                    ),
                )
        keep(
            f"{who_name} list",
            client.get("/v1/experts", params={"within": "150100", "limit": 200}, headers=h(who)),
        )
        keep(
            f"{who_name} export",
            client.get("/v1/experts/export", params={"within": "150100"}, headers=h(who)),
        )
        keep(
            f"{who_name} batch",
            client.post("/v1/experts/batch", json={"ids": list(ids.values())}, headers=h(who)),
        )
        if who is not None:
            keep(
                f"{who_name} lookup",
                client.post("/v1/experts/lookup", json={"id_number": a_number}, headers=h(who)),
                404,
            )
            keep(
                f"{who_name} conflicts batch",
                client.post(
                    "/v1/experts/conflicts",
                    json={
                        "expert_ids": list(ids.values()),
                        "usccs": [bodies["a"]["employer"]["uscc"]],
                    },
                    headers=h(who),
                ),
            )
    public_list = client.get("/v1/experts", params={"within": "150100"}).json()["items"]
    assert {e["id"] for e in public_list} == set(ids.values())
    public_export = client.get("/v1/experts/export", params={"within": "150100"}).text
    assert mask_id(a_number) in public_export and mask_phone(a_phone) in public_export
    history = client.get(f"/v1/experts/{ids['a']}/history", headers=h(HUIMIN)).json()
    assert [e["type"] for e in history][-3:] == ["updated", "change_requested", "change_approved"]
    assert history[-1]["changes"]["id_number"] == [
        mask_id(bodies["a"]["id_number"]),
        mask_id(a_number),
    ]
    # an ID number in a batch matches nothing for them; it only comes back as their own key
    asked = client.post(
        "/v1/experts/batch", json={"id_numbers": [a_number]}, headers=h(READER)
    ).json()
    assert asked == {"found": {}, "missing": [a_number], "merged": {}}

    # the change feed, as another system reads it
    feed: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = keep(
            "change feed",
            client.get(
                "/v1/changes",
                params={"after": cursor, "limit": 100} if cursor else {"limit": 100},
                headers=h(FEED),
            ),
        ).json()
        if not page["items"]:
            break
        feed += page["items"]
        cursor = page["next_cursor"]
    ours = [item for item in feed if item["id"] in ids.values()]
    assert {item["id"] for item in ours} == set(ids.values())
    published = [item for item in ours if item["data"]]
    assert published, "the feed carries the published records' data"
    assert {item["data"]["id_number"] for item in published if item["id"] == ids["a"]} == {
        mask_id(bodies["a"]["id_number"]),
        mask_id(a_number),
    }

    # --- the entitled do get the values (so this test can fail) ---------------------------------
    for who in (XINCHENG, HOHHOT, RESTRICTED_READER):
        mine = ok(client.get(f"/v1/experts/{ids['a']}", headers=h(who)))
        assert (mine["data"]["id_number"], mine["data"]["phone"]) == (a_number, a_phone)
    export = client.get("/v1/experts/export", params={"within": "150100"}, headers=h(XINCHENG))
    assert export.status_code == 200 and a_number in export.text and a_phone in export.text
    found = ok(client.post("/v1/experts/lookup", json={"id_number": a_number}, headers=h(XINCHENG)))
    assert found["id"] == ids["a"]
    entitled_history = client.get(f"/v1/experts/{ids['a']}/history", headers=h(XINCHENG)).text
    assert leaks.found_in(entitled_history)
    requests = client.get(f"/v1/experts/{ids['b']}/change-requests", headers=h(XINCHENG)).json()
    assert requests[0]["changes"]["id_number"] == b_number

    # --- where the values must not be ---------------------------------------------------------
    for what, body in received:
        assert not leaks.found_in(body), (what, leaks.found_in(body), body[:500])

    out, err = capsys.readouterr()
    logged = "\n".join(
        [out, err, caplog.text]
        + [r.getMessage() for r in caplog.records]
        + [repr(r.__dict__) for r in caplog.records]
    )
    assert "/v1/experts" in logged, "the access log was captured"
    assert not leaks.found_in(logged), leaks.found_in(logged)

    with Session(committing_db) as session:
        data = session.execute(
            text("SELECT id, data::text FROM organizations WHERE kind = 'expert'")
        ).all()
        assert {row[0] for row in data} == set(ids.values())
        for exp_id, stored in data:
            assert not leaks.found_in(stored), (exp_id, leaks.found_in(stored))
        tokens = session.execute(
            text(
                "SELECT data->>'id_number', data->>'phone' FROM organizations WHERE kind = 'expert'"
            )
        ).all()
        assert all(v.startswith(crypto.TOKEN_PREFIX) for row in tokens for v in row), tokens
        changes = session.execute(text("SELECT changes::text FROM change_requests")).scalars().all()
        assert len(changes) == 2
        assert crypto.TOKEN_PREFIX in "".join(changes)  # the numbers are in there, sealed
        for stored in changes:
            assert not leaks.found_in(stored), leaks.found_in(stored)
        events = session.execute(
            text(
                "SELECT type, changes::text, snapshot::text FROM events WHERE entity_kind = 'expert'"
            )
        ).all()
        assert len(events) >= 13
        for type_, stored_changes, snapshot in events:
            assert not leaks.found_in(stored_changes), (type_, leaks.found_in(stored_changes))
            assert not leaks.found_in(snapshot or ""), (type_, leaks.found_in(snapshot or ""))
        # and nowhere else in the database either
        tables = (
            session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            .scalars()
            .all()
        )
        for table in tables:
            rows = session.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')).scalars()
            for row in rows:
                assert not leaks.found_in(row), (table, leaks.found_in(row))


def test_a_retried_registration_stores_no_plaintext_answer(client, auth_header, session):
    """The Idempotency-Key store keeps each answer for a day: for an expert it must not keep the
    ID number and phone the managing bureau was shown in clear."""
    body = orgdata.expert("150102")
    headers = {**auth_header(XINCHENG), "Idempotency-Key": "expert-registration-0001"}
    first = client.post("/v1/experts", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["data"]["id_number"] == body["id_number"]  # the bureau sees it
    again = client.post("/v1/experts", json=body, headers=headers)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    stored = session.execute(
        text("SELECT convert_from(body, 'UTF8') FROM idempotency_keys WHERE key = :k"),
        {"k": "expert-registration-0001"},
    ).scalar_one()
    assert stored.startswith("pd1.")  # the stored answer is encrypted as a whole
    leaks = Leaks()
    leaks.add_id(body["id_number"], "the expert's")
    leaks.add_phone(body["phone"], "the expert's")
    assert not leaks.found_in(stored), leaks.found_in(stored)


# --- key rotation ----------------------------------------------------------------------------------


@pytest.fixture
def restore_cipher() -> Iterator[None]:
    """Whatever a test configures, the process-wide cipher is put back afterwards."""
    original = crypto.cipher()
    original_reload = getattr(crypto, "_reload", None)
    try:
        yield
    finally:
        crypto.configure(original, reload=original_reload)


@pytest.fixture
def rotated_settings(settings: Settings, tmp_path: Path, app: FastAPI) -> Settings:
    """Settings whose data dir holds a copy of the test session's key file (the app fixture
    created it), so rotating it leaves the other tests' keys alone."""
    source = crypto.key_file_path(settings)
    assert source.exists()
    copy = Settings(
        environment="test", database_url=None, registry_data_dir=tmp_path / "rotated-data"
    )
    target = crypto.key_file_path(copy)
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)
    target.chmod(0o600)
    return copy


def _stored(session: Session, exp_id: str) -> tuple[str, str]:
    row = session.execute(
        text("SELECT data->>'id_number', data->>'phone' FROM organizations WHERE id = :i"),
        {"i": exp_id},
    ).one()
    return row[0], row[1]


def _kid(token: str) -> str:
    assert token.startswith(crypto.TOKEN_PREFIX), token
    return token[len(crypto.TOKEN_PREFIX) :].split(".")[0]


def test_records_survive_a_key_rotation_and_new_writes_use_the_new_key(
    client, auth_header, session, rotated_settings, restore_cipher
):
    old_cipher = crypto.cipher()
    old_kid = old_cipher.current_kid
    before_body = orgdata.expert("150102")
    before = client.post("/v1/experts", json=before_body, headers=auth_header(XINCHENG)).json()
    stored_id, stored_phone = _stored(session, before["id"])
    assert _kid(stored_id) == _kid(stored_phone) == old_kid
    assert before_body["id_number"] not in stored_id

    new_kid = crypto.rotate_key(rotated_settings)
    rotated = crypto.load_cipher(rotated_settings)
    assert new_kid != old_kid and rotated.current_kid == new_kid
    assert rotated.kids == {*old_cipher.kids, new_kid}
    crypto.configure(rotated, reload=lambda: crypto.load_cipher(rotated_settings))

    # written before: still read in clear by the bureau, masked for others, found by number
    mine = client.get(f"/v1/experts/{before['id']}", headers=auth_header(XINCHENG)).json()
    assert (mine["data"]["id_number"], mine["data"]["phone"]) == (
        before_body["id_number"],
        before_body["phone"],
    )
    theirs = client.get(f"/v1/experts/{before['id']}", headers=auth_header(HUIMIN))
    assert theirs.status_code == 404  # a draft: out of their reach
    found = client.post(
        "/v1/experts/lookup",
        json={"id_number": before_body["id_number"]},
        headers=auth_header(XINCHENG),
    )
    assert found.status_code == 200 and found.json()["id"] == before["id"]
    # the blind index does not depend on the encryption key: still registered once
    dup = client.post("/v1/experts", json=before_body, headers=auth_header(XINCHENG))
    assert assert_problem(dup, 409, "already_registered")["existing_id"] == before["id"]

    # written after: under the new key
    after_body = orgdata.expert("150102")
    after = client.post("/v1/experts", json=after_body, headers=auth_header(XINCHENG)).json()
    assert [_kid(t) for t in _stored(session, after["id"])] == [new_kid, new_kid]

    # an edit re-seals what changed under the new key; the unchanged number keeps its token
    r = client.patch(
        f"/v1/experts/{before['id']}",
        json={"phone": "13588889999"},
        headers={**auth_header(XINCHENG), "If-Match": f'"{before["version"]}"'},
    )
    assert r.status_code == 200, r.text
    edited_id, edited_phone = _stored(session, before["id"])
    assert edited_id == stored_id and _kid(edited_phone) == new_kid

    # publish both; the public sees masks computed from tokens of both keys
    for exp in (before, after):
        for step in ("submit", "approve"):
            ok = client.post(f"/v1/experts/{exp['id']}/{step}", headers=auth_header(XINCHENG))
            assert ok.status_code == 200, ok.text
    public = client.get(f"/v1/experts/{before['id']}").json()
    assert public["data"]["id_number"] == mask_id(before_body["id_number"])
    assert public["data"]["phone"] == mask_phone("13588889999")

    # the re-encryption step brings old tokens under the current key
    data = session.execute(
        text("SELECT data FROM organizations WHERE id = :i"), {"i": before["id"]}
    ).scalar_one()
    renewed = personal.reencrypt(RecordKind.expert, data)
    assert renewed is not None and _kid(renewed["id_number"]) == new_kid
    assert personal.unseal(RecordKind.expert, renewed)["id_number"] == before_body["id_number"]


def test_a_process_picks_up_a_key_another_process_added(
    client, auth_header, session, rotated_settings, restore_cipher
):
    """A token naming a key this process does not know yet makes it re-read its keys once."""
    old_cipher = crypto.cipher()
    crypto.configure(old_cipher, reload=lambda: crypto.load_cipher(rotated_settings))
    new_kid = crypto.rotate_key(rotated_settings)
    # another process, already on the new key, registers an expert
    crypto.configure(crypto.load_cipher(rotated_settings))
    body = orgdata.expert("150102")
    created = client.post("/v1/experts", json=body, headers=auth_header(XINCHENG)).json()
    assert _kid(_stored(session, created["id"])[0]) == new_kid
    # this process still has the old keys only, and reads it
    crypto.configure(old_cipher, reload=lambda: crypto.load_cipher(rotated_settings))
    assert new_kid not in crypto.cipher().kids
    mine = client.get(f"/v1/experts/{created['id']}", headers=auth_header(XINCHENG)).json()
    assert mine["data"]["id_number"] == body["id_number"]
    assert new_kid in crypto.cipher().kids
