"""Chromium, `@moq/lite` and the package's `connectMoq`, through `relaypass relay --auth-url`.

The relay (moq-rs bindings, a generated self-signed certificate) asks
relaypass's moq-relay auth server per session. The page gets short-lived moq
tokens from the customer's backend, connects over WebTransport with the
certificate's hash, receives a broadcast a Python moq-rs client publishes, and
keeps its session across several token lifetimes by in-band refresh; then the
auth server revokes its subject and the push, the revalidate and the close
reach the page. Debian's Chromium, driven by Playwright through the system
executable (nothing downloaded); QUIC stays on for this page.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import moq
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from relaypass import Key, KeySet, sign_jwt
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.moq_auth import MoqAuthServer, create_moq_auth_app
from relaypass.gate.adapters.moq_auth_client import (
    AuthClient,
    AuthSession,
    create_listener_app,
)
from relaypass.gate.adapters.moq_relay import MoqRelay
from tests._browser import CHROMIUM, FLAGS
from tests._net import serve_in_thread
from tests.interop.conftest import PACKAGE
from tests.relay.test_moq_relay import Publisher

pytestmark = pytest.mark.interop
KEY = Key.generate("EdDSA", kid="moq-js-k1")
LIFETIME = 3
#: WebTransport needs QUIC: the suite's other pages turn it off.
WT_FLAGS = [flag for flag in FLAGS if flag != "--disable-quic"]

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>moq</title>
<script type="importmap">{"imports": {
  "@moq/lite": "/npm/@moq/lite/index.js",
  "@moq/qmux": "/npm/@moq/qmux/index.js",
  "@moq/signals": "/npm/@moq/signals/index.js",
  "async-mutex": "/npm/async-mutex/index.mjs",
  "@relaypass/client": "/pkg/index.js"
}}</script></head><body><script type="module">
import * as Moq from "@moq/lite";
import { connectMoq, createTokenProvider } from "@relaypass/client";
const params = new URLSearchParams(location.search);
const results = { frames: 0, firstFrameAt: null, lastFrameAt: null };
window.results = results;
try {
  const provider = createTokenProvider({ url: "/api/token" });
  const session = await connectMoq({
    moq: Moq, url: params.get("relay"), provider, fingerprint: params.get("fp"), websocket: false,
  });
  results.connected = Date.now();
  const ended = () => { results.endedAt = Date.now(); };
  session.done.then(ended, ended);
  // Subscribe once the relay has announced the broadcast to this session (not before).
  const announced = session.connection.announced(Moq.Path.from(""));
  for (;;) {
    const entry = await announced.next();
    if (!entry) throw new Error("announcements ended");
    if (entry.path === "live/cam" && entry.active) break;
  }
  const track = session.connection.consume(Moq.Path.from("live/cam")).subscribe("data", 0);
  for (;;) {
    const frame = await track.readFrame();
    if (!frame) break;
    results.frames += 1;
    results.firstFrameAt ??= Date.now();
    results.lastFrameAt = Date.now();
  }
  results.trackEndedAt = Date.now();
} catch (e) {
  results.error = String(e) + (e && e.cause ? " / " + String(e.cause) : "");
}
results.done = true;
</script></body></html>"""


@dataclass
class Stack:
    web: str
    relay_url: str
    fingerprint: str
    server: MoqAuthServer
    minted: list[str]
    relay: MoqRelay


class RelayThread:
    """The relay, its auth client and a publisher, on an event loop of their own."""

    def __init__(
        self, auth_url: str, listener: list[MoqRelay], paths: tuple[str, ...] = ("live/cam",)
    ) -> None:
        self.paths = paths
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = asyncio.Event()
        self.relay: MoqRelay | None = None
        self.listener = listener
        self.auth_url = auth_url
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(),),
                                       daemon=True)  # fmt: skip
        self.thread.start()
        assert self.ready.wait(20), "the relay did not start"

    async def main(self) -> None:
        gate = Gate(StaticKeySource(KeySet([])), profile="moq")
        auth = AuthClient(self.auth_url, node="edge-1")
        publisher_token = sign_jwt({"root": "demo", "put": [""], "exp": int(time.time()) + 600},
                                   KEY)  # fmt: skip
        relay = MoqRelay(gate, bind="127.0.0.1:0", tls_generate=["localhost"], auth=auth)
        async with relay:
            self.relay = relay
            self.listener.append(relay)
            url = f"https://{relay.local_addr}/demo?jwt={publisher_token}"
            async with moq.Client(url, tls_verify=False, reconnect=False) as conn:
                cams = [Publisher(conn, path) for path in self.paths]
                self.ready.set()
                await self.stop.wait()
                for cam in cams:
                    cam.stop()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(20)
        self.loop.close()


