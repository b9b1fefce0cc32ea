"""Merge then unmerge restores exactly the prior state (a property over random merges).

"State" is everything a merge touches: the records' columns (all but the version, which only
moves forward, and `updated_at`), and every row of the tables that refer to a record —
debarments, change requests, offers, self-service accounts — whole.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from models.account import Account, StaffRole
from models.commodity import OfferCreate
from models.debarment import DebarmentCreate
from models.organization import RecordKind
from registry import commodities, debarments, merge, organizations
from registry.errors import Conflict
from tests import orgdata
from tests.conftest import staff

ROOT = staff("150000", StaffRole.reviewer, subject="root-reviewer")
REGIONS = ["150102", "150105", "150203"]


def _state(session: Session, ids: list[str]) -> dict[str, Any]:
    def rows(sql: str) -> list[Any]:
        return sorted(
            session.execute(text(sql), {"ids": ids}).scalars(), key=lambda r: str(r["id"])
        )

    return {
        "records": rows(
            "SELECT to_jsonb(o) - 'version' - 'updated_at' FROM organizations o"
            " WHERE id = ANY(:ids)"
        ),
        "debarments": rows(
            "SELECT to_jsonb(d) FROM debarments d WHERE organization_id = ANY(:ids)"
        ),
        "change_requests": rows(
            "SELECT to_jsonb(c) FROM change_requests c WHERE organization_id = ANY(:ids)"
        ),
        "offers": rows(
            "SELECT to_jsonb(o) - 'updated_at' FROM commodity_offers o"
            " WHERE supplier_id = ANY(:ids) OR commodity_id = ANY(:ids)"
        ),
        "accounts": rows(
            "SELECT to_jsonb(a) - 'updated_at' FROM accounts a WHERE entity_id = ANY(:ids)"
        ),
    }


def _offer_counts_are_current(session: Session, commodity_ids: list[str]) -> None:
    """Each commodity's search document counts its live offers (merges withdraw some)."""
    for commodity_id in commodity_ids:
        stored, live = session.execute(
            text(
                "SELECT (SELECT (document -> 'offers' ->> 'count')::int FROM search_documents"
                " WHERE record_id = :id), (SELECT count(*) FROM commodity_offers"
                " WHERE commodity_id = :id AND withdrawn_at IS NULL)"
            ),
            {"id": commodity_id},
        ).one()
        assert stored == live, commodity_id


def _supplier(session: Session, draw: Any, commodity_ids: list[str]) -> str:
    body = orgdata.supplier(
        draw(st.sampled_from(REGIONS)),
        name=draw(
            st.sampled_from(
                ["内蒙古蒙草生态环境(集团)股份有限公司", "蒙草生态环境集团股份有限公司"]
            )
        ),
        address=draw(st.sampled_from([None, "呼和浩特市赛罕区昭乌达路 216 号", "包头市昆区 1 号"])),
        size=draw(st.sampled_from(["micro", "small", "medium"])),
    )
    if body["address"] is None:
        del body["address"]
    org = organizations.register(session, kind=RecordKind.supplier, payload=body, actor=ROOT)
    org_id = org.org.id
    if draw(st.booleans()):  # approved, with references
        for move in ("submit", "approve"):
            organizations.transition(
                session, kind=RecordKind.supplier, org_id=org_id, name=move, actor=ROOT
            )
        if draw(st.booleans()):  # a pending change request
            organizations.edit(
                session,
                kind=RecordKind.supplier,
                org_id=org_id,
                patch={"size": "large"},
                actor=ROOT,
                check_version=lambda _: None,
            )
        for commodity_id in draw(st.lists(st.sampled_from(commodity_ids), unique=True)):
            commodities.add_offer(
                session,
                commodity_id=commodity_id,
                body=OfferCreate(
                    supplier_id=org_id, price=Decimal("99.00"), valid_from=date(2026, 1, 1)
                ),
                actor=ROOT,
            )
        if draw(st.booleans()):
            debarments.issue(
                session,
                kind=RecordKind.supplier,
                org_id=org_id,
                body=DebarmentCreate(
                    authority="呼和浩特市财政局",
                    legal_basis="《政府采购法》第七十七条",
                    reason="提供虚假材料",
                    starts_on=date(2026, 1, 1),
                    ends_on=date(2027, 1, 1),
                ),
                actor=ROOT,
            )
    if draw(st.booleans()):
        session.add(
            Account(
                id=uuid.uuid4(),
                username=f"u-{uuid.uuid4().hex[:12]}",
                display_name="自助",
                kind="self_service",
                password_hash="x",
                entity_kind="supplier",
                entity_id=org_id,
            )
        )
        session.flush()
    return org_id


