"""A voice page with a backend-minted browser token (ClutchCall's ``mintBrowserToken``).

- ``POST /api/voice-token`` is your backend: it mints a short-lived browser token for one
  call's audio bridge through the control plane (``voice.audioBridge.mintBrowserToken``) with
  its API key, which never reaches the page.
- ``/voice`` is the audio bridge: a WebSocket behind the gate (relay tokens, keys followed from
  the control plane's JWKS). Each message names the track a frame is for
  (``<root>voice/<callSid>/mic``); the bridge answers ``ok``, or the stable code of the refusal:
  a browser token carries its own call and nothing else.
- ``GET /`` is the page: the browser package (``@relaypass/client``, served from
  ``clients/js/dist/src`` at ``/pkg``) fetches tokens from the backend, keeps the socket alive
  past each token with in-band refresh, and shows refusals by kind and code.

Run it next to a control plane (``RELAYPASS_URL``, ``RELAYPASS_API_KEY``)::

    uvicorn examples.browser_voice.server:create_app --factory --port 9200
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from relaypass import RelaypassError
from relaypass.client import AsyncClient
from relaypass.gate import Gate, GateMiddleware, JwksUrlKeySource, Session

PAGE = Path(__file__).with_name("page.html")
#: The browser package's compiled modules (``npm --prefix clients/js run build``).
PACKAGE = Path(__file__).parents[2] / "clients" / "js" / "dist" / "src"
Scope = MutableMapping[str, Any]
ASGI = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


async def bridge(websocket: WebSocket) -> None:
    """The audio bridge: a frame for a track is accepted only on the token's own call."""
    session: Session = websocket.state.relaypass
    await websocket.accept()
    try:
        while True:
            track = await websocket.receive_text()
            try:
                session.authorize_publish(track[:512])
                await websocket.send_text("ok")
            except RelaypassError as exc:
                await websocket.send_text(exc.code.value)
    except WebSocketDisconnect:
        pass


def create_app(
    client: AsyncClient | None = None, gate: Gate | None = None, *, tenant: str = "default"
) -> ASGI:
    """The page, the backend's token endpoint, and the gated audio bridge."""
    source: JwksUrlKeySource | None = None
    client = client or AsyncClient()
    if gate is None:
        url = os.environ.get("RELAYPASS_URL", "http://127.0.0.1:8700")
        source = JwksUrlKeySource(f"{url}/.well-known/jwks.json")
        gate = Gate(source)

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.read_text())

    async def voice_token(request: Request) -> Response:
        body = await request.json()
        try:
            minted = await client.voice.audio_bridge.mint_browser_token(
                tenant=tenant, call_sid=str(body.get("callSid", "")), ttl_seconds=120
            )
        except RelaypassError as exc:
            return JSONResponse({"code": exc.code.value}, status_code=exc.http_status)
        return JSONResponse({"token": minted.token})

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:  # noqa: ANN401 - Starlette's app
        yield
        await client.aclose()
        if source is not None:
            source.close()

    pages = Starlette(
        routes=[
            Route("/", page),
            Route("/api/voice-token", voice_token, methods=["POST"]),
            Mount("/pkg", app=StaticFiles(directory=PACKAGE, check_dir=False)),
        ],
        lifespan=lifespan,
    )
    gated = GateMiddleware(Starlette(routes=[WebSocketRoute("/voice", bridge)]), gate)

    async def app(scope: Scope, receive: Any, send: Any) -> None:  # noqa: ANN401 - ASGI
        if scope["type"] == "websocket":
            await gated(scope, receive, send)
        else:
            await pages(scope, receive, send)

    return app
