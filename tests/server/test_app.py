"""Procedures through the ASGI app with httpx.AsyncClient, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relaypass import ClaimsPolicy, KeySet, Verifier
from relaypass.profiles.relay import RelayClaims
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from relaypass.testing import FrozenClock
from tests.server.conftest import MsClock, bootstrap_with_tenants


class Http:
    """Synchronous calls into the ASGI app through httpx's ASGI transport."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://relaypass") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def client(store: Store, tmp_path: Path) -> tuple[Http, str, str]:
    first = bootstrap_with_tenants(store)
    org_id, admin_key = first
    return Http(create_app(Settings(data_dir=tmp_path), store)), org_id, admin_key


def rpc(http: Http, name: str, key: str | None, body: dict[str, Any], **headers: str) -> Any:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    return http.post(f"/rpc/{name}", json=body, headers={**auth, **headers})


def test_health_ready_metrics_docs(client: tuple[Http, str, str]) -> None:
    http, _, _ = client
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json()["status"] == "ready"
    assert "relaypass_requests" in http.get("/metrics").text
    assert http.get("/docs").status_code == 200
    assert "/rpc/streams.apiKeys.create" in http.get("/openapi.json").json()["paths"]


def test_bootstrap_happens_once(store: Store) -> None:
    assert bootstrap(store) is not None
    assert bootstrap(store) is None


def test_missing_malformed_and_unknown_keys_are_invalid_api_key(
    client: tuple[Http, str, str],
) -> None:
    http, org_id, admin_key = client
    for key in (None, "nope", admin_key[:-1] + ("A" if admin_key[-1] != "A" else "B")):
        response = rpc(http, "streams.apiKeys.list", key, {"orgId": org_id})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "INVALID_API_KEY"


def test_api_key_lifecycle_over_http(client: tuple[Http, str, str]) -> None:
    http, org_id, admin_key = client
    created = rpc(
        http,
        "streams.apiKeys.create",
        admin_key,
        {"orgId": org_id, "label": "minter", "scopes": ["tokens:mint"]},
        **{"Idempotency-Key": "create-minter"},
    ).json()
    again = rpc(
        http,
        "streams.apiKeys.create",
        admin_key,
        {"orgId": org_id, "label": "minter", "scopes": ["tokens:mint"]},
        **{"Idempotency-Key": "create-minter"},
    ).json()
    assert created == again
    listed = rpc(http, "streams.apiKeys.list", admin_key, {"orgId": org_id}).json()["keys"]
    assert created["key"] not in str(listed)
    assert len(listed) == 2
    # The minter key may not administer keys: a clear scope error.
    denied = rpc(http, "streams.apiKeys.list", created["key"], {"orgId": org_id})
    assert denied.status_code == 403
    assert denied.json()["code"] == "INVALID_PERMISSIONS"
    assert "keys:admin" in denied.json()["detail"]
    rpc(http, "streams.apiKeys.revoke", admin_key, {"orgId": org_id, "id": created["id"]})
    gone = rpc(http, "streams.apiKeys.list", created["key"], {"orgId": org_id})
    assert gone.json()["code"] == "INVALID_API_KEY"


def test_unknown_scope_and_bad_bodies_are_invalid_request(
    client: tuple[Http, str, str],
) -> None:
    http, org_id, admin_key = client
    bad = rpc(
        http,
        "streams.apiKeys.create",
        admin_key,
        {"orgId": org_id, "label": "x", "scopes": ["root"]},
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_REQUEST"
    shapeless = rpc(http, "streams.apiKeys.create", admin_key, {"orgId": org_id})
    assert shapeless.status_code == 400
    assert "label" in shapeless.json()["fields"]


def test_signing_key_rotation_and_minting(client: tuple[Http, str, str], ms_clock: MsClock) -> None:
    http, org_id, admin_key = client
    created = rpc(
        http, "streams.signingKeys.create", admin_key, {"orgId": org_id, "label": "v1"}
    ).json()
    assert created["state"] == "pending"
    early = rpc(
        http,
        "tokens.relay.mint",
        admin_key,
        {"orgId": org_id, "tenant": "tenant_abc", "ns": ["voice/*"]},
    )
    assert early.status_code == 400  # a pending key never signs
    assert created["id"] in str(http.get("/.well-known/jwks.json").json())
    ms_clock.advance(60)
    minted = rpc(
        http,
        "streams.signingKeys.mintPlaybackToken",
        admin_key,
        {
            "orgId": org_id,
            "tenant": "tenant_abc",
            "inputId": "li_xyz",
            "scopes": ["playback/li_xyz"],
            "ttlSeconds": 3600,
        },
    ).json()
    jwks = KeySet.from_jwks(http.get("/.well-known/jwks.json").json())
    clock = FrozenClock(ms_clock.now_ms / 1000)
    verifier = Verifier(jwks, policy=ClaimsPolicy(issuer="relaypass"), clock=clock)
    verified = verifier.verify(minted["token"])
    assert RelayClaims.grant(verified).can_subscribe("playback/li_xyz")
    assert verified.kid == created["id"]
    voice = rpc(
        http,
        "voice.audioBridge.mintBrowserToken",
        admin_key,
        {"orgId": org_id, "tenant": "tenant_abc", "callSid": "sid_xyz", "ttlSeconds": 1800},
    ).json()
    assert voice["kid"] == created["id"]
    log = rpc(http, "audit.list", admin_key, {"orgId": org_id, "action": "token.mint"}).json()[
        "events"
    ]
    assert [e["target"] for e in log] == ["browser_voice", "playback"]
    assert minted["token"] not in str(log)
    rpc(http, "streams.signingKeys.revoke", admin_key, {"orgId": org_id, "id": created["id"]})
    assert created["id"] not in str(http.get("/.well-known/jwks.json").json())


def test_a_key_of_one_org_cannot_act_on_another(
    client: tuple[Http, str, str], store: Store
) -> None:
    http, _, admin_key = client
    other = store.create_org("globex")
    response = rpc(http, "streams.apiKeys.list", admin_key, {"orgId": other.id})
    assert response.status_code == 403
    assert response.json()["code"] == "INVALID_PERMISSIONS"


def test_signing_key_changes_reach_redis(
    store: Store, tmp_path: Path, redis_server: str, redis_prefix: str, ms_clock: MsClock
) -> None:
    import json

    import redis

    first = bootstrap_with_tenants(store)
    org_id, admin_key = first
    settings = Settings(data_dir=tmp_path, redis_url=redis_server, redis_prefix=redis_prefix)
    http = Http(create_app(settings, store))
    created = rpc(
        http, "streams.signingKeys.create", admin_key, {"orgId": org_id, "label": "v1"}
    ).json()
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    document = json.loads(str(client.get(f"{redis_prefix}:jwks")))
    assert created["id"] in [k["kid"] for k in document["keys"]]
    rpc(http, "streams.signingKeys.revoke", admin_key, {"orgId": org_id, "id": created["id"]})
    document = json.loads(str(client.get(f"{redis_prefix}:jwks")))
    assert created["id"] not in [k["kid"] for k in document["keys"]]
    assert f"kid:{org_id}/:{created['id']}" in client.hgetall(f"{redis_prefix}:revoked")
    assert ms_clock.now_ms > 0
