"""`registry dedup scan`: the batch half of dedup (issue 6), against the real PostgreSQL.

Records are registered as the service registers them; the dedup tables are then emptied, as in
a registry loaded before dedup existed, so that what the tests see is what the scan found.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from models.dedup import Judgement
from models.organization import RecordKind
from registry import dedup, dedup_scan, organizations
from registry.cli import app
from registry.db import session_scope
from registry.identifiers import make_uscc
from tests import orgdata

HEAD = "内蒙古蒙草生态环境(集团)股份有限公司"
VARIANT = "蒙草生态环境集团股份有限公司"
_bodies = iter(range(1, 10_000))


def org_body() -> str:
    """A fresh 8-character organization-code body (distinct from orgdata's `MA…`)."""
    return f"MD{next(_bodies):06d}"


def supplier(session: Session, name: str, region: str, body: str, **extra: Any) -> str:
    """Register a supplier named `name` whose USCC has the organization code of `body` (records
    of one legal entity registered under two codes share it)."""
    payload = orgdata.supplier(region, name=name, uscc=make_uscc("91", region, body), **extra)
    return organizations.register(
        session, kind=RecordKind.supplier, payload=payload, actor=None
    ).org.id


def forget_dedup(db: Session | Any) -> None:
    """As before dedup: no keys, no candidates, no judgements."""
    for table in ("dedup_judgements", "dedup_candidates", "dedup_keys"):
        db.execute(text(f"DELETE FROM {table}"))


def candidates(db: Session | Any) -> dict[tuple[str, str], dict[str, Any]]:
    rows = db.execute(
        text("SELECT left_id, right_id, score, evidence, source, id FROM dedup_candidates")
    ).all()
    return {
        (a, b): {"score": s, "evidence": e, "source": src, "id": i} for a, b, s, e, src, i in rows
    }


def pair(a: str, b: str) -> tuple[str, str]:
    return dedup.ordered(a, b)


class Planted(dict[str, str]):
    body = ""  # the organization-code body of the head office and its variant


@pytest.fixture
def planted(session: Session) -> Planted:
    """The head office in 150102 and its variant registered again in 150202 (same organization
    code), a branch of the head office, two branches of a second company in two places, a pair
    in 150203 and an unrelated company."""
    body = org_body()
    ids = Planted(
        head=supplier(session, HEAD, "150102", body),
        variant=supplier(session, VARIANT, "150202", body),
        branch=supplier(session, HEAD + "包头分公司", "150203", body),
        other=supplier(session, "呼和浩特市青城乳业有限责任公司", "150102", org_body()),
    )
    ids.body = body
    second = org_body()
    ids["branch_a"] = supplier(session, "内蒙古草原牧歌食品有限公司包头分公司", "150203", second)
    ids["branch_b"] = supplier(
        session, "内蒙古草原牧歌食品有限公司鄂尔多斯分公司", "150602", second
    )
    third = org_body()
    ids["pair_a"] = supplier(session, "包头市稀土新材料科技有限公司", "150203", third)
    ids["pair_b"] = supplier(session, "包头稀土新材料科技股份有限公司", "150204", third)
    forget_dedup(session)
    return ids


def test_scan_finds_planted_near_duplicate_with_evidence(session, planted):
    report = dedup_scan.scan(session, "supplier")

    found = candidates(session)
    head_pair = pair(planted["head"], planted["variant"])
    assert head_pair in found, report.lines()
    stored = found[head_pair]
    assert stored["source"] == "scan"
    assert stored["score"] >= dedup_scan.matching.matcher_for("supplier").review_threshold
    fields = {e["field"] for e in stored["evidence"]}
    assert {"name", "uscc"} <= fields, stored["evidence"]
    assert all({"field", "score", "note"} <= e.keys() for e in stored["evidence"])
    assert pair(planted["pair_a"], planted["pair_b"]) in found
    assert report.records == len(planted)
    assert report.pairs_compared >= len(found) == report.for_review == report.written
    assert report.skipped_negative == 0
    assert set(report.phases) >= {"load", "prepare", "keys", "pairs", "compare", "write"}
    assert report.peak_rss_mb > 0
    assert any("pairs for review: 2" in line for line in report.lines())


def test_branches_are_not_reported(session, planted):
    dedup_scan.scan(session, "supplier")

    found = candidates(session)
    for a, b in [("head", "branch"), ("variant", "branch"), ("branch_a", "branch_b")]:
        assert pair(planted[a], planted[b]) not in found, (a, b)
    assert set(found) == {
        pair(planted["head"], planted["variant"]),
        pair(planted["pair_a"], planted["pair_b"]),
    }


def test_within_limits_the_scan_to_a_subtree(session, planted):
    report = dedup_scan.scan(session, "supplier", within="1502")  # 包头: both of the pair

    assert set(candidates(session)) == {pair(planted["pair_a"], planted["pair_b"])}
    keyed = set(session.execute(text("SELECT DISTINCT record_id FROM dedup_keys")).scalars())
    assert keyed == {planted[k] for k in ("variant", "branch", "branch_a", "pair_a", "pair_b")}
    assert report.records == 5 and report.within == "1502"

    # a region code names the same subtree; the head office (150102) is outside it
    dedup_scan.scan(session, "supplier", within="150200")
    assert pair(planted["head"], planted["variant"]) not in candidates(session)
    with pytest.raises(ValueError):
        dedup_scan.scan(session, "supplier", within="15a2")


def test_a_pair_judged_not_the_same_is_not_written_again(session, planted):
    dedup_scan.scan(session, "supplier")
    head_pair = pair(planted["head"], planted["variant"])
    assert head_pair in candidates(session)

    dedup.append_judgement(session, *head_pair, Judgement.negative, None, reason="两家不同公司")
    session.execute(text("DELETE FROM dedup_candidates"))
    report = dedup_scan.scan(session, "supplier")

    assert head_pair not in candidates(session)
    assert pair(planted["pair_a"], planted["pair_b"]) in candidates(session)
    assert (report.for_review, report.written, report.skipped_negative) == (2, 1, 1)

    # a later judgement overrules it: retracted, the pair is suggested again
    dedup.append_judgement(session, *head_pair, Judgement.no_judgement, None)
    dedup_scan.scan(session, "supplier")
    assert head_pair in candidates(session)


def test_a_second_scan_rescores_without_duplicates(session, planted):
    first = dedup_scan.scan(session, "supplier")
    before = candidates(session)
    keys = session.execute(text("SELECT record_id, key FROM dedup_keys ORDER BY 1, 2")).all()
    second = dedup_scan.scan(session, "supplier")

    after = candidates(session)
    assert {p: v["id"] for p, v in after.items()} == {p: v["id"] for p, v in before.items()}
    assert (
        session.execute(text("SELECT record_id, key FROM dedup_keys ORDER BY 1, 2")).all() == keys
    )
    assert (second.for_review, second.written, second.keys) == (
        first.for_review,
        first.written,
        first.keys,
    )


def test_keys_from_a_scan_flag_a_later_registration(session, planted):
    """A registry loaded before dedup: the scan fills dedup_keys, so a new variant is compared
    with the scanned records when it is registered (`dedup.on_write` from `record_event`)."""
    dedup_scan.scan(session, "supplier")

    late = supplier(session, "蒙草生态环境(集团)有限公司", "150104", planted.body)

    found = {p for p in candidates(session) if late in p}
    assert pair(late, planted["head"]) in found and pair(late, planted["variant"]) in found
    assert pair(late, planted["branch"]) not in found
    stored = candidates(session)[pair(late, planted["head"])]
    assert stored["source"] == "registration"


def test_without_keys_a_registration_is_not_compared(session, planted):
    """The counter-test: before a scan, the registry's records have no keys to be found by."""
    late = supplier(session, "蒙草生态环境(集团)有限公司", "150104", planted.body)
    assert not {p for p in candidates(session) if late in p}


def test_registration_answer_names_the_scanned_record(session, planted):
    dedup_scan.scan(session, "supplier")
    row = organizations.register(
        session,
        kind=RecordKind.supplier,
        payload=orgdata.supplier(
            "150104",
            name="蒙草生态环境(集团)有限公司",
            uscc=make_uscc("91", "150104", planted.body),
        ),
        actor=None,
    )

    assert planted["head"] in {f.record.id for f in row.possible_duplicates}


def test_dead_records_are_not_scanned_and_lose_their_keys(session, planted):
    def keyed(record_id: str) -> bool:
        found = session.execute(
            text("SELECT 1 FROM dedup_keys WHERE record_id = :id"), {"id": record_id}
        ).first()
        return found is not None

    dedup_scan.scan(session, "supplier")
    assert keyed(planted["variant"])
    session.execute(
        text("UPDATE organizations SET status = 'cancelled' WHERE id = :id"),
        {"id": planted["variant"]},
    )
    report = dedup_scan.scan(session, "supplier")

    assert report.records == len(planted) - 1
    assert not keyed(planted["variant"]) and keyed(planted["head"])
    assert session.execute(
        text("SELECT 1 FROM dedup_candidates WHERE :id IN (left_id, right_id) AND source = 'scan'"),
        {"id": planted["variant"]},
    ).first()  # found by the first scan; the queue hides pairs of dead records


def test_a_subtree_scan_keeps_the_keys_outside_it(session, planted):
    def all_keys() -> list[Any]:
        return list(session.execute(text("SELECT * FROM dedup_keys ORDER BY 1, 2")).all())

    dedup_scan.scan(session, "supplier")
    before = all_keys()
    assert {row[0] for row in before} == set(planted.values())
    dedup_scan.scan(session, "supplier", within="1502")
    assert all_keys() == before


def test_experts_are_compared_on_their_unsealed_values(session, settings):
    """Experts' ID numbers and phones are encrypted at rest: the scan reads them in clear."""
    from datetime import date

    from registry import crypto
    from registry.identifiers import Sex, make_resident_id

    crypto.configure(crypto.load_cipher(settings))

    born = date(1979, 3, 14)
    first = orgdata.expert(
        "150102",
        name="王丽",
        sex="female",
        birth_date=born.isoformat(),
        id_number=make_resident_id("150102", born, 7, Sex.female),
    )
    # the name typed with a homophone, the ID number with one digit wrong (order 014 / 016)
    typed = dict(first, name="王莉", id_number=make_resident_id("150102", born, 8, Sex.female))
    ids = [
        organizations.register(session, kind=RecordKind.expert, payload=p, actor=None).org.id
        for p in (first, typed)
    ]
    stored = session.execute(
        text("SELECT data->>'id_number' FROM organizations WHERE id = :id"), {"id": ids[0]}
    ).scalar()
    assert stored != first["id_number"]  # sealed
    forget_dedup(session)

    report = dedup_scan.scan(session, RecordKind.expert)

    assert report.records == 2
    found = candidates(session)
    assert pair(*ids) in found, report.lines()
    assert "id_number" in {e["field"] for e in found[pair(*ids)]["evidence"]}
    keys = session.execute(text("SELECT key FROM dedup_keys")).scalars().all()
    assert keys and not any(first["id_number"][:6] in k or "王" in k for k in keys)  # hashed

    # the keys the scan wrote are the ones a registration looks for
    third = dict(first, id_number=make_resident_id("150102", born, 9, Sex.female))
    late = organizations.register(session, kind=RecordKind.expert, payload=third, actor=None)
    assert {ids[0], ids[1]} <= {f.record.id for f in late.possible_duplicates}


def test_commodities_are_scanned(session):
    """The same printer listed twice: the model with and without its series name."""
    ids = [
        organizations.register(
            session,
            kind=RecordKind.commodity,
            payload=orgdata.commodity(name="激光打印机", brand=brand, model=model),
            actor=None,
        ).org.id
        for brand, model in (("HP", "LaserJet Pro M404dn"), ("惠普", "M404dn"), ("HP", "M405dn"))
    ]
    forget_dedup(session)

    report = dedup_scan.scan(session, "commodity")

    assert report.records == 3
    assert set(candidates(session)) == {pair(ids[0], ids[1])}, report.lines()


# --- committed: the command, and the parallel compare ---------------------------------------------

runner = CliRunner()


def _plant_committed(engine: Any) -> dict[str, str]:
    with session_scope(engine) as session:
        body = org_body()
        ids = {
            "head": supplier(session, HEAD, "150102", body),
            "variant": supplier(session, VARIANT, "150202", body),
        }
        for n in range(30):  # records that share blocks with them but are other companies
            supplier(session, f"内蒙古蒙草种业{n}有限公司", "150102", org_body())
        forget_dedup(session)
    return ids


def test_cli_scan_end_to_end(cli_env):
    ids = _plant_committed(cli_env)

    result = runner.invoke(app, ["dedup", "scan", "--kind", "suppliers"])
    assert result.exit_code == 0, result.output
    assert "scanned 32 supplier records" in result.output
    assert "pairs for review: 1" in result.output
    assert "written to the review queue: 1" in result.output
    assert "skipped as judged not the same: 0" in result.output
    assert "peak RSS" in result.output
    with cli_env.connect() as conn:
        assert set(candidates(conn)) == {pair(ids["head"], ids["variant"])}
        assert conn.execute(text("SELECT count(DISTINCT record_id) FROM dedup_keys")).scalar() == 32

    within = runner.invoke(app, ["dedup", "scan", "--kind", "suppliers", "--within", "150100"])
    assert within.exit_code == 0, within.output
    assert "scanned 31 supplier records within 150100" in within.output
    assert "pairs for review: 0" in within.output

    for bad in (["--within", "15x"], ["--within", "150100", "--kind", "commodities"]):
        args = ["dedup", "scan", "--kind", "suppliers", *bad]
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2, refused.output


def test_parallel_compare_finds_what_one_process_finds(cli_env):
    ids = _plant_committed(cli_env)

    parallel = dedup_scan.scan(cli_env, "supplier", workers=2)
    with cli_env.connect() as conn:
        found = candidates(conn)
    inline = dedup_scan.scan(cli_env, "supplier", workers=1)

    assert parallel.workers == 2 and parallel.peak_rss_workers_mb > 0
    assert set(found) == {pair(ids["head"], ids["variant"])}
    assert (parallel.pairs_compared, parallel.for_review, parallel.keys) == (
        inline.pairs_compared,
        inline.for_review,
        inline.keys,
    )
