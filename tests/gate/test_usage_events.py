"""The gate's usage events: emitted on the one connect path, bounded, tagged with the org."""

from __future__ import annotations

import pytest

from relaypass import Key, KeySet, RevokedTokenError, sign_jwt
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.http import create_gate_app
from relaypass.gate.usage import UsageEvents
from relaypass.profiles.room import JoinPolicy, RoomClaims, RoomMinter, role_preset
from relaypass.testing import FrozenClock
from tests._cp import call

CLOCK = FrozenClock(1_800_000_000)


def test_the_buffer_is_bounded_and_counts_what_it_drops() -> None:
    events = UsageEvents(capacity=3, clock=CLOCK.now)
    for n in range(5):
        events.emit("started", "org_a", "t", {"n": n})
    assert (len(events), events.dropped, events.emitted) == (3, 2, 3)
    taken = events.take()
    assert [e[4] for e in taken] == [{"n": 0}, {"n": 1}, {"n": 2}]
    events.emit("started", "org_a", "t", {"n": 9})
    events.give_back(taken)  # a failed shipment: back at the front, the newest beyond 3 dropped
    assert [e[4] for e in events.take()] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert events.dropped == 3


def org_key(org: str, root: str) -> Key:
    key = Key.generate("EdDSA", kid=f"k_{org}")
    return key.bound(KeyBinding(org=org, scope=KeyScope.for_roots([root])))


def test_connects_refusals_and_ends_carry_their_org() -> None:
    acme, globex = org_key("org_acme", "acme"), org_key("org_globex", "globex")
    gate = Gate(StaticKeySource(KeySet([acme.public(), globex.public()])), clock=CLOCK)
    gate.usage = UsageEvents(clock=CLOCK.now)
    now = int(CLOCK.now())
    own = sign_jwt({"sub": "t1", "ns": ["acme/live/**"], "exp": now + 60}, acme)
    session = gate.connect(own, "acme/live/cam")
    # globex's revoked token: refused after its signature checked out, so it counts in
    # globex's usage (a client is told INVALID_TOKEN and nothing more).
    revoked = sign_jwt({"sub": "t9", "ns": ["globex/**"], "exp": now + 60, "jti": "j9"}, globex)
    gate.revoked.jtis.add("j9")
    with pytest.raises(RevokedTokenError):
        gate.connect(revoked, "globex/live/cam")
    # A token that does not verify belongs to no org.
    forged = sign_jwt({"sub": "t1", "ns": ["acme/**"], "exp": now + 60},
                      Key.generate("EdDSA", kid="k_org_acme"))  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever refusal; its org is the point
        gate.connect(forged, "acme/live/cam")
    CLOCK.advance(2.5)
    session.close("disconnected", sent=10, received=20)
    kinds = [(k, org, tenant, detail) for k, org, tenant, _, detail in gate.usage.take()]
    assert kinds[0] == ("started", "org_acme", "t1", None)
    assert kinds[1] == ("refused", "org_globex", None, {"code": "INVALID_TOKEN"})
    assert kinds[2][0:2] == ("refused", None)
    ended = {"reason": "disconnected", "seconds": 2.5, "sent": 10, "received": 20}
    assert kinds[3] == ("ended", "org_acme", "t1", ended)
    assert gate.live_counts() == {}


def test_room_sessions_emit_their_lobby_and_grant_events() -> None:
    key = Key.generate("EdDSA", kid="usage-rooms")
    gate = Gate(StaticKeySource(KeySet([key.public()])), profile="room", clock=CLOCK)
    gate.usage = UsageEvents(clock=CLOCK.now)

    def token(who: str, role: str, *, ask: bool = False) -> str:
        flags, viewer = role_preset(role)
        policy = JoinPolicy(mode="ask") if ask else JoinPolicy()
        claims = RoomClaims(
            grant=flags, room_id="r", participant_id=who, is_viewer=viewer, join_policy=policy
        )
        return RoomMinter("ak", key, clock=CLOCK).mint(claims, ttl_seconds=600)

    host = gate.connect(token("hal", "host"), "r")
    gate.connect(token("ada", "speaker", ask=True), "r")
    gate.connect(token("eve", "speaker", ask=True), "r")
    host.admit("ada")
    host.deny("eve")
    host.update_participant("ada", is_viewer=True)
    host.remove("ada")
    kinds = [k for k, *_ in gate.usage.take()]
    assert kinds == [
        "started", "started", "waiting", "started", "waiting", "admitted", "denied", "ended",
        "grant_changed", "removed", "ended",
    ]  # fmt: skip
    assert gate.live_counts() == {(None, None): 1}


def test_gate_serve_shows_what_it_recorded_shipped_and_dropped_in_metrics() -> None:
    key = Key.generate("EdDSA", kid="usage-metrics")
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=CLOCK)
    gate.usage = UsageEvents(capacity=2, clock=CLOCK.now)
    for _ in range(3):
        gate.usage.emit("started", "org_a", "t", None)
    text = call(create_gate_app(gate), "GET", "/metrics").text
    assert "relaypass_gate_usage_emitted_total 2.0" in text
    assert "relaypass_gate_usage_dropped_total 1.0" in text
    assert "relaypass_gate_usage_waiting 2.0" in text
