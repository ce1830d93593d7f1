"""Room decisions through a real Redis: a late gate catches up; decisions cross gates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from relaypass import Key, KeySet, ParticipantRemovedError
from relaypass.gate import Gate, RedisKeySource
from relaypass.profiles.room import JoinPolicy, RoomClaims, RoomMinter, role_preset
from relaypass.server.publish import RedisPublisher
from tests._net import free_port, stop_process
from tests.server.conftest import start_redis

KEY = Key.generate("EdDSA", kid="rooms-redis")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = start_redis(port, tmp_path)
    yield f"redis://127.0.0.1:{port}/0"
    stop_process(proc)


def gate_on(url: str) -> tuple[Gate, RedisKeySource]:
    source = RedisKeySource(url, prefix="rr", start=False)
    gate = Gate(source, profile="room")
    source.attach(gate)
    source.start()
    assert source.wait_ready(10)
    return gate, source


def token(participant: str, role: str = "speaker", *, ask: bool = False) -> str:
    flags, viewer = role_preset(role)
    claims = RoomClaims(
        grant=flags, room_id="r1", participant_id=participant, is_viewer=viewer,
        join_policy=JoinPolicy(mode="ask") if ask else JoinPolicy(),
    )  # fmt: skip
    return RoomMinter("ak", KEY).mint(claims, ttl_seconds=600)


def test_a_gate_that_starts_late_catches_up_and_lobbies_are_listed(redis_url: str) -> None:
    publisher = RedisPublisher(redis_url, prefix="rr")
    publisher.publish_keyset(KeySet([KEY.public()]))
    old = token("mal")
    time.sleep(0.01)
    publisher.publish_room(
        {"type": "room", "action": "remove", "room": "r1", "participant": "mal", "at": time.time()}
    )
    gate, source = gate_on(redis_url)  # started after the removal
    try:
        with pytest.raises(ParticipantRemovedError):
            gate.connect(old, "r1")
        waiting = gate.connect(token("ada", ask=True), "r1")
        assert waiting.pending
        deadline = time.monotonic() + 3
        while not publisher.lobby("", "r1"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert [e["participant"] for e in publisher.lobby("", "r1")] == ["ada"]
        publisher.publish_room(
            {"type": "room", "action": "admit", "room": "r1", "participant": "ada",
             "at": time.time()}
        )  # fmt: skip
        deadline = time.monotonic() + 3
        while waiting.pending:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert publisher.lobby("", "r1") == []
    finally:
        source.close()
        publisher.close()


def test_a_moderator_on_one_gate_admits_a_joiner_on_another(redis_url: str) -> None:
    publisher = RedisPublisher(redis_url, prefix="rr")
    publisher.publish_keyset(KeySet([KEY.public()]))
    (one, s1), (two, s2) = gate_on(redis_url), gate_on(redis_url)
    try:
        joiner = two.connect(token("ada", ask=True), "r1")
        host = one.connect(token("hal", "host"), "r1")
        host.admit("ada")
        deadline = time.monotonic() + 3
        while joiner.pending:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        joiner.authorize_publish("cam", source="camera")
    finally:
        s1.close()
        s2.close()
        publisher.close()


def test_every_gates_roster_is_listed_and_follows_leaves_changes_and_a_wipe(
    redis_url: str,
) -> None:
    publisher = RedisPublisher(redis_url, prefix="rr")
    publisher.publish_keyset(KeySet([KEY.public()]))
    (one, one_source), (two, two_source) = gate_on(redis_url), gate_on(redis_url)
    try:
        host = one.connect(token("hal", "host"), "r1")
        vic = two.connect(token("vic", "viewer"), "r1")
        ada = two.connect(token("ada", ask=True), "r1")

        def listed() -> list[tuple[str, str, str]]:
            return [(e["participant"], e["tier"], e["state"])
                    for e in publisher.participants("", "r1")]  # fmt: skip

        assert listed() == [
            ("hal", "speaker", "admitted"), ("vic", "viewer", "admitted"),
            ("ada", "speaker", "waiting"),
        ]  # fmt: skip
        assert [e["participant"] for e in host.participants("viewer")] == ["vic"]  # both gates
        host.admit("ada")
        deadline = time.monotonic() + 3
        while ("ada", "speaker", "admitted") not in listed():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        host.update_participant("vic", is_viewer=False)
        while ("vic", "speaker", "admitted") not in listed():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ada.close()
        assert [p for p, _, _ in listed()] == ["hal", "vic"]
        with redis.Redis.from_url(redis_url) as wipe:  # a Redis that lost everything
            wipe.flushall()
        assert listed() == []
        one_source.renew_roster()
        two_source.renew_roster()
        assert [p for p, _, _ in listed()] == ["hal", "vic"]
        assert vic.open
    finally:
        one_source.close()
        two_source.close()
        publisher.close()
