"""Merge and unmerge of a record with 100 references, through the API (issue 6 goal: < 1 s each).

Each round registers two approved suppliers, gives the loser 100 references — 97 offers on
97 commodities (10 of them also offered by the survivor, so the merge withdraws those instead of
moving them), 2 debarments and a pending change request — then calls, in process (the ASGI app
through Starlette's TestClient, a region reviewer's token):

    POST /v1/dedup/merges                 (survivor, loser)
    POST /v1/dedup/merges/{id}/undo

and times each request end to end (routing, authorization, the merge, search documents, the
commit). After the undo it checks that the loser's references point at it again.

Baseline side by side: the floor of the same work in bare SQL — one transaction that moves the
100 rows to another supplier (three UPDATE statements), and one that moves them back.

Run:
  python bench/dedup_merge.py                     # embedded PostgreSQL in a temp dir
  python bench/dedup_merge.py --rounds 20 --background 100000
  DATABASE_URL=postgresql://… python bench/dedup_merge.py
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import structlog
from benchdb import build_database, libpq, open_database
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from auth.principals import Principal, PrincipalKind
from models.account import StaffRole
from models.commodity import OfferCreate
from models.debarment import DebarmentCreate
from models.organization import RecordKind
from registry import commodities, debarments, organizations
from registry.config import Settings
from registry.db import make_engine
from tests import orgdata

RESULTS = Path(__file__).resolve().parent / "results" / "dedup_merge.txt"
REVIEWER = Principal(
    PrincipalKind.staff,
    "bench-reviewer",
    "自治区审核",
    region_code="150000",
    role=StaffRole.reviewer,
)
OFFERS, SHARED = 97, 10


def _active(session: Session, kind: RecordKind, payload: dict[str, Any]) -> str:
    org_id = organizations.register(session, kind=kind, payload=payload, actor=REVIEWER).org.id
    for move in ("submit", "approve"):
        organizations.transition(session, kind=kind, org_id=org_id, name=move, actor=REVIEWER)
    return org_id


def _offer(session: Session, commodity_id: str, supplier_id: str) -> None:
    commodities.add_offer(
        session,
        commodity_id=commodity_id,
        body=OfferCreate(supplier_id=supplier_id, price=Decimal("99.00"), valid_from=date.today()),
        actor=REVIEWER,
    )


def build_round(session: Session, goods: list[str]) -> tuple[str, str]:
    """Two approved suppliers; the loser with 100 references."""
    survivor = _active(session, RecordKind.supplier, orgdata.supplier())
    loser = _active(session, RecordKind.supplier, orgdata.supplier())
    for commodity_id in goods[:SHARED]:
        _offer(session, commodity_id, survivor)
    for commodity_id in goods[:OFFERS]:
        _offer(session, commodity_id, loser)
    organizations.edit(
        session,
        kind=RecordKind.supplier,
        org_id=loser,
        patch={"size": "large"},
        actor=REVIEWER,
        check_version=lambda _: None,
    )
    for year in (2026, 2027):  # debarments last: a debarred supplier cannot offer
        debarments.issue(
            session,
            kind=RecordKind.supplier,
            org_id=loser,
            body=DebarmentCreate(
                authority="内蒙古自治区财政厅",
                legal_basis="《政府采购法》第七十七条",
                reason="提供虚假材料谋取中标",
                starts_on=date(year, 1, 1),
                ends_on=date(year, 12, 31),
            ),
            actor=REVIEWER,
        )
    return survivor, loser


def references(conn: psycopg.Connection[Any], record_id: str) -> int:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM commodity_offers WHERE supplier_id = %(id)s)"
        " + (SELECT count(*) FROM debarments WHERE organization_id = %(id)s)"
        " + (SELECT count(*) FROM change_requests WHERE organization_id = %(id)s)",
        {"id": record_id},
    ).fetchone()
    assert row is not None
    return int(row[0])


def bare_sql(conn: psycopg.Connection[Any], survivor: str, loser: str) -> float:
    """Milliseconds to move the 100 rows to `survivor` (a supplier with no rows of its own) and
    back, one transaction each way."""
    started = time.perf_counter()
    for a, b in ((loser, survivor), (survivor, loser)):
        with conn.transaction():
            conn.execute(
                "UPDATE commodity_offers SET supplier_id = %s WHERE supplier_id = %s", (b, a)
            )
            conn.execute(
                "UPDATE debarments SET organization_id = %s WHERE organization_id = %s", (b, a)
            )
            conn.execute(
                "UPDATE change_requests SET organization_id = %s WHERE organization_id = %s", (b, a)
            )
    return (time.perf_counter() - started) * 1000 / 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--background", type=int, default=20_000, help="other suppliers")
    parser.add_argument("--reuse", type=Path, help="keep the embedded database in this directory")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    with open_database(args.reuse, prefix="registry-merge-bench-") as (url, workdir):
        build_database(url, args.background)
        engine = make_engine(url)
        settings = Settings(environment="test", registry_data_dir=workdir / "data")
        app = create_app(settings, engine=engine)
        token, _ = app.state.tokens.issue(REVIEWER)
        headers = {"Authorization": f"Bearer {token}"}
        with Session(engine) as s:
            goods = [_active(s, RecordKind.commodity, orgdata.commodity()) for _ in range(OFFERS)]
            parking = _active(s, RecordKind.supplier, orgdata.supplier())  # for the baseline
            s.commit()
        merge_ms, undo_ms, sql_ms = [], [], []
        with TestClient(app) as client, psycopg.connect(libpq(url), autocommit=True) as conn:
            for n in range(args.rounds + 1):
                with Session(engine) as s:
                    survivor, loser = build_round(s, goods)
                    s.commit()
                assert references(conn, loser) == 100
                started = time.perf_counter()
                r = client.post(
                    "/v1/dedup/merges",
                    json={"survivor_id": survivor, "loser_id": loser, "reason": "bench"},
                    headers=headers,
                )
                merged = (time.perf_counter() - started) * 1000
                assert r.status_code == 201, r.text
                assert references(conn, loser) == 0
                started = time.perf_counter()
                u = client.post(f"/v1/dedup/merges/{r.json()['id']}/undo", json={}, headers=headers)
                undone = (time.perf_counter() - started) * 1000
                assert u.status_code == 200, u.text
                assert references(conn, loser) == 100
                baseline = bare_sql(conn, parking, loser)
                if n:  # the first round warms caches
                    merge_ms.append(merged)
                    undo_ms.append(undone)
                    sql_ms.append(baseline)
        engine.dispose()

    lines = [
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}; app in process, PostgreSQL on the same machine",
        f"background suppliers: {args.background:,}; rounds: {args.rounds}; references per"
        f" loser: 100 ({OFFERS} offers, {SHARED} of them on commodities the survivor also"
        " offers, 2 debarments, 1 pending change request)",
        "",
        f"{'':28} {'p50 ms':>8} {'max ms':>8}",
        f"{'POST /v1/dedup/merges':28} {statistics.median(merge_ms):8.1f} {max(merge_ms):8.1f}",
        f"{'POST …/merges/{id}/undo':28} {statistics.median(undo_ms):8.1f} {max(undo_ms):8.1f}",
        f"{'baseline: bare SQL move':28} {statistics.median(sql_ms):8.1f} {max(sql_ms):8.1f}",
        "",
        "goal: merge and unmerge each < 1,000 ms",
    ]
    report = "\n".join(lines)
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
