from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from relaypass import (
    ClaimsPolicy,
    InvalidPermissionsError,
    InvalidTokenError,
    Key,
    KeySet,
    MalformedTokenError,
    RevokedTokenError,
    UnauthorizedOriginError,
    UnauthorizedPathError,
    UnauthorizedRoomError,
    sign_jwt,
)
from relaypass.gate import Gate, Session, StaticKeySource
from relaypass.profiles.relay import RelayMinter
from relaypass.profiles.room import (
    RoomAction,
    RoomClaims,
    RoomGrantFlags,
    RoomMinter,
    role_preset,
)
from relaypass.profiles.session import SessionMinter
from relaypass.testing import FrozenClock
from tests.conftest import NOW


@pytest.fixture
def key() -> Key:
    return Key.generate("EdDSA", kid="rk_1")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


def relay_gate(key: Key, clock: FrozenClock, closed: list[tuple[int, str]], **kw: object) -> Gate:
    return Gate(
        StaticKeySource(KeySet([key.public()])),
        clock=clock,
        on_close=lambda s, reason: closed.append((s.id, reason)),
        **kw,  # type: ignore[arg-type]
    )


def test_connect_pins_the_grant_and_checks_every_operation(key: Key, clock: FrozenClock) -> None:
    closed: list[tuple[int, str]] = []
    gate = relay_gate(key, clock, closed)
    token = RelayMinter(key, clock=clock).mint("tenant_abc", ["voice/sid_xyz/*"])
    session = gate.connect(token, "voice/sid_xyz")
    assert session.grant.tenant == "tenant_abc"
    session.authorize_publish("voice/sid_xyz/mic")
    session.authorize_subscribe("voice/sid_xyz/agent")
    with pytest.raises(InvalidPermissionsError):
        session.authorize_subscribe("voice/sid_other/agent")
    assert gate.sessions == [session]


def test_session_ends_at_exp(key: Key, clock: FrozenClock) -> None:
    closed: list[tuple[int, str]] = []
    gate = relay_gate(key, clock, closed)
    token = RelayMinter(key, clock=clock).mint("t", ["a/*"], ttl_seconds=60)
    session = gate.connect(token)
    clock.advance(59)
    session.authorize_publish("a/b")
    clock.advance(1)
    assert gate.expire_sessions() == 1
    assert closed == [(session.id, "expired")]
    with pytest.raises(InvalidTokenError):
        session.authorize_publish("a/b")


def test_expiry_is_also_caught_on_use(key: Key, clock: FrozenClock) -> None:
    closed: list[tuple[int, str]] = []
    gate = relay_gate(key, clock, closed)
    session = gate.connect(RelayMinter(key, clock=clock).mint("t", ["a/*"], ttl_seconds=10))
    clock.advance(10)
    with pytest.raises(InvalidTokenError):
        session.authorize_subscribe("a/b")
    assert closed == [(session.id, "expired")]


@pytest.mark.parametrize("how", ["kid", "jti", "token", "subject", "tenant"])
def test_revocation_cuts_live_sessions_and_refuses_reconnect(
    how: str, key: Key, clock: FrozenClock
) -> None:
    closed: list[tuple[int, str]] = []
    gate = relay_gate(key, clock, closed)
    minter = RelayMinter(key, clock=clock)
    token = minter.mint("tenant_abc", ["a/*"])
    other = gate.connect(minter.mint("tenant_other", ["a/*"]))
    session = gate.connect(token)
    grant = session.grant
    revoke: Callable[[], int] = {
        "kid": lambda: gate.revoke_kid("rk_1"),
        "jti": lambda: gate.revoke_jti(str(grant.jti)),
        "token": lambda: gate.revoke_token(str(grant.token_id)),
        "subject": lambda: gate.revoke_subject("tenant_abc"),
        "tenant": lambda: gate.revoke_tenant("tenant_abc"),
    }[how]
    assert revoke() >= 1
    assert (session.id, "revoked") in closed
    with pytest.raises(InvalidTokenError):
        session.authorize_publish("a/b")
    with pytest.raises(RevokedTokenError):
        gate.connect(token)
    if how != "kid":
        assert other.open


def test_subject_revocation_can_spare_newer_tokens(key: Key, clock: FrozenClock) -> None:
    gate = relay_gate(key, clock, [])
    old = RelayMinter(key, clock=clock).mint("tenant_abc", ["a/*"])
    gate.revoke_subject("tenant_abc", issued_before=NOW + 1)
    with pytest.raises(RevokedTokenError):
        gate.connect(old)
    clock.advance(5)
    fresh = RelayMinter(key, clock=clock).mint("tenant_abc", ["a/*"])
    assert gate.connect(fresh).open


