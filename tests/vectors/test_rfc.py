"""RFC 7515 / 7520 / 8037 / 7797 examples: pass or refused as the RFCs (and our policy) say."""

from __future__ import annotations

from typing import Any

import pytest

from relaypass import (
    ClaimsPolicy,
    ExpiredTokenError,
    InvalidKeyError,
    Key,
    MalformedTokenError,
    UnsupportedHeaderError,
    Verifier,
    b64decode,
    is_valid_kid,
)
from relaypass._jws import verify_compact
from relaypass.testing import FrozenClock
from tests.conftest import load_vectors

VECTORS = {v["id"]: v for v in load_vectors("rfc_jws_vectors.json")["vectors"]}


def _key(vector: dict[str, Any]) -> Key:
    # Keep the kid where it fits our alphabet; drop it where it cannot (RFC 7520 4.1-4.3).
    jwk = {k: v for k, v in vector["jwk_public"].items() if k != "kid" or is_valid_kid(v)}
    return Key.from_jwk(jwk, alg=None if "alg" in jwk else vector["alg"])


@pytest.mark.parametrize("vid", ["rfc7515-A.1-HS256", "rfc7515-A.2-RS256", "rfc7515-A.3-ES256"])
def test_rfc7515_jwts_verify_when_time_is_pinned_and_are_expired_otherwise(vid: str) -> None:
    vector = VECTORS[vid]
    key = _key(vector)
    assert verify_compact(vector["compact"], key) == vector["payload_text"].encode()
    pinned = Verifier(key, clock=FrozenClock(1300819380 - 100))
    claims = pinned.verify(vector["compact"]).claims
    assert claims["iss"] == "joe"
    assert claims["http://example.com/is_root"] is True
    with pytest.raises(ExpiredTokenError):
        Verifier(key).verify(vector["compact"])


@pytest.mark.parametrize("vid", ["rfc7515-A.4-ES512", "rfc7520-4.3-ES512"])
def test_es512_is_outside_the_algorithm_allow_list(vid: str) -> None:
    with pytest.raises(InvalidKeyError):
        _key(VECTORS[vid])


@pytest.mark.parametrize("vid", ["rfc7515-A.5-none", "rfc7515-E-crit-unknown"])
def test_unsecured_and_unknown_crit_are_refused(vid: str) -> None:
    vector = VECTORS[vid]
    key = Key.generate("HS256")
    with pytest.raises((UnsupportedHeaderError, MalformedTokenError)):
        verify_compact(vector["compact"], key)
    with pytest.raises((UnsupportedHeaderError, MalformedTokenError)):
        Verifier(key).verify(vector["compact"])


@pytest.mark.parametrize("vid", ["rfc7520-4.1-RS256", "rfc7520-4.2-PS384", "rfc7520-4.4-HS256"])
def test_rfc7520_signatures_are_sound_but_refused_as_jwts(vid: str) -> None:
    vector = VECTORS[vid]
    key = _key(vector)
    signing_input, _, signature = vector["compact"].rpartition(".")
    assert key.verify(signing_input.encode(), b64decode(signature))
    # The payload is prose, not a JSON object: not a JWT. 4.1/4.2 also carry a kid
    # outside [A-Za-z0-9_-], which our header policy refuses first.
    with pytest.raises(MalformedTokenError):
        Verifier(key, policy=ClaimsPolicy(require_exp=False)).verify(vector["compact"])


def test_rfc8037_ed25519_example_verifies_as_jws_only() -> None:
    vector = VECTORS["rfc8037-A.4-EdDSA"]
    key = _key(vector)
    assert verify_compact(vector["compact"], key) == b"Example of Ed25519 signing"
    with pytest.raises(MalformedTokenError):
        Verifier(key, policy=ClaimsPolicy(require_exp=False)).verify(vector["compact"])


def test_rfc8037_private_key_signs_the_same_deterministic_signature() -> None:
    vector = VECTORS["rfc8037-A.4-EdDSA"]
    key = Key.from_jwk(vector["jwk_private"], alg="EdDSA")
    signing_input, _, signature = vector["compact"].rpartition(".")
    assert key.sign(signing_input.encode()) == b64decode(signature)


def test_rfc7797_b64_true_is_an_ordinary_jws() -> None:
    vector = VECTORS["rfc7797-4.1-HS256-b64true"]
    assert verify_compact(vector["compact"], _key(vector)) == b"$.02"


def test_rfc7797_unencoded_payload_is_refused() -> None:
    vector = VECTORS["rfc7797-4.2-HS256-b64false-detached"]
    with pytest.raises((UnsupportedHeaderError, MalformedTokenError)):
        verify_compact(vector["compact"], _key(vector))
