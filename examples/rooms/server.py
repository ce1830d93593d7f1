"""A small room server (VideoSDK) behind the gate: lobby, moderation, live grants, tiers.

- ``POST /api/meeting-token`` is VideoSDK's backend mint endpoint: the app's own
  login says who is asking (here a stand-in header, ``X-Demo-User: <id>:<role>``),
  and the backend mints a room token for them through the control plane with its
  API key (:class:`relaypass.client.AsyncClient`). Hosts moderate; everyone else
  waits in the lobby (``joinPolicy: ask``) until a host admits them.
- ``/<roomId>`` is the room, a WebSocket behind :class:`~relaypass.gate.GateMiddleware`
  (profile ``room``). The browser sends its token as the subprotocol
  ``relaypass.jwt.<token>``. Messages (JSON text frames) from the client:
  ``{"type": "publish", "source": "camera"}``, ``{"type": "chat", "text": …}``,
  and, for hosts, ``{"type": "lobby"}``, ``{"type": "admit", "participant": …}``,
  ``{"type": "deny", "participant": …}``, ``{"type": "admitAll"}``. Answers are
  ``{"type": "ok", "of": …}`` or ``{"type": "refused", "of": …, "code": …}``; chat
  arrives as ``{"type": "chat", "from": …, "text": …}``. The gate's own events
  (``relaypass.admitted``, ``relaypass.grant-changed``,
  ``relaypass.participant-count-changed``, …) arrive on the same socket.
- ``GET /`` is a browser page that does all of this with the browser package
  (``@relaypass/client``: a token provider on the mint endpoint, a
  ``GatedSocket`` that refreshes in-band, moderation and the participant list
  through the gate's own frames), served from ``clients/js/dist/src`` at ``/pkg``.

Run it next to a control plane that has Redis (the gate follows it for keys,
revocations and room decisions)::

    export RELAYPASS_URL=http://127.0.0.1:8700 RELAYPASS_API_KEY=rp_live_...
    export RELAYPASS_REDIS_URL=redis://127.0.0.1:6379
    uvicorn examples.rooms.server:create_app --factory --port 9100
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from relaypass import RelaypassError
from relaypass.client import AsyncClient
from relaypass.gate import Gate, GateMiddleware, RedisKeySource, Session
from relaypass.profiles.room import RoomAction

PAGE = Path(__file__).with_name("page.html")
#: The browser package's compiled modules (``npm --prefix clients/js run build``).
PACKAGE = Path(__file__).parents[2] / "clients" / "js" / "dist" / "src"
Scope = MutableMapping[str, Any]
ASGI = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


class Room:
    """The sockets of one room on this server, to fan chat out to."""

    def __init__(self) -> None:
        self.sockets: dict[int, tuple[Session, WebSocket]] = {}

    async def broadcast(self, sender: Session, message: dict[str, Any]) -> None:
        """Send to every admitted member but the sender."""
        for session, socket in list(self.sockets.values()):
            if session is sender or session.pending or not session.open:
                continue
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await socket.send_text(json.dumps(message))


def _handlers(session: Session) -> dict[str, Callable[[dict[str, Any]], Any]]:
    return {
        "publish": lambda m: session.authorize_publish(
            str(m.get("source", "camera")), source=str(m.get("source", "camera"))
        ),
        "lobby": lambda _: session.lobby(),
        "admit": lambda m: session.admit(str(m.get("participant", ""))),
        "deny": lambda m: session.deny(str(m.get("participant", ""))),
        "admitAll": lambda _: session.admit_all(),
    }


def rooms_app(rooms: dict[str, Room]) -> Starlette:
    """The room WebSocket; the gate in front has already admitted (or held) the session."""

    async def room(websocket: WebSocket) -> None:
        session: Session = websocket.state.relaypass
        await websocket.accept()
        members = rooms.setdefault(websocket.path_params["room"], Room())
        members.sockets[session.id] = (session, websocket)
        handlers = _handlers(session)
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                kind = str(message.get("type"))
                try:
                    if kind == "chat":
                        session.authorize(RoomAction.PUBLISH_DATA)
                        text = str(message.get("text", ""))[:500]
                        await members.broadcast(
                            session,
                            {"type": "chat", "from": session.grant.participant, "text": text},
                        )
                        result: Any = None
                    elif kind in handlers:
                        result = handlers[kind](message)
                    else:
                        unknown = {"type": "refused", "of": kind, "code": "INVALID_REQUEST"}
                        await websocket.send_text(json.dumps(unknown))
                        continue
                except RelaypassError as exc:
                    await websocket.send_text(
                        json.dumps({"type": "refused", "of": kind, "code": exc.code.value})
                    )
                    continue
                answer = {"type": "ok", "of": kind}
                if result is not None:
                    answer["result"] = result
                await websocket.send_text(json.dumps(answer))
        except WebSocketDisconnect:
            pass
        finally:
            members.sockets.pop(session.id, None)

    return Starlette(routes=[WebSocketRoute("/{room}", room)])


def pages_app(client: AsyncClient, org_id: str | None, gate: Gate) -> Starlette:
    """The page, VideoSDK's backend mint endpoint, and the room tiers in ``/metrics``."""
    registry = CollectorRegistry()
    gate.rooms.register_metrics(registry)

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.read_text())

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def meeting_token(request: Request) -> JSONResponse:
        user, _, role = request.headers.get("x-demo-user", "").partition(":")
        if not user or role not in {"host", "speaker", "viewer"}:
            return JSONResponse({"error": "log in first"}, status_code=401)
        body = await request.json()
        room_id = str(body.get("roomId", ""))
        try:
            minted = await client.tokens.room.mint(
                org_id=org_id or await client.org_id(),
                room_id=room_id,
                participant_id=user,
                role=role,
                join_policy=None if role == "host" else {"mode": "ask"},
                ttl_seconds=int(body.get("ttlSeconds", 3600)),
            )
        except RelaypassError as exc:
            return JSONResponse({"error": exc.code.value}, status_code=exc.http_status)
        return JSONResponse({"token": minted.token})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/metrics", metrics),
            Route("/api/meeting-token", meeting_token, methods=["POST"]),
            Mount("/pkg", app=StaticFiles(directory=PACKAGE, check_dir=False)),
        ]
    )


def create_app(
    gate: Gate | None = None,
    client: AsyncClient | None = None,
    *,
    org_id: str | None = None,
) -> ASGI:
    """The server: pages over HTTP, the gated room over WebSocket."""
    source: RedisKeySource | None = None
    if gate is None:
        source = RedisKeySource(
            os.environ["RELAYPASS_REDIS_URL"],
            prefix=os.environ.get("RELAYPASS_REDIS_PREFIX", "relaypass"),
            start=False,
        )
        gate = Gate(source, profile="room")
        source.attach(gate)
        source.start()
    client = client or AsyncClient()
    gated = GateMiddleware(rooms_app({}), gate)
    pages = pages_app(client, org_id, gate)

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:  # noqa: ANN401 - Starlette's app
        yield
        await client.aclose()
        if source is not None:
            source.close()

    pages.router.lifespan_context = lifespan

    async def app(scope: Scope, receive: Any, send: Any) -> None:  # noqa: ANN401 - ASGI
        if scope["type"] == "websocket":
            await gated(scope, receive, send)
        else:
            await pages(scope, receive, send)

    return app