def test_public_prefixes_allow_anonymous_but_never_a_bad_token(
    key: Key, clock: FrozenClock
) -> None:
    gate = relay_gate(key, clock, [], public_subscribe=["demo"])
    anon = gate.connect(None, "demo")
    anon.authorize_subscribe("demo/stream")
    with pytest.raises(InvalidPermissionsError):
        anon.authorize_publish("demo/stream")
    with pytest.raises(InvalidPermissionsError):
        anon.authorize_subscribe("private/stream")
    forged = sign_jwt(
        {"sub": "t", "ns": ["demo/*"], "exp": NOW + 60}, Key.generate("EdDSA", kid="rk_1")
    )
    with pytest.raises(InvalidTokenError):
        gate.connect(forged, "demo")
    closed_gate = relay_gate(key, clock, [])
    with pytest.raises(MalformedTokenError):
        closed_gate.connect(None, "demo")


def test_refresh_keeps_subject_and_may_widen(key: Key, clock: FrozenClock) -> None:
    gate = relay_gate(key, clock, [])
    minter = RelayMinter(key, clock=clock)
    session = gate.connect(minter.mint("tenant_abc", ["a/*"]))
    session.refresh(minter.mint("tenant_abc", ["a/*", "b/*"]))
    session.authorize_publish("b/x")
    with pytest.raises(InvalidPermissionsError):
        session.refresh(minter.mint("tenant_other", ["a/*"]))


def test_moq_profile_uses_the_connection_path(clock: FrozenClock) -> None:
    secret = Key.generate("HS256", kid="moq")
    gate = Gate(StaticKeySource(secret), profile="moq", clock=clock)
    token = sign_jwt({"root": "demo", "put": ["alice"], "get": [""]}, secret)
    session = gate.connect(token, "demo/alice")
    session.authorize_publish("cam")
    session.authorize_subscribe("anything")
    read_only = gate.connect(sign_jwt({"root": "demo", "get": [""]}, secret), "demo")
    with pytest.raises(InvalidPermissionsError):
        read_only.authorize_publish("x")
    with pytest.raises(UnauthorizedPathError):
        gate.connect(token, "other")


def test_session_profile_pins_the_origin(clock: FrozenClock) -> None:
    key = Key.generate("EdDSA", kid="sess")
    response = SessionMinter(key, clock=clock).session_auth(
        tenant_id="tenant_a", subject="u1", ttl_seconds=120, scope="call.dial",
        origin="https://app.tenant-a.example",
    )  # fmt: skip
    gate = Gate(StaticKeySource(key.public()), profile="session", clock=clock)
    session = gate.connect(response.token, origin="https://app.tenant-a.example")
    session.grant.authorize("call.dial")
    with pytest.raises(UnauthorizedOriginError):
        gate.connect(response.token, origin="https://evil.example")


def test_unknown_profile_is_refused(key: Key) -> None:
    with pytest.raises(ValueError, match="profile"):
        Gate(StaticKeySource(key.public()), profile="smtp")


def test_closing_twice_notifies_once(key: Key, clock: FrozenClock) -> None:
    closed: list[tuple[int, str]] = []
    gate = relay_gate(key, clock, closed)
    session: Session = gate.connect(RelayMinter(key, clock=clock).mint("t", ["a/*"]))
    session.close()
    session.close()
    assert closed == [(session.id, "closed")]
    assert not gate.sessions


def test_moq_tokens_without_exp_are_accepted_only_by_the_moq_default_policy(
    clock: FrozenClock,
) -> None:
    secret = Key.generate("HS256", kid="moq")
    token = sign_jwt({"sub": "t", "ns": ["a/*"]}, secret)
    with pytest.raises(InvalidTokenError):
        Gate(StaticKeySource(secret), clock=clock).connect(token)
    strict = Gate(StaticKeySource(secret), profile="moq", clock=clock, policy=ClaimsPolicy())
    with pytest.raises(InvalidTokenError):
        strict.connect(sign_jwt({"root": "", "get": [""]}, secret))


