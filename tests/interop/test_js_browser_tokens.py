"""Backend-minted browser tokens, used by a page through the package, in Debian's Chromium.

The product rows these stand for: the voice page built with a ``browserToken``
(ClutchCall's ``voice.audioBridge.mintBrowserToken``), and the TeleQuick and
ClutchCall pages handed a short-lived ``SessionAuth`` token that the customer's
backend obtains with its service-account key (the key never reaches the page).

A real control plane mints; the customer's backend (Starlette, the Python SDK)
serves ``/api/voice-token`` and ``/api/session-token``; two gates (relay and
session profiles, behind the ASGI middleware) follow the control plane's JWKS.
The page (``createTokenProvider`` + ``GatedSocket``) may act on its own call and
its own scopes, is refused another call's path and another scope with their
stable codes, and a session token pinned to another origin is refused at
connect with ``UNAUTHORIZED_ORIGIN``.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from relaypass import Key, RelaypassError
from relaypass._tokens import Minter
from relaypass.client import AsyncClient, Client
from relaypass.gate import Gate, JwksUrlKeySource, Session
from relaypass.gate.adapters.asgi import GateMiddleware
from tests._browser import launch
from tests._net import serve_in_thread
from tests.client.conftest import serve

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("built")]
SDK_ISSUER = "telequick-sdk"

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>calls</title></head>
<body><script type="module">
import { createTokenProvider, GatedSocket, ErrorKind } from "/pkg/index.js";
const params = new URLSearchParams(location.search);
const results = {};
window.results = results;
const typed = (e) => ({ kind: e.kind, code: e.code, auth: e.kind === ErrorKind.Auth });

async function exchange(socket, messages) {
  const answers = [];
  for (const message of messages) {
    const answer = new Promise((resolve) => { socket.onAnswer = resolve; });
    socket.send(message);
    answers.push(await answer);
  }
  return answers;
}
function open(url, provider) {
  const holder = {};
  const onMessage = (data) => holder.socket.onAnswer(data);
  holder.socket = new GatedSocket({ url, provider, onMessage });
  holder.socket.onAnswer = () => {};
  return holder.socket;
}

// The voice page: a browser token for one call, from the customer's backend.
const voice = createTokenProvider({ url: "/api/voice-token", body: { callSid: "CA1" } });
const call = open(`${params.get("relay")}/${params.get("root")}voice/CA1/mic`, voice);
await call.connect();
results.voice = await exchange(call, [
  `${params.get("root")}voice/CA1/mic`, `${params.get("root")}voice/CA2/mic`,
]);
call.close();

// The session token: short-lived, pinned to this page's origin, scoped to call.dial.
const session = createTokenProvider({
  url: "/api/session-token", body: { origin: location.origin },
});
const dialer = open(`${params.get("sessions")}/calls`, session);
await dialer.connect();
results.session = await exchange(dialer, ["call.dial", "call.barge"]);
dialer.close();

// The same kind of token, pinned to another site: refused at connect, with its code.
const stolen = createTokenProvider({
  url: "/api/session-token", body: { origin: "https://elsewhere.example" },
});
try {
  await open(`${params.get("sessions")}/calls`, stolen).connect();
  results.stolen = "connected";
} catch (e) {
  results.stolen = typed(e);
}
results.done = true;
</script></body></html>"""


async def by_path(websocket: WebSocket) -> None:
    """A relay's socket: each message is a path to publish at; ``ok`` or the refusal's code."""
    await _answer(websocket, lambda session, text: session.authorize_publish(text))


async def by_scope(websocket: WebSocket) -> None:
    """A call service's socket: each message is an action, allowed by the session's scopes."""
    await _answer(websocket, lambda session, text: session.authorize(text))


async def _answer(websocket: WebSocket, check: Callable[[Session, str], None]) -> None:
    await websocket.accept()
    session: Session = websocket.state.relaypass
    try:
        while True:
            text = await websocket.receive_text()
            try:
                check(session, text)
                await websocket.send_text("ok")
            except RelaypassError as exc:
                await websocket.send_text(exc.code.value)
    except WebSocketDisconnect:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, built: Path) -> Iterator[dict[str, str]]:
    served = serve(tmp_path_factory.mktemp("browser-tokens"))
    control_plane = next(served)
    admin = Key.generate("RS256", kid="acme-admin")  # the customer's service account
    with Client(control_plane.url, api_key=control_plane.key) as client:
        client.publish_service_account(
            tenant_id="acme", private_key_id="acme-admin", role="admin",
            public_key_pem=admin.public().to_pem().decode(),
        )  # fmt: skip
        probe = client.voice.audio_bridge.mint_browser_token(tenant="acme", call_sid="CA0")
    payload = probe.token.split(".")[1]
    ns = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["ns"][0]
    root = ns[: ns.index("voice/")]
    sdk = AsyncClient(control_plane.url, api_key=control_plane.key)

    async def voice_token(request: Request) -> Response:
        body = await request.json()
        minted = await sdk.voice.audio_bridge.mint_browser_token(
            tenant="acme", call_sid=str(body["callSid"]), ttl_seconds=60
        )
        return JSONResponse({"token": minted.token})

    async def session_token(request: Request) -> Response:
        body = await request.json()
        admin_token = Minter(admin, issuer=SDK_ISSUER).mint({"sub": "acme"}, ttl_seconds=60)
        answer = await sdk.session_auth(
            admin_token=admin_token, tenant_id="acme", subject="user-7", ttl_seconds=120,
            scope="call.dial", origin=str(body["origin"]),
        )  # fmt: skip
        return JSONResponse({"token": answer.token})

    async def page(_request: Request) -> Response:
        return HTMLResponse(PAGE)

    jwks = f"{control_plane.url}/.well-known/jwks.json"
    sources = [JwksUrlKeySource(jwks), JwksUrlKeySource(jwks)]
    relay = Gate(sources[0])
    sessions = Gate(sources[1], profile="session")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await sdk.aclose()  # on the loop that used it

    web = Starlette(routes=[
        Route("/", page),
        Route("/api/voice-token", voice_token, methods=["POST"]),
        Route("/api/session-token", session_token, methods=["POST"]),
        Mount("/pkg", app=StaticFiles(directory=built)),
    ], lifespan=lifespan)  # fmt: skip
    relay_app = GateMiddleware(Starlette(routes=[WebSocketRoute("/{p:path}", by_path)]), relay)
    session_app = GateMiddleware(
        Starlette(routes=[WebSocketRoute("/{p:path}", by_scope)]), sessions
    )
    try:
        with (
            serve_in_thread(web) as web_at,
            serve_in_thread(relay_app) as relay_at,
            serve_in_thread(session_app) as sessions_at,
        ):
            yield {"web": f"http://{web_at}", "relay": f"ws://{relay_at}",
                   "sessions": f"ws://{sessions_at}", "root": root}  # fmt: skip
    finally:
        for source in sources:
            source.close()
        served.close()


def test_a_page_uses_backend_minted_browser_and_session_tokens(site: dict[str, str]) -> None:
    query = f"relay={site['relay']}&sessions={site['sessions']}&root={site['root']}"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{site['web']}/?{query}")
            page.wait_for_function("window.results && window.results.done", timeout=30_000)
            results: dict[str, Any] = page.evaluate("window.results")
        finally:
            browser.close()
    assert results["voice"] == ["ok", "INVALID_PERMISSIONS"]  # its own call, not another
    assert results["session"] == ["ok", "INVALID_PERMISSIONS"]  # its own scope only
    assert results["stolen"] == {"kind": "permission", "code": "UNAUTHORIZED_ORIGIN", "auth": False}
