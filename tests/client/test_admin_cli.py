"""The admin CLI on the SDK against a served control plane: login, every command, --json."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from relaypass import decode_unverified
from relaypass.cli import app
from tests.client.conftest import Served

ADMIN_GROUPS = (
    "orgs", "tenants", "api-keys", "signing-keys", "service-accounts", "rooms", "mint",
)  # fmt: skip


@pytest.fixture
def cli(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[CliRunner, Served, Path]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for name in ("RELAYPASS_API_KEY", "CLUTCHCALL_API_KEY", "RELAYPASS_URL"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner(), served, tmp_path


def run(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_login_keeps_the_key_in_a_0600_file(cli: tuple[CliRunner, Served, Path]) -> None:
    runner, served, home = cli
    who = run(runner, "login", "--url", served.url, "--api-key", served.key)
    assert who["orgId"] == served.org
    stored = home / "relaypass" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == {"url": served.url, "api_key": served.key}
    table = runner.invoke(app, ["whoami"])
    assert table.exit_code == 0
    assert served.org in table.stdout
    assert served.key not in table.stdout
    assert run(runner, "logout") == {"loggedOut": True}
    refused = runner.invoke(app, ["whoami"])
    assert refused.exit_code == 1
    assert "INVALID_API_KEY" in refused.output


def test_login_with_a_bad_key_stores_nothing(cli: tuple[CliRunner, Served, Path]) -> None:
    runner, served, home = cli
    result = runner.invoke(app, ["login", "--url", served.url, "--api-key", "rp_live_nope"])
    assert result.exit_code == 1
    assert "INVALID_API_KEY" in result.output
    assert not (home / "relaypass" / "credentials.json").exists()


def test_every_admin_command_answers_in_json_and_tables(
    cli: tuple[CliRunner, Served, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner, served, _ = cli
    monkeypatch.setenv("RELAYPASS_URL", served.url)
    monkeypatch.setenv("RELAYPASS_API_KEY", served.key)

    org = run(runner, "orgs", "create", "Gamma", "--namespace", "gamma")
    assert org["adminKey"]["key"].startswith("rp_live_")
    assert org["orgId"] in {o["id"] for o in run(runner, "orgs", "list")["orgs"]}
    assert run(runner, "orgs", "disable", org["orgId"])["disabled"] == org["orgId"]

    run(runner, "tenants", "create", "initech", "--label", "Initech")
    assert "initech" in {t["id"] for t in run(runner, "tenants", "list")["tenants"]}

    key = run(runner, "api-keys", "create", "ci", "--scope", "tokens:mint")
    assert key["key"].startswith("rp_live_")
    assert key["id"] in {k["id"] for k in run(runner, "api-keys", "list")["keys"]}
    rerolled = run(runner, "api-keys", "reroll", key["id"], "--grace-seconds", "60")
    assert rerolled["replaces"] == key["id"]
    assert run(runner, "api-keys", "revoke", rerolled["id"])["revoked"] == rerolled["id"]

    spare = run(runner, "signing-keys", "create", "spare", "--algorithm", "ES256")
    assert spare["algorithm"] == "ES256"
    assert spare["id"] in {k["kid"] for k in run(runner, "signing-keys", "list")["keys"]}
    assert run(runner, "signing-keys", "retire", spare["id"])["retired"] == spare["id"]
    other = run(runner, "signing-keys", "create", "other")
    assert run(runner, "signing-keys", "revoke", other["id"])["revoked"] == other["id"]

    pem_file = tmp_path / "sa.pem"
    pem_file.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    publish = ("--tenant", "acme", "--kid", "sa-cli")
    assert run(runner, "service-accounts", "publish", *publish, "--public-key", str(pem_file)) == {}
    listed = run(runner, "service-accounts", "list", "--tenant", "acme")["serviceAccounts"]
    assert [s["privateKeyId"] for s in listed] == ["sa-cli"]
    assert run(runner, "service-accounts", "revoke", *publish) == {}

    relay = run(runner, "mint", "relay", "--tenant", "acme", "--ns", "acme/**", "--ttl", "60")
    assert decode_unverified(relay["token"])[1]["ns"] == ["acme/**"]
    moq = run(runner, "mint", "moq", "--root", "demo", "--publish", "alice", "--subscribe", "")
    assert decode_unverified(moq["token"])[1]["root"] == "demo"
    room = run(runner, "mint", "room", "--room", "r1", "--participant", "ada", "--role", "host")
    assert room["token"].count(".") == 2

    assert run(runner, "rooms", "lobby", "r1") == {"waiting": []}  # no Redis: no gate reports
    assert run(runner, "rooms", "admit", "r1", "ada")["action"] == "admit"
    changed = run(runner, "rooms", "update", "r1", "ada", "--grant", '{"canSubscribe": true}',
                  "--viewer")  # fmt: skip
    assert changed == {
        "roomId": "r1",
        "participantId": "ada",
        "action": "update",
        "published": None,
    }
    assert run(runner, "rooms", "remove", "r1", "ada")["action"] == "remove"
    assert run(runner, "rooms", "end", "r1")["action"] == "end"
    bad = runner.invoke(app, ["rooms", "update", "r1", "ada", "--grant", '{"canFly": true}'])
    assert bad.exit_code == 1
    assert "INVALID_REQUEST" in bad.stderr

    events = run(runner, "audit", "--action", "token.mint", "--limit", "3")["events"]
    assert len(events) == 3
    table = runner.invoke(app, ["tenants", "list"])
    assert table.exit_code == 0
    assert "initech" in table.stdout
    assert "┃" in table.stdout or "|" in table.stdout  # a rich table


def test_a_refusal_is_one_line_with_its_code(
    cli: tuple[CliRunner, Served, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, served, _ = cli
    monkeypatch.setenv("RELAYPASS_URL", served.url)
    monkeypatch.setenv("RELAYPASS_API_KEY", served.key)
    result = runner.invoke(app, ["tenants", "list", "--org", "org_elsewhere"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("INVALID_PERMISSIONS")
    as_json = runner.invoke(app, ["tenants", "list", "--org", "org_elsewhere", "--json"])
    # (the in-process server logs to the same stdout: the answer is the last line)
    answer = as_json.stdout.strip().splitlines()[-1]
    assert json.loads(answer)["error"]["code"] == "INVALID_PERMISSIONS"


def test_every_admin_command_has_json() -> None:
    root: Any = typer.main.get_command(app)
    commands: list[Any] = [root.commands[n] for n in ("login", "logout", "whoami", "audit")]
    for name in ADMIN_GROUPS:
        commands += list(root.commands[name].commands.values())
    assert len(commands) > 20
    for command in commands:
        assert any("--json" in p.opts for p in command.params), command.name
