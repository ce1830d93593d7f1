from __future__ import annotations

import jwt as pyjwt
import pytest

from relaypass import (
    ExpiredTokenError,
    InvalidApiKeyError,
    InvalidClaimError,
    InvalidEntryClaimError,
    InvalidPermissionsError,
    InvalidRequestError,
    InvalidTokenError,
    Key,
    UnauthorizedParticipantError,
    UnauthorizedRoomError,
    b64decode,
    sign_jwt,
)
from relaypass.profiles.room import (
    JoinPolicy,
    RoomAction,
    RoomClaims,
    RoomGrantFlags,
    RoomMinter,
    RoomVerifier,
    authorize,
    role_preset,
)
from relaypass.testing import FrozenClock
from tests.conftest import NOW

API_KEY = "vsdk_live_a1b2c3d4"

# VideoSDK's sample host token, claim for claim.
SEED_HOST = {
    "roomId": "team-standup",
    "participantId": "alice-42",
    "isViewer": False,
    "joinPolicy": {"mode": "direct"},
    "grant": {
        "canPublish": True,
        "canPublishSources": ["camera", "microphone", "screen"],
        "canSubscribe": True,
        "canPublishData": True,
        "canSubscribeData": True,
        "canRecord": True,
        "canHls": True,
        "canLivestream": True,
        "canTranscribe": True,
        "canWhiteboard": True,
        "canModerate": True,
    },
    "iss": "vsdk_live_a1b2c3d4",
    "iat": 1716800000,
    "nbf": 1716800000,
    "exp": 1716803600,
    "jti": "e8c1f0a2-7b3d-4e6f-9a01-2c3d4e5f6071",
}
SEED_NOW = 1716800100


@pytest.fixture
def secret() -> Key:
    return Key.generate("HS256", kid="app-secret")


def room_verifier(secret: Key, now: float = SEED_NOW) -> RoomVerifier:
    keys = {API_KEY: secret}
    return RoomVerifier(keys.get, clock=FrozenClock(now))


def pyjwt_mint(secret: Key, claims: dict[str, object]) -> str:
    """As the seed's backend does: jsonwebtoken/PyJWT, HS256, no kid."""
    raw = b64decode(str(secret.to_jwk(private=True)["k"]))
    return pyjwt.encode(claims, raw, algorithm="HS256")


def test_seed_host_token_minted_by_a_jwt_library_joins(secret: Key) -> None:
    token = pyjwt_mint(secret, SEED_HOST)
    room, grant = room_verifier(secret).join(token, "team-standup", "alice-42")
    assert room.to_wire() == {
        k: SEED_HOST[k] for k in ("roomId", "participantId", "isViewer", "joinPolicy", "grant")
    }
    for action in RoomAction:
        authorize(grant, action)
    authorize(grant, RoomAction.PUBLISH, source="screen")


def test_wrong_room_and_participant_are_refused_with_their_codes(secret: Key) -> None:
    token = pyjwt_mint(secret, SEED_HOST)
    with pytest.raises(UnauthorizedRoomError) as room:
        room_verifier(secret).join(token, "other-room")
    assert room.value.code == "UNAUTHORIZED_ROOM"
    with pytest.raises(UnauthorizedParticipantError) as who:
        room_verifier(secret).join(token, "team-standup", "mallory")
    assert who.value.code == "UNAUTHORIZED_PARTICIPANT"


def test_unknown_or_revoked_api_key_is_invalid_api_key(secret: Key) -> None:
    token = pyjwt_mint(secret, {**SEED_HOST, "iss": "vsdk_live_revoked"})
    with pytest.raises(InvalidApiKeyError) as info:
        room_verifier(secret).verify(token)
    assert info.value.code == "INVALID_API_KEY"


def test_expired_room_token_is_invalid_token(secret: Key) -> None:
    token = pyjwt_mint(secret, SEED_HOST)
    with pytest.raises(ExpiredTokenError) as info:
        room_verifier(secret, now=1716803600 + 61).verify(token)
    assert info.value.code == "INVALID_TOKEN"


def test_token_signed_with_another_secret_is_invalid_token(secret: Key) -> None:
    token = pyjwt_mint(Key.generate("HS256"), SEED_HOST)
    with pytest.raises(InvalidTokenError):
        room_verifier(secret).verify(token)


def test_ask_with_moderate_is_invalid_entry_claim(secret: Key) -> None:
    token = pyjwt_mint(secret, {**SEED_HOST, "joinPolicy": {"mode": "ask", "ttl": 120}})
    with pytest.raises(InvalidEntryClaimError) as info:
        room_verifier(secret).verify(token)
    assert info.value.code == "INVALID_ENTRY_CLAIM"
    grant, _ = role_preset("host")
    with pytest.raises(InvalidEntryClaimError):
        RoomMinter(API_KEY, secret).mint(
            RoomClaims(grant=grant, room_id="r", join_policy=JoinPolicy("ask"))
        )


