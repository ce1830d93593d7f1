"""Fault drills with real processes: Redis dies under the control plane and a gate.

The test starts its own redis-server on a free port (never the shared one),
SIGKILLs it, makes changes while it is away, and starts it again empty.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from relaypass._apikeys import ApiKeyHasher
from relaypass.gate import Gate, RedisKeySource
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store, make_engine
from relaypass.server.outbox import OutboxRelay
from relaypass.server.secrets import KeyEncryptionKey
from relaypass.server.settings import Settings
from tests._net import free_port, stop_process
from tests.server.conftest import start_redis


def rpc(app: FastAPI, key: str, name: str, body: dict[str, Any]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cp") as client:
            return await client.post(
                f"/rpc/{name}", json=body, headers={"Authorization": f"Bearer {key}"}
            )

    return asyncio.run(go())


def wait_for(predicate: Any, timeout: float) -> float:
    """Seconds until ``predicate()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_revocations_made_while_redis_is_down_cut_live_sessions_once_it_returns(  # noqa: PLR0915 - one drill, start to end
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = start_redis(port, tmp_path)
    store = Store(
        make_engine(f"sqlite:///{tmp_path / 'relaypass.db'}"),
        kek=KeyEncryptionKey(secrets.token_bytes(32)),
        hasher=ApiKeyHasher(secrets.token_bytes(32)),
        key_propagation_seconds=0,
    )
    store.migrate()
    first = bootstrap(store)
    assert first is not None
    org, key = first
    app = create_app(
        Settings(data_dir=tmp_path, redis_url=url, redis_prefix="drill", key_propagation_seconds=0),
        store,
    )
    relay: OutboxRelay = app.state.outbox
    relay.start()
    source = RedisKeySource(url, prefix="drill", start=False)
    gate = Gate(source)
    source.on_revoke = gate.apply_revocation
    try:
        assert rpc(app, key, "tenants.create", {"orgId": org, "tenantId": "t"}).status_code == 200
        k1 = rpc(app, key, "streams.signingKeys.create", {"orgId": org, "label": "k1"}).json()
        assert k1["published"] is True

        def mint() -> httpx.Response:
            return rpc(app, key, "tokens.relay.mint", {"orgId": org, "tenant": "t", "ns": ["a/**"]})

        by_k1 = mint().json()["token"]
        time.sleep(0.01)
        k2 = rpc(app, key, "streams.signingKeys.create", {"orgId": org, "label": "k2"}).json()
        by_k2 = mint().json()
        assert by_k2["kid"] == k2["id"]
        source.start()
        assert source.wait_ready()
        wait_for(lambda: k2["id"] in source.keyset(), timeout=5)
        cut_by_kid = gate.connect(by_k1, "a")
        cut_by_jti = gate.connect(by_k2["token"], "a")
        untouched = gate.connect(mint().json()["token"], "a")

        server.kill()
        server.wait()
        # Committed changes answer success and say they are not yet published.
        revoked = rpc(app, key, "streams.signingKeys.revoke", {"orgId": org, "id": k1["id"]})
        assert revoked.status_code == 200
        assert revoked.json() == {"revoked": k1["id"], "published": False}
        jti = _jti(by_k2["token"])
        token_revoked = rpc(app, key, "tokens.revoke", {"orgId": org, "jti": jti})
        assert token_revoked.json() == {"revoked": jti, "published": False}
        for _ in range(5):  # minting needs no Redis: the limiter counts in process
            assert mint().status_code == 200
        assert cut_by_kid.open  # nothing reached the gate yet
        assert cut_by_jti.open

        server = start_redis(port, tmp_path)  # back, and empty
        elapsed = wait_for(lambda: not cut_by_kid.open and not cut_by_jti.open, timeout=5)
        assert elapsed <= 2.0, f"live sessions cut {elapsed:.2f} s after Redis returned"
        assert untouched.open
        metrics = asyncio.run(_get(app, "/metrics"))
        assert "relaypass_ratelimit_fallbacks_total" in metrics
    finally:
        relay.close()
        source.close()
        stop_process(server)
        store.close()


def _jti(token: str) -> str:
    from relaypass import decode_unverified

    _, claims = decode_unverified(token)
    jti = claims["jti"]
    assert isinstance(jti, str)
    return jti


async def _get(app: FastAPI, path: str) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cp") as client:
        return (await client.get(path)).text
