"""The gate-side matrix, generated: every adapter here x every profile it serves x every attack.

Each adapter is driven through its own code (the ASGI middleware in front of a
small app, the HLS ``auth_request`` endpoint of ``gate serve``, the moq-relay
auth server's ``connect``), on a gate
shared by two orgs. For each pair the cases are the same: the org's own token
on its own path is admitted (so a refusal below means something), and another
org's token on this org's path, a token of another profile, an expired token
and a revoked one are refused. A new adapter or profile joins by one entry in
``ADAPTERS``. ``test_adapter_matrix_real`` runs the same cases through the
real peers (nginx-rtmp, nats-server, moq-rs clients, a WebSocket client).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest

from relaypass import Key, KeySet, sign_jwt
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.asgi import GateMiddleware
from relaypass.gate.adapters.http import create_gate_app
from relaypass.gate.adapters.moq_auth import MoqAuthServer

KEY_A = Key.generate("EdDSA", kid="matrix-a").bound(
    KeyBinding(org="org_a", scope=KeyScope.for_roots(["acme"]))
)
KEY_B = Key.generate("EdDSA", kid="matrix-b").bound(
    KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
)


def _claims(profile: str, root: str, ttl: int, jti: str) -> dict[str, Any]:
    exp = int(time.time()) + ttl
    if profile == "moq":
        return {"root": root, "get": [""], "put": [""], "exp": exp, "jti": jti}
    return {"sub": "t1", "ns": [f"{root}/**"], "exp": exp, "jti": jti}


def token(profile: str, key: Key, root: str, *, ttl: int = 300, jti: str = "j-ok") -> str:
    return sign_jwt(_claims(profile, root, ttl, jti), key)


def _asgi_app(gate: Gate) -> GateMiddleware:
    async def app(
        scope: MutableMapping[str, Any],
        _receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        session = scope["state"]["relaypass"]
        try:
            session.authorize_subscribe("" if gate.profile == "moq" else scope["path"][1:])
            status = 200
        except Exception:  # noqa: BLE001 - any refusal is a 403 here
            status = 403
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return GateMiddleware(app, gate)


def _get(app: Any, url: str, headers: dict[str, str]) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get(url, headers=headers)).status_code

    return asyncio.run(go())


def drive_asgi(gate: Gate, credential: str, path: str) -> bool:
    """An HTTP request through the ASGI middleware: admitted if the app answered 200."""
    headers = {"authorization": f"Bearer {credential}"}
    return _get(_asgi_app(gate), f"/{path}", headers) == 200


def drive_hls(gate: Gate, credential: str, path: str) -> bool:
    """nginx's auth_request for an HLS segment: admitted on 204."""
    uri = f"/hls/{credential}/{path}/index.m3u8"
    return _get(create_gate_app(gate), "/auth/hls", {"X-Original-URI": uri}) == 204


def drive_moq_auth(gate: Gate, credential: str, path: str) -> bool:
    """moq-relay's ``connect`` to the auth server: admitted when a grant is answered."""
    server = MoqAuthServer(gate)
    body = {"id": "0a1b", "event": "connect", "node": "relay-1", "transport": "quic",
            "path": f"/{path}", "query": f"jwt={credential}"}  # fmt: skip
    status, _ = asyncio.run(server.answer(json.dumps(body).encode()))
    return status == 200


#: adapter -> (driver, the profiles it serves, the path a session of org A uses).
ADAPTERS: dict[str, tuple[Callable[[Gate, str, str], bool], tuple[str, ...]]] = {
    "asgi": (drive_asgi, ("relay", "moq")),
    "hls": (drive_hls, ("relay",)),
    "moq-auth": (drive_moq_auth, ("moq",)),
}
CASES = ("own", "another-org", "another-profile", "expired", "revoked")


def _path(profile: str) -> str:
    return "acme" if profile == "moq" else "acme/live/cam"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    ("adapter", "profile"),
    [(a, p) for a, (_, profiles) in ADAPTERS.items() for p in profiles],
)
def test_every_adapter_and_profile_refuses_every_attack(
    adapter: str, profile: str, case: str
) -> None:
    drive, _ = ADAPTERS[adapter]
    gate = Gate(StaticKeySource(KeySet([KEY_A.public(), KEY_B.public()])), profile=profile)
    other_profile = "relay" if profile == "moq" else "moq"
    credential = {
        "own": lambda: token(profile, KEY_A, "acme"),
        "another-org": lambda: token(profile, KEY_B, "acme"),  # B's key, A's namespace
        "another-profile": lambda: token(other_profile, KEY_A, "acme"),
        "expired": lambda: token(profile, KEY_A, "acme", ttl=-120),
        "revoked": lambda: token(profile, KEY_A, "acme", jti="j-revoked"),
    }[case]()
    gate.revoke_jti("j-revoked", org="org_a")
    admitted = drive(gate, credential, _path(profile))
    assert admitted is (case == "own"), (adapter, profile, case)
