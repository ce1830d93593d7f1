"""The gate follows the control plane through a real Redis: keys and live revocation."""

from __future__ import annotations

import time

from relaypass import Key, KeySet
from relaypass.gate import Gate, RedisKeySource
from relaypass.profiles.relay import RelayMinter
from relaypass.server.publish import RedisPublisher


def _wait_for(condition: object, timeout: float = 5.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.005)
    msg = "condition not met in time"
    raise AssertionError(msg)


def test_new_keys_arrive_and_revocation_cuts_live_sessions(
    redis_server: str, redis_prefix: str
) -> None:
    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    first = Key.generate("EdDSA", kid="rk_first")
    publisher.publish_keyset(KeySet([first.public()]))
    closed: list[str] = []
    source = RedisKeySource(redis_server, prefix=redis_prefix, start=False)
    gate = Gate(source, on_close=lambda _session, reason: closed.append(reason))
    source.on_revoke = gate.apply_revocation
    source.start()
    assert source.wait_ready()
    session = gate.connect(RelayMinter(first).mint("tenant_abc", ["a/*"]))
    # A new key published by the control plane is usable at once.
    second = Key.generate("EdDSA", kid="rk_second")
    publisher.publish_keyset(KeySet([first.public(), second.public()]))
    _wait_for(lambda: "rk_second" in source.keyset())
    assert gate.connect(RelayMinter(second).mint("tenant_abc", ["a/*"])).open
    # Revoking the first key ends its live session through the pub/sub push.
    sent = time.monotonic()
    publisher.publish_revocation("kid", "rk_first")
    _wait_for(lambda: not session.open)
    assert time.monotonic() - sent < 1.0
    assert closed == ["revoked"]
    source.close()
    publisher.close()


def test_a_late_gate_hydrates_standing_revocations(redis_server: str, redis_prefix: str) -> None:
    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    key = Key.generate("EdDSA", kid="rk_gone")
    publisher.publish_keyset(KeySet([key.public()]))
    publisher.publish_revocation("kid", "rk_gone")
    source = RedisKeySource(redis_server, prefix=redis_prefix, start=False)
    gate = Gate(source)
    source.on_revoke = gate.apply_revocation
    source.start()
    assert source.wait_ready()
    _wait_for(lambda: "rk_gone" in gate.revoked_kids)
    source.close()
    publisher.close()


def test_a_lost_message_is_caught_by_the_periodic_refresh(
    redis_server: str, redis_prefix: str
) -> None:
    import json

    import redis

    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    key = Key.generate("EdDSA", kid="rk_quiet")
    publisher.publish_keyset(KeySet([key.public()]))
    source = RedisKeySource(redis_server, prefix=redis_prefix, refresh_seconds=0.3, start=False)
    gate = Gate(source)
    source.on_revoke = gate.apply_revocation
    source.start()
    assert source.wait_ready()
    session = gate.connect(RelayMinter(key).mint("t", ["a/*"]))
    # Record the revocation without announcing it: as if the message were lost.
    event = {"type": "revoke", "kind": "kid", "value": "rk_quiet", "at": time.time()}
    redis.Redis.from_url(redis_server).hset(
        f"{redis_prefix}:revoked", "kid:rk_quiet", json.dumps(event)
    )
    waited = _wait_for(lambda: not session.open)
    assert waited < 2.0
    source.close()
    publisher.close()
