"""moq-auth's token format: written as moq-auth writes it, read by every verifier here.

The wire vectors are moq-auth's own (``rs/moq-auth/src/claims.rs`` tests): the
legacy ``put``/``get`` form when every grant is a subtree, ``publish``/
``subscribe`` otherwise, nothing moq's server would refuse. The legacy form
is checked with ``@moq/token`` itself (npm); the pattern form with our
verifier and the moq-relay auth server.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from relaypass import Key, KeySet, Verifier, sign_jwt
from relaypass.cli import app
from relaypass.errors import InvalidRequestError
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.moq_auth import MoqAuthServer
from relaypass.profiles.moq import MoqClaims
from tests.interop.test_moq_npm import moq_token
from tests.test_cli import invoke

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    ("claims", "wire"),
    [
        (MoqClaims(root="demo", publish_patterns=("room/**",), subscribe_patterns=("**",)),
         {"root": "demo", "put": ["room"], "get": [""]}),
        (MoqClaims(root="demo", publish_patterns=("room",)),
         {"root": "demo", "publish": ["room"]}),
        (MoqClaims(root="live", publish_patterns=("camera1",),
                   subscribe_patterns=("camera1", "camera2")),
         {"root": "live", "publish": ["camera1"], "subscribe": ["camera1", "camera2"]}),
        (MoqClaims(root="r", publish=("a",), subscribe_patterns=("b/*/c",)),
         {"root": "r", "publish": ["a/**"], "subscribe": ["b/*/c"]}),
        (MoqClaims(root="r", publish=("a", "a"), expires=9, issued=1),
         {"root": "r", "put": ["a"], "exp": 9, "iat": 1}),
    ],
    ids=["subtrees-legacy", "exact", "exact-both", "mixed-patterns", "dedup-times"],
)  # fmt: skip
def test_moq_auth_writes_its_own_vectors(claims: MoqClaims, wire: dict[str, object]) -> None:
    assert claims.to_auth_wire() == wire
    again = MoqClaims.from_wire(wire)  # and every verifier here reads it back
    assert again.claimed_paths() == MoqClaims.from_wire(claims.to_auth_wire()).claimed_paths()


def test_what_moq_auth_would_refuse_is_never_written() -> None:
    with pytest.raises(InvalidRequestError, match="cluster"):
        MoqClaims(root="r", publish=("a",), cluster=True).to_auth_wire()
    with pytest.raises(InvalidRequestError, match="at least one"):
        MoqClaims(root="r").to_auth_wire()


def test_moq_auth_cli_spelling_signs_and_verifies(tmp_path: Path) -> None:
    private, public, jwt = tmp_path / "private.jwk", tmp_path / "public.jwk", tmp_path / "a.jwt"
    made = invoke(app, ["moq-auth", "generate", "--algorithm", "ES256", "--out", str(private),
                        "--public", str(public)])  # fmt: skip
    assert made.exit_code == 0, made.output
    signed = invoke(app, ["moq-auth", "sign", "--key", str(private), "--root", "rooms/123",
                          "--publish", "alice/*", "--subscribe", "**",
                          "--expires", "4102444800"])  # fmt: skip
    assert signed.exit_code == 0, signed.output
    jwt.write_text(signed.stdout)
    checked = invoke(app, ["moq-auth", "verify", "--key", str(public), "--in", str(jwt)])
    assert checked.exit_code == 0, checked.output
    claims = json.loads(checked.stdout)
    assert isinstance(claims.pop("iat"), int)
    assert claims == {"root": "rooms/123", "publish": ["alice/*"], "subscribe": ["**"],
                      "exp": 4102444800}  # fmt: skip


def test_moq_auth_verify_refuses_a_claim_moq_auth_refuses(tmp_path: Path) -> None:
    key = Key.generate("EdDSA", kid="k1")
    (tmp_path / "public.jwk").write_text(json.dumps(key.public().to_jwk()))
    with_aud = sign_jwt({"root": "r", "get": [""], "aud": "relay"}, key)
    (tmp_path / "t.jwt").write_text(with_aud)
    refused = invoke(app, ["moq-auth", "verify", "--key", str(tmp_path / "public.jwk"),
                           "--in", str(tmp_path / "t.jwt")])  # fmt: skip
    assert refused.exit_code == 1
    assert "aud" in refused.output


def test_the_legacy_form_verifies_with_moq_token(tmp_path: Path) -> None:
    private = tmp_path / "private.jwk"
    assert (
        invoke(app, ["moq-auth", "generate", "--out", str(private), "--id", "hs-1"]).exit_code == 0
    )
    signed = invoke(app, ["moq-auth", "sign", "--key", str(private), "--root", "demo",
                          "--publish", "cam/**", "--subscribe", "**", "--issued", "1700000000",
                          "--expires", "4102444800"])  # fmt: skip
    assert signed.exit_code == 0, signed.output
    out = moq_token("verify", "--key", str(private), "--root", "demo", stdin=signed.stdout.strip())
    assert json.loads(out) == {"root": "demo", "put": ["cam"], "get": [""], "exp": 4102444800,
                               "iat": 1700000000}  # fmt: skip


def test_a_pattern_token_is_admitted_by_the_moq_auth_server_with_its_patterns() -> None:
    key = Key.generate("EdDSA", kid="k-pat")
    wire = MoqClaims(root="rooms/123", publish_patterns=("alice/*",), subscribe_patterns=("**",),
                     expires=int(time.time()) + 60).to_auth_wire()  # fmt: skip
    token = sign_jwt(wire, key)
    assert Verifier(key.public()).verify(token).claims["publish"] == ["alice/*"]
    server = MoqAuthServer(Gate(StaticKeySource(KeySet([key.public()])), profile="moq"))
    body = {"id": "ab", "event": "connect", "node": "n", "transport": "quic",
            "path": "/rooms/123", "query": f"jwt={token}"}  # fmt: skip
    status, grant = asyncio.run(server.answer(json.dumps(body).encode()))
    assert status == 200, grant
    assert (grant["publish"], grant["subscribe"]) == (["alice/*"], ["**"])
