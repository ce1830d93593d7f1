"""Tenancy attacks: org A against org B on one control plane and one shared gate.

Each scenario of the tenancy issue is run as an attack: through the control
plane's HTTP API (the ASGI app on a real SQLite store) and through the gate's
HTTP auth service (HLS ``auth_request`` and the RTMP callbacks), with the gate
following the control plane's real Redis for keys and revocations. Every attack
fails with its documented code, and B's audit log shows the attempt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI

from relaypass import Key, Minter
from relaypass.gate import Gate, RedisKeySource
from relaypass.gate.adapters.http import create_gate_app
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db import models
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from tests._cp import sqlite_store


def call(app: Any, method: str, url: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, url, **kw)

    return asyncio.run(go())


@dataclass
class Platform:
    """A control plane with two orgs, and a shared gate following its Redis."""

    app: FastAPI
    store: Store
    operator: str  # the first run's key: org A's admin, with platform:admin
    org_a: str
    org_b: str
    key_b: str  # org B's admin key
    b_root: str
    gate: Gate
    gate_app: Any
    source: RedisKeySource
    redis_url: str
    redis_prefix: str

    def rpc(self, name: str, key: str | None, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return call(self.app, "POST", f"/rpc/{name}", json=body, headers=headers)

    def ok(self, name: str, key: str, body: dict[str, Any]) -> Any:
        response = self.rpc(name, key, body)
        assert response.status_code == 200, response.text
        return response.json()

    def audit(self, key: str, org: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.ok("audit.list", key, {"orgId": org})["events"]
        return events

    def mint(self, key: str, org: str, tenant: str, ns: list[str]) -> str:
        token: str = self.ok("tokens.relay.mint", key, {"orgId": org, "tenant": tenant, "ns": ns})[
            "token"
        ]
        return token

    def sync_gate(self, source: RedisKeySource | None = None) -> None:
        """Wait (bounded) until the gate holds the key set version Redis holds."""
        source = source or self.source
        client = redis.Redis.from_url(self.redis_url)
        stored = json.loads(client.get(f"{self.redis_prefix}:jwks") or b'{"version": 0}')
        client.close()
        deadline = time.monotonic() + 5
        while source.version < stored["version"] and time.monotonic() < deadline:
            source.reload()
            time.sleep(0.01)


@pytest.fixture
def platform(tmp_path: Path, redis_server: str, redis_prefix: str) -> Iterator[Platform]:
    yield from make_platform(tmp_path, redis_server, redis_prefix)


def make_platform(
    tmp_path: Path, redis_server: str, redis_prefix: str
) -> Generator[Platform, None, None]:
    """Two orgs (A, the first, with the operator's key; B) on one control plane and gate."""
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store, "org A")
    assert first is not None
    org_a, operator = first
    settings = Settings(
        data_dir=tmp_path,
        redis_url=redis_server,
        redis_prefix=redis_prefix,
        key_propagation_seconds=0,
    )
    app = create_app(settings, store)
    created = call(
        app,
        "POST",
        "/rpc/orgs.create",
        json={"name": "org B", "namespaces": ["bcorp"]},
        headers={"Authorization": f"Bearer {operator}"},
    ).json()
    org_b, key_b = created["orgId"], created["adminKey"]["key"]
    source = RedisKeySource(redis_server, prefix=redis_prefix, start=False)
    gate = Gate(source, profile="relay")
    source.on_revoke = gate.apply_revocation
    source.start()
    p = Platform(
        app,
        store,
        operator,
        org_a,
        org_b,
        key_b,
        "bcorp",
        gate,
        create_gate_app(gate),
        source,
        redis_server,
        redis_prefix,
    )
    for org, key, tenant in ((org_a, operator, "tenant_a"), (org_b, key_b, "tenant_b")):
        p.ok("tenants.create", key, {"orgId": org, "tenantId": tenant})
        p.ok("streams.signingKeys.create", key, {"orgId": org, "label": "v1"})
    p.sync_gate()
    yield p
    source.close()
    store.close()


