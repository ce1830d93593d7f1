"""A session kept alive across three token lifetimes by a token provider, without reconnecting.

The control plane mints 5 s relay tokens; the SDK's provider refreshes them at
half-life and hands each one to the gate in-band (the ASGI middleware's
``relaypass.refresh`` frame). The WebSocket stays the same connection for
more than 15 s and every message in between is authorized.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import orjson
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from relaypass import RelaypassError
from relaypass.client import AsyncClient
from relaypass.gate import Gate, JwksUrlKeySource, Session
from relaypass.gate.adapters.asgi import GateMiddleware
from tests._net import serve_in_thread
from tests.client.conftest import Served

LIFETIME = 5


async def relay(websocket: WebSocket) -> None:
    """Publishes are authorized against the session's current grant and echoed."""
    await websocket.accept()
    session: Session = websocket.state.relaypass
    try:
        while True:
            path = await websocket.receive_text()
            try:
                session.authorize_publish(path)
            except RelaypassError as exc:
                await websocket.send_text(exc.code.value)
            else:
                await websocket.send_text(f"ok {path}")
    except WebSocketDisconnect:
        pass


@pytest.fixture
def gated(served: Served) -> Iterator[str]:
    keys = JwksUrlKeySource(f"{served.url}/.well-known/jwks.json", min_age=0.0)
    gate = Gate(keys)
    app = GateMiddleware(Starlette(routes=[WebSocketRoute("/{path:path}", relay)]), gate)
    with serve_in_thread(app) as address:
        yield f"ws://{address}"
    keys.close()


def test_websocket_session_outlives_three_token_lifetimes(served: Served, gated: str) -> None:
    async def go() -> tuple[int, int, float]:
        async with AsyncClient(served.url, api_key=served.key) as client:
            provider = client.providers.relay(tenant="acme", ns=["acme/**"], ttl_seconds=LIFETIME)
            first = await provider.token()
            headers = {"Authorization": f"Bearer {first}"}
            async with connect(f"{gated}/acme/room", additional_headers=headers) as ws:

                async def hand_over(token: str) -> None:
                    frame = {"type": "relaypass.refresh", "token": token}
                    await ws.send(orjson.dumps(frame).decode())

                refresher = asyncio.create_task(provider.keep_fresh(hand_over))
                started = time.monotonic()
                refreshed = published = 0
                try:
                    while time.monotonic() - started < 3 * LIFETIME + 1:
                        await ws.send("acme/room/mic")
                        while True:
                            reply = await asyncio.wait_for(ws.recv(), 5)
                            if isinstance(reply, str) and reply.startswith("{"):
                                message = orjson.loads(reply)
                                assert message["type"] == "relaypass.refreshed", message
                                refreshed += 1
                                continue
                            assert reply == "ok acme/room/mic"
                            published += 1
                            break
                        await asyncio.sleep(0.25)
                finally:
                    refresher.cancel()
                return refreshed, published, time.monotonic() - started

    refreshed, published, elapsed = asyncio.run(go())
    assert elapsed > 3 * LIFETIME
    assert refreshed >= 6  # at least two fresh tokens per lifetime
    assert published > 40


async def keep_publishing(ws: ClientConnection) -> None:
    while True:
        await ws.send("acme/room/mic")
        await asyncio.wait_for(ws.recv(), 5)
        await asyncio.sleep(0.1)


def test_without_refresh_the_session_is_cut_at_exp(served: Served, gated: str) -> None:
    async def go() -> float:
        async with AsyncClient(served.url, api_key=served.key) as client:
            minted = await client.tokens.relay.mint(
                org_id=served.org, tenant="acme", ns=["acme/**"], ttl_seconds=2
            )
            headers = {"Authorization": f"Bearer {minted.token}"}
            started = time.monotonic()
            async with connect(f"{gated}/acme/room", additional_headers=headers) as ws:
                with pytest.raises(ConnectionClosed, match="4401"):
                    await keep_publishing(ws)
            return time.monotonic() - started

    assert asyncio.run(go()) < 4


def test_a_refresh_for_another_tenant_is_refused_in_band(served: Served, gated: str) -> None:
    served.store.create_tenant(served.org, "globex", "Globex", actor="test")

    async def go() -> None:
        async with AsyncClient(served.url, api_key=served.key) as client:
            mint = client.tokens.relay.mint
            ours = await mint(org_id=served.org, tenant="acme", ns=["acme/**"], ttl_seconds=30)
            theirs = await mint(org_id=served.org, tenant="globex", ns=["**"], ttl_seconds=30)
            headers = {"Authorization": f"Bearer {ours.token}"}
            async with connect(f"{gated}/acme/room", additional_headers=headers) as ws:
                await ws.send(
                    orjson.dumps({"type": "relaypass.refresh", "token": theirs.token}).decode()
                )
                refused = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
                assert refused == {
                    "type": "relaypass.refresh_failed",
                    "code": "INVALID_PERMISSIONS",
                }
                await ws.send("acme/room/mic")
                assert await asyncio.wait_for(ws.recv(), 5) == "ok acme/room/mic"
                await ws.send("globex/x")
                assert await asyncio.wait_for(ws.recv(), 5) == "INVALID_PERMISSIONS"

    asyncio.run(go())
