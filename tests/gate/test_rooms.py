"""Rooms live in the gate: lobby, moderation, grant changes, removal, duplicates, tiers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from relaypass import (
    InvalidPermissionsError,
    InvalidRequestError,
    Key,
    KeySet,
    ParticipantRemovedError,
    PendingAdmissionError,
    RoomEndedError,
    UnauthorizedParticipantError,
)
from relaypass.gate import Gate, Session, StaticKeySource
from relaypass.gate.rooms import CLOSE_CODES
from relaypass.profiles.room import JoinPolicy, RoomAction, RoomClaims, RoomMinter, role_preset
from relaypass.testing import FrozenClock

KEY = Key.generate("EdDSA", kid="rooms")


class Events:
    """What the adapter would be told, per session."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, session: Session, event: dict[str, Any]) -> None:
        with self.lock:
            self.seen.append((session.id, event))

    def of(self, session: Session, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for sid, e in self.seen if sid == session.id and e["type"] == kind]


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


@pytest.fixture
def gate(clock: FrozenClock) -> tuple[Gate, Events]:
    gate = Gate(StaticKeySource(KeySet([KEY.public()])), profile="room", clock=clock)
    events = Events()
    gate.rooms.on_event = events
    gate.rooms.coalesce_seconds = 0.05
    return gate, events


def token(
    clock: FrozenClock,
    participant: str,
    role: str = "speaker",
    *,
    ask: int | None = None,
    room: str = "standup",
    ttl: int = 600,
) -> str:
    flags, viewer = role_preset(role)
    policy = JoinPolicy(mode="ask", ttl=ask) if ask is not None else JoinPolicy()
    claims = RoomClaims(
        grant=flags, room_id=room, participant_id=participant, is_viewer=viewer,
        join_policy=policy,
    )  # fmt: skip
    return RoomMinter("ak_live", KEY, clock=clock).mint(claims, ttl_seconds=ttl)


