"""The auth service's own rules, through its ASGI app (the nginx tests drive it for real)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from relaypass import Key, KeySet, sign_jwt
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.http import MemoryStreamKeys, create_gate_app, new_stream_key
from relaypass.testing import FrozenClock


@pytest.fixture
def key() -> Key:
    return Key.generate("EdDSA", kid="http_k1")


def call(app: object, method: str, url: str, **kw: object) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://gate") as client:
            return await client.request(method, url, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


def form(**fields: str) -> dict[str, str]:
    return {"call": "publish", "addr": "10.0.0.1", "clientid": "1", "app": "live", "name": "a"} | (
        fields
    )


def test_notifications_are_parsed_strictly(key: Key) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])))
    app = create_gate_app(gate)
    token = sign_jwt({"sub": "t", "ns": ["live/a"], "exp": int(time.time()) + 60}, key)
    assert call(app, "POST", "/rtmp/on_publish", data=form(jwt=token)).status_code == 200
    unknown = call(app, "POST", "/rtmp/on_connect", data=form(jwt=token))
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "INVALID_REQUEST"}
    repeated = f"app=live&name=a&jwt={token}&jwt={token}"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    refused = call(app, "POST", "/rtmp/on_publish", content=repeated, headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {"code": "INVALID_REQUEST"}
    too_big = call(app, "POST", "/rtmp/on_publish", content="a=" + "x" * 20_000, headers=headers)
    assert too_big.json() == {"code": "INVALID_REQUEST"}
    for name in ("..", "a/b", "", "a b"):
        bad = call(app, "POST", "/rtmp/on_publish", data=form(name=name, jwt=token))
        assert bad.json() == {"code": "INVALID_REQUEST"}, name
    both = call(app, "POST", "/rtmp/on_publish", data=form(jwt=token, key=new_stream_key()))
    assert both.json() == {"code": "INVALID_TOKEN"}
    missing = call(app, "POST", "/rtmp/on_publish", data=form())
    assert missing.status_code == 401
    assert missing.json() == {"code": "INVALID_TOKEN"}


def test_stream_keys_stand_for_a_token_until_it_expires(key: Key) -> None:
    clock = FrozenClock(time.time())
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=clock)
    keys = MemoryStreamKeys(clock=clock.now)
    app = create_gate_app(gate, stream_keys=keys)
    token = sign_jwt({"sub": "t", "ns": ["live/a"], "exp": int(clock.now()) + 30}, key)
    created = call(app, "POST", "/v1/stream-keys", headers={"authorization": f"Bearer {token}"})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    stream_key = created.json()["streamKey"]
    assert call(app, "POST", "/rtmp/on_publish", data=form(key=stream_key)).status_code == 200
    unknown = call(app, "POST", "/rtmp/on_publish", data=form(clientid="2", key=new_stream_key()))
    assert unknown.status_code == 401
    clock.advance(31)
    expired = call(app, "POST", "/rtmp/on_publish", data=form(clientid="3", key=stream_key))
    assert expired.status_code == 401
    no_bearer = call(app, "POST", "/v1/stream-keys")
    assert no_bearer.json() == {"code": "INVALID_TOKEN"}


def test_sweep_ends_expired_sessions_and_forgets_closed_ones(key: Key) -> None:
    clock = FrozenClock(time.time())
    gate = Gate(StaticKeySource(KeySet([key.public()])), clock=clock)
    app = create_gate_app(gate)
    token = sign_jwt({"sub": "t", "ns": ["live/a"], "exp": int(clock.now()) + 10}, key)
    for client_id in ("1", "2"):
        response = call(app, "POST", "/rtmp/on_publish", data=form(clientid=client_id, jwt=token))
        assert response.status_code == 200
    service = app.state.service
    assert len(gate.sessions) == 2
    clock.advance(11)
    assert service.sweep() == 2
    assert gate.sessions == []
    assert service._sessions == {}  # the leak this guards against


def test_hls_uris_are_checked(key: Key) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])), public_subscribe=["free"])
    app = create_gate_app(gate)
    token = sign_jwt({"sub": "t", "ns": ["live/a"], "exp": int(time.time()) + 60}, key)

    def status(uri: str) -> int:
        return call(app, "GET", "/auth/hls", headers={"x-original-uri": uri}).status_code

    assert status(f"/hls/{token}/live/a/index.m3u8") == 204
    assert status(f"/hls/{token}/live/a/3.ts?x=1") == 204
    assert status(f"/hls/{token}/live/b/index.m3u8") == 403
    assert status(f"/hls/{token}/live/../b/index.m3u8") == 403
    assert status("/hls//free/news/index.m3u8") == 204  # anonymous, public prefix
    assert status("/hls//live/a/index.m3u8") == 403
    assert status(f"/other/{token}/live/a/index.m3u8") == 403
    assert status("") == 403
    created = call(app, "POST", "/v1/stream-keys", headers={"authorization": f"Bearer {token}"})
    stream_key = created.json()["streamKey"]
    assert status(f"/hls/{stream_key}/live/a/index.m3u8") == 204
    assert status(f"/hls/{stream_key}/live/b/index.m3u8") == 403
    assert gate.sessions == []  # per-request checks pin nothing


def test_metrics_count_decisions_by_code(key: Key) -> None:
    gate = Gate(StaticKeySource(KeySet([key.public()])))
    app = create_gate_app(gate)
    token = sign_jwt({"sub": "t", "ns": ["live/a"], "exp": int(time.time()) + 60}, key)
    call(app, "POST", "/rtmp/on_publish", data=form(jwt=token))
    call(app, "POST", "/rtmp/on_publish", data=form(clientid="2", jwt="garbage"))
    text = call(app, "GET", "/metrics").text
    assert 'relaypass_gate_decisions_total{code="OK",kind="rtmp"} 1.0' in text
    assert 'relaypass_gate_decisions_total{code="INVALID_TOKEN",kind="rtmp"} 1.0' in text
    assert "garbage" not in text