def _commodities(session: Session) -> list[str]:
    ids = []
    for _ in range(2):
        row = organizations.register(
            session, kind=RecordKind.commodity, payload=orgdata.commodity(), actor=ROOT
        )
        for move in ("submit", "approve"):
            organizations.transition(
                session, kind=RecordKind.commodity, org_id=row.org.id, name=move, actor=ROOT
            )
        ids.append(row.org.id)
    return ids


FIELDS = ["name", "address", "size", "contacts", "legal_representative"]


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    max_examples=15,
    deadline=None,
)
@given(data=st.data())
def test_merges_then_unmerges_in_reverse_restore_everything(session, data) -> None:
    nested = session.begin_nested()
    try:
        commodity_ids = _commodities(session)
        ids = [
            _supplier(session, data.draw, commodity_ids)
            for _ in range(data.draw(st.integers(2, 4)))
        ]
        every = ids + commodity_ids
        before = _state(session, every)
        done = []
        for _ in range(data.draw(st.integers(1, len(ids) - 1))):
            live = [
                i
                for i in ids
                if session.execute(
                    text("SELECT status FROM organizations WHERE id = :id"), {"id": i}
                ).scalar()
                != "merged"
            ]
            survivor, loser = data.draw(st.permutations(live))[:2]
            approved = {
                i: session.execute(
                    text("SELECT approved_at IS NOT NULL FROM organizations WHERE id = :id"),
                    {"id": i},
                ).scalar()
                for i in (survivor, loser)
            }
            if approved[loser] and not approved[survivor]:  # the approved one survives
                survivor, loser = loser, survivor
            data_of = {
                i: session.execute(
                    text("SELECT data FROM organizations WHERE id = :id"), {"id": i}
                ).scalar()
                for i in (survivor, loser)
            }
            differing = [f for f in FIELDS if data_of[survivor].get(f) != data_of[loser].get(f)]
            overrides = (
                {
                    name: data.draw(st.sampled_from(merge.SIDES))
                    for name in data.draw(st.lists(st.sampled_from(differing), unique=True))
                }
                if differing
                else {}
            )
            result = merge.merge(
                session,
                survivor_id=survivor,
                loser_id=loser,
                overrides=overrides,
                reason="测试合并",
                actor=ROOT,
            )
            done.append(result.id)
        _offer_counts_are_current(session, commodity_ids)
        for merge_id in reversed(done):
            merge.unmerge(session, merge_id=merge_id, reason="撤销", not_same=False, actor=ROOT)
        assert _state(session, every) == before
        _offer_counts_are_current(session, commodity_ids)
    finally:
        nested.rollback()