def hls(p: Platform, token: str, path: str) -> int:
    uri = f"/hls/{token}/{path}/index.m3u8"
    return call(p.gate_app, "GET", "/auth/hls", headers={"X-Original-URI": uri}).status_code


def rtmp(p: Platform, call_name: str, app_name: str, name: str, token: str) -> httpx.Response:
    data = {"call": call_name, "addr": "10.0.0.1", "clientid": "1", "app": app_name}
    return call(
        p.gate_app, "POST", f"/rtmp/on_{call_name}", data={**data, "name": name, "jwt": token}
    )


def denied_in(p: Platform, key: str, org: str, procedure: str) -> bool:
    return any(
        e["action"] == "access.denied" and e["target"] == procedure for e in p.audit(key, org)
    )


# ------------------------------------------------------------ 1. service accounts


def test_a_cannot_take_over_bs_service_accounts(platform: Platform) -> None:
    p = platform
    b_admin = Key.generate("RS256", kid="admin-b")
    a_admin = Key.generate("RS256", kid="admin-a")
    published = p.rpc(
        "PublishServiceAccount",
        p.key_b,
        {"tenant_id": "tenant_b", "private_key_id": "admin-b",
         "public_key_pem": b_admin.to_pem().decode(), "role": "admin"},
    )  # fmt: skip
    assert published.status_code == 200, published.text
    # A's keys:admin key names B's tenant: the same answer as a tenant that does not exist.
    replaced = p.rpc(
        "PublishServiceAccount",
        p.operator,
        {"tenant_id": "tenant_b", "private_key_id": "admin-b",
         "public_key_pem": a_admin.to_pem().decode(), "role": "admin"},
    )  # fmt: skip
    missing = p.rpc(
        "PublishServiceAccount",
        p.operator,
        {"tenant_id": "tenant_nowhere", "private_key_id": "admin-b",
         "public_key_pem": a_admin.to_pem().decode(), "role": "admin"},
    )  # fmt: skip
    assert replaced.status_code == missing.status_code == 403
    assert replaced.json()["code"] == missing.json()["code"] == "INVALID_PERMISSIONS"
    assert replaced.json()["detail"] == missing.json()["detail"]
    for name, body in (
        ("RevokeServiceAccount", {"tenant_id": "tenant_b", "private_key_id": "admin-b"}),
        ("SessionAuth", {"tenant_id": "tenant_b", "subject": "x", "ttl_seconds": 60,
                         "scope": "call.dial", "origin": "https://evil.example"}),
    ):  # fmt: skip
        refused = p.rpc(name, p.operator, body)
        assert refused.status_code == 403, name
        assert refused.json()["code"] == "INVALID_PERMISSIONS"
    # B's own admin JWT still works (its key was not replaced) ...
    b_token = Minter(b_admin, issuer="telequick-sdk").mint({"sub": "tenant_b"})
    ok = p.rpc(
        "SessionAuth",
        None,
        {"admin_token": b_token, "tenant_id": "tenant_b", "subject": "u1", "ttl_seconds": 60,
         "scope": "call.dial", "origin": "https://app.b.example"},
    )  # fmt: skip
    assert ok.status_code == 200
    assert ok.json()["token"]
    # ... and an admin JWT of A's own tenant acts only within that tenant.
    p.ok(
        "PublishServiceAccount",
        p.operator,
        {"tenant_id": "tenant_a", "private_key_id": "admin-a",
         "public_key_pem": a_admin.to_pem().decode(), "role": "admin"},
    )  # fmt: skip
    a_token = Minter(a_admin, issuer="telequick-sdk").mint({"sub": "tenant_a"})
    cross = p.rpc(
        "RevokeServiceAccount",
        None,
        {"admin_token": a_token, "tenant_id": "tenant_b", "private_key_id": "admin-b"},
    )
    assert cross.status_code == 403
    assert cross.json()["code"] == "INVALID_PERMISSIONS"
    assert p.store.service_account_registry(p.org_b).keys_for("tenant_b") == ["admin-b"]
    # B's audit shows the attempts on its tenant, with the actor, and nothing of A's data.
    attempts = [e for e in p.audit(p.key_b, p.org_b) if e["action"] == "access.denied"]
    assert {e["target"] for e in attempts} >= {
        "PublishServiceAccount",
        "RevokeServiceAccount",
        "SessionAuth",
    }
    assert all(e["actor"].startswith(p.org_a + "/") for e in attempts)
    assert all("admin-a" not in str(e["detail"]) for e in attempts)


