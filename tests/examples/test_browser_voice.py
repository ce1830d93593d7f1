"""The voice page example in Chromium: a backend-minted browser token, the package's socket.

The page joins call CA1 through the example's server (its backend mints with the
API key of a real control plane; its audio bridge is gated, keys from the
control plane's JWKS): a frame for its own call is accepted, one for another
call refused with INVALID_PERMISSIONS. A screenshot goes to test-artifacts/voice/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.browser_voice.server import create_app
from playwright.sync_api import expect, sync_playwright

from relaypass.client import AsyncClient
from relaypass.gate import Gate, JwksUrlKeySource
from tests._browser import launch
from tests._net import serve_in_thread
from tests.client.conftest import serve

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "voice"
pytestmark = pytest.mark.usefixtures("built")


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    served = serve(tmp_path_factory.mktemp("voice"))
    control_plane = next(served)
    source = JwksUrlKeySource(f"{control_plane.url}/.well-known/jwks.json")
    try:
        client = AsyncClient(control_plane.url, api_key=control_plane.key)
        with serve_in_thread(create_app(client, Gate(source))) as address:
            yield f"http://{address}"
    finally:
        source.close()
        served.close()


def test_a_voice_page_speaks_on_its_call_and_nowhere_else(page_server: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(page_server)
            page.click("#join")
            expect(page.locator("#state")).to_contain_text("in call CA1")
            page.click("#speak")
            expect(page.locator("#log")).to_have_text("bridge: ok")
            page.click("#eavesdrop")
            expect(page.locator("#log")).to_contain_text("bridge: INVALID_PERMISSIONS")
            page.screenshot(path=str(ARTIFACTS / "voice-page.png"), full_page=True)
        finally:
            browser.close()
