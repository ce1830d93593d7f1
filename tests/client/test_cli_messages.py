"""Refusals name the option as the user wrote it, and list the values that would do."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from relaypass.cli import app
from tests.client.conftest import Served


@pytest.fixture
def runner(served: Served, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RELAYPASS_API_KEY", served.key)
    monkeypatch.setenv("RELAYPASS_URL", served.url)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_a_bad_ttl_names_the_ttl_flag(runner: CliRunner) -> None:
    result = runner.invoke(app, ["mint", "relay", "--ns", "live/**", "--ttl", "0"])
    assert result.exit_code == 1
    assert "--ttl" in result.stderr
    assert "ttl_seconds" not in result.stderr
    assert "ttlSeconds" not in result.stderr


def test_unknown_scopes_list_the_valid_ones(runner: CliRunner) -> None:
    result = runner.invoke(app, ["api-keys", "create", "x", "--scope", "tokens:everything"])
    assert result.exit_code == 1, result.output
    for scope in ("keys:admin", "tokens:mint", "audit:read"):
        assert scope in result.stderr


def test_a_bad_tenant_id_says_what_an_id_may_hold(runner: CliRunner) -> None:
    result = runner.invoke(app, ["tenants", "create", "no spaces please"])
    assert result.exit_code == 1, result.output
    assert "letters, digits" in result.stderr


def test_an_org_that_does_not_exist_is_not_said_to_belong_to_another(runner: CliRunner) -> None:
    result = runner.invoke(app, ["tenants", "list", "--org", "org_does_not_exist"])
    assert result.exit_code == 1, result.output
    assert "another org" not in result.stderr
    assert "leave it out" in result.stderr


def test_at_80_columns_a_minted_token_and_ids_are_whole(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["mint", "relay", "--ns", "live/**"])
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    flat = "".join(ch for ch in result.stdout if ch not in "│┃┌┐└┘├┤─━┏┓┗┛┡┩╇╈┼ \n")
    listed = runner.invoke(app, ["api-keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert "…" not in listed.stdout.replace("rp_live_", "").split("display")[0]
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    minted = runner.invoke(app, ["mint", "relay", "--ns", "live/**", "--json"])
    token = json.loads(minted.stdout)["token"]
    assert len(token) > 80
    assert token[:40] in flat  # the same kind of token, shown whole (wrapped, not cut)
    assert "expires at" in result.stdout


def test_times_are_human_in_tables_and_raw_in_json(runner: CliRunner) -> None:
    table = runner.invoke(app, ["signing-keys", "list"])
    assert table.exit_code == 0, table.output
    assert "created at" in table.stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", table.stdout)
    raw = json.loads(runner.invoke(app, ["signing-keys", "list", "--json"]).stdout)
    assert isinstance(raw["keys"][0]["createdAtMs"], int)
