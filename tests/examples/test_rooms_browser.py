"""The room example's page in real Chromium (Debian's, driven by Playwright; nothing downloaded).

The page uses the browser package (``@relaypass/client``, built by the suite):
a guest waits in the lobby on gate 2; the host, in another browser context on
gate 1, is told, lists who is here, admits the guest, moves a viewer to the
audience and removes them, all from the host's own session; a page naming
another identity than its token's is refused with ``UNAUTHORIZED_PARTICIPANT``.
Screenshots go to ``test-artifacts/rooms/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests._browser import launch
from tests.examples._rooms_stack import Stack, rooms_stack

TIMEOUT_MS = 10_000
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "rooms"
pytestmark = pytest.mark.usefixtures("built")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with rooms_stack(Path(tmp_path_factory.mktemp("browser"))) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


def open_page(browser: Browser, gate: str, user: str, role: str) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"http://{gate}/")
    page.fill("#user", user)
    page.select_option("#role", role)
    page.fill("#room", "browser-room")
    page.click("#join")
    return page


def test_a_host_runs_the_room_from_the_page_in_chromium(stack: Stack, browser: Browser) -> None:
    one, two = stack.gates
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    host = open_page(browser, one, "hana", "host")
    expect(host.locator("#state")).to_have_text("in the room")
    expect(host.locator("#me")).to_have_text("hana (speaker)")

    guest = open_page(browser, two, "gus", "speaker")
    expect(guest.locator("#state")).to_have_text("waiting")
    guest.click("#publish")
    expect(guest.locator("#log")).to_contain_text("PENDING_ADMISSION")
    expect(host.locator("#log")).to_contain_text("gus is waiting")
    host.click("#participants")
    expect(host.locator("#roster")).to_contain_text("gus · speaker · waiting")
    host.screenshot(path=str(ARTIFACTS / "host-lobby.png"), full_page=True)

    host.fill("#who", "gus")
    host.click("#admit")
    expect(host.locator("#log")).to_contain_text("admit: ok")
    expect(guest.locator("#state")).to_have_text("in the room")
    guest.click("#publish")
    expect(guest.locator("#log")).to_contain_text('"type": "ok", "of": "publish"')
    expect(guest.locator("#counts")).to_contain_text("1 speaking")  # counts are per gate

    guest.fill("#who", "hana")  # a speaker is no moderator
    guest.click("#remove")
    expect(guest.locator("#log")).to_contain_text("remove: refused permission: INVALID_PERMISSIONS")

    host.click("#toViewer")
    expect(host.locator("#log")).to_contain_text("update: ok")
    expect(guest.locator("#log")).to_contain_text("grant changed")
    expect(guest.locator("#counts")).to_contain_text("1 watching")
    host.click("#participants")
    expect(host.locator("#roster")).to_contain_text("gus · viewer · admitted")
    guest.screenshot(path=str(ARTIFACTS / "guest-in-the-audience.png"), full_page=True)

    host.click("#remove")
    expect(guest.locator("#state")).to_have_text("closed: PARTICIPANT_REMOVED")
    expect(guest.locator("#log")).to_contain_text("refused admission: PARTICIPANT_REMOVED")
    host.click("#end")
    expect(host.locator("#state")).to_have_text("closed: ROOM_ENDED")
    host.screenshot(path=str(ARTIFACTS / "host-ended.png"), full_page=True)


def test_a_page_naming_another_identity_is_refused_with_its_code(
    stack: Stack, browser: Browser
) -> None:
    one, _ = stack.gates
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"http://{one}/")
    page.wait_for_function("document.getElementById('join')")
    # The page's own module, as a customer's code would call it: another identity than the token's.
    outcome = page.evaluate(
        """async () => {
          const { createTokenProvider, GatedSocket } = await import("/pkg/index.js");
          const provider = createTokenProvider({
            url: "/api/meeting-token", body: { roomId: "pinned" },
            headers: { "X-Demo-User": "ada:host" },
          });
          const url = `ws://${location.host}/pinned`;
          const named = async (participant) => {
            const socket = new GatedSocket({ url, provider, participant });
            try { await socket.connect(); socket.close(); return socket.participant; }
            catch (e) { return { kind: e.kind, code: e.code }; }
          };
          return { impostor: await named("hal"), herself: await named("ada") };
        }"""
    )
    assert outcome == {
        "impostor": {"kind": "permission", "code": "UNAUTHORIZED_PARTICIPANT"},
        "herself": "ada",
    }
