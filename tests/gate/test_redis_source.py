"""The gate follows the control plane through a real Redis: keys and live revocation."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from relaypass import Key, KeySet
from relaypass.gate import Gate, RedisKeySource
from relaypass.profiles.relay import RelayMinter
from relaypass.server.publish import RedisPublisher
from tests._net import free_port, stop_process
from tests.server.conftest import start_redis


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
    _wait_for(lambda: "rk_gone" in gate.revoked.kids)
    source.close()
    publisher.close()


def test_a_lost_message_is_caught_by_the_periodic_refresh(
    redis_server: str, redis_prefix: str
) -> None:
    import json

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


def test_gate_rides_out_a_redis_restart(tmp_path: Path) -> None:
    """Redis dies (and loses everything) under a live gate; after it comes back the gate
    resubscribes, takes the re-published key set and still cuts on revocation."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = start_redis(port, tmp_path)
    source = None
    try:
        publisher = RedisPublisher(url, prefix="restart")
        first = Key.generate("EdDSA", kid="rk_before")
        publisher.publish_keyset(KeySet([first.public()]))
        closed: list[str] = []
        source = RedisKeySource(url, prefix="restart", start=False)
        gate = Gate(source, on_close=lambda _session, reason: closed.append(reason))
        source.on_revoke = gate.apply_revocation
        source.start()
        assert source.wait_ready()
        live = gate.connect(RelayMinter(first).mint("tenant_abc", ["a/*"]))

        server.kill()
        server.wait()
        time.sleep(0.5)  # the listener notices and backs off
        assert live.open  # losing Redis ends nobody's session
        assert gate.connect(RelayMinter(first).mint("tenant_abc", ["a/*"])).open  # known keys
        server = start_redis(port, tmp_path)

        # The control plane's refresh re-publishes into the empty Redis, with a newer version.
        second = Key.generate("EdDSA", kid="rk_after")
        publisher.publish_keyset(KeySet([first.public(), second.public()]))
        _wait_for(lambda: "rk_after" in source.keyset(), timeout=15)
        assert gate.connect(RelayMinter(second).mint("tenant_abc", ["a/*"])).open
        # The resubscribed listener hears revocations again.
        publisher.publish_revocation("kid", "rk_before")
        _wait_for(lambda: not live.open, timeout=5)
        assert "revoked" in closed
        publisher.close()
    finally:
        if source is not None:
            source.close()
        stop_process(server)


def test_stream_keys_and_readiness_ride_out_a_redis_restart(tmp_path: Path) -> None:
    """A stream key keeps working when Redis restarts empty; /readyz follows the key set's age."""
    import asyncio

    import httpx

    from relaypass.gate.adapters.http import (
        FileStreamKeys,
        RedisStreamKeys,
        SharedStreamKeys,
        create_gate_app,
    )

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = start_redis(port, tmp_path)
    key = Key.generate("EdDSA", kid="rk_sk")
    RedisPublisher(url, prefix="sk").publish_keyset(KeySet([key.public()]))
    source = RedisKeySource(url, prefix="sk", refresh_seconds=0.2, start=False)
    gate = Gate(source)
    source.start()
    assert source.wait_ready()
    keys = SharedStreamKeys(RedisStreamKeys(url, prefix="sk"), FileStreamKeys(tmp_path / "sk.db"))
    app = create_gate_app(gate, stream_keys=keys, max_keyset_age_seconds=1.0)

    def call(method: str, path: str, **kw: object) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gate") as c:
                return await c.request(method, path, **kw)  # type: ignore[arg-type]

        return asyncio.run(go())

    def publish(stream_key: str) -> int:
        form = {"call": "publish", "addr": "10.0.0.1", "clientid": "1", "app": "live",
                "name": "cam", "key": stream_key}  # fmt: skip
        return call("POST", "/rtmp/on_publish", data=form).status_code

    try:
        token = RelayMinter(key).mint("t", ["live/cam"])
        made = call("POST", "/v1/stream-keys", headers={"Authorization": f"Bearer {token}"})
        stream_key = made.json()["streamKey"]
        assert publish(stream_key) == 200
        assert call("GET", "/readyz").status_code == 200

        server.kill()
        server.wait()
        assert publish(stream_key) == 200  # Redis away: the gate's file answers
        _wait_for(lambda: call("GET", "/readyz").status_code == 503, timeout=5)

        server = start_redis(port, tmp_path)  # back, and empty
        assert publish(stream_key) == 200
        client = redis.Redis.from_url(url)
        assert len(list(client.scan_iter("sk:streamkey:*"))) == 1  # shared again
        client.close()
        RedisPublisher(url, prefix="sk").publish_keyset(KeySet([key.public()]))
        _wait_for(lambda: call("GET", "/readyz").status_code == 200, timeout=5)
    finally:
        source.close()
        keys.close()
        stop_process(server)
