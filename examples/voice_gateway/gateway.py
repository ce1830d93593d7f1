"""A toy voice gateway (TeleQuick): originate, terminate, barge and StreamEvents.

The SDK presents its service-account JWT once, on the WebSocket handshake; the
gate pins the tenant to the connection, and every RPC on it inherits that
tenant. The gateway asks the gate before acting on any trunk or call, and
delivers an event only to the tenant that owns its call.

Run it (it follows the control plane's Redis for keys, revocations and resources)::

    export RELAYPASS_REDIS_URL=redis://127.0.0.1:6379 VOICE_CALLS=CA-1,CA-9
    uvicorn examples.voice_gateway.gateway:create_app --factory --port 9090

Wire protocol (JSON text frames): ``{"op": "originate", "trunk": "TR-1", "call": "CA-7"}``,
``{"op": "terminate", "call": "CA-7"}``, ``{"op": "barge", "call": "CA-7"}`` and
``{"op": "stream_events"}``. Answers are ``{"ok": true, ...}`` or ``{"error": CODE}``;
events are ``{"event": "audio", "call": ..., "seq": n}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from relaypass import RelaypassError
from relaypass.gate import GateMiddleware, Session
from relaypass.gate.config import GateOptions, build_gate

EVENT_EVERY_SECONDS = 0.05


class Calls:
    """The gateway's live calls, and the sessions that stream events."""

    def __init__(self, call_ids: list[str]) -> None:
        self.calls = list(call_ids)
        self.listeners: dict[int, tuple[Session, asyncio.Queue[dict[str, object]]]] = {}

    async def produce(self) -> None:
        """Every call emits an audio event now and then; each goes only to its owner."""
        seq = 0
        while True:
            await asyncio.sleep(EVENT_EVERY_SECONDS)
            seq += 1
            for call in self.calls:
                for session, queue in list(self.listeners.values()):
                    try:
                        session.authorize_resource("call", call)
                    except RelaypassError:
                        continue  # another tenant's call: never delivered
                    queue.put_nowait({"event": "audio", "call": call, "seq": seq})


def _answer(session: Session, request: dict[str, object]) -> dict[str, object]:
    op = request.get("op")
    try:
        if op == "originate":
            session.authorize_resource("trunk", str(request.get("trunk")))
            return {"ok": True, "op": op, "call": request.get("call")}
        if op in {"terminate", "barge"}:
            session.authorize_resource("call", str(request.get("call")))
            return {"ok": True, "op": op, "call": request.get("call")}
    except RelaypassError as exc:
        return {"error": exc.code.value}
    return {"error": "INVALID_REQUEST"}


def create_app() -> GateMiddleware:
    """The gateway behind the middleware, its gate following the control plane's Redis."""
    redis_url = os.environ["RELAYPASS_REDIS_URL"]
    prefix = os.environ.get("RELAYPASS_REDIS_PREFIX", "relaypass")
    gate, stop = build_gate(
        GateOptions(profile="service_account", redis_url=redis_url, redis_prefix=prefix)
    )
    calls = Calls([c for c in os.environ.get("VOICE_CALLS", "").split(",") if c])

    async def rpc(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol=websocket.scope.get("subprotocols", [None])[0])
        session: Session = websocket.state.relaypass
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        pump: asyncio.Task[None] | None = None

        async def forward() -> None:
            while True:
                await websocket.send_text(json.dumps(await queue.get()))

        try:
            while True:
                request = json.loads(await websocket.receive_text())
                if request.get("op") == "stream_events":
                    calls.listeners[session.id] = (session, queue)
                    pump = pump or asyncio.create_task(forward())
                    await websocket.send_text(json.dumps({"ok": True, "op": "stream_events"}))
                else:
                    await websocket.send_text(json.dumps(_answer(session, request)))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            calls.listeners.pop(session.id, None)
            if pump is not None:
                pump.cancel()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        producer = asyncio.create_task(calls.produce())
        sweeper = asyncio.create_task(_sweep(gate))
        try:
            yield
        finally:
            producer.cancel()
            sweeper.cancel()
            stop()

    app = Starlette(routes=[WebSocketRoute("/rpc", rpc)], lifespan=lifespan)
    return GateMiddleware(app, gate)


async def _sweep(gate: object) -> None:
    """End sessions whose token or service-account key expired."""
    while True:
        await asyncio.sleep(0.5)
        gate.expire_sessions()  # type: ignore[attr-defined]