def _publish(p: Platform, key: str, tenant: str, kid: str, public: Key) -> httpx.Response:
    return p.rpc(
        "PublishServiceAccount",
        key,
        {"tenant_id": tenant, "private_key_id": kid,
         "public_key_pem": public.to_pem().decode(), "role": "admin"},
    )  # fmt: skip


def test_a_public_key_registered_by_one_org_is_refused_to_another(platform: Platform) -> None:
    """B registers A's (public) key under the same tenant and kid: B must not act as A."""
    p = platform
    a_admin = Key.generate("RS256", kid="k2")
    for org, key in ((p.org_a, p.operator), (p.org_b, p.key_b)):
        p.ok("tenants.create", key, {"orgId": org, "tenantId": "shared_t"})
    assert _publish(p, p.operator, "shared_t", "k2", a_admin.public()).status_code == 200
    squat = _publish(p, p.key_b, "shared_t", "k2", a_admin.public())
    assert squat.status_code == 400
    assert squat.json()["code"] == "INVALID_REQUEST"
    assert p.store.service_account_registry(p.org_b).keys_for("shared_t") == []
    # A's admin JWT acts in A only: B's revocation of its own (absent) k1 touches nothing of A.
    b_own = Key.generate("RS256", kid="k1")
    a_k1 = Key.generate("RS256", kid="k1")
    assert _publish(p, p.operator, "shared_t", "k1", a_k1.public()).status_code == 200
    assert _publish(p, p.key_b, "shared_t", "k1", b_own.public()).status_code == 200
    b_token = Minter(b_own, issuer="telequick-sdk").mint({"sub": "shared_t"})
    revoked = p.rpc(
        "RevokeServiceAccount",
        None,
        {"admin_token": b_token, "tenant_id": "shared_t", "private_key_id": "k1"},
    )
    assert revoked.status_code == 200, revoked.text
    assert sorted(p.store.service_account_registry(p.org_a).keys_for("shared_t")) == ["k1", "k2"]
    assert p.store.service_account_registry(p.org_b).keys_for("shared_t") == []


def test_a_key_two_orgs_hold_from_before_the_rule_verifies_for_neither(
    platform: Platform,
) -> None:
    p = platform
    admin = Key.generate("RS256", kid="k2")
    for org, key in ((p.org_a, p.operator), (p.org_b, p.key_b)):
        p.ok("tenants.create", key, {"orgId": org, "tenantId": "shared_t"})
    assert _publish(p, p.operator, "shared_t", "k2", admin.public()).status_code == 200
    with p.store.transaction() as session:  # as a row written before the rule existed
        row = session.get(models.ServiceAccount, (p.org_a, "shared_t", "k2"))
        assert row is not None
        session.add(
            models.ServiceAccount(
                org_id=p.org_b, tenant_id="shared_t", private_key_id="k2",
                public_key_pem=row.public_key_pem, public_key_thumbprint=None, role="admin",
                expires_at_ms=0, created_at_ms=row.created_at_ms,
            )
        )  # fmt: skip
    token = Minter(admin, issuer="telequick-sdk").mint({"sub": "shared_t"})
    refused = p.rpc(
        "SessionAuth",
        None,
        {"admin_token": token, "tenant_id": "shared_t", "subject": "u1", "ttl_seconds": 60,
         "scope": "call.dial", "origin": "https://app.example"},
    )  # fmt: skip
    assert refused.status_code == 401
    assert refused.json()["code"] == "INVALID_TOKEN"


