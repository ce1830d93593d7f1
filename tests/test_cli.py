from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from relaypass import Key, Verifier, sign_jwt
from relaypass.cli import app

_runner = CliRunner()


def invoke(application: Any, args: list[str], stdin: str | None = None) -> Any:
    return _runner.invoke(application, args, input=stdin)


def test_key_generate_writes_private_0600_and_public(tmp_path: Path) -> None:
    private, public = tmp_path / "k.jwk", tmp_path / "p.jwk"
    result = invoke(
        app,
        ["key", "generate", "-a", "ES256", "--id", "v1", "--out", str(private),
         "--public", str(public), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info == {"kid": "v1", "alg": "ES256", "out": str(private), "public": str(public)}
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "d" not in json.loads(public.read_text())
    assert Key.load(private).can_sign


def test_key_generate_without_out_prints_the_jwk() -> None:
    result = invoke(app, ["key", "generate", "-a", "HS384", "--id", "x"])
    assert result.exit_code == 0
    assert Key.from_jwk(result.stdout).alg == "HS384"


def test_key_generate_refuses_bad_kid(tmp_path: Path) -> None:
    result = invoke(
        app, ["key", "generate", "--id", "../x", "--out", str(tmp_path / "k"), "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "INVALID_KEY"


def test_sign_writes_moq_wire_claims(tmp_path: Path) -> None:
    key_file = tmp_path / "k.jwk"
    Key.generate("HS256", kid="k").save(key_file)
    result = invoke(
        app,
        ["token", "sign", "--key", str(key_file), "--root", "demo", "--publish", "a",
         "--publish", "b", "--subscribe", "", "--expires", "4102444800", "--issued", "1700000000"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    claims = Verifier(Key.load(key_file)).verify(result.stdout.strip()).claims
    assert dict(claims) == {
        "root": "demo",
        "put": ["a", "b"],
        "get": [""],
        "exp": 4102444800,
        "iat": 1700000000,
    }


def test_sign_always_writes_root_and_never_aud(tmp_path: Path) -> None:
    key_file = tmp_path / "k.jwk"
    Key.generate("HS256", kid="k").save(key_file)
    result = invoke(app, ["token", "sign", "--key", str(key_file), "--subscribe", "x", "--json"])
    token = json.loads(result.stdout)["token"]
    claims = Verifier(Key.load(key_file), policy=_no_exp()).verify(token).claims
    assert claims["root"] == ""
    assert "aud" not in claims


def test_sign_refuses_a_token_with_no_permissions(tmp_path: Path) -> None:
    key_file = tmp_path / "k.jwk"
    Key.generate("HS256", kid="k").save(key_file)
    result = invoke(app, ["token", "sign", "--key", str(key_file), "--root", "demo"])
    assert result.exit_code == 1


def _no_exp() -> Any:
    from relaypass import ClaimsPolicy

    return ClaimsPolicy(require_exp=False)


def test_verify_reads_stdin_and_prints_claims(tmp_path: Path) -> None:
    key = Key.generate("EdDSA", kid="e")
    key.save(tmp_path / "pub.jwk", private=False)
    token = sign_jwt({"root": "demo", "get": ["x"], "exp": 4102444800}, key)
    result = invoke(app, ["token", "verify", "--key", str(tmp_path / "pub.jwk")], stdin=token)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"root": "demo", "get": ["x"], "exp": 4102444800}


@pytest.mark.parametrize(
    ("claims", "extra"),
    [
        ({"root": "demo", "get": ["x"], "exp": 1}, []),
        ({"root": "demo", "get": ["x"], "exp": 4102444800}, ["--root", "other"]),
        ({"root": "demo", "get": ["x"]}, ["--require-exp"]),
    ],
)
def test_verify_refusal_exits_1_with_the_code(
    claims: dict[str, object], extra: list[str], tmp_path: Path
) -> None:
    key = Key.generate("HS256", kid="h")
    key.save(tmp_path / "k.jwk")
    token = sign_jwt(claims, key)
    result = invoke(
        app,
        ["token", "verify", "--key", str(tmp_path / "k.jwk"), "--token", token, "--json", *extra],
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "INVALID_TOKEN"
    assert token not in result.output


def test_verify_with_the_wrong_key_fails(tmp_path: Path) -> None:
    Key.generate("HS256", kid="h").save(tmp_path / "k.jwk")
    token = sign_jwt({"root": "", "get": [""], "exp": 4102444800}, Key.generate("HS256", kid="h"))
    result = invoke(app, ["token", "verify", "--key", str(tmp_path / "k.jwk"), "--token", token])
    assert result.exit_code == 1
    assert "INVALID_TOKEN" in result.output


def test_missing_key_file_is_a_clean_error(tmp_path: Path) -> None:
    result = invoke(app, ["token", "verify", "--key", str(tmp_path / "none.jwk"), "--token", "x"])
    assert result.exit_code == 1


def test_demo_mints_and_verifies() -> None:
    result = invoke(app, ["demo", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["verified"] is True
    assert out["claims"]["root"] == "demo"


@pytest.mark.parametrize("command", [["key", "generate"], ["token", "sign"], ["token", "verify"]])
def test_help_has_examples(command: list[str]) -> None:
    result = invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.stdout
    assert "--json" in result.stdout


def test_admin_bootstrap_runs_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYPASS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RELAYPASS_DATABASE_URL", raising=False)
    first = invoke(app, ["admin", "bootstrap", "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["apiKey"].startswith("rp_live_")
    again = invoke(app, ["admin", "bootstrap", "--json"])
    assert again.exit_code == 1
    assert json.loads(again.stdout)["error"]["code"] == "INVALID_REQUEST"
    assert stat.S_IMODE((tmp_path / "kek.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "pepper.key").stat().st_mode) == 0o600


def test_version_matches_the_package() -> None:
    import tomllib

    from relaypass import __version__

    result = invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"relaypass {__version__}"
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["version"] == __version__


def test_key_generate_never_overwrites_a_key_without_force(tmp_path: Path) -> None:
    private = tmp_path / "k.jwk"
    assert invoke(app, ["key", "generate", "--out", str(private)]).exit_code == 0
    before = private.read_text()
    again = invoke(app, ["key", "generate", "--out", str(private), "--json"])
    assert again.exit_code == 1
    assert json.loads(again.stdout)["error"]["code"] == "INVALID_REQUEST"
    assert private.read_text() == before
    assert invoke(app, ["key", "generate", "--out", str(private), "--force"]).exit_code == 0
    assert private.read_text() != before


def test_token_sign_warns_about_a_past_expiry(tmp_path: Path) -> None:
    key = tmp_path / "k.jwk"
    Key.generate("HS256", kid="k").save(key)
    signed = invoke(app, ["token", "sign", "--key", str(key), "--root", "a", "--publish", "",
                          "--expires", "1000"])  # fmt: skip
    assert signed.exit_code == 0
    assert "in the past" in signed.stderr


def test_token_verify_reads_the_control_planes_jwks(tmp_path: Path) -> None:
    from relaypass import KeySet

    signer = Key.generate("EdDSA", kid="rk_1")
    other = Key.generate("EdDSA", kid="rk_2")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([signer.public(), other.public()]).to_jwks()))
    token = sign_jwt({"root": "demo", "get": [""]}, signer)
    result = invoke(app, ["token", "verify", "--key", str(jwks), "--token", token, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kid"] == "rk_1"


def test_a_missing_key_file_is_named_and_honours_json(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jwk"
    result = invoke(app, ["token", "verify", "--key", str(missing), "--token", "x", "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "INVALID_KEY"
    assert str(missing) in error["reason"]


def test_every_command_takes_json_and_flags_show_no_placeholder() -> None:
    from relaypass.cli._app import command

    def walk(node: Any, path: list[str]) -> Any:
        children = getattr(node, "commands", None)
        if children:
            for name, child in children.items():
                yield from walk(child, [*path, name])
        else:
            yield path, node

    exact = {("moq-auth", "generate"), ("moq-auth", "sign"), ("moq-auth", "verify")}
    leaves = [  # moq-token and `moq auth`'s token commands: moq's own spelling, exactly
        (p, c) for p, c in walk(command(), []) if p[0] != "moq-token" and tuple(p) not in exact
    ]
    assert len(leaves) > 30
    for path, leaf in leaves:
        assert any("--json" in p.opts for p in leaf.params), " ".join(path)
        for param in leaf.params:
            if getattr(param, "is_flag", False):
                assert param.metavar == " ", (path, param.name)


def test_the_relay_listens_on_loopback_unless_told_otherwise() -> None:
    import typer.main

    relay = typer.main.get_command(app).commands["relay"]  # type: ignore[attr-defined]
    bind = next(p for p in relay.params if p.name == "bind")
    assert bind.default.startswith("127.0.0.1:")
    page = (Path(__file__).resolve().parents[1] / "docs" / "gate.md").read_text(encoding="utf-8")
    assert "--bind '[::]:4443'" in page
