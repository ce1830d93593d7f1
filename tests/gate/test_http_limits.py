"""``gate serve`` refuses an oversized request head as the control plane does (431, 414)."""

from __future__ import annotations

import asyncio

import httpx

from relaypass import Key, KeySet
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.http import create_gate_app


def get(url: str, **kw: object) -> httpx.Response:
    app = create_gate_app(Gate(StaticKeySource(KeySet([Key.generate("EdDSA").public()]))))

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(url, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_an_oversized_head_is_refused_before_any_check() -> None:
    many = get("/healthz", headers={f"x-h{i}": "1" for i in range(150)})
    assert many.status_code == 431
    assert many.headers["content-type"] == "application/problem+json"
    assert many.json()["code"] == "HEADERS_TOO_LARGE"
    assert get("/healthz", headers={"x-big": "a" * 100_000}).status_code == 431
    long = get("/auth/hls?" + "q" * 9_000)
    assert long.status_code == 414
    assert long.json()["code"] == "URI_TOO_LONG"
    assert get("/healthz").status_code == 200
