"""Key-set and revocation publication against a real Redis."""

from __future__ import annotations

import json
import time

import redis

from relaypass import Key, KeySet
from relaypass.server.publish import RedisPublisher


def _next_message(pubsub: redis.client.PubSub, timeout: float = 5.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "message":
            return dict(json.loads(message["data"]))
    msg = "no message arrived"
    raise AssertionError(msg)


def test_keyset_is_versioned_announced_and_only_republished_on_change(
    redis_server: str, redis_prefix: str
) -> None:
    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    listener = redis.Redis.from_url(redis_server, decode_responses=True).pubsub()
    listener.subscribe(publisher.channel)
    _next_subscribe(listener)
    one = KeySet([Key.generate("EdDSA", kid="a").public()])
    first = publisher.publish_keyset(one)
    assert first is not None
    assert _next_message(listener) == {"type": "jwks", "version": first}
    assert publisher.publish_keyset(one) is None  # unchanged: no new version
    two = KeySet([*one, Key.generate("EdDSA", kid="b").public()])
    second = publisher.publish_keyset(two)
    assert second is not None
    assert second > first
    raw = redis.Redis.from_url(redis_server, decode_responses=True).get(publisher.jwks_key)
    stored = json.loads(str(raw))
    assert stored["version"] == second
    assert KeySet.from_jwks({"keys": stored["keys"]}).get("b") is not None
    # A fresh publisher (another worker) does not bump an unchanged set either.
    assert RedisPublisher(redis_server, prefix=redis_prefix).publish_keyset(two) is None
    listener.close()
    publisher.close()


def test_a_redis_that_lost_its_data_gets_the_set_back_with_a_newer_version(
    redis_server: str, redis_prefix: str
) -> None:
    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    keys = KeySet([Key.generate("EdDSA", kid="a").public()])
    before = publisher.publish_keyset(keys)
    assert before is not None
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    client.delete(publisher.jwks_key, f"{publisher.jwks_key}:version")  # as a restart would
    after = publisher.publish_keyset(keys)  # the same set, from the same process
    assert after is not None
    assert after > before
    assert json.loads(str(client.get(publisher.jwks_key)))["version"] == after
    client.close()
    publisher.close()


def test_revocations_are_announced_and_kept(redis_server: str, redis_prefix: str) -> None:
    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    listener = redis.Redis.from_url(redis_server, decode_responses=True).pubsub()
    listener.subscribe(publisher.channel)
    _next_subscribe(listener)
    publisher.publish_revocation("kid", "rk_old")
    event = _next_message(listener)
    assert event["type"] == "revoke"
    assert event["kind"] == "kid"
    assert event["value"] == "rk_old"
    kept = redis.Redis.from_url(redis_server, decode_responses=True).hgetall(publisher.revoked_key)
    assert "kid:rk_old" in kept
    listener.close()
    publisher.close()


def _next_subscribe(pubsub: redis.client.PubSub) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "subscribe":
            return
    msg = "subscription was not confirmed"
    raise AssertionError(msg)
