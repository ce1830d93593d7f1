"""The TeleQuick-style voice gateway example, end to end, as separate processes.

``relaypass serve`` (with Redis) registers two orgs' tenants and their
service-account keys and assigns trunks and calls; the example gateway
(``examples/voice_gateway``, uvicorn) follows that Redis; its client signs with
a credentials file found through ``CLUTCHCALL_CREDENTIALS``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaypass import Key, b64encode
from tests._net import free_port, stop_process, wait_port

ROOT = Path(__file__).resolve().parents[2]
KID = "kid-2026-01"


@dataclass
class Stack:
    cp: str
    key_a: str
    org_a: str
    key_b: str
    org_b: str
    gateway: str
    tmp: Path

    def rpc(self, key: str, name: str, body: dict[str, Any]) -> Any:
        response = httpx.post(
            f"{self.cp}/rpc/{name}", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def account(self, key: str, tenant: str, kid: str, expires_at_ms: int = 0) -> Path:
        """Register a fresh key for ``tenant`` and write its credentials file."""
        private = Key.generate("RS256", kid=kid)
        self.rpc(
            key,
            "PublishServiceAccount",
            {"tenant_id": tenant, "private_key_id": kid, "role": "sdk",
             "public_key_pem": private.to_pem().decode(), "expires_at_ms": expires_at_ms},
        )  # fmt: skip
        path = self.tmp / f"{tenant}-{kid}.json"
        path.write_text(
            json.dumps(
                {"tenant_id": tenant, "private_key_id": kid,
                 "private_key": private.to_pem(private=True).decode()}
            )
        )  # fmt: skip
        path.chmod(0o600)
        return path

    def client(self, credentials: Path, *command: str) -> subprocess.Popen[str]:
        env = {**os.environ, "CLUTCHCALL_CREDENTIALS": str(credentials)}
        return subprocess.Popen(  # noqa: S603 - the example's own client
            [sys.executable, "-m", "examples.voice_gateway.client", self.gateway, *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, credentials: Path, *command: str) -> tuple[int, list[dict[str, Any]]]:
        proc = self.client(credentials, *command)
        out, err = proc.communicate(timeout=30)
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert proc.returncode is not None, err
        return proc.returncode, lines


def _wait_http(url: str, proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "the process exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("voice")
    prefix = f"relaypass-voice-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "RELAYPASS_DATA_DIR": str(tmp / "cp"),
        "RELAYPASS_REDIS_URL": redis_server,
        "RELAYPASS_REDIS_PREFIX": prefix,
        "RELAYPASS_KEY_PROPAGATION_SECONDS": "0",
        "RELAYPASS_KEK": b64encode(secrets.token_bytes(32)),
        "RELAYPASS_API_KEY_PEPPER": b64encode(secrets.token_bytes(32)),
    }
    env.pop("RELAYPASS_DATABASE_URL", None)
    cp_port, gw_port = free_port(), free_port()
    cp_log = (tmp / "cp.log").open("w")
    cp = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "relaypass", "serve", "--port", str(cp_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=cp_log,
        text=True,
    )
    gw_log = (tmp / "gateway.log").open("w")
    gateway = subprocess.Popen(  # noqa: S603 - the example, served by uvicorn
        [sys.executable, "-m", "uvicorn", "examples.voice_gateway.gateway:create_app",
         "--factory", "--host", "127.0.0.1", "--port", str(gw_port), "--log-level", "warning"],
        cwd=ROOT,
        env={**env, "VOICE_CALLS": "CA-1,CA-9"},
        stdout=gw_log,
        stderr=gw_log,
    )  # fmt: skip
    try:
        assert cp.stdout is not None
        key_a = cp.stdout.readline().strip()
        base = f"http://127.0.0.1:{cp_port}"
        _wait_http(f"{base}/healthz", cp)
        wait_port(gw_port, timeout=30)
        who = httpx.post(f"{base}/rpc/auth.whoami", headers={"Authorization": f"Bearer {key_a}"})
        org_a = who.json()["orgId"]
        s = Stack(base, key_a, org_a, "", "", f"ws://127.0.0.1:{gw_port}/rpc", tmp)
        created = s.rpc(key_a, "orgs.create", {"name": "B"})
        s.org_b, s.key_b = created["orgId"], created["adminKey"]["key"]
        for org, key, tenant, trunk, call in (
            (s.org_a, s.key_a, "acme", "TR-1", "CA-1"),
            (s.org_b, s.key_b, "globex", "TR-9", "CA-9"),
        ):
            s.rpc(key, "tenants.create", {"orgId": org, "tenantId": tenant})
            for kind, rid in (("trunk", trunk), ("call", call)):
                body = {"orgId": org, "kind": kind, "resourceId": rid, "tenant": tenant}
                s.rpc(key, "tenants.resources.assign", body)
        yield s
    finally:
        stop_process(gateway)
        stop_process(cp)
        cp_log.close()
        gw_log.close()


def test_a_tenant_acts_only_on_its_own_trunks_and_calls(stack: Stack) -> None:
    acme = stack.account(stack.key_a, "acme", KID)
    assert stack.run(acme, "originate", "TR-1", "CA-7") == (
        0, [{"ok": True, "op": "originate", "call": "CA-7"}]
    )  # fmt: skip
    assert stack.run(acme, "terminate", "CA-1")[1] == [
        {"ok": True, "op": "terminate", "call": "CA-1"}
    ]
    for command in (("originate", "TR-9", "CA-8"), ("terminate", "CA-9"), ("barge", "CA-9"),
                    ("barge", "CA-404")):  # fmt: skip
        assert stack.run(acme, *command)[1] == [{"error": "INVALID_PERMISSIONS"}], command


def test_stream_events_delivers_only_the_tenants_own_calls(stack: Stack) -> None:
    acme = stack.account(stack.key_a, "acme", "kid-events-a")
    globex = stack.account(stack.key_b, "globex", "kid-events-b")
    for credentials, own in ((acme, "CA-1"), (globex, "CA-9")):
        code, lines = stack.run(credentials, "events", "1.0")
        assert code == 0
        events = [line for line in lines if "event" in line]
        assert events, "no events arrived"
        assert {e["call"] for e in events} == {own}


def test_revoking_a_kid_cuts_only_that_tenants_connection(stack: Stack) -> None:
    acme_old = stack.account(stack.key_a, "acme", "kid-rotate")
    acme_new = stack.account(stack.key_a, "acme", "kid-rotate-2")  # coexists: a rotation
    globex = stack.account(stack.key_b, "globex", "kid-rotate")  # the same kid name
    streams = {
        name: stack.client(path, "events", "6")
        for name, path in (("acme_old", acme_old), ("acme_new", acme_new), ("globex", globex))
    }
    time.sleep(1.5)  # every stream is live
    started = time.monotonic()
    stack.rpc(stack.key_a, "RevokeServiceAccount",
              {"tenant_id": "acme", "private_key_id": "kid-rotate"})  # fmt: skip
    streams["acme_old"].communicate(timeout=10)
    assert streams["acme_old"].returncode == 4  # closed by the gateway (4401)
    assert time.monotonic() - started < 2.0
    for name in ("acme_new", "globex"):
        out, _ = streams[name].communicate(timeout=15)
        assert streams[name].returncode == 0, name  # ran its full 6 s
        assert any('"event"' in line for line in out.splitlines()), name
    refused, _ = stack.run(acme_old, "terminate", "CA-1")
    assert refused == 3  # the revoked key is refused at the handshake


def test_an_expired_service_account_key_is_refused(stack: Stack) -> None:
    past = int((time.time() - 60) * 1000)
    expired = stack.account(stack.key_a, "acme", "kid-expired", expires_at_ms=past)
    assert stack.run(expired, "terminate", "CA-1")[0] == 3
