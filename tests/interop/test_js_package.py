"""The browser package (``clients/js``): built with strict ``tsc``, tested with node's runner, and
driven in Debian's Chromium against a real gate.

The page loads the package's compiled modules, gets short-lived tokens from a
customer's backend (``createTokenProvider({url})``), opens a ``GatedSocket``
through relaypass's ASGI middleware behind uvicorn, and keeps one connection
alive across several token lifetimes with in-band refresh. A refused connect
and a refused refresh reach the page as ``RelaypassError`` with their kind and
stable code.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from relaypass import Key, KeySet, RelaypassError, sign_jwt
from relaypass._errors_ts import render
from relaypass.api._typescript import render_procedures
from relaypass.gate import Gate, Session, StaticKeySource
from relaypass.gate.adapters.asgi import GateMiddleware
from tests._browser import launch
from tests._net import serve_in_thread
from tests.client.conftest import serve
from tests.interop.conftest import PACKAGE, run

pytestmark = pytest.mark.interop
KEY = Key.generate("EdDSA", kid="js-k1")
LIFETIME = 3


def test_the_error_codes_are_generated_from_the_python_tree() -> None:
    committed = (PACKAGE / "src" / "codes.ts").read_text()
    assert committed == render(), "run: python -m relaypass._errors_ts > clients/js/src/codes.ts"


def test_the_procedure_types_are_generated_from_the_table() -> None:
    committed = (PACKAGE / "src" / "procedures.ts").read_text()
    assert committed == render_procedures(), (
        "run: python -m relaypass.api._typescript --procedures > clients/js/src/procedures.ts"
    )


BACKEND = """
import { RelaypassBackend } from "./dist/src/index.js";
const url = process.env.RELAYPASS_URL;
const backend = new RelaypassBackend({ url, apiKey: process.env.RELAYPASS_API_KEY });
const minted = await backend.mintRoomToken({
  roomId: "standup", participantId: "alice", role: "speaker",
});
const tenants = await backend.call("tenants.list");
let refused;
try {
  await new RelaypassBackend({ url, apiKey: "rp_live_not_a_key" }).call("tenants.list");
} catch (e) {
  refused = { code: e.code, kind: e.kind, status: e.status };
}
console.log(JSON.stringify({ token: minted.token, tenants: tenants.tenants.length, refused }));
"""


@pytest.mark.usefixtures("built")
def test_a_node_backend_mints_with_its_api_key(tmp_path: Path) -> None:
    """The package's backend client against a real control plane."""
    node = shutil.which("node")
    assert node is not None
    served = serve(tmp_path)
    control_plane = next(served)
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            [node, "--input-type=module", "-e", BACKEND], cwd=PACKAGE, capture_output=True,
            text=True, timeout=60, check=False,
            env={**os.environ, "RELAYPASS_URL": control_plane.url,
                 "RELAYPASS_API_KEY": control_plane.key},
        )  # fmt: skip
    finally:
        served.close()
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    claims = json.loads(base64.urlsafe_b64decode(answer["token"].split(".")[1] + "=="))
    assert (claims["roomId"], claims["participantId"]) == ("standup", "alice")
    assert answer["tenants"] >= 1
    assert answer["refused"] == {"code": "INVALID_API_KEY", "kind": "auth", "status": 401}


@pytest.mark.usefixtures("built")
def test_node_runner() -> None:
    node = shutil.which("node")
    assert node is not None
    done = run(node, "--test", "dist/test/")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


# The page, the customer's backend and the gated WebSocket app.

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gated</title></head>
<body><script type="module">
import { createTokenProvider, GatedSocket, ErrorKind, RelaypassError } from "/pkg/index.js";
const params = new URLSearchParams(location.search);
const results = { echoed: [], errors: [], refreshed: [] };
window.results = results;
const report = (e) =>
  results.errors.push({ kind: e.kind, code: e.code, isError: e instanceof RelaypassError });
