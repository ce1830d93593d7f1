from __future__ import annotations

import pytest

from relaypass import (
    ClaimsPolicy,
    InvalidClaimError,
    InvalidPermissionsError,
    InvalidRequestError,
    Key,
    Verifier,
    sign_jwt,
)
from relaypass.profiles.relay import RelayClaims, RelayMinter
from relaypass.testing import FrozenClock
from tests.conftest import NOW

# ClutchCall's sample relay token, claim for claim.
SEED_HEADER_KID = "rk_live_abc"
SEED_CLAIMS = {
    "iss": "clutchcall-bff",
    "sub": "tenant_abc",
    "ns": ["voice/sid_xyz/*", "playback/li_xyz"],
    "exp": 1733900000,
}


@pytest.fixture
def key() -> Key:
    return Key.generate("EdDSA", kid=SEED_HEADER_KID)


def seed_grant(key: Key) -> RelayClaims:
    token = sign_jwt(SEED_CLAIMS, key)
    verifier = Verifier(
        key.public(),
        clock=FrozenClock(1733900000 - 600),
        policy=ClaimsPolicy(issuer="clutchcall-bff"),
    )
    return RelayClaims.from_wire(verifier.verify(token))


def test_seed_relay_token_verifies_and_scopes_the_session(key: Key) -> None:
    token = sign_jwt(SEED_CLAIMS, key)
    verified = Verifier(
        key.public(),
        clock=FrozenClock(1733900000 - 600),
        policy=ClaimsPolicy(issuer="clutchcall-bff"),
    ).verify(token)
    assert verified.kid == "rk_live_abc"
    grant = RelayClaims.grant(verified)
    assert grant.tenant == "tenant_abc"
    grant.authorize_publish("voice/sid_xyz/audio")
    grant.authorize_subscribe("playback/li_xyz")
    with pytest.raises(InvalidPermissionsError):
        grant.authorize_subscribe("voice/sid_other/audio")
    with pytest.raises(InvalidPermissionsError):
        grant.authorize_publish("playback/li_xyz2")
    assert seed_grant(key).namespaces == tuple(SEED_CLAIMS["ns"])  # type: ignore[arg-type]


def test_minted_relay_token_round_trips(key: Key, clock: FrozenClock) -> None:
    minter = RelayMinter(key, issuer="clutchcall-bff", clock=clock)
    token = minter.mint("tenant_abc", ["voice/sid_xyz/*"])
    verified = Verifier(key.public(), clock=clock).verify(token)
    assert verified.claims["exp"] == int(NOW) + 3600
    assert verified.claims["iat"] == int(NOW)
    assert isinstance(verified.claims["jti"], str)
    claims = RelayClaims.from_wire(verified)
    assert claims == RelayClaims("tenant_abc", ("voice/sid_xyz/*",))
    assert RelayClaims.from_wire(claims.to_wire()) == claims


def test_client_tokens_are_capped_and_service_tokens_may_live_longer(
    key: Key, clock: FrozenClock
) -> None:
    minter = RelayMinter(
        key, clock=clock, max_client_ttl_seconds=3600, max_service_ttl_seconds=86_400
    )
    with pytest.raises(InvalidRequestError):
        minter.mint("t", ["a"], ttl_seconds=3601)
    token = minter.mint("t", ["a"], ttl_seconds=86_400, service=True)
    assert Verifier(key.public(), clock=clock).verify(token).claims["exp"] == int(NOW) + 86_400
    with pytest.raises(InvalidRequestError):
        minter.mint("t", ["a"], ttl_seconds=86_401, service=True)


def test_relay_tokens_follow_the_algorithm_table() -> None:
    RelayMinter(Key.generate("ES256"))  # moq's recommendation for many relays
    with pytest.raises(InvalidRequestError, match="EdDSA, ES256, ES384"):
        RelayMinter(Key.generate("RS256"))


def test_playback_token_stays_inside_its_input(key: Key, clock: FrozenClock) -> None:
    minter = RelayMinter(key, clock=clock)
    token = minter.mint_playback_token(
        "tenant_abc", "li_xyz", scopes=["playback/li_xyz"], ttl_seconds=3600
    )
    grant = RelayClaims.grant(Verifier(key.public(), clock=clock).verify(token))
    assert grant.can_subscribe("playback/li_xyz")
    assert not grant.can_subscribe("playback/li_other")
    with pytest.raises(InvalidRequestError):
        minter.mint_playback_token("tenant_abc", "li_xyz", scopes=["playback/li_other"])
    with pytest.raises(InvalidRequestError):
        minter.mint_playback_token("tenant_abc", "li/xyz")


def test_browser_voice_token_covers_the_call(key: Key, clock: FrozenClock) -> None:
    minter = RelayMinter(key, clock=clock)
    token = minter.mint_browser_token("tenant_abc", "sid_xyz", ttl_seconds=1800)
    verified = Verifier(key.public(), clock=clock).verify(token)
    assert verified.claims["exp"] == int(NOW) + 1800
    grant = RelayClaims.grant(verified)
    assert grant.can_publish("voice/sid_xyz/mic")
    assert not grant.can_publish("voice/sid_abc/mic")


@pytest.mark.parametrize(
    "claims",
    [
        {"ns": ["a"]},
        {"sub": "t"},
        {"sub": "t", "ns": []},
        {"sub": "t", "ns": "a"},
        {"sub": "t", "ns": ["a*"]},
        {"sub": "t", "ns": ["../x"]},
        {"sub": 5, "ns": ["a"]},
        {"sub": "t", "ns": [1]},
    ],
)
def test_malformed_relay_claims_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(InvalidClaimError):
        RelayClaims.from_wire(claims)