@pytest.mark.parametrize("flag", ["canModerate", "canRecord", "canHls", "canLivestream"])
def test_roomless_token_may_not_carry_privileged_grants(flag: str, secret: Key) -> None:
    claims = {k: v for k, v in SEED_HOST.items() if k != "roomId"}
    claims["grant"] = {"canSubscribe": True, flag: True}
    claims["exp"] = SEED_NOW + 600
    token = pyjwt_mint(secret, claims)
    with pytest.raises(InvalidPermissionsError):
        room_verifier(secret).verify(token)
    flags = RoomGrantFlags.from_wire({"canSubscribe": True, flag: True})
    with pytest.raises(InvalidPermissionsError):
        RoomMinter(API_KEY, secret).mint(RoomClaims(grant=flags))


def test_roomless_token_gets_a_shorter_ceiling(secret: Key) -> None:
    clock = FrozenClock(NOW)
    minter = RoomMinter(
        API_KEY, secret, clock=clock, max_room_ttl_seconds=86_400, max_roomless_ttl_seconds=3600
    )
    viewer, is_viewer = role_preset("viewer")
    with pytest.raises(InvalidRequestError):
        minter.mint(RoomClaims(grant=viewer, is_viewer=is_viewer), ttl_seconds=3601)
    assert minter.mint(RoomClaims(grant=viewer, room_id="r"), ttl_seconds=86_400)
    # A customer-minted roomless token that outlives the ceiling is refused too.
    long = sign_jwt(
        {"grant": {"canSubscribe": True}, "iss": API_KEY, "exp": int(NOW) + 7200}, secret
    )
    verifier = RoomVerifier({API_KEY: secret}.get, clock=clock)
    with pytest.raises(InvalidClaimError):
        verifier.verify(long)


def test_single_mint_audience_token_joins_any_room(secret: Key) -> None:
    clock = FrozenClock(NOW)
    viewer, is_viewer = role_preset("viewer")
    token = RoomMinter(API_KEY, secret, clock=clock).mint(
        RoomClaims(grant=viewer, is_viewer=is_viewer), ttl_seconds=600
    )
    verifier = RoomVerifier({API_KEY: secret}.get, clock=clock)
    for room in ("a", "b"):
        _, grant = verifier.join(token, room, f"viewer-{room}")
        assert grant.is_viewer
        authorize(grant, RoomAction.SUBSCRIBE)
        with pytest.raises(InvalidPermissionsError):
            authorize(grant, RoomAction.PUBLISH)


def test_publish_sources_are_enforced(secret: Key) -> None:
    clock = FrozenClock(NOW)
    flags = RoomGrantFlags(can_publish=True, can_publish_sources=("microphone",))
    token = RoomMinter(API_KEY, secret, clock=clock).mint(RoomClaims(grant=flags, room_id="r"))
    _, grant = RoomVerifier({API_KEY: secret}.get, clock=clock).join(token, "r")
    authorize(grant, RoomAction.PUBLISH, source="microphone")
    with pytest.raises(InvalidPermissionsError):
        authorize(grant, RoomAction.PUBLISH, source="camera")
    with pytest.raises(InvalidPermissionsError):
        authorize(grant, RoomAction.PUBLISH_DATA)


def test_empty_grant_is_a_no_op_participant() -> None:
    flags = RoomGrantFlags(can_subscribe_data=False)
    grant = RoomClaims(grant=flags, room_id="r").to_grant()
    for action in RoomAction:
        with pytest.raises(InvalidPermissionsError):
            authorize(grant, action)


def test_subscribe_data_defaults_to_true() -> None:
    assert RoomGrantFlags.from_wire({}).can_subscribe_data


@pytest.mark.parametrize(
    "grant",
    [
        {"canPublish": 1},
        {"canPublish": "true"},
        {"canFly": True},
        {"canPublishSources": ["camera", "camera"]},
        {"canPublishSources": ["hologram"]},
        {"canPublishSources": "camera"},
        [],
    ],
)
def test_malformed_grants_are_refused(grant: object) -> None:
    with pytest.raises(InvalidClaimError):
        RoomGrantFlags.from_wire(grant)


@pytest.mark.parametrize(
    "policy",
    [
        {"mode": "lobby"},
        {"mode": "direct", "ttl": 30},
        {"mode": "ask", "ttl": "30"},
        {"ttl": 3},
        "ask",
    ],
)
def test_malformed_join_policies_are_refused(policy: object) -> None:
    with pytest.raises(InvalidClaimError):
        JoinPolicy.from_wire(policy)


def test_grant_is_required() -> None:
    with pytest.raises(InvalidClaimError):
        RoomClaims.from_wire({"roomId": "r"})


@pytest.mark.parametrize("role", ["host", "speaker", "viewer"])
def test_role_presets_round_trip_on_the_wire(role: str) -> None:
    flags, is_viewer = role_preset(role)
    claims = RoomClaims(grant=flags, room_id="r", is_viewer=is_viewer)
    assert RoomClaims.from_wire(claims.to_wire()) == claims


def test_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        role_preset("janitor")