def test_naming_another_org_is_refused_and_lands_in_its_audit(platform: Platform) -> None:
    p = platform
    for name, body in (
        ("streams.apiKeys.list", {"orgId": p.org_b}),
        ("streams.signingKeys.create", {"orgId": p.org_b, "label": "mine now"}),
        ("tenants.create", {"orgId": p.org_b, "tenantId": "sneaky"}),
        ("tokens.relay.mint", {"orgId": p.org_b, "tenant": "tenant_b", "ns": ["bcorp/**"]}),
        ("audit.list", {"orgId": p.org_b}),
    ):
        refused = p.rpc(name, p.operator, body)
        assert refused.status_code == 403, name
        assert refused.json()["code"] == "INVALID_PERMISSIONS"
        assert denied_in(p, p.key_b, p.org_b, name), name
    # An org that does not exist answers exactly as one that does.
    ghost = p.rpc("streams.apiKeys.list", p.operator, {"orgId": "org_ghost"})
    real = p.rpc("streams.apiKeys.list", p.operator, {"orgId": p.org_b})
    assert (ghost.status_code, ghost.json()) == (real.status_code, real.json())


def test_an_org_admin_cannot_grant_itself_platform_powers(platform: Platform) -> None:
    p = platform
    escalate = p.rpc(
        "streams.apiKeys.create",
        p.key_b,
        {"orgId": p.org_b, "label": "x", "scopes": ["platform:admin"]},
    )
    assert escalate.status_code == 403
    assert escalate.json()["code"] == "INVALID_PERMISSIONS"
    for name, body in (("orgs.list", {}), ("orgs.create", {"name": "c"}),
                       ("orgs.disable", {"orgId": p.org_a})):  # fmt: skip
        refused = p.rpc(name, p.key_b, body)
        assert refused.status_code == 403, name


def test_a_key_cannot_reroll_revoke_or_list_a_key_that_can_do_more(platform: Platform) -> None:
    """Rerolling answers the new secret: a keys:admin-only key must not reroll the operator's."""
    p = platform
    narrow = p.ok(
        "streams.apiKeys.create",
        p.operator,
        {"orgId": p.org_a, "label": "keys only", "scopes": ["keys:admin"]},
    )
    narrow_key = narrow["key"]
    every = p.ok("streams.apiKeys.list", p.operator, {"orgId": p.org_a})["keys"]
    platform_key = next(k["id"] for k in every if "platform:admin" in k["scopes"])
    seen = p.ok("streams.apiKeys.list", narrow_key, {"orgId": p.org_a})["keys"]
    assert [k["id"] for k in seen] == [narrow["id"]]  # only what it could itself grant
    missing = p.rpc("streams.apiKeys.reroll", narrow_key, {"orgId": p.org_a, "id": "ak_nowhere"})
    for name, body in (
        ("streams.apiKeys.reroll", {"orgId": p.org_a, "id": platform_key, "graceSeconds": 3600}),
        ("streams.apiKeys.revoke", {"orgId": p.org_a, "id": platform_key}),
    ):
        refused = p.rpc(name, narrow_key, body)
        assert refused.status_code == missing.status_code, (name, refused.text)
        assert refused.json()["code"] == missing.json()["code"]
        assert "key" not in refused.json()
    assert p.rpc("orgs.list", p.operator, {}).status_code == 200  # the operator's key still works
    assert p.rpc("orgs.list", narrow_key, {}).status_code == 403
    # Its own key, within its scopes, it may reroll.
    rerolled = p.ok("streams.apiKeys.reroll", narrow_key, {"orgId": p.org_a, "id": narrow["id"]})
    assert rerolled["key"] != narrow_key


# ------------------------------------------------------------ 2. the shared gate


