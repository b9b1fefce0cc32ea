"""The change feed is ordered, resumable and gap-free, on real commits."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from models.account import StaffRole
from models.organization import RecordKind
from registry import events, organizations
from tests import orgdata
from tests.conftest import assert_problem, service, staff

REVIEWER = staff("150102", StaffRole.reviewer)


@pytest.fixture
def feed_client(committing_app):
    with TestClient(committing_app) as c:
        yield c


def _headers(app, principal):
    token, _ = app.state.tokens.issue(principal)
    return {"Authorization": f"Bearer {token}"}


def _drain(client, headers, after=None):
    items = []
    while True:
        page = client.get(
            "/v1/changes",
            params={"after": after, "limit": 50} if after else {"limit": 50},
            headers=headers,
        ).json()
        items += page["items"]
        if not page["items"]:
            return items, page["next_cursor"]
        after = page["next_cursor"]


def test_feed_serves_committed_events_in_order_and_resumes(feed_client, committing_app):
    app = committing_app
    reader = _headers(app, service("changes.read"))
    staff_h = _headers(app, REVIEWER)
    _, cursor = _drain(feed_client, reader)
    created = feed_client.post("/v1/suppliers", json=orgdata.supplier(), headers=staff_h).json()
    feed_client.post(f"/v1/suppliers/{created['id']}/submit", headers=staff_h)
    feed_client.post(f"/v1/suppliers/{created['id']}/approve", headers=staff_h)
    items, cursor2 = _drain(feed_client, reader, cursor)
    assert [(i["id"], i["type"]) for i in items] == [
        (created["id"], t) for t in ("created", "submit", "approve")
    ]
    assert items[0]["data"] is None  # not yet published
    assert items[-1]["data"]["bank_accounts"][0]["account_number"] == "****5678"  # public view only
    assert _drain(feed_client, reader, cursor2)[0] == []
    only_agents = feed_client.get(
        "/v1/changes", params={"after": cursor, "kinds": "agent"}, headers=reader
    ).json()
    assert only_agents["items"] == []
    assert_problem(
        feed_client.get("/v1/changes", headers=_headers(app, service("registry.read"))), 403
    )


@pytest.mark.parametrize("late_first", [True, False])
def test_a_transaction_that_commits_late_is_not_skipped(committing_db, late_first):
    """T1 writes an event and stays open; T2 writes one and commits. A reader must not get past
    T1's event: it sees nothing of either until T1 ends, then both, in (xid, seq) order."""
    with Session(committing_db) as setup:
        org = organizations.register(
            setup, kind=RecordKind.supplier, payload=orgdata.supplier(), actor=None
        ).org
        setup.commit()
        org_id = org.id
    with Session(committing_db) as reader:
        cursor = (0, 0)
        while batch := events.feed(reader, after=cursor, kinds=None, limit=1000):
            cursor = (batch[-1].xid or 0, batch[-1].seq or 0)
        reader.rollback()

    t1, t2 = Session(committing_db), Session(committing_db)
    try:

        def write(session, label):
            events.record(
                session,
                entity_kind="supplier",
                entity_id=org_id,
                type=label,
                actor=None,
                snapshot=None,
            )

        if late_first:
            write(t1, "late")  # smaller xid and seq, commits last
            write(t2, "early")
        else:
            write(t2, "early")  # T2 takes its xid first, but T1 still commits last
            write(t1, "late")
        t2.commit()
        with Session(committing_db) as reader:
            seen = [e.type for e in events.feed(reader, after=cursor, kinds=None, limit=1000)]
        if late_first:
            assert seen == []  # T2's event waits behind T1's open transaction
        else:
            assert seen == ["early"]  # T2 is older than the oldest open transaction (T1)
        t1.commit()
        with Session(committing_db) as reader:
            rest = [e.type for e in events.feed(reader, after=cursor, kinds=None, limit=1000)]
        assert sorted(rest) == ["early", "late"]
        expected = ["late", "early"] if late_first else ["early", "late"]
        assert rest == expected  # (xid, seq) order: the transaction that wrote first comes first
    finally:
        t1.close()
        t2.close()