def test_asking_joiner_waits_until_a_moderator_admits(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, events = gate
    joiner = g.connect(token(clock, "ada", ask=60), "standup")
    assert joiner.pending
    checks: list[Callable[[], None]] = [
        lambda: joiner.authorize_publish("cam", source="camera"),
        lambda: joiner.authorize_subscribe("cam"),
        lambda: joiner.authorize(RoomAction.PUBLISH_DATA),
    ]
    for check in checks:
        with pytest.raises(PendingAdmissionError) as refused:
            check()
        assert refused.value.code.value == "PENDING_ADMISSION"
    host = g.connect(token(clock, "hal", "host"), "standup")  # a moderator joins after
    assert not host.pending
    assert [w["participant"] for w in host.lobby()] == ["ada"]
    host.admit("ada")
    assert not joiner.pending
    joiner.authorize_publish("cam", source="camera")  # at once
    assert events.of(joiner, "admitted") == [{"type": "admitted"}]
    assert host.lobby() == []


def test_a_moderator_is_told_someone_waits(gate: tuple[Gate, Events], clock: FrozenClock) -> None:
    g, events = gate
    host = g.connect(token(clock, "hal", "host"), "standup")
    g.connect(token(clock, "ada", ask=60), "standup")
    assert events.of(host, "participant-waiting") == [
        {"type": "participant-waiting", "participant": "ada"}
    ]


def test_denied_and_timed_out_joiners_are_closed_with_their_codes(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    closed: dict[int, str] = {}
    g.on_close = lambda s, reason: closed.__setitem__(s.id, reason)
    host = g.connect(token(clock, "hal", "host"), "standup")
    denied = g.connect(token(clock, "eve", ask=60), "standup")
    host.deny("eve")
    assert closed[denied.id] == "entry_denied"
    assert CLOSE_CODES["entry_denied"].value == "ENTRY_DENIED"
    late = g.connect(token(clock, "bob", ask=1), "standup")
    wait_for(lambda: late.id in closed, timeout=3)
    assert closed[late.id] == "entry_timeout"
    assert CLOSE_CODES["entry_timeout"].value == "ENTRY_TIMEOUT"


def test_only_a_moderator_of_the_room_decides(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    g.connect(token(clock, "ada", ask=60), "standup")
    speaker = g.connect(token(clock, "sam"), "standup")
    with pytest.raises(InvalidPermissionsError):
        speaker.admit("ada")
    elsewhere = g.connect(token(clock, "hal", "host", room="other"), "other")
    elsewhere.admit("ada")  # a moderator of another room: nothing happens here
    assert g.sessions[0].pending


def test_admit_all_lets_everyone_in(gate: tuple[Gate, Events], clock: FrozenClock) -> None:
    g, _ = gate
    waiting = [g.connect(token(clock, f"p{i}", ask=60), "standup") for i in range(3)]
    host = g.connect(token(clock, "hal", "host"), "standup")
    host.admit_all()
    assert not any(s.pending for s in waiting)


def test_narrowing_takes_effect_on_the_next_operation_and_tells_the_adapter(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, events = gate
    speaker = g.connect(token(clock, "ada"), "standup")
    speaker.authorize_publish("cam", source="camera")
    g.rooms.apply(
        {"action": "update", "room": "standup", "participant": "ada",
         "grant": {"canSubscribe": True}, "at": clock.now()}
    )  # fmt: skip
    with pytest.raises(InvalidPermissionsError):
        speaker.authorize_publish("cam", source="camera")
    speaker.authorize_subscribe("cam")
    changed = events.of(speaker, "grant-changed")[-1]
    assert changed["stopSources"] == ["camera", "microphone"]
    assert changed["canPublishSources"] == []
    g.rooms.apply(
        {"action": "update", "room": "standup", "participant": "ada",
         "grant": {"canPublish": True, "canPublishSources": ["screen"], "canSubscribe": True},
         "at": clock.now()}
    )  # fmt: skip
    speaker.authorize_publish("deck", source="screen")  # widened


def test_a_tier_flip_moves_the_participant_and_counts_follow(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, events = gate
    ada = g.connect(token(clock, "ada"), "standup")
    g.connect(token(clock, "vic", "viewer"), "standup")
    wait_for(lambda: bool(events.of(ada, "participant-count-changed")))
    assert g.rooms.counts((None, "standup")) == (1, 1)
    g.rooms.apply(
        {"action": "update", "room": "standup", "participant": "ada", "isViewer": True,
         "at": clock.now()}
    )  # fmt: skip
    assert ada.grant.is_viewer
    assert g.rooms.counts((None, "standup")) == (0, 2)
    wait_for(lambda: events.of(ada, "participant-count-changed")[-1]["viewer"] == 2)
    assert events.of(ada, "participant-count-changed")[-1] == {
        "type": "participant-count-changed", "speaker": 0, "viewer": 2, "total": 2,
    }  # fmt: skip


def test_count_events_are_coalesced(gate: tuple[Gate, Events], clock: FrozenClock) -> None:
    g, events = gate
    first = g.connect(token(clock, "p0"), "standup")
    for i in range(1, 20):
        g.connect(token(clock, f"p{i}", "viewer"), "standup")
    wait_for(lambda: any(e["total"] == 20 for e in events.of(first, "participant-count-changed")))
    assert len(events.of(first, "participant-count-changed")) <= 3
    assert g.rooms.totals() == (1, 1, 19)


def test_refresh_keeps_a_change_and_never_shortens_expiry(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    old = token(clock, "ada", ttl=600)
    session = g.connect(old, "standup")
    expires = session.grant.expires_at
    assert expires is not None
    clock.advance(1)
    g.rooms.apply(
        {"action": "update", "room": "standup", "participant": "ada",
         "grant": {"canSubscribe": True}, "at": clock.now()}
    )  # fmt: skip
    session.refresh(old)  # issued before the change: the change stands
    with pytest.raises(InvalidPermissionsError):
        session.authorize_publish("cam", source="camera")
    clock.advance(1)
    shorter = token(clock, "ada", ttl=60)  # issued after: its grant counts...
    session.refresh(shorter)
    session.authorize_publish("cam", source="camera")
    assert session.grant.expires_at == expires  # ...but it does not cut the session short


def test_removal_closes_and_old_tokens_cannot_rejoin(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    old = token(clock, "mal")
    session = g.connect(old, "standup")
    g.rooms.apply({"action": "remove", "room": "standup", "participant": "mal", "at": clock.now()})
    assert session.close_reason == "removed"
    with pytest.raises(ParticipantRemovedError):
        g.connect(old, "standup")
    clock.advance(1)
    assert g.connect(token(clock, "mal"), "standup").open  # a token issued afterwards


def test_ending_the_room_closes_everyone_and_old_tokens(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    old = token(clock, "ada")
    sessions = [g.connect(old, "standup"), g.connect(token(clock, "bo"), "standup")]
    other = g.connect(token(clock, "cy", room="other"), "other")
    g.rooms.apply({"action": "end", "room": "standup", "at": clock.now()})
    assert [s.close_reason for s in sessions] == ["room_ended", "room_ended"]
    assert other.open
    with pytest.raises(RoomEndedError):
        g.connect(old, "standup")


def test_a_second_session_of_the_same_participant_replaces_the_first(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    first = g.connect(token(clock, "ada"), "standup")
    second = g.connect(token(clock, "ada"), "standup")
    assert first.close_reason == "replaced"
    assert CLOSE_CODES["replaced"].value == "DUPLICATE_IDENTITY"
    assert second.open
    assert g.rooms.counts((None, "standup")) == (1, 0)


def test_two_gates_act_as_one(clock: FrozenClock) -> None:
    """A moderator on gate 1 admits a joiner on gate 2; a newer twin on gate 2 replaces gate 1's."""
    one = Gate(StaticKeySource(KeySet([KEY.public()])), profile="room", clock=clock)
    two = Gate(StaticKeySource(KeySet([KEY.public()])), profile="room", clock=clock)
    one.rooms.publish = two.rooms.apply
    two.rooms.publish = one.rooms.apply
    host = one.connect(token(clock, "hal", "host"), "standup")
    joiner = two.connect(token(clock, "ada", ask=60), "standup")
    host.admit("ada")
    assert not joiner.pending
    denied = two.connect(token(clock, "eve", ask=60), "standup")
    host.deny("eve")
    assert denied.close_reason == "entry_denied"
    clock.advance(1)
    twin = two.connect(token(clock, "hal", "host"), "standup")
    assert host.close_reason == "replaced"
    assert twin.open


def test_tiers_are_in_metrics_without_per_participant_labels(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    g, _ = gate
    registry = CollectorRegistry()
    g.rooms.register_metrics(registry)
    g.connect(token(clock, "ada"), "standup")
    g.connect(token(clock, "vic", "viewer"), "standup")
    g.connect(token(clock, "wes", ask=60), "standup")
    text = generate_latest(registry).decode()
    assert 'relaypass_gate_room_participants{tier="speaker"} 1.0' in text
    assert 'relaypass_gate_room_participants{tier="viewer"} 1.0' in text
    assert "relaypass_gate_room_waiting 1.0" in text
    assert "relaypass_gate_rooms 1.0" in text
    assert "ada" not in text


def roomless_audience(clock: FrozenClock, *, room: str | None = "standup") -> str:
    """The single-mint audience token: no participantId, viewer tier."""
    flags, viewer = role_preset("viewer")
    claims = RoomClaims(grant=flags, room_id=room, is_viewer=viewer)
    return RoomMinter("ak_live", KEY, clock=clock).mint(claims, ttl_seconds=600)


def test_a_pinned_participant_joins_only_as_itself(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    with pytest.raises(UnauthorizedParticipantError) as refused:
        g.connect(token(clock, "ada"), "standup", participant="hal")
    assert refused.value.code.value == "UNAUTHORIZED_PARTICIPANT"
    assert g.sessions == []
    assert g.connect(token(clock, "ada"), "standup", participant="ada").grant.participant == "ada"
    assert g.connect(token(clock, "sam"), "standup").grant.participant == "sam"  # none named
    for bad in ("", "x" * 257, "tab\there"):
        with pytest.raises(InvalidRequestError):
            g.connect(token(clock, "ada"), "standup", participant=bad)


def test_a_token_without_participant_gets_its_own_generated_identity(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    """Each viewer of one shared token is someone of its own; a proposed name is not taken."""
    g, _ = gate
    shared = roomless_audience(clock)
    one = g.connect(shared, "standup")
    two = g.connect(shared, "standup", participant="hal")  # hal's session must not be replaced
    hal = g.connect(token(clock, "hal", "host"), "standup")
    ids = {one.grant.participant, two.grant.participant}
    assert len(ids) == 2
    assert all(p is not None and p.startswith("guest-") for p in ids)
    assert all(s.open for s in (one, two, hal))
    wait_for(lambda: g.rooms.counts((None, "standup")) == (1, 2))
    before = one.grant.participant
    one.refresh(roomless_audience(clock))
    assert one.grant.participant == before  # a refresh keeps the generated identity
    with pytest.raises(InvalidPermissionsError):  # a refresh cannot become someone else
        one.refresh(token(clock, "ada", "viewer"))
    assert one.grant.participant == before
    # A domain-wide token joins the room of its path, as someone of its own.
    anywhere = g.connect(roomless_audience(clock, room=None), "standup")
    assert anywhere.grant.room == "standup"
    assert anywhere.grant.participant is not None


def test_a_moderators_session_removes_ends_and_changes_grants(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, events = gate
    host = g.connect(token(clock, "hal", "host"), "standup")
    ada = g.connect(token(clock, "ada"), "standup")
    sam = g.connect(token(clock, "sam"), "standup")
    acts: list[Callable[[], None]] = [
        lambda: ada.remove("sam"),
        ada.end_room,
        lambda: ada.update_participant("sam", is_viewer=True),
    ]
    for act in acts:
        with pytest.raises(InvalidPermissionsError):
            act()
    assert sam.open
    bads: list[Callable[[], None]] = [
        lambda: host.update_participant("ada"),  # neither grant nor tier
        lambda: host.update_participant("ada", grant={"isViewer": True}),
        lambda: host.update_participant("ada", grant={"canFly": True}),
        lambda: host.moderate("promote", "ada"),
        lambda: host.moderate("remove"),
    ]
    for bad in bads:
        with pytest.raises(InvalidRequestError):
            bad()
    host.update_participant("ada", grant={"canSubscribe": True}, is_viewer=True)
    assert ada.grant.is_viewer
    with pytest.raises(InvalidPermissionsError):
        ada.authorize_publish("standup/cam", source="camera")
    assert events.of(ada, "grant-changed")[-1]["stopSources"] == ["camera", "microphone"]
    host.remove("sam")
    assert sam.close_reason == "removed"
    with pytest.raises(ParticipantRemovedError):
        g.connect(token(clock, "sam"), "standup")
    host.end_room()
    assert ada.close_reason == "room_ended"
    assert host.close_reason == "room_ended"


def test_participants_are_listed_with_tier_state_and_grant_to_moderators(
    gate: tuple[Gate, Events], clock: FrozenClock
) -> None:
    g, _ = gate
    host = g.connect(token(clock, "hal", "host"), "standup")
    clock.advance(1)
    ada = g.connect(token(clock, "ada", "viewer"), "standup")
    clock.advance(1)
    g.connect(token(clock, "eve", ask=60), "standup")
    g.connect(token(clock, "zed", room="other"), "other")
    everyone = host.participants()
    assert [(e["participant"], e["tier"], e["state"]) for e in everyone] == [
        ("hal", "speaker", "admitted"),
        ("ada", "viewer", "admitted"),
        ("eve", "speaker", "waiting"),
    ]
    assert everyone[0]["grant"]["canModerate"] is True
    assert everyone[1]["grant"]["canPublish"] is False
    assert [e["participant"] for e in host.participants("viewer")] == ["ada"]
    seen_by_viewer = ada.participants("speaker")
    assert [e["participant"] for e in seen_by_viewer] == ["hal", "eve"]
    assert all("grant" not in e for e in seen_by_viewer)  # grants are for moderators
    with pytest.raises(InvalidRequestError):
        host.participants("audience")
    host.update_participant("ada", is_viewer=False)
    assert [e["participant"] for e in host.participants("speaker")] == ["hal", "ada", "eve"]
    host.admit("eve")
    assert {e["participant"]: e["state"] for e in host.participants()}["eve"] == "admitted"