def test_as_tokens_never_reach_bs_streams_at_the_shared_gate(platform: Platform) -> None:
    p = platform
    # A is the first org: it keeps the unprefixed space, and may mint "**" for it ...
    everything = p.mint(p.operator, p.org_a, "tenant_a", ["**"])
    assert hls(p, everything, "live/acam") == 204
    # ... but B's namespace is fenced off at the gate, on every adapter path.
    assert hls(p, everything, "bcorp/live/bcam") == 403
    assert rtmp(p, "publish", "bcorp", "bcam", everything).status_code == 403
    assert rtmp(p, "play", "bcorp", "bcam", everything).status_code == 403
    # Minting into B's namespace, or for B's tenant, is refused at the control plane.
    into_b = p.rpc(
        "tokens.relay.mint",
        p.operator,
        {"orgId": p.org_a, "tenant": "tenant_a", "ns": ["bcorp/live/bcam"]},
    )
    assert into_b.status_code == 200  # inside A's unprefixed space as minted ...
    assert hls(p, into_b.json()["token"], "bcorp/live/bcam") == 403  # ... fenced at the gate
    for_b_tenant = p.rpc(
        "tokens.relay.mint", p.operator, {"orgId": p.org_a, "tenant": "tenant_b", "ns": ["x"]}
    )
    assert for_b_tenant.status_code == 403
    assert for_b_tenant.json()["code"] == "INVALID_PERMISSIONS"
    # B's own tokens work in B's space, and B cannot mint outside it.
    mine = p.mint(p.key_b, p.org_b, "tenant_b", ["bcorp/live/*", "bcorp/*"])
    assert hls(p, mine, "bcorp/live/bcam") == 204
    assert rtmp(p, "publish", "bcorp", "bcam", mine).status_code == 200
    outside = p.rpc(
        "tokens.relay.mint", p.key_b, {"orgId": p.org_b, "tenant": "tenant_b", "ns": ["live/*"]}
    )
    assert outside.status_code == 403
    assert outside.json()["code"] == "INVALID_PERMISSIONS"
    greedy = p.rpc("tokens.moq.mint", p.key_b, {"orgId": p.org_b, "root": "", "subscribe": [""]})
    assert greedy.status_code == 403


def test_published_keys_carry_org_and_scope_and_each_org_has_its_jwks(platform: Platform) -> None:
    p = platform
    combined = call(p.app, "GET", "/.well-known/jwks.json").json()
    by_org = {k["org"]: k["scope"] for k in combined["keys"]}
    assert by_org[p.org_a] == {"root": "", "put": [""], "get": [""]}
    assert by_org[p.org_b] == {"root": "bcorp", "put": [""], "get": [""]}
    only_b = call(p.app, "GET", f"/orgs/{p.org_b}/jwks.json").json()
    assert {k["org"] for k in only_b["keys"]} == {p.org_b}
    assert set(only_b["issuers"].values()) == {p.org_b}
    assert not any(key.startswith("key_") for key in only_b["issuers"])  # digests, not ids


# ------------------------------------------------------------ 3. room tokens


def test_room_tokens_die_with_their_api_key(platform: Platform) -> None:
    p = platform
    room_source = RedisKeySource(p.redis_url, prefix=p.redis_prefix, start=False)
    room_gate = Gate(room_source, profile="room")
    room_source.on_revoke = room_gate.apply_revocation
    room_source.start()
    app = create_gate_app(room_gate)
    minting = p.ok(
        "streams.apiKeys.create",
        p.key_b,
        {"orgId": p.org_b, "label": "rooms", "scopes": ["tokens:mint"]},
    )
    token = p.ok(
        "tokens.room.mint",
        minting["key"],
        {"orgId": p.org_b, "roomId": "standup", "role": "speaker"},
    )["token"]
    p.sync_gate(room_source)

    def status() -> int:
        uri = f"/hls/{token}/bcorp/standup/index.m3u8"
        return call(app, "GET", "/auth/hls", headers={"X-Original-URI": uri}).status_code

    assert status() == 204
    session = room_gate.connect(token, "bcorp/standup")
    p.ok("streams.apiKeys.revoke", p.key_b, {"orgId": p.org_b, "id": minting["id"]})
    deadline = time.monotonic() + 5
    while session.open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not session.open  # the live room session was cut
    assert status() == 403  # INVALID_API_KEY: refused on reconnect
    forged_iss = p.ok(
        "tokens.room.mint", p.operator, {"orgId": p.org_a, "roomId": "standup", "role": "host"}
    )["token"]
    assert call(
        app,
        "GET",
        "/auth/hls",
        headers={"X-Original-URI": f"/hls/{forged_iss}/bcorp/standup/index.m3u8"},
    ).status_code in {401, 403}  # A's room token cannot join B's room
    room_source.close()


