"""nats.ws (npm, from the lock file) in real Chromium, through the callout, within its grant.

Debian's Chromium is driven by Playwright with the system executable; nothing is
downloaded. The page connects to nats-server's WebSocket listener with a
relaypass token, publishes and receives on a subject its grant allows, and is
refused a subject it does not.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

from relaypass import sign_jwt
from tests._browser import launch
from tests._net import serve_in_thread
from tests.gate._nats import Broker, broker

NATS_WS = (
    Path(__file__).parents[1] / "interop" / "node" / "node_modules" / "nats.ws" / "esm" / "nats.js"
)
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>nats.ws</title></head>
<body><script type="module">
import { connect, StringCodec } from "/nats.js";
const params = new URLSearchParams(location.search);
const results = { got: [], errors: [] };
window.results = results;
const sc = StringCodec();
try {
  const nc = await connect({ servers: params.get("ws"), token: params.get("token") });
  (async () => {
    for await (const s of nc.status()) if (s.type === "error") results.errors.push(String(s.data));
  })();
  const sub = nc.subscribe("chat.room1", { max: 1 });
  const forbidden = nc.subscribe("billing.x");
  (async () => {
    try { for await (const m of forbidden) {} } catch (e) { results.errors.push(String(e)); }
  })();
  nc.publish("chat.room1", sc.encode("from chromium"));
  for await (const m of sub) results.got.push(sc.decode(m.data));
  nc.publish("billing.x", sc.encode("not allowed"));
  await nc.flush();
  await new Promise((r) => setTimeout(r, 500));
  results.done = true;
} catch (e) {
  results.connectError = String(e);
  results.done = true;
}
</script></body></html>"""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, str]]:
    assert NATS_WS.exists(), "run scripts/test: it installs nats.ws with npm ci"

    async def page(_: object) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def bundle(_: object) -> FileResponse:
        return FileResponse(NATS_WS, media_type="text/javascript")

    app = Starlette(routes=[Route("/", page), Route("/nats.js", bundle)])
    with (
        serve_in_thread(app) as address,
        broker(Path(tmp_path_factory.mktemp("natsws")), websocket=True) as b,
    ):
        yield b, f"http://{address}"


def run_page(base: str, ws: str, token: str) -> dict[str, object]:
    query = urllib.parse.urlencode({"ws": ws, "token": token})
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{base}/?{query}")
            page.wait_for_function("window.results && window.results.done", timeout=15_000)
            results: dict[str, object] = page.evaluate("window.results")
        finally:
            browser.close()
    return results


def test_nats_ws_in_chromium_within_its_grant(running: tuple[Broker, str]) -> None:
    b, base = running
    assert b.ws_url is not None
    token = sign_jwt({"sub": "acme", "ns": ["chat/**"], "exp": int(time.time()) + 300}, b.key)
    results = run_page(base, b.ws_url, token)
    assert "connectError" not in results, results
    assert results["got"] == ["from chromium"]
    errors = json.dumps(results["errors"]).lower()
    assert "permissions violation" in errors or "permission" in errors, results


def test_nats_ws_with_a_bad_token_is_refused(running: tuple[Broker, str]) -> None:
    b, base = running
    assert b.ws_url is not None
    results = run_page(base, b.ws_url, "not-a-token")
    assert "authorization" in str(results.get("connectError", "")).lower(), results
