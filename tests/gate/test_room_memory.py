"""What a room board remembers of its decisions: matched by room, forgotten once moot."""

from __future__ import annotations

import pytest

from relaypass import KeySet, ParticipantRemovedError
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.room_memory import MEMORY_SECONDS, RoomMemory
from relaypass.profiles.room import RoomClaims, RoomGrantFlags, RoomMinter, role_preset
from relaypass.testing import FrozenClock
from tests.gate.test_rooms import KEY


def test_lookups_match_the_room_and_an_org_either_side_may_not_know() -> None:
    memory = RoomMemory()
    memory.removed(("acme", "standup"), "mal", 10.0)
    assert memory.removed_at(("acme", "standup"), "mal") == 10.0
    assert memory.removed_at((None, "standup"), "mal") == 10.0  # a gate without orgs
    assert memory.removed_at(("globex", "standup"), "mal") is None  # another org's room
    assert memory.removed_at(("acme", "standup"), "bo") is None
    assert memory.removed_at(("acme", "other"), "mal") is None
    memory.ended((None, "standup"), 20.0)  # an event without an org: every org's room
    assert memory.ended_at(("globex", "standup")) == 20.0
    assert memory.ended_at(("globex", "other")) is None


def test_the_newest_decision_wins() -> None:
    memory = RoomMemory()
    flags = RoomGrantFlags(can_publish=False)
    memory.updated(("acme", "standup"), "ada", None, is_viewer=True, when=5.0)
    memory.updated((None, "standup"), "ada", flags, is_viewer=False, when=7.0)
    assert memory.update_for(("acme", "standup"), "ada") == (flags, False, 7.0)
    memory.admitted(("acme", "standup"), "ada", 3.0)
    memory.admitted(("acme", "standup"), "ada", 9.0)
    assert memory.admitted_at(("acme", "standup"), "ada") == 9.0


def test_decisions_are_forgotten_once_no_token_they_concern_can_live() -> None:
    memory = RoomMemory(horizon_seconds=100.0)
    for n in range(50):
        memory.removed(("acme", "standup"), f"p{n}", float(n))
        memory.admitted(("acme", f"room{n}"), "ada", float(n))
    assert len(memory) == 100
    memory.ended(("acme", "standup"), 130.0)  # a minute of decisions later: a sweep
    assert memory.removed_at(("acme", "standup"), "p29") is None  # older than 100 s
    assert memory.removed_at(("acme", "standup"), "p30") == 30.0  # still within it
    assert len(memory) == 20 + 20 + 1
    memory.removed(("acme", "standup"), "int", 200)  # a whole-second time sweeps like any
    assert memory.removed_at(("acme", "standup"), "p30") is None


def test_a_gate_remembers_a_removal_as_long_as_its_longest_room_token_lives() -> None:
    clock = FrozenClock(1_800_000_000)
    week = 7 * 86_400
    gate = Gate(
        StaticKeySource(KeySet([KEY.public()])), profile="room", clock=clock,
        max_room_ttl_seconds=week,
    )  # fmt: skip
    claims = RoomClaims(grant=role_preset("speaker")[0], room_id="standup", participant_id="mal")
    minter = RoomMinter("ak_live", KEY, clock=clock, max_room_ttl_seconds=week)
    old = minter.mint(claims, ttl_seconds=week)
    gate.rooms.apply({"action": "remove", "room": "standup", "participant": "mal",
                      "at": clock.now()})  # fmt: skip
    clock.advance(3 * 86_400)  # past a day, within the token's week
    gate.rooms.apply({"action": "end", "room": "elsewhere", "at": clock.now()})  # sweeps
    with pytest.raises(ParticipantRemovedError):
        gate.connect(old, "standup")


def test_the_default_horizon_is_a_day() -> None:
    assert MEMORY_SECONDS == 86_400.0
    clock = FrozenClock(1_800_000_000)
    gate = Gate(StaticKeySource(KeySet([KEY.public()])), profile="room", clock=clock)
    for n in range(200):
        gate.rooms.apply({"action": "remove", "room": "standup", "participant": f"p{n}",
                          "at": clock.now()})  # fmt: skip
        clock.advance(3600)  # 200 hours of removals, one an hour
    remembered = len(gate.rooms._memory)
    assert 24 <= remembered <= 26
