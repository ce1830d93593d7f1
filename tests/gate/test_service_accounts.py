"""Service accounts at the gate, end to end through the control plane and a real Redis.

Service-account keys published by ``PublishServiceAccount`` reach the gate with
their org and tenant; SDK tokens signed from a credentials file verify there
unchanged; resources pushed by ``tenants.resources.assign`` decide what a
session may act on; ``RevokeServiceAccount`` cuts only that tenant's sessions.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaypass import InvalidPermissionsError, InvalidTokenError, Key
from relaypass.gate import Gate
from relaypass.gate.config import GateOptions, build_gate
from relaypass.profiles.service_account import ServiceAccountCredentials
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from tests._cp import sqlite_store

KID = "kid-2026-01"  # the same kid name in every tenant: customers choose them


def credentials(tenant: str, key: Key) -> ServiceAccountCredentials:
    return ServiceAccountCredentials.parse(
        json.dumps(
            {"tenant_id": tenant, "private_key_id": key.kid,
             "private_key": key.to_pem(private=True).decode()}
        )
    )  # fmt: skip


@dataclass
class Deployment:
    app: Any
    store: Store
    org_a: str
    key_a: str
    org_b: str
    key_b: str
    gates: list[Gate]

    def rpc(self, key: str, name: str, body: dict[str, Any]) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://cp") as c:
                return await c.post(
                    f"/rpc/{name}", json=body, headers={"Authorization": f"Bearer {key}"}
                )

        response = asyncio.run(go())
        assert response.status_code == 200, response.text
        return response

    def publish(self, key: str, tenant: str, account: Key, expires_at_ms: int = 0) -> None:
        self.rpc(
            key,
            "PublishServiceAccount",
            {"tenant_id": tenant, "private_key_id": account.kid, "role": "sdk",
             "public_key_pem": account.to_pem().decode(), "expires_at_ms": expires_at_ms},
        )  # fmt: skip

    def synced(self) -> None:
        """Every gate holds the key set the control plane published last (bounded wait)."""
        version = self.store.keyset_version()
        deadline = time.monotonic() + 5
        for gate in self.gates:
            source: Any = gate.keys
            while source.version < 2_000_000_000_000 + version:
                assert time.monotonic() < deadline, "gate did not catch up"
                source.reload()
                time.sleep(0.01)


@pytest.fixture
def deployment(tmp_path: Path, redis_server: str, redis_prefix: str) -> Iterator[Deployment]:
    store = sqlite_store(tmp_path)
    first = bootstrap(store)
    assert first is not None
    org_a, key_a = first
    app = create_app(
        Settings(data_dir=tmp_path, redis_url=redis_server, redis_prefix=redis_prefix), store
    )
    created = (
        Deployment(app, store, org_a, key_a, "", "", [])
        .rpc(key_a, "orgs.create", {"name": "B"})
        .json()
    )
    org_b, key_b = created["orgId"], created["adminKey"]["key"]
    stops = []
    gates = []
    for _ in range(2):  # two gates on one Redis act as one
        gate, stop = build_gate(
            GateOptions(
                profile="service_account", redis_url=redis_server, redis_prefix=redis_prefix
            )
        )
        gates.append(gate)
        stops.append(stop)
    d = Deployment(app, store, org_a, key_a, org_b, key_b, gates)
    for org, key, tenant in ((org_a, key_a, "acme"), (org_a, key_a, "initech"),
                             (org_b, key_b, "globex")):  # fmt: skip
        d.rpc(key, "tenants.create", {"orgId": org, "tenantId": tenant})
    yield d
    for stop in stops:
        stop()
    store.close()


def test_tenants_act_only_on_their_own_resources(deployment: Deployment) -> None:
    d = deployment
    acme_key, globex_key = Key.generate("RS256", kid=KID), Key.generate("RS256", kid=KID)
    d.publish(d.key_a, "acme", acme_key)
    d.publish(d.key_b, "globex", globex_key)
    for org, key, kind, rid, tenant in (
        (d.org_a, d.key_a, "trunk", "TR-1", "acme"),
        (d.org_a, d.key_a, "call", "CA-1", "acme"),
        (d.org_b, d.key_b, "call", "CA-9", "globex"),
    ):
        d.rpc(key, "tenants.resources.assign",
              {"orgId": org, "kind": kind, "resourceId": rid, "tenant": tenant})  # fmt: skip
    d.synced()
    gate = d.gates[1]
    deadline = time.monotonic() + 5
    while len(gate.resources) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    acme = gate.connect(credentials("acme", acme_key).sign(issuer="clutchcall-sdk"))
    globex = gate.connect(credentials("globex", globex_key).sign(issuer="telequick-sdk"))
    assert (acme.grant.org, acme.grant.tenant) == (d.org_a, "acme")
    assert (globex.grant.org, globex.grant.tenant) == (d.org_b, "globex")
    acme.authorize_resource("trunk", "TR-1")  # originate on its own trunk
    acme.authorize_resource("call", "CA-1")  # terminate / barge its own call
    refusals = []
    for session, kind, rid in ((acme, "call", "CA-9"), (acme, "call", "CA-404"),
                               (globex, "trunk", "TR-1"), (globex, "call", "CA-1")):  # fmt: skip
        with pytest.raises(InvalidPermissionsError) as refused:
            session.authorize_resource(kind, rid)
        refusals.append(refused.value.reason)
    assert len(set(refusals)) == 1  # foreign and unknown look alike
    d.rpc(d.key_a, "tenants.resources.release",
          {"orgId": d.org_a, "kind": "call", "resourceId": "CA-1", "tenant": "acme"})  # fmt: skip
    deadline = time.monotonic() + 5
    while True:
        try:
            acme.authorize_resource("call", "CA-1")
        except InvalidPermissionsError:
            break
        assert time.monotonic() < deadline, "the release never reached the gate"
        time.sleep(0.01)


def test_revoking_one_tenants_kid_leaves_the_same_kid_name_elsewhere_running(
    deployment: Deployment,
) -> None:
    d = deployment
    accounts = {
        "acme": (d.key_a, Key.generate("RS256", kid=KID)),
        "initech": (d.key_a, Key.generate("RS256", kid=KID)),
        "globex": (d.key_b, Key.generate("RS256", kid=KID)),
    }
    for tenant, (api_key, account) in accounts.items():
        d.publish(api_key, tenant, account)
    rotated = Key.generate("RS256", kid="kid-2026-02")  # coexists with the first during rotation
    d.publish(d.key_a, "acme", rotated)
    d.synced()
    sessions = {
        (gate_no, tenant): gate.connect(credentials(tenant, account).sign())
        for gate_no, gate in enumerate(d.gates)
        for tenant, (_, account) in accounts.items()
    }
    by_rotated = [gate.connect(credentials("acme", rotated).sign()) for gate in d.gates]
    started = time.monotonic()
    d.rpc(d.key_a, "RevokeServiceAccount", {"tenant_id": "acme", "private_key_id": KID})
    cut: list[float] = []
    deadline = started + 5
    for gate_no in range(len(d.gates)):
        session = sessions[gate_no, "acme"]
        while session.open:
            assert time.monotonic() < deadline, "acme's session was not cut"
            time.sleep(0.001)
        cut.append((time.monotonic() - started) * 1000)
    assert statistics.median(cut) < 1000
    for (gate_no, tenant), session in sessions.items():
        if tenant != "acme":
            assert session.open, (gate_no, tenant)  # the same kid name, another tenant
    assert all(s.open for s in by_rotated)  # the rotated key keeps acme's calls running
    d.synced()
    for gate in d.gates:
        with pytest.raises(InvalidTokenError):
            gate.connect(credentials("acme", accounts["acme"][1]).sign())


def test_an_expired_service_account_key_is_refused_and_ends_its_sessions(
    deployment: Deployment,
) -> None:
    d = deployment
    account = Key.generate("RS256", kid=KID)
    d.publish(d.key_a, "acme", account, expires_at_ms=int((time.time() + 1.5) * 1000))
    d.synced()
    gate = d.gates[0]
    session = gate.connect(credentials("acme", account).sign())
    assert session.grant.expires_at is not None
    assert session.grant.expires_at <= time.time() + 1.5
    time.sleep(1.6)
    assert gate.expire_sessions() == 1
    assert not session.open
    with pytest.raises(InvalidTokenError):
        gate.connect(credentials("acme", account).sign())
