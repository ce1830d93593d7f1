from __future__ import annotations

from relaypass import Verifier, sign_jwt
from relaypass.testing import FrozenClock, ephemeral_key, ephemeral_keyset


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(100)
    assert clock.now() == 100
    clock.advance(5)
    assert clock.now() == 105
    clock.set(7)
    assert clock.now() == 7


def test_ephemeral_keyset_pairs_private_and_public() -> None:
    private, public = ephemeral_keyset("EdDSA", "ES256")
    assert public is not None
    key = private.get("test-1")
    assert key is not None
    token = sign_jwt({"exp": 200}, key)
    assert Verifier(public, clock=FrozenClock(100)).verify(token).kid == "test-1"


def test_hmac_sets_have_no_public_counterpart() -> None:
    private, public = ephemeral_keyset("HS256")
    assert public is None
    assert len(private) == 1
    assert ephemeral_key().can_sign