const provider = createTokenProvider({ url: "/api/token", body: { tenant: params.get("tenant") } });
const socket = new GatedSocket({
  url: params.get("ws") + "/live/cam",
  provider,
  onMessage: (data) => results.echoed.push(data),
  onError: report,
  onEvent: (e) => results.events = [...(results.events || []), e.type],
});
try {
  await socket.connect();
  results.connected = true;
  const started = Date.now();
  while (Date.now() - started < Number(params.get("seconds")) * 1000) {
    socket.send("live/cam");
    await new Promise((r) => setTimeout(r, 250));
    if (socket.expiresAt) results.refreshed.push(socket.expiresAt);
  }
  socket.close();
} catch (e) {
  results.connectError = { kind: e.kind, code: e.code, auth: e.kind === ErrorKind.Auth };
}
results.done = true;
</script></body></html>"""


async def echo(websocket: WebSocket) -> None:
    """Answers each path with ``ok`` when the session's current grant may publish there."""
    await websocket.accept(subprotocol="relaypass")
    session: Session = websocket.state.relaypass
    try:
        while True:
            path = await websocket.receive_text()
            try:
                session.authorize_publish(path)
                await websocket.send_text("ok")
            except RelaypassError as exc:
                await websocket.send_text(exc.code.value)
    except WebSocketDisconnect:
        pass


class Backend:
    """The customer's backend: mints short relay tokens; the test decides what it answers."""

    def __init__(self) -> None:
        self.minted = 0
        self.key = KEY
        self.refuse = False
        self.next_tenant: str | None = None

    async def token(self, request: Request) -> Response:
        if self.refuse:
            return JSONResponse({"code": "INVALID_API_KEY", "detail": "revoked"}, 401)
        body = await request.json()
        tenant = self.next_tenant if self.minted and self.next_tenant else body.get("tenant")
        self.minted += 1
        now = int(time.time())
        claims = {"sub": tenant, "ns": ["live/**"], "iat": now, "exp": now + LIFETIME,
                  "jti": f"js-{self.minted}"}  # fmt: skip
        return JSONResponse({"token": sign_jwt(claims, self.key)})


@pytest.fixture
def site(built: Path) -> Iterator[tuple[str, str, Backend]]:
    backend = Backend()
    gate = Gate(StaticKeySource(KeySet([KEY.public()])))
    gated = GateMiddleware(Starlette(routes=[WebSocketRoute("/{path:path}", echo)]), gate)

    async def page(_request: Request) -> Response:
        return HTMLResponse(PAGE)

    app = Starlette(routes=[
        Route("/", page),
        Route("/api/token", backend.token, methods=["POST"]),
        Mount("/pkg", app=StaticFiles(directory=built)),
    ])  # fmt: skip
    with serve_in_thread(app) as web, serve_in_thread(gated) as ws:
        yield f"http://{web}", f"ws://{ws}", backend


def open_page(url: str, timeout: float) -> dict[str, object]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("window.results && window.results.done", timeout=timeout * 1000)
            results: dict[str, object] = page.evaluate("window.results")
        finally:
            browser.close()
    return results


def test_a_page_keeps_one_connection_across_token_lifetimes(
    site: tuple[str, str, Backend],
) -> None:
    web, ws, backend = site
    seconds = 3 * LIFETIME
    results = open_page(f"{web}/?tenant=acme&seconds={seconds}&ws={ws}", seconds + 20)
    assert results.get("connected") is True, results
    echoed = results["echoed"]
    assert isinstance(echoed, list)
    assert len(echoed) >= 4 * seconds - 4  # every send answered, on one connection
    assert set(echoed) == {"ok"}, echoed
    assert results["errors"] == []
    assert backend.minted >= 3  # refreshed from the backend, in-band
    refreshed = results["refreshed"]
    assert isinstance(refreshed, list)
    assert len(set(refreshed)) >= 2  # the gate confirmed new expiries


def test_a_refused_refresh_and_a_refused_connect_reach_the_page_typed(
    site: tuple[str, str, Backend],
) -> None:
    web, ws, backend = site
    backend.next_tenant = "globex"  # the refresh names another tenant: refused in-band
    results = open_page(f"{web}/?tenant=acme&seconds={LIFETIME}&ws={ws}", LIFETIME + 20)
    assert results.get("connected") is True, results
    assert {"kind": "permission", "code": "INVALID_PERMISSIONS", "isError": True} in (
        results["errors"]  # type: ignore[operator]
    ), results
    backend.refuse, backend.next_tenant = True, None
    refused = open_page(f"{web}/?tenant=acme&seconds=1&ws={ws}", 20)
    assert refused["connectError"] == {"kind": "auth", "code": "INVALID_API_KEY", "auth": True}


def test_a_connect_the_gate_refuses_is_an_auth_error(site: tuple[str, str, Backend]) -> None:
    web, ws, backend = site
    backend.key = Key.generate("EdDSA", kid="js-unknown")  # a key the gate does not know
    results = open_page(f"{web}/?tenant=acme&seconds=1&ws={ws}", 20)
    assert results["connectError"] == {"kind": "auth", "code": "INVALID_TOKEN", "auth": True}
