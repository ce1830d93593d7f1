"""Interop with moq's own token tooling (@moq/token from npm, its CLI), both ways.

The package is installed from ``tests/interop/node/package-lock.json`` by
``scripts/test``; without node and that install these tests fail, by design.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from relaypass import Algorithm, ClaimsPolicy, Key, Verifier
from relaypass.cli import app
from tests.test_cli import invoke

pytestmark = pytest.mark.interop
NODE_DIR = Path(__file__).parent / "node"
MOQ_CLI = NODE_DIR / "node_modules" / "@moq" / "token" / "cli.js"
# @moq/token's schema knows these algorithms (no ES512).
ALGS = [a.value for a in Algorithm]


def moq_token(*args: str, stdin: str | None = None) -> str:
    node = shutil.which("node")
    assert node is not None, "node is required for the moq interop tests (scripts/test installs it)"
    assert MOQ_CLI.exists(), "run scripts/test: it installs @moq/token with npm ci"
    done = subprocess.run(  # noqa: S603 - fixed argv, our own test inputs
        [node, str(MOQ_CLI), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("alg", ALGS)
def test_moq_key_and_token_verify_here(alg: str, tmp_path: Path) -> None:
    key_file = tmp_path / "moq.jwk"
    moq_token("generate", "--key", str(key_file), "--algorithm", alg, "--id", "moq-1")
    token = moq_token(
        "sign", "--key", str(key_file), "--root", "demo", "--publish", "alice",
        "--subscribe", "bob", "--expires", "4102444800",
    )  # fmt: skip
    key = Key.load(key_file)
    public = key if key.is_symmetric else key.public()
    verified = Verifier(public).verify(token)
    claims = dict(verified.claims)
    assert isinstance(claims.pop("iat"), int)
    assert claims == {"root": "demo", "put": ["alice"], "get": ["bob"], "exp": 4102444800}
    assert verified.kid == "moq-1"


@pytest.mark.parametrize("alg", ALGS)
def test_our_key_and_token_verify_in_moq(alg: str, tmp_path: Path) -> None:
    private, public = tmp_path / "private.jwk", tmp_path / "public.jwk"
    args = ["key", "generate", "-a", alg, "--id", "rp-1", "--out", str(private)]
    if not alg.startswith("HS"):
        args += ["--public", str(public)]
    assert invoke(app, args).exit_code == 0
    result = invoke(
        app,
        ["token", "sign", "--key", str(private), "--root", "demo", "--publish", "cam",
         "--subscribe", "", "--expires", "4102444800", "--issued", "1700000000"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    verify_key = private if alg.startswith("HS") else public
    out = moq_token("verify", "--key", str(verify_key), "--root", "demo", stdin=token)
    assert json.loads(out) == {
        "root": "demo",
        "put": ["cam"],
        "get": [""],
        "exp": 4102444800,
        "iat": 1700000000,
    }


def test_moq_base64_key_file_loads_here(tmp_path: Path) -> None:
    key_file = tmp_path / "moq.b64"
    moq_token("generate", "--key", str(key_file), "--algorithm", "EdDSA", "--base64")
    key = Key.load(key_file)
    assert key.alg == "EdDSA"
    assert key.can_sign
    token = moq_token("sign", "--key", str(key_file), "--root", "r", "--subscribe", "x")
    policy = ClaimsPolicy(require_exp=False)
    assert Verifier(key.public(), policy=policy).verify(token).claims["get"] == ["x"]
