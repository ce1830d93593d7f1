"""Every moq-token command of moq's authentication guide, run unchanged in a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relaypass import ClaimsPolicy, Key, Verifier

BIN = Path(sys.executable).parent


def sh(command: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    return subprocess.run(  # noqa: S603 - fixed argv; the command is the guide's own text
        ["/bin/bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def guide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's keys, generated exactly as it says."""
    cwd = tmp_path_factory.mktemp("moq-guide")
    for command in (
        "moq-token --key secret.jwk generate",
        "moq-token --key private.jwk generate --algorithm RS256 --public public.jwk",
        'moq-token --key secret-v1.jwk generate --algorithm HS256 --id "v1"',
        'moq-token --key secret-v2.jwk generate --algorithm HS256 --id "v2"',
    ):
        done = sh(command, cwd)
        assert done.returncode == 0, (command, done.stderr)
    return cwd


def test_generated_keys_are_moq_token_files(guide: Path) -> None:
    assert Key.load(guide / "secret.jwk").alg == "HS256"
    assert Key.load(guide / "private.jwk").has_private
    assert not Key.load(guide / "public.jwk").has_private
    assert Key.load(guide / "secret-v1.jwk").kid == "v1"
    assert (guide / "secret.jwk").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("command", "root", "put", "get"),
    [
        ('moq-token --key secret.jwk sign --root "demo" --publish "my-stream" > publisher.jwt',
         "demo", ["my-stream"], None),
        ('moq-token --key secret.jwk sign --root "demo" --subscribe "" > subscriber.jwt',
         "demo", None, [""]),
        ('moq-token --key secret.jwk sign --root "demo" --publish "streams" > t.jwt',
         "demo", ["streams"], None),
        ('moq-token --key secret.jwk sign --root "demo" --publish "" > t.jwt', "demo", [""], None),
        (('moq-token --key secret.jwk sign --root "demo" --publish "my-stream" '
         '--publish "my-other-stream" --subscribe "streams" --subscribe "archives" > t.jwt'),
         "demo", ["my-stream", "my-other-stream"], ["streams", "archives"]),
        (('moq-token --key secret.jwk sign --root "demo" --publish "my-stream" '
         "--expires $(date -d '+1 hour' +%s) > t.jwt"), "demo", ["my-stream"], None),
        ('moq-token --key secret.jwk sign --root "" --publish "" --subscribe "" --cluster > t.jwt',
         "", [""], [""]),
    ],
)  # fmt: skip
def test_every_sign_command_of_the_guide(
    guide: Path, command: str, root: str, put: list[str] | None, get: list[str] | None
) -> None:
    done = sh(command, guide)
    assert done.returncode == 0, done.stderr
    out = next(p for p in ("publisher.jwt", "subscriber.jwt", "t.jwt") if f"> {p}" in command)
    token = (guide / out).read_text().strip()
    lenient = ClaimsPolicy(require_exp=False)  # the guide signs tokens without --expires
    claims = Verifier(Key.load(guide / "secret.jwk"), policy=lenient).verify(token).claims
    assert claims.get("root", "") == root
    assert claims.get("put") == put
    assert claims.get("get") == get


def test_an_expiry_in_the_past_is_signed_with_a_warning(guide: Path) -> None:
    done = sh(
        'moq-token --key secret.jwk sign --root "demo" --publish "my-stream" --expires 1735689600',
        guide,
    )
    assert done.returncode == 0
    assert "in the past" in done.stderr


def test_verify_reads_the_token_on_stdin(guide: Path) -> None:
    token = sh('moq-token --key secret.jwk sign --root "demo" --publish "my-stream"', guide)
    done = sh(f'echo "{token.stdout.strip()}" | moq-token --key secret.jwk verify', guide)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["root"] == "demo"
    public = sh(
        "moq-token --key private.jwk sign --root demo --subscribe '' > rs.jwt && "
        "moq-token --key public.jwk verify < rs.jwt",
        guide,
    )
    assert public.returncode == 0, public.stderr
    other = sh(f'echo "{token.stdout.strip()}" | moq-token --key secret-v1.jwk verify', guide)
    assert other.returncode == 1
    assert "INVALID_TOKEN" in other.stderr


def test_dirs_dashes_and_the_relaypass_spelling(tmp_path: Path) -> None:
    done = sh(
        "mkdir keys pub && moq-token generate --algorithm EdDSA --id k1 --out-dir keys "
        "--public-dir pub && moq-token generate --id s1 --out - > s1.jwk && "
        "moq-token sign --key - --root demo --publish x < s1.jwk > t.jwt && "
        "relaypass moq-token --key keys/k1.jwk sign --root demo --subscribe '' > e.jwt && "
        "moq-token verify --key pub/k1.jwk --in e.jwt",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert Key.load(tmp_path / "keys" / "k1.jwk").has_private
    assert not Key.load(tmp_path / "pub" / "k1.jwk").has_private
    assert Verifier(Key.load(tmp_path / "s1.jwk"), policy=ClaimsPolicy(require_exp=False)).verify(
        (tmp_path / "t.jwt").read_text().strip()
    )
    both = sh("moq-token generate --algorithm EdDSA --out - --public -", tmp_path)
    assert both.returncode == 1
    assert "stdout" in both.stderr
