"""Register once, under concurrency: the database's unique index decides, every loser gets
409 `already_registered` naming the winner, and a losing sign-up leaves no account behind.

There are more racers (50) than the default worker threads (40) on purpose: the losers block
in PostgreSQL behind the winner's uncommitted row and hold workers meanwhile, so the winner's
commit must not need one of those workers (api/routing.py commits in a pool of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from threading import Barrier
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from models.account import StaffRole
from tests import orgdata
from tests.conftest import assert_problem, staff

RACERS = 50
pytestmark = pytest.mark.committing


def race(call: Callable[[int], Any]) -> list[Any]:
    """RACERS calls at once (a barrier lines the threads up before the first request)."""
    start = Barrier(RACERS)

    def run(i: int) -> Any:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(run, range(RACERS)))


@contextmanager
def roomy_client(app: FastAPI) -> Iterator[TestClient]:
    """A plain test client: the app's default thread limits, as in production."""
    with TestClient(app) as client:
        yield client


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_fifty_registrations_of_one_code_make_one_record(committing_app, committing_db):
    body = orgdata.supplier("150102")
    # bureaus of three tiers, all with the record's region in reach
    callers = [
        staff("150102", StaffRole.reviewer),
        staff("150100", StaffRole.admin),
        staff("150000", StaffRole.reviewer),
    ]
    tokens = [committing_app.state.tokens.issue(who)[0] for who in callers]

    with roomy_client(committing_app) as c:

        def register(i: int) -> Any:
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            if i % 2:  # half of them with their own Idempotency-Key, half without
                headers["Idempotency-Key"] = f"race-register-{i:04d}"
            return c.post(
                "/v1/suppliers",
                json={**body, "name": f"内蒙古竞速科技有限公司{i}"},
                headers=headers,
            )

        responses = race(register)

    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1, sorted({(r.status_code, r.text[:200]) for r in responses})
    winner = created[0].json()["id"]
    for r in responses:
        if r.status_code != 201:
            problem = assert_problem(r, 409, "already_registered")
            assert problem["existing_id"] == winner
    assert (
        scalar(committing_db, "SELECT count(*) FROM organizations WHERE uscc = :u", u=body["uscc"])
        == 1
    )
    # only the winner's "created" event exists: the losers' transactions left nothing
    assert scalar(committing_db, "SELECT count(*) FROM events WHERE type = 'created'") == 1
    assert scalar(committing_db, "SELECT entity_id FROM events WHERE type = 'created'") == winner


def test_fifty_signups_with_one_code_make_one_account_and_one_record(committing_app, committing_db):
    organization = orgdata.supplier("150105")
    usernames = [f"race.signup.{i:02d}" for i in range(RACERS)]

    with roomy_client(committing_app) as c:

        def sign_up(i: int) -> Any:
            return c.post(
                "/v1/signup",
                json={
                    "kind": "supplier",
                    "username": usernames[i],
                    "password": "a-long-password-1",
                    "display_name": f"经办人{i}",
                    "organization": {**organization, "name": f"呼和浩特市竞速商贸有限公司{i}"},
                },
            )

        responses = race(sign_up)

        created = [r for r in responses if r.status_code == 201]
        assert len(created) == 1, sorted({(r.status_code, r.text[:200]) for r in responses})
        winner = created[0].json()["organization"]["id"]
        winner_name = usernames[responses.index(created[0])]
        for r in responses:
            if r.status_code != 201:
                assert assert_problem(r, 409, "already_registered")["existing_id"] == winner

        # the winner's account works and is bound to the record; no loser can log in
        me = c.get(
            "/v1/me", headers={"Authorization": f"Bearer {created[0].json()['access_token']}"}
        ).json()
        assert (me["kind"], me["entity_id"]) == ("self_service", winner)
        loser = next(u for u in usernames if u != winner_name)
        login = c.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": loser, "password": "a-long-password-1"},
        )
        assert login.status_code in (400, 401), login.text

    accounts = scalar(
        committing_db,
        "SELECT count(*) FROM accounts WHERE username LIKE 'race.signup.%'",
    )
    assert accounts == 1
    assert (
        scalar(
            committing_db,
            "SELECT username FROM accounts WHERE entity_id = :id",
            id=winner,
        )
        == winner_name
    )
    assert (
        scalar(
            committing_db,
            "SELECT count(*) FROM organizations WHERE uscc = :u",
            u=organization["uscc"],
        )
        == 1
    )
    assert scalar(committing_db, "SELECT count(DISTINCT entity_id) FROM events") == 1
