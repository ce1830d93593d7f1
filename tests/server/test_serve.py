"""End to end: `relaypass serve` as a real uvicorn process on loopback, and its logs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaypass import ClaimsPolicy, KeySet, Verifier
from relaypass.profiles.relay import RelayClaims
from tests._net import free_port


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    port = free_port()
    env = {
        **os.environ,
        "RELAYPASS_DATA_DIR": str(tmp_path / "data"),
        "RELAYPASS_KEY_PROPAGATION_SECONDS": "1",
    }
    env.pop("RELAYPASS_DATABASE_URL", None)
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "relaypass.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        admin_key = proc.stdout.readline().strip()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield base, admin_key, log
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_bootstraps_mints_and_publishes_jwks(service: tuple[str, str, Path]) -> None:
    base, admin_key, log = service
    assert admin_key.startswith("rp_live_")
    auth = {"Authorization": f"Bearer {admin_key}"}
    keys = httpx.post(f"{base}/rpc/streams.apiKeys.list", json={"orgId": "x"}, headers=auth)
    assert keys.json()["code"] == "INVALID_PERMISSIONS"  # wrong org, valid key
    audit = httpx.post(f"{base}/rpc/audit.list", json={"orgId": "x"}, headers=auth).json()
    assert audit["code"] == "INVALID_PERMISSIONS"
    org_id = httpx.post(f"{base}/rpc/auth.whoami", headers=auth).json()["orgId"]
    created = httpx.post(
        f"{base}/rpc/streams.signingKeys.create",
        json={"orgId": org_id, "label": "v1"},
        headers=auth,
    ).json()
    tenant = httpx.post(
        f"{base}/rpc/tenants.create", json={"orgId": org_id, "tenantId": "tenant_abc"}, headers=auth
    )
    assert tenant.status_code == 200
    time.sleep(1.2)  # the propagation delay configured for this test
    minted = httpx.post(
        f"{base}/rpc/voice.audioBridge.mintBrowserToken",
        json={"orgId": org_id, "tenant": "tenant_abc", "callSid": "sid_xyz"},
        headers=auth,
    ).json()
    jwks = httpx.get(f"{base}/.well-known/jwks.json")
    assert jwks.headers["cache-control"] == "public, max-age=30"
    verified = Verifier(
        KeySet.from_jwks(jwks.json()), policy=ClaimsPolicy(issuer="relaypass")
    ).verify(minted["token"])
    assert verified.kid == created["id"]
    assert RelayClaims.grant(verified).can_publish("voice/sid_xyz/mic")
    bad = httpx.post(
        f"{base}/rpc/tokens.relay.mint",
        json={"orgId": org_id, "tenant": "t", "ns": ["a"]},
        # a different last character (the old "X" was, one time in 62, the same one)
        headers={"Authorization": f"Bearer {admin_key[:-1]}{'Y' if admin_key[-1] == 'X' else 'X'}"},
    )
    assert bad.status_code == 401, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    deadline = time.monotonic() + 10  # the service writes its log as it goes
    while "refused" not in (logged := log.read_text()):
        assert time.monotonic() < deadline, "the refusal was not logged"
        time.sleep(0.05)
    assert admin_key not in logged
    assert minted["token"] not in logged
    assert admin_key[:-1] not in logged
