"""Tokens minted by moq's Rust moq-token CLI verify here and decode to exactly their claims."""

from __future__ import annotations

from typing import Any

import pytest

from relaypass import ClaimsPolicy, Key, Verifier, b64decode, sign_jwt
from relaypass.profiles.moq import MoqClaims
from tests.conftest import load_vectors

VECTORS = load_vectors("moq-token-vectors.json")["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_moq_token_vector_verifies_with_its_key(vector: dict[str, Any]) -> None:
    key = Key.from_jwk(vector["key"])
    assert key.kid == vector["key"]["kid"]
    # moq-token mints without exp unless asked: its verifier does not demand one.
    verified = Verifier(key, policy=ClaimsPolicy(require_exp=False)).verify(vector["token"])
    assert dict(verified.claims) == vector["claims"]
    assert verified.kid == vector["header"]["kid"]
    assert verified.alg == vector["header"]["alg"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_moq_claims_round_trip_through_the_profile(vector: dict[str, Any]) -> None:
    claims = MoqClaims.from_wire(vector["claims"])
    assert claims.root == vector["claims"].get("root", "")
    wire = claims.to_wire()
    assert wire == {"root": claims.root, **vector["claims"]}


def test_hmac_vector_is_reproduced_byte_for_byte() -> None:
    vector = next(v for v in VECTORS if v["name"] == "hs256-root-demo")
    key = Key.from_jwk(vector["key"])
    token = sign_jwt(vector["claims"], key)
    assert token == vector["token"]
    header = b64decode(token.split(".")[0])
    assert header == b'{"typ":"JWT","alg":"HS256","kid":"d55b1f13e6bda281"}'
