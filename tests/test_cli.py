"""The `registry` command against a real database (DATABASE_URL set to a private test database)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from registry import migrate
from registry.cli import app
from registry.config import get_settings

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
        ["seed"],
        ["account"],
        ["account", "create-admin"],
        ["account", "create"],
        ["catalog", "import"],
        ["keys"],
        ["keys", "rotate"],
        ["keys", "rotate-personal-data"],
        ["keys", "reencrypt"],
        ["experts"],
        ["experts", "check"],
        ["reindex"],
        ["dedup"],
        ["dedup", "scan"],
    ],
)
def test_help_everywhere(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_db_current_and_seed_is_idempotent(cli_env):
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0, result.output
    head = migrate.head_revision()
    assert f"current: {head}  head: {head}" in result.output
    again = runner.invoke(app, ["seed"])
    assert again.exit_code == 0, again.output
    with cli_env.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM regions")).scalar() == 116


def test_create_admin_then_duplicate_is_refused(cli_env):
    result = runner.invoke(
        app,
        ["account", "create-admin", "--username", "root", "--password-stdin"],
        input="a-long-password-1\n",
    )
    assert result.exit_code == 0, result.output
    with cli_env.connect() as conn:
        row = conn.execute(
            text("SELECT kind, role, region_code FROM accounts WHERE username = 'root'")
        ).one()
    assert tuple(row) == ("staff", "admin", "150000")
    dup = runner.invoke(
        app,
        ["account", "create-admin", "--username", "ROOT", "--password-stdin"],
        input="a-long-password-1\n",
    )
    assert dup.exit_code == 1
    assert "已被使用" in dup.output


def test_catalog_import_with_bad_rows_writes_nothing(cli_env, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\nA02010199,新品目\nZZ,坏编码\nA02010198,\n", encoding="utf-8")
    result = runner.invoke(app, ["catalog", "import", str(bad)])
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "第 4 行" in result.output
    with cli_env.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM catalog_items WHERE code = 'A02010199'")
            ).scalar()
            == 0
        )


def test_keys_rotate_adds_a_signing_key(cli_env):
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    listed = runner.invoke(app, ["keys", "list"])
    assert len(listed.output.strip().splitlines()) == 2


def test_serve_with_two_workers_shares_one_signing_key(cli_env, tmp_path):
    """`registry serve --workers 2`: both processes serve, and accept each other's tokens."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    created = runner.invoke(
        app,
        ["account", "create-admin", "--username", "root", "--password-stdin"],
        input="a-long-password-1\n",
    )
    assert created.exit_code == 0, created.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = ["serve", "--workers", "2", "--port", str(port)]
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-c", "from registry.cli import main; main()", *command],
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            time.sleep(0.3)
        tokens = set()
        for _ in range(6):  # new connections land on either worker
            r = httpx.post(
                f"{base}/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "root",
                    "password": "a-long-password-1",
                },
            )
            assert r.status_code == 200, r.text
            tokens.add(r.json()["access_token"])
        for token in tokens:
            for _ in range(4):
                me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"})
                assert me.status_code == 200, me.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_experts_check_runs_on_an_empty_registry(cli_env):
    result = runner.invoke(app, ["experts", "check"])
    assert result.exit_code == 0, result.output
    assert "0 suspensions ended, 0 experts expired" in result.output


def test_personal_data_key_rotation_and_reencryption(cli_env, tmp_path):
    """A new key, then re-encryption: the expert written before reads the same afterwards."""
    import json

    from sqlalchemy import text as sql

    from models.organization import RecordKind
    from registry import crypto, organizations
    from registry.db import session_scope
    from tests import orgdata
    from tests.conftest import staff

    settings = get_settings()
    crypto.configure(crypto.load_cipher(settings))
    body = orgdata.expert("150102")
    with session_scope(cli_env) as session:
        row = organizations.register(session, kind=RecordKind.expert, payload=body, actor=None)
        expert_id = row.org.id
    first_kid = crypto.cipher().current_kid

    rotated = runner.invoke(app, ["keys", "rotate-personal-data"])
    assert rotated.exit_code == 0, rotated.output
    reencrypted = runner.invoke(app, ["keys", "reencrypt"])
    assert reencrypted.exit_code == 0, reencrypted.output
    assert "re-encrypted 1 of 1" in reencrypted.output

    with cli_env.connect() as conn:
        stored = conn.execute(
            sql("SELECT data FROM organizations WHERE id = :id"), {"id": expert_id}
        ).scalar_one()
    assert body["id_number"] not in json.dumps(stored)
    new_kid = crypto.cipher().current_kid
    assert new_kid != first_kid and stored["id_number"].startswith(f"pd1.{new_kid}.")
    with session_scope(cli_env) as session:
        found = organizations.by_id_number(
            session, id_number=body["id_number"], actor=staff("150000")
        )
        assert found.org.id == expert_id
        shown = organizations.to_out(found, staff("150000")).data
        assert shown["id_number"] == body["id_number"] and shown["phone"] == body["phone"]


def test_reindex_check_finds_differences_and_reindex_repairs_them(cli_env):
    """`registry reindex --check` reports missing and stale documents; `registry reindex` fixes
    them (a record loaded without its document, a document changed behind the service's back)."""
    from sqlalchemy import text as sql

    from models.organization import RecordKind
    from registry import crypto, organizations
    from registry.db import session_scope
    from tests import orgdata

    crypto.configure(crypto.load_cipher(get_settings()))
    with session_scope(cli_env) as session:
        first = organizations.register(
            session, kind=RecordKind.supplier, payload=orgdata.supplier("150102"), actor=None
        ).org.id
        second = organizations.register(
            session, kind=RecordKind.supplier, payload=orgdata.supplier("150102"), actor=None
        ).org.id

    clean = runner.invoke(app, ["reindex", "--check"])
    assert clean.exit_code == 0, clean.output
    assert "match the records" in clean.output

    with cli_env.begin() as conn:
        conn.execute(sql("DELETE FROM search_documents WHERE record_id = :id"), {"id": first})
        conn.execute(
            sql("UPDATE search_documents SET name = 'stale' WHERE record_id = :id"), {"id": second}
        )
    dirty = runner.invoke(app, ["reindex", "--check"])
    assert dirty.exit_code == 1, dirty.output
    assert "records without a document: 1" in dirty.output and first in dirty.output
    assert "stale documents: 1" in dirty.output and second in dirty.output

    repaired = runner.invoke(app, ["reindex"])
    assert repaired.exit_code == 0, repaired.output
    assert "1 documents added, 1 rebuilt" in repaired.output
    assert runner.invoke(app, ["reindex", "--check"]).exit_code == 0