def test_room_profile_pins_room_and_authorizes_actions(key: Key, clock: FrozenClock) -> None:
    minter = RoomMinter("ak_live", key, clock=clock)
    gate = Gate(StaticKeySource(KeySet([key.public()])), profile="room", clock=clock)
    flags, viewer = role_preset("speaker")
    speaker = minter.mint(RoomClaims(grant=flags, room_id="room_1", participant_id="p_1"))
    session = gate.connect(speaker, "room_1")
    session.authorize(RoomAction.PUBLISH)
    session.authorize(RoomAction.PUBLISH_DATA)
    session.authorize_publish("cam", source="camera")
    with pytest.raises(InvalidPermissionsError):
        session.authorize_publish("screen", source="screen")  # speakers: camera and microphone
    with pytest.raises(InvalidPermissionsError):
        session.authorize(RoomAction.RECORD)
    with pytest.raises(UnauthorizedRoomError):
        gate.connect(speaker, "room_2")
    assert not viewer
    # Revoking the participant (the token's subject) ends the session.
    assert gate.revoke_subject("p_1") == 1
    assert not session.open


def test_room_profile_enforces_the_roomless_ceiling(key: Key, clock: FrozenClock) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])), profile="room", clock=clock)
    now = int(clock.now())
    flags = RoomClaims(grant=RoomGrantFlags(can_subscribe=True)).to_wire()
    within = sign_jwt({**flags, "iat": now, "exp": now + 3600}, key)
    assert gate.connect(within, "any_room").open
    beyond = sign_jwt({**flags, "iat": now, "exp": now + 3601 + 60}, key)
    with pytest.raises(InvalidTokenError):
        gate.connect(beyond, "any_room")
    privileged = {**flags, "grant": {"canRecord": True}, "iat": now, "exp": now + 60}
    with pytest.raises(InvalidPermissionsError):
        gate.connect(sign_jwt(privileged, key), "any_room")


def test_moq_refuses_a_tokenless_connection_outside_the_public_prefixes(
    key: Key, clock: FrozenClock
) -> None:
    """As moq-relay does: no empty anonymous session on a private path."""
    gate = Gate(
        StaticKeySource(key.public()), profile="moq", clock=clock, public_subscribe=["demo"]
    )
    assert gate.connect(None, "demo").grant.can_subscribe("cam")
    assert gate.connect(None, "").grant.can_subscribe("demo/cam")
    with pytest.raises(MalformedTokenError):
        gate.connect(None, "private")


def test_jti_revocations_are_forgotten_once_no_token_can_match(
    key: Key, clock: FrozenClock
) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=clock)
    token = sign_jwt({"sub": "t", "ns": ["a/*"], "jti": "j1", "exp": int(clock.now()) + 60}, key)
    session = gate.connect(token, "a")
    gate.apply_revocation({"kind": "jti", "value": "j1", "until": clock.now() + 120})
    assert not session.open
    assert "j1" in gate.revoked.jtis
    with pytest.raises(InvalidTokenError):
        gate.connect(token, "a")
    clock.advance(121)
    gate.expire_sessions()
    assert "j1" not in gate.revoked.jtis  # bounded: gone once every such token expired
    gate.revoke_jti("j2", "org_a", until=clock.now() + 10)
    gate.revoke_jti("j3")  # no bound: kept
    clock.advance(11)
    gate.expire_sessions()
    assert ("org_a", "j2") not in gate.revoked.org_jtis
    assert "j3" in gate.revoked.jtis
    gate.revoke_jti("j4", until=clock.now() - 1)  # already moot: never stored
    assert "j4" not in gate.revoked.jtis


def test_token_and_subject_revocations_are_forgotten_at_their_until(
    key: Key, clock: FrozenClock
) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=clock)
    now = clock.now()
    gate.apply_revocation({"kind": "token", "value": "tid", "until": now + 10})
    gate.apply_revocation({"kind": "sub", "value": "alice", "before": now, "until": now + 10})
    gate.apply_revocation({"kind": "sub", "value": "bob", "until": now + 10})
    gate.apply_revocation({"kind": "sub", "value": "bob"})  # again, for good: the later wins
    clock.advance(11)
    gate.expire_sessions()
    assert "tid" not in gate.revoked.tokens
    assert "alice" not in gate.revoked.subjects
    assert gate.revoked.subjects["bob"] == math.inf


def test_a_longer_revocation_of_the_same_jti_outlives_the_shorter(
    key: Key, clock: FrozenClock
) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=clock)
    gate.revoke_jti("j", until=clock.now() + 10)
    gate.revoke_jti("j", until=clock.now() + 100)
    clock.advance(11)
    gate.expire_sessions()
    assert "j" in gate.revoked.jtis  # the first bound passed, the second has not
    clock.advance(90)
    gate.expire_sessions()
    assert "j" not in gate.revoked.jtis


def test_a_subject_revocation_never_shrinks(key: Key, clock: FrozenClock) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=clock)
    gate.revoke_subject("carol")  # every token
    gate.revoke_subject("carol", issued_before=clock.now() - 100)  # would re-admit newer ones
    assert gate.revoked.subjects["carol"] == math.inf