# ------------------------------------------------------------ 4. resources


def test_resource_ids_of_another_org_answer_as_missing_ones(platform: Platform) -> None:
    p = platform
    body = {"orgId": p.org_b, "kind": "trunk", "resourceId": "TR1", "tenant": "tenant_b"}
    p.ok("tenants.resources.assign", p.key_b, body)
    # A assigning "the same" trunk id is no oracle: ids are per org, so it simply succeeds.
    mine = {**body, "orgId": p.org_a, "tenant": "tenant_a"}
    p.ok("tenants.resources.assign", p.operator, mine)
    assert p.store.owner_of(p.org_b, "trunk", "TR1") == "tenant_b"  # type: ignore[arg-type]
    # Releasing B's trunk through A's org answers exactly as a trunk that does not exist.
    foreign = p.rpc("tenants.resources.release", p.operator, {**mine, "resourceId": "TR1",
                                                               "tenant": "tenant_b"})  # fmt: skip
    missing = p.rpc("tenants.resources.release", p.operator, {**mine, "resourceId": "TR404"})
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert p.store.owner_of(p.org_b, "trunk", "TR1") == "tenant_b"  # type: ignore[arg-type]


# ------------------------------------------------------------ 5. orgs


def test_the_operator_creates_lists_and_disables_orgs(platform: Platform) -> None:
    p = platform
    listed = p.ok("orgs.list", p.operator, {})["orgs"]
    assert {o["id"] for o in listed} >= {p.org_a, p.org_b}
    overlapping = p.rpc("orgs.create", p.operator, {"name": "C", "namespaces": ["bcorp/sub"]})
    assert overlapping.status_code == 400
    token_b = p.mint(p.key_b, p.org_b, "tenant_b", ["bcorp/**"])
    session = p.gate.connect(token_b, "bcorp/live")
    p.ok("orgs.disable", p.operator, {"orgId": p.org_b})
    deadline = time.monotonic() + 5
    while session.open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not session.open
    assert hls(p, token_b, "bcorp/live/bcam") == 401
    refused = p.rpc("streams.apiKeys.list", p.key_b, {"orgId": p.org_b})
    assert refused.status_code == 401
    assert refused.json()["code"] == "INVALID_API_KEY"
    own = p.rpc("orgs.disable", p.operator, {"orgId": p.org_a})
    assert own.status_code == 400


# ------------------------------------------------------------ 6. limits


def test_bodies_are_capped_and_the_key_is_checked_before_the_body(platform: Platform) -> None:
    p = platform
    big = b"{" + b" " * (128 * 1024) + b"}"
    unauthenticated = call(
        p.app, "POST", "/rpc/tokens.relay.mint", content=big,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert unauthenticated.status_code == 413
    small = call(p.app, "POST", "/rpc/tokens.relay.mint", json={"orgId": p.org_a})
    assert small.status_code == 401
    assert small.headers["content-type"] == "application/problem+json"
    authenticated = call(
        p.app, "POST", "/rpc/tokens.relay.mint", content=big,
        headers={"content-type": "application/json", "Authorization": f"Bearer {p.operator}"},
    )  # fmt: skip
    assert authenticated.status_code == 413
    assert authenticated.json()["code"] == "REQUEST_TOO_LARGE"


def test_a_body_without_a_length_is_cut_off_at_the_cap_with_the_same_refusal(
    platform: Platform,
) -> None:
    """Sent in chunks (no Content-Length), the body is counted while it is read."""
    p = platform

    async def chunks() -> AsyncIterator[bytes]:
        yield b"{"
        for _ in range(128):
            yield b" " * 1024
        yield b"}"

    streamed = call(
        p.app, "POST", "/rpc/tokens.relay.mint", content=chunks(),
        headers={"content-type": "application/json", "Authorization": f"Bearer {p.operator}"},
    )  # fmt: skip
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "REQUEST_TOO_LARGE"