@pytest.fixture
def stack(built: Path) -> Iterator[Stack]:
    relays: list[MoqRelay] = []

    def revalidate_now(session: AuthSession) -> None:
        relays[0].revalidate_now(session)

    listener_app = create_listener_app(
        lambda: relays[0].auth_sessions() if relays else [], revalidate_now, node="edge-1"
    )
    minted: list[str] = []

    async def page(_request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def token(_request: Request) -> Response:
        now = int(time.time())
        claims = {"root": "demo", "get": [""], "sub": "viewer-1", "iat": now,
                  "exp": now + LIFETIME, "jti": f"v{len(minted)}"}  # fmt: skip
        minted.append(claims["jti"])  # type: ignore[arg-type]
        return JSONResponse({"token": sign_jwt(claims, KEY)})

    web_app = Starlette(routes=[
        Route("/", page),
        Route("/api/token", token, methods=["POST"]),
        Mount("/pkg", app=StaticFiles(directory=built)),
        Mount("/npm", app=StaticFiles(directory=PACKAGE / "node_modules")),
    ])  # fmt: skip
    gate = Gate(StaticKeySource(KeySet([KEY.public()])), profile="moq")
    with serve_in_thread(listener_app) as listen:
        server = MoqAuthServer(gate, revalidate_seconds=30, nodes={"edge-1": f"http://{listen}"})
        with serve_in_thread(create_moq_auth_app(server)) as auth, serve_in_thread(web_app) as web:
            relay = RelayThread(f"http://{auth}/", relays)
            try:
                assert relay.relay is not None
                port = relay.relay.local_addr.rsplit(":", 1)[1]
                yield Stack(
                    web=f"http://localhost:{web.rsplit(':', 1)[1]}",
                    relay_url=f"https://127.0.0.1:{port}/demo",
                    fingerprint=relay.relay.cert_fingerprints()[0],
                    server=server,
                    minted=minted,
                    relay=relay.relay,
                )
            finally:
                relay.close()


# Narrowed and widened in place: a scripted auth server answers what the test sets.

WATCH = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>moq</title>
<script type="importmap">IMPORTS</script></head><body><script type="module">
import * as Moq from "@moq/lite";
import { connectMoq, createTokenProvider } from "@relaypass/client";
const params = new URLSearchParams(location.search);
const results = { announced: [] };
window.results = results;
try {
  const provider = createTokenProvider({ url: "/api/token" });
  const session = await connectMoq({
    moq: Moq, url: params.get("relay"), provider, fingerprint: params.get("fp"), websocket: false,
  });
  const ended = () => { results.endedAt = Date.now(); };
  session.done.then(ended, ended);
  const announced = session.connection.announced(Moq.Path.from(""));
  for (;;) {
    const entry = await announced.next();
    if (!entry) break;
    results.announced.push([entry.path, entry.active]);
  }
} catch (e) {
  results.error = String(e);
}
</script></body></html>"""


@dataclass
class Scripted:
    """What the scripted auth server answers, and a push to the relay's listener."""

    grant: dict[str, object]
    status: int = 200
    push: str = ""
    relay: MoqRelay | None = None


@pytest.fixture
def scripted(built: Path) -> Iterator[tuple[str, str, str, Scripted]]:
    relays: list[MoqRelay] = []
    script = Scripted({"publish": ["**"], "subscribe": ["**"]})

    def revalidate_now(session: AuthSession) -> None:
        relays[0].revalidate_now(session)

    listener_app = create_listener_app(
        lambda: relays[0].auth_sessions() if relays else [], revalidate_now, node="edge-1"
    )

    async def answer(request: Request) -> Response:
        body = await request.json()
        if body["event"] == "end":
            return Response(status_code=204)
        grant = {"expires": int(time.time()) + 300, **script.grant}
        return JSONResponse(grant if script.status == 200 else {}, status_code=script.status)

    async def page(_request: Request) -> Response:
        imports = PAGE.split('<script type="importmap">', 1)[1].split("</script>", 1)[0]
        return HTMLResponse(WATCH.replace("IMPORTS", imports))

    async def token(_request: Request) -> Response:
        claims = {"root": "demo", "get": [""], "exp": int(time.time()) + 300}
        return JSONResponse({"token": sign_jwt(claims, KEY)})

    web_app = Starlette(routes=[
        Route("/", page),
        Route("/api/token", token, methods=["POST"]),
        Mount("/pkg", app=StaticFiles(directory=built)),
        Mount("/npm", app=StaticFiles(directory=PACKAGE / "node_modules")),
    ])  # fmt: skip
    auth_app = Starlette(routes=[Route("/", answer, methods=["POST"])])
    with (
        serve_in_thread(listener_app) as listen,
        serve_in_thread(auth_app) as auth,
        serve_in_thread(web_app) as web,
    ):
        script.push = f"http://{listen}/sessions/revalidate"
        relay = RelayThread(f"http://{auth}/", relays, paths=("a/cam", "b/cam"))
        try:
            assert relay.relay is not None
            script.relay = relay.relay
            port = relay.relay.local_addr.rsplit(":", 1)[1]
            fingerprint = relay.relay.cert_fingerprints()[0]
            yield (
                f"http://localhost:{web.rsplit(':', 1)[1]}",
                f"https://127.0.0.1:{port}/demo",
                (fingerprint),
                script,
            )
        finally:
            relay.close()


def closed_in_place(relay: MoqRelay, page: Page, remaining: int) -> None:
    """The relay dropped the page's session; the page saw its session end, if it survived.

    Chromium's renderer crashes ("Target crashed") in about half the runs here at the moment
    a relay closes a WebTransport session the page holds, before any script runs; the close
    itself is what is asserted, from the relay's side, every time.
    """
    deadline = time.monotonic() + 5
    while relay.connections > remaining and time.monotonic() < deadline:
        time.sleep(0.02)
    assert relay.connections == remaining
    try:
        page.wait_for_function("window.results.endedAt || window.results.trackEndedAt",
                               timeout=10_000)  # fmt: skip
    except PlaywrightError as exc:
        if "Target crashed" not in str(exc):
            raise


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One Chromium for the module's WebTransport pages, QUIC on.

    Launching a second Chromium in the same process after a page had held a WebTransport
    session crashed the new page's renderer ("Target crashed") in about half the runs here,
    in either order; one browser with a page per test does not. Not understood yet.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=WT_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def test_a_page_is_narrowed_widened_and_closed_in_place(
    chromium: Browser, scripted: tuple[str, str, str, Scripted]
) -> None:
    web, relay_url, fingerprint, script = scripted
    page = chromium.new_page()
    try:
        page.goto(f"{web}/?relay={relay_url}&fp={fingerprint}")

        def seen(path: str, *, active: bool) -> None:
            page.wait_for_function(
                f"window.results && window.results.announced.some("
                f"([p, a]) => p === {path!r} && a === {str(active).lower()})",
                timeout=10_000,
            )

        seen("a/cam", active=True)
        seen("b/cam", active=True)
        script.grant = {"publish": ["**"], "subscribe": ["a/**"]}
        assert httpx.post(script.push, timeout=5).status_code == 202
        seen("b/cam", active=False)  # narrowed: withdrawn from this page, the session goes on
        script.grant = {"publish": ["**"], "subscribe": ["**"]}
        assert httpx.post(script.push, timeout=5).status_code == 202
        page.wait_for_function(
            "window.results.announced.filter(([p, a]) => p === 'b/cam' && a).length === 2",
            timeout=10_000,
        )  # widened: shown again without reconnecting
        results: dict[str, object] = page.evaluate("window.results")
        assert "endedAt" not in results, results
        assert ["a/cam", False] not in results["announced"]  # type: ignore[operator]
        script.status = 401
        assert httpx.post(script.push, timeout=5).status_code == 202
        assert script.relay is not None
        closed_in_place(script.relay, page, remaining=0)  # every session: the push had no filter
    finally:
        page.close()


def test_a_page_watches_refreshes_and_is_kicked_through_the_auth_server(
    chromium: Browser, stack: Stack
) -> None:
    watch = 3 * LIFETIME
    page = chromium.new_page()
    try:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{stack.web}/?relay={stack.relay_url}&fp={stack.fingerprint}")
        page.wait_for_function("window.results && (window.results.frames > 0 || "
                               "window.results.done)", timeout=20_000)  # fmt: skip
        time.sleep(watch)  # several token lifetimes, refreshed in-band
        alive: dict[str, object] = page.evaluate("window.results")
        assert alive.get("error") is None, (alive, console)
        assert "endedAt" not in alive, alive
        assert len(stack.minted) >= 3, stack.minted  # fresh tokens from the backend
        frames_before = alive["frames"]
        assert isinstance(frames_before, int)
        assert frames_before > 10 * watch  # frames every 20 ms, still flowing
        kicked = time.monotonic()
        stack.server.gate.revoke_subject("viewer-1")
        closed_in_place(stack.relay, page, remaining=1)  # the publisher stays
        took = time.monotonic() - kicked
    finally:
        page.close()
    assert took < 3.0, took  # revoke -> push -> revalidate 401 -> the relay closes the page's