def test_an_unmerge_keeps_later_edits_of_the_survivor(session) -> None:
    """Changed since the merge: only fields still holding the merge's values are set back."""
    a = organizations.register(
        session,
        kind=RecordKind.supplier,
        payload=orgdata.supplier(address="甲地址 1 号", size="micro"),
        actor=ROOT,
    ).org
    b = organizations.register(
        session,
        kind=RecordKind.supplier,
        payload=orgdata.supplier(address="乙地址 2 号", size="medium"),
        actor=ROOT,
    ).org
    result = merge.merge(
        session,
        survivor_id=a.id,
        loser_id=b.id,
        overrides={"address": "loser", "size": "loser"},
        reason=None,
        actor=ROOT,
    )
    survivor = organizations.reread(session, a).org
    assert survivor.data["address"] == "乙地址 2 号" and survivor.data["size"] == "medium"
    organizations.edit(  # a draft: the edit applies at once
        session,
        kind=RecordKind.supplier,
        org_id=a.id,
        patch={"size": "large"},
        actor=ROOT,
        check_version=lambda _: None,
    )
    merge.unmerge(session, merge_id=result.id, reason=None, not_same=False, actor=ROOT)
    survivor = organizations.reread(session, a).org
    assert survivor.data["address"] == "甲地址 1 号"  # the merge's value: set back
    assert survivor.data["size"] == "large"  # edited since: kept
    loser = organizations.reread(session, b).org
    assert loser.status == "draft" and loser.merged_into is None


def test_a_chain_of_merges_is_undone_last_first(session) -> None:
    a, b, c = (
        organizations.register(
            session, kind=RecordKind.supplier, payload=orgdata.supplier(), actor=ROOT
        ).org.id
        for _ in range(3)
    )
    first = merge.merge(session, survivor_id=b, loser_id=a, overrides={}, reason=None, actor=ROOT)
    merge.merge(session, survivor_id=c, loser_id=b, overrides={}, reason=None, actor=ROOT)
    # a → b → c: reading a resolves to c
    row = organizations.get(session, kind=RecordKind.supplier, org_id=a, actor=ROOT)
    assert row.org.id == c and row.resolved_from == a
    with pytest.raises(Conflict) as refused:
        merge.unmerge(session, merge_id=first.id, reason=None, not_same=False, actor=ROOT)
    assert refused.value.code == "merged_again"


def _org(approved: bool, updated: int) -> Any:
    from datetime import UTC, datetime

    from models.organization import Organization

    return Organization(
        id=f"sup_{updated}",
        kind="supplier",
        name="x",
        region_code="150102",
        status="active",
        data={},
        approved_at=datetime(2026, 1, 1, tzinfo=UTC) if approved else None,
        updated_at=datetime(2026, 1, updated, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("survivor", "loser", "mine", "theirs", "source", "rule"),
    [
        (_org(True, 1), _org(True, 2), None, "乙地址", "loser", "非空优先"),
        (_org(True, 2), _org(True, 1), "甲地址", "", "survivor", "非空优先"),
        (_org(False, 2), _org(True, 1), "甲地址", "乙地址", "loser", "已审核优先"),
        (_org(True, 1), _org(False, 2), "甲地址", "乙地址", "survivor", "已审核优先"),
        (_org(True, 1), _org(True, 2), "甲地址", "乙地址", "loser", "较新优先"),
        (_org(True, 2), _org(True, 1), "甲地址", "乙地址", "survivor", "较新优先"),
    ],
)
def test_survivorship_defaults(survivor, loser, mine, theirs, source, rule) -> None:
    choices = merge.survivorship(
        RecordKind.supplier,
        survivor,
        loser,
        {"address": mine, "uscc": "A"},
        {"address": theirs, "uscc": "B"},
    )
    assert (choices["address"].source, choices["address"].rule) == (source, rule)
    assert choices["uscc"].source == "survivor"  # identifying: always the survivor's
    overridden = merge.survivorship(
        RecordKind.supplier,
        survivor,
        loser,
        {"address": mine},
        {"address": theirs},
        {"address": "survivor" if source == "loser" else "loser"},
    )
    assert overridden["address"].source != source and overridden["address"].rule == "审核人员指定"


def test_an_experts_birth_date_and_sex_follow_the_id_number() -> None:
    choices = merge.survivorship(
        RecordKind.expert,
        _org(False, 1),
        _org(True, 2),
        {"id_number": "1", "birth_date": "1980-03-12", "sex": "female"},
        {"id_number": "2", "birth_date": "1980-12-03", "sex": "female"},
    )
    assert {k: c.source for k, c in choices.items()} == {
        "id_number": "survivor",
        "birth_date": "survivor",
    }
