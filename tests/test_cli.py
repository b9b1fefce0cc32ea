"""The `registry` command against a real database (DATABASE_URL set to a private test database)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from registry import migrate
from registry.cli import app
from registry.config import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(committing_db, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", committing_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield committing_db
    get_settings.cache_clear()


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
