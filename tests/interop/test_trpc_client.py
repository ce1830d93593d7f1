"""The real ``@trpc/client`` v11 (from npm, lock file in ``tests/interop/node``) against ``/trpc``.

Every procedure of the table has a case here, run through ``httpLink``,
``httpBatchLink`` and ``httpBatchStreamLink``, with and without superjson; a
procedure without a case fails the suite. Successes are checked against the
procedure's output model, refusals by tRPC's error key and our stable code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from relaypass.api import BY_NAME
from relaypass.server.app import bootstrap, create_app
from relaypass.server.settings import Settings
from tests._cp import sqlite_store
from tests._net import serve_in_thread

pytestmark = pytest.mark.interop
NODE_DIR = Path(__file__).parent / "node"
DRIVER = NODE_DIR / "trpc_calls.mjs"


@dataclass
class World:
    """A served control plane with an org, a tenant and things to act on."""

    url: str
    key: str
    org: str
    other_org: str
    spare_keys: list[str]
    spare_kids: list[str]
    pem: str
    extra: dict[str, str] = field(default_factory=dict)


def rpc(url: str, key: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/rpc/{name}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    app = create_app(Settings(data_dir=tmp_path, key_propagation_seconds=0), store)
    with serve_in_thread(app) as address:
        url = f"http://{address}"
        rpc(url, key, "tenants.create", {"orgId": org, "tenantId": "acme"})
        other = rpc(url, key, "orgs.create", {"name": "Other", "namespaces": ["other"]})["orgId"]
        spare = {"orgId": org, "scopes": ["audit:read"]}
        spare_keys = [
            rpc(url, key, "streams.apiKeys.create", spare | {"label": f"s{i}"})["id"]
            for i in range(2)
        ]
        spare_kids = [
            rpc(url, key, "streams.signingKeys.create", {"orgId": org, "label": f"s{i}"})["id"]
            for i in range(2)
        ]
        rpc(url, key, "streams.signingKeys.create", {"orgId": org, "label": "main"})
        pem = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        # A webhook endpoint to act on (on loopback: only the store may make one there).
        hook = store.create_webhook(org, "http://127.0.0.1:9/hooks", actor="test")[0]["id"]
        store.test_webhook(org, hook)
        delivery = str(store.webhook_deliveries(org, hook)[0]["id"])
        extra = {"webhook": hook, "delivery": delivery}
        yield World(f"{url}/trpc", key, org, other, spare_keys, spare_kids, pem, extra)


@dataclass(frozen=True)
class Case:
    """One call and what it must answer: ``ok`` or ``(tRPC key, stable code)``."""

    path: str
    input: dict[str, Any] | None
    expect: str | tuple[str, str] = "ok"
    key: str | None = None
    headers: dict[str, str] | None = None


def cases(w: World, *, superjson: bool) -> list[list[Case]]:
    """Groups of calls; calls within a group are independent and run concurrently."""
    org = w.org
    acme = {"orgId": org, "tenant": "acme"}
    trunk = acme | {"kind": "trunk", "resourceId": "TK1"}
    room = {"orgId": org, "roomId": "standup"}
    no_input: dict[str, Any] | None = {} if superjson else None
    mint_groups = [
        Case("tokens.relay.mint", acme | {"ns": ["acme/**"]}),
        Case("streams.signingKeys.mintPlaybackToken", acme | {"inputId": "in1"}),
        Case("voice.audioBridge.mintBrowserToken", acme | {"callSid": "CA1"}),
        Case("tokens.room.mint", {"orgId": org, "roomId": "r1", "participantId": "p1",
                                  "role": "speaker"}),
        Case("tokens.moq.mint", {"orgId": org, "root": "demo", "publish": [""], "subscribe": [""]}),
        # a typo is refused, never minted with a default
        Case("tokens.relay.mint", acme | {"ns": ["a"], "ttl": 5},
             ("BAD_REQUEST", "INVALID_REQUEST")),
    ]  # fmt: skip
    return [
        [
            Case("auth.whoami", no_input),
            Case("orgs.list", no_input),
            Case("tenants.list", {"orgId": org}),
            Case("streams.apiKeys.list", {"orgId": org}),
            Case("streams.signingKeys.list", {"orgId": org}),
            Case("serviceAccounts.list", {"orgId": org}),
            Case("audit.list", {"orgId": org, "limit": 5}),
            Case("rooms.lobby.list", {"orgId": org, "roomId": "standup"}),
            Case("rooms.participants.list", {"orgId": org, "roomId": "standup", "tier": "viewer"}),
            Case("usage.query", {"orgId": org, "since": 1_800_000_000, "until": 1_800_003_600,
                                 "granularity": "minute", "metrics": ["connects", "mints"]}),
            Case("usage.query", {"orgId": org, "since": 5, "until": 1},
                 ("BAD_REQUEST", "INVALID_REQUEST")),
            Case("usage.live", {"orgId": org}),
            Case("webhooks.list", {"orgId": org}),
            Case("orgs.limits", {"orgId": org}),
            Case("webhooks.deliveries.list", {"orgId": org, "id": w.extra["webhook"]}),
            Case("streams.apiKeys.list", {"orgId": w.other_org},
                 ("FORBIDDEN", "INVALID_PERMISSIONS")),
            Case("auth.whoami", no_input, ("UNAUTHORIZED", "INVALID_API_KEY"), key="rp_live_nope"),
            Case("no.such.procedure", no_input, ("NOT_FOUND", "UNKNOWN_PROCEDURE")),
        ],
        [
            Case("orgs.create", {"name": "Beta", "namespaces": ["beta"]}),
            Case("tenants.create", {"orgId": org, "tenantId": "t2"}),
            Case("tenants.resources.assign", trunk),
            Case("streams.apiKeys.create", {"orgId": org, "label": "x", "scopes": ["tokens:mint"]}),
            Case("streams.apiKeys.revoke", {"orgId": org, "id": w.spare_keys[0]}),
            Case("streams.apiKeys.reroll", {"orgId": org, "id": w.spare_keys[1]}),
            Case("streams.signingKeys.create", {"orgId": org, "label": "k2"}),
            Case("PublishServiceAccount", {"tenant_id": "acme", "private_key_id": "sa1",
                                           "public_key_pem": w.pem, "role": "admin"}),
            Case("SessionAuth", {"tenant_id": "acme", "subject": "u1", "ttl_seconds": 60,
                                 "scope": "call:listen", "origin": "https://app.example"}),
            Case("tokens.revoke", {"orgId": org, "jti": "abc123"}),
            Case("rooms.lobby.admit", room | {"participantId": "ada"}),
            Case("rooms.lobby.deny", room | {"participantId": "eve"}),
            Case("rooms.lobby.admitAll", room),
            Case("rooms.participants.update", room | {"participantId": "ada", "isViewer": True}),
            Case("rooms.participants.update", room | {"participantId": "ada",
                 "grant": {"canFly": True}}, ("BAD_REQUEST", "INVALID_REQUEST")),
            Case("rooms.participants.remove", room | {"participantId": "mal"}),
            Case("rooms.end", {"orgId": org, "roomId": "old"}),
            Case("orgs.setLimits", {"orgId": w.other_org, "maxSessions": 10}),
            Case("orgs.setLimits", {"orgId": w.other_org, "maxSessions": -1},
                 ("BAD_REQUEST", "INVALID_REQUEST")),
            Case("webhooks.create", {"orgId": org, "url": "http://127.0.0.1:9/private"},
                 ("BAD_REQUEST", "INVALID_REQUEST")),
            Case("webhooks.update", {"orgId": org, "id": w.extra["webhook"], "description": "x"}),
            Case("webhooks.rotateSecret", {"orgId": org, "id": w.extra["webhook"]}),
            Case("webhooks.test", {"orgId": org, "id": w.extra["webhook"]}),
            Case("webhooks.deliveries.replay",
                 {"orgId": org, "deliveryId": int(w.extra["delivery"])}),
        ],
        mint_groups,
        [
            Case("tenants.resources.release", trunk),
            Case("tenants.disable", {"orgId": org, "tenantId": "t2"}),
            Case("streams.signingKeys.retire", {"orgId": org, "id": w.spare_kids[0]}),
            Case("streams.signingKeys.revoke", {"orgId": org, "id": w.spare_kids[1]}),
            Case("RevokeServiceAccount", {"tenant_id": "acme", "private_key_id": "sa1"}),
            Case("orgs.disable", {"orgId": w.other_org}),
            Case("webhooks.delete", {"orgId": org, "id": w.extra["webhook"]}),
        ],
    ]  # fmt: skip


def drive(w: World, groups: list[list[Case]], *, link: str, superjson: bool) -> list[Any]:
    node = shutil.which("node")
    assert node is not None, "node is required (scripts/test installs it)"
    assert (NODE_DIR / "node_modules" / "@trpc" / "client").exists(), "run scripts/test (npm ci)"
    spec = {
        "url": w.url,
        "link": link,
        "superjson": superjson,
        "groups": [
            [
                {
                    "path": c.path,
                    "kind": BY_NAME[c.path].kind if c.path in BY_NAME else "query",
                    "key": c.key or w.key,
                    **({"input": c.input} if c.input is not None else {}),
                    **({"headers": c.headers} if c.headers else {}),
                }
                for c in group
            ]
            for group in groups
        ],
    }
    done = subprocess.run(  # noqa: S603 - fixed argv, our own test inputs
        [node, str(DRIVER)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=NODE_DIR,
    )
    assert done.returncode == 0, done.stderr
    results: list[Any] = json.loads(done.stdout)
    return results


def test_every_procedure_has_a_trpc_case(world: World) -> None:
    covered = {c.path for group in cases(world, superjson=False) for c in group}
    assert set(BY_NAME) <= covered, f"procedures without a tRPC case: {set(BY_NAME) - covered}"


@pytest.mark.parametrize("superjson", [False, True], ids=["json", "superjson"])
@pytest.mark.parametrize("link", ["http", "batch", "stream"])
def test_trpc_client_calls_every_procedure(world: World, link: str, superjson: bool) -> None:
    groups = cases(world, superjson=superjson)
    flat = [c for group in groups for c in group]
    results = drive(world, groups, link=link, superjson=superjson)
    assert len(results) == len(flat)
    for case, result in zip(flat, results, strict=True):
        assert result["path"] == case.path
        if isinstance(case.expect, str):
            assert "error" not in result, (case.path, result.get("error"))
            BY_NAME[case.path].output.model_validate(result["data"])
        else:
            key, code = case.expect
            assert "error" in result, (case.path, result)
            error = result["error"]
            assert error["name"] == "TRPCClientError"
            assert (error["code"], error["relaypassCode"]) == (key, code), error
    whoami = results[0]["data"]
    assert whoami["orgId"] == world.org
    assert "tokens:mint" in whoami["scopes"]


def test_superjson_client_without_input_opts_in_by_header(world: World) -> None:
    header = {"x-relaypass-transformer": "superjson"}
    results = drive(
        world,
        [[Case("auth.whoami", None, headers=header), Case("orgs.list", None, headers=header)]],
        link="batch",
        superjson=True,
    )
    assert results[0]["data"]["orgId"] == world.org
    assert any(o["id"] == world.org for o in results[1]["data"]["orgs"])
