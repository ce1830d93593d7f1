"""The Redis-outage drill through every gate adapter: a revocation made while Redis is
down cuts live WebSocket (ASGI middleware), RTMP (the auth service's ``on_update``) and
MoQ (the relay, real moq clients) sessions within 2 s of Redis returning empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import moq
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from relaypass.gate import Gate, GateMiddleware, RedisKeySource
from relaypass.gate.adapters.http import create_gate_app
from relaypass.gate.adapters.moq_relay import MoqRelay
from relaypass.server.app import bootstrap, create_app
from relaypass.server.outbox import OutboxRelay
from relaypass.server.settings import Settings
from tests._cp import sqlite_store
from tests._net import free_port, stop_process, wait_port
from tests.server.conftest import start_redis

DEADLINE_AFTER_REDIS = 2.0


def _rpc(app: FastAPI, key: str, name: str, body: dict[str, Any]) -> Any:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cp") as client:
            return await client.post(
                f"/rpc/{name}", json=body, headers={"Authorization": f"Bearer {key}"}
            )

    response = asyncio.run(go())
    assert response.status_code == 200, response.text
    return response.json()


def _gate(url: str, profile: str) -> tuple[Gate, RedisKeySource]:
    source = RedisKeySource(url, prefix="drill", start=False)
    gate = Gate(source, profile=profile)
    source.on_revoke = gate.apply_revocation
    source.start()
    assert source.wait_ready()
    return gate, source


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


def test_every_adapter_cuts_live_sessions_once_redis_returns(  # noqa: C901, PLR0915 - one drill
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_proc = start_redis(port, tmp_path)
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    app = create_app(
        Settings(data_dir=tmp_path, redis_url=url, redis_prefix="drill", key_propagation_seconds=0),
        store,
    )
    relay: OutboxRelay = app.state.outbox
    relay.start()
    relay_gate, relay_source = _gate(url, "relay")
    moq_gate, moq_source = _gate(url, "moq")
    ws_port = free_port()
    ws_app = GateMiddleware(Starlette(routes=[WebSocketRoute("/ws", _echo)]), relay_gate)
    server = uvicorn.Server(
        uvicorn.Config(ws_app, host="127.0.0.1", port=ws_port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(ws_port)
    rtmp_app = create_gate_app(relay_gate)
    try:
        _rpc(app, key, "tenants.create", {"orgId": org, "tenantId": "t"})
        signing = _rpc(app, key, "streams.signingKeys.create", {"orgId": org, "label": "k"})
        relay_token = _rpc(
            app, key, "tokens.relay.mint", {"orgId": org, "tenant": "t", "ns": ["live/**"]}
        )["token"]
        moq_token = _rpc(
            app, key, "tokens.moq.mint", {"orgId": org, "root": "live", "subscribe": [""]}
        )["token"]
        deadline = time.monotonic() + 5
        while (
            signing["id"] not in moq_source.keyset() or signing["id"] not in relay_source.keyset()
        ):
            assert time.monotonic() < deadline
            time.sleep(0.01)

        def rtmp(event: str, call: str) -> int:
            async def go() -> int:
                transport = httpx.ASGITransport(app=rtmp_app)
                async with httpx.AsyncClient(transport=transport, base_url="http://g") as c:
                    form = {"call": call, "addr": "10.0.0.1", "clientid": "7", "app": "live",
                            "name": "cam", "jwt": relay_token}  # fmt: skip
                    return (await c.post(f"/rtmp/{event}", data=form)).status_code

            return asyncio.run(go())

        assert rtmp("on_publish", "publish") == 200  # a live RTMP publisher, pinned

        async def drill() -> dict[str, float]:
            cut: dict[str, float] = {}
            ws = await connect(f"ws://127.0.0.1:{ws_port}/ws?jwt={relay_token}")
            await ws.send("hello")
            assert await ws.recv() == "hello"
            async with (
                MoqRelay(moq_gate, bind="127.0.0.1:0") as moq_relay,
                moq.Client(
                    f"https://{moq_relay.local_addr}/live?jwt={moq_token}",
                    tls_verify=False,
                    reconnect=False,
                ) as viewer,
            ):
                assert viewer.session is not None

                def outage() -> float:
                    nonlocal redis_proc
                    redis_proc.kill()
                    redis_proc.wait()
                    _rpc(
                        app, key, "streams.signingKeys.revoke", {"orgId": org, "id": signing["id"]}
                    )
                    time.sleep(0.5)
                    redis_proc = start_redis(port, tmp_path)  # back, and empty
                    return time.monotonic()

                back = await asyncio.to_thread(outage)

                async def ws_cut() -> None:
                    try:
                        await ws.recv()
                    except ConnectionClosed:
                        cut["websocket"] = time.monotonic() - back

                async def moq_cut() -> None:
                    assert viewer.session is not None
                    with contextlib.suppress(moq.Error):
                        await viewer.session.closed()
                    cut["moq"] = time.monotonic() - back

                async def rtmp_cut() -> None:
                    # nginx-rtmp polls with on_update (notify_update_timeout); so does this.
                    while await asyncio.to_thread(rtmp, "on_update", "update_publish") == 200:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                    cut["rtmp"] = time.monotonic() - back

                await asyncio.wait_for(asyncio.gather(ws_cut(), moq_cut(), rtmp_cut()), 10)
            return cut

        cut = asyncio.run(drill())
        assert set(cut) == {"websocket", "moq", "rtmp"}
        for adapter, seconds in cut.items():
            assert seconds <= DEADLINE_AFTER_REDIS, f"{adapter} cut {seconds:.2f} s after Redis"
    finally:
        server.should_exit = True
        thread.join(10)
        relay.close()
        relay_source.close()
        moq_source.close()
        stop_process(redis_proc)
        store.close()
