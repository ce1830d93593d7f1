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
from tests._cp import call, sqlite_store
from tests._cp import rpc as _rpc
from tests._net import free_port, stop_process
from tests.server.conftest import start_redis
from tests.server.test_on_loop import moved_to_thread


def rpc(app: FastAPI, key: str, name: str, body: dict[str, Any]) -> httpx.Response:
    return _rpc(app, key, name, body)


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
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
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


def _request(app: FastAPI, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cp") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def test_every_error_is_problem_json(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    first = bootstrap(store)
    assert first is not None
    app = create_app(Settings(data_dir=tmp_path), store)
    auth = {"Authorization": f"Bearer {first[1]}"}
    cases: list[tuple[str, str, bytes | None, int, str]] = [
        ("POST", "/rpc/no.such.procedure", None, 404, "UNKNOWN_PROCEDURE"),
        ("GET", "/rpc/auth.whoami", None, 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/rpc/tenants.create", b"{nope", 400, "INVALID_REQUEST"),
    ]
    for method, path, content, status, code in cases:
        response = _request(app, method, path, headers=auth, content=content)
        assert response.status_code == status, path
        assert response.headers["content-type"] == "application/problem+json", path
        assert response.json()["code"] == code
    store.close()


def test_key_limits_are_per_org_and_refused_before_anything_is_written(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path, max_keys_per_org=4)
    first = bootstrap(store)
    assert first is not None
    org_a, key = first
    app = create_app(Settings(data_dir=tmp_path, max_keys_per_org=4), store)
    created = rpc(app, key, "orgs.create", {"name": "B"}).json()
    org_b, key_b = created["orgId"], created["adminKey"]["key"]
    assert rpc(app, key_b, "streams.signingKeys.create", {"orgId": org_b, "label": "b"}).is_success
    for i in range(4):
        body = {"orgId": org_a, "label": f"a{i}"}
        assert rpc(app, key, "streams.signingKeys.create", body).status_code == 200
    for _ in range(3):  # an admin hammering create: refused, and nothing is written
        over = rpc(app, key, "streams.signingKeys.create", {"orgId": org_a, "label": "over"})
        assert over.status_code == 409
        assert over.json()["code"] == "QUOTA_EXCEEDED"
    assert len(store.list_signing_keys(org_a)) == 4
    b_jwks = _request(app, "GET", f"/orgs/{org_b}/jwks.json").json()
    assert len(b_jwks["keys"]) == 1
    combined = _request(app, "GET", "/.well-known/jwks.json")
    assert combined.status_code == 200
    assert len(combined.json()["keys"]) == 5
    store.close()


def test_a_replica_with_other_secrets_refuses_to_start_saying_which(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from relaypass import b64encode

    database = f"sqlite:///{tmp_path / 'shared.db'}"
    shared = {
        "RELAYPASS_DATABASE_URL": database,
        "RELAYPASS_KEK": b64encode(secrets.token_bytes(32)),
        "RELAYPASS_API_KEY_PEPPER": b64encode(secrets.token_bytes(32)),
    }

    def admin(env: dict[str, str], data_dir: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relaypass", "admin", "bootstrap", "--json"],
            env={**os.environ, **env, "RELAYPASS_DATA_DIR": str(tmp_path / data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert admin(shared, "a").returncode == 0
    for variable in ("RELAYPASS_KEK", "RELAYPASS_API_KEY_PEPPER"):
        other = {**shared, variable: b64encode(secrets.token_bytes(32))}
        refused = admin(other, "b")
        assert refused.returncode == 1
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, refused.stderr  # one line, no traceback
        assert variable in lines[0]
    again = admin(shared, "c")  # the right secrets: it starts (nothing left to bootstrap)
    assert "already has an org" in again.stdout


def test_a_postgresql_outage_answers_503_and_recovers_without_a_restart(tmp_path: Path) -> None:
    from tests.server.conftest import PgCluster

    cluster = PgCluster()
    try:
        cluster.start()
        store = Store(
            make_engine(cluster.url),
            kek=KeyEncryptionKey(secrets.token_bytes(32)),
            hasher=ApiKeyHasher(secrets.token_bytes(32)),
            key_propagation_seconds=0,
        )
        store.migrate()
        first = bootstrap(store)
        assert first is not None
        org, key = first
        app = create_app(Settings(data_dir=tmp_path, key_propagation_seconds=0), store)
        assert rpc(app, key, "tenants.create", {"orgId": org, "tenantId": "t"}).status_code == 200
        body = {"orgId": org, "label": "k"}
        assert rpc(app, key, "streams.signingKeys.create", body).status_code == 200
        mint = {"orgId": org, "tenant": "t", "ns": ["a/*"]}
        for _ in range(2):  # the second runs on the event loop, every read from a cache
            assert rpc(app, key, "tokens.relay.mint", mint).status_code == 200
        assert _request(app, "GET", "/readyz").status_code == 200

        cluster.stop("immediate")
        # Every read still cached: only the audit commit fails, and no token leaves without it.
        moved = moved_to_thread(app)
        down = rpc(app, key, "tokens.relay.mint", mint)
        assert moved_to_thread(app) == moved  # it ran on the loop
        assert down.status_code == 503, down.text
        assert down.json()["code"] == "UNAVAILABLE"
        assert "token" not in down.json()
        store._api_key_cache.clear()  # a request this worker has not seen before
        started = time.monotonic()
        for name, body in (
            ("tenants.list", {"orgId": org}),
            ("streams.signingKeys.create", {"orgId": org, "label": "x"}),
            ("tenants.create", {"orgId": org, "tenantId": "u"}),
        ):
            down = rpc(app, key, name, body)
            assert down.status_code == 503, (name, down.text)
            assert down.headers["content-type"] == "application/problem+json"
            assert down.headers["retry-after"] == "1"
            assert down.json()["code"] == "UNAVAILABLE"
        assert time.monotonic() - started < 15  # bounded waits, no hang
        ready = _request(app, "GET", "/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unreachable"

        cluster.start()
        wait_for(lambda: _request(app, "GET", "/readyz").status_code == 200, timeout=15)
        assert rpc(app, key, "tenants.create", {"orgId": org, "tenantId": "u"}).status_code == 200
        assert [t["id"] for t in store.list_tenants(org)] == ["default", "t", "u"]
        assert rpc(app, key, "tokens.relay.mint", mint).status_code == 200
        assert len(store.audit_log(org, action="token.mint")) == 3  # the answered ones only
        store.close()
    finally:
        cluster.remove()


def test_junk_paths_do_not_grow_the_metrics(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    app = create_app(Settings(data_dir=tmp_path), store)
    for i in range(20):
        call(app, "POST", f"/rpc/junk.{i}")
    metrics = call(app, "GET", "/metrics").text
    assert "junk" not in metrics
    assert 'procedure="unknown"' in metrics
    store.close()


def test_reads_that_need_redis_answer_503_while_it_is_away_and_writes_still_commit(
    tmp_path: Path,
) -> None:
    """Who is live, who waits, a room's participants: Redis is down (one node, then a cluster
    nobody answers for), so they are a 503 with ``Retry-After``, never a 500; a write beside
    them is answered as done (it reaches Redis through the outbox later)."""
    from collections.abc import Callable

    import pytest

    from relaypass.client import Client
    from relaypass.errors import UnavailableError
    from tests._cp import served_plane

    for url in (f"redis://127.0.0.1:{free_port()}/0",
                f"redis+cluster://127.0.0.1:{free_port()}"):  # fmt: skip
        directory = tmp_path / url.partition(":")[0]
        directory.mkdir()
        with (
            served_plane(directory, url, "away") as (base, org, key),
            Client(base, api_key=key, max_retries=0) as client,
        ):
            reads: list[Callable[[], object]] = [
                lambda: client.usage.live(org_id=org),
                lambda: client.rooms.lobby.list(org_id=org, room_id="r1"),
                lambda: client.rooms.participants.list(org_id=org, room_id="r1"),
            ]
            for read in reads:
                with pytest.raises(UnavailableError, match="Redis") as refused:
                    read()
                assert refused.value.retry_after_seconds == 1
            answered = client.rooms.lobby.admit(org_id=org, room_id="r1", participant_id="ada")
            assert answered.action == "admit"
