"""The room example's page in real Chromium (Debian's, driven by Playwright; nothing downloaded).

A guest waits in the lobby on gate 2; the host, in another browser context on
gate 1, admits them with the page's own buttons; the guest's page shows it and
publishes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests._browser import launch
from tests.examples._rooms_stack import Stack, rooms_stack

TIMEOUT_MS = 10_000


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


def test_a_host_admits_a_guest_in_chromium(stack: Stack, browser: Browser) -> None:
    one, two = stack.gates
    guest = open_page(browser, two, "gus", "speaker")
    expect(guest.locator("#state")).to_have_text("waiting")
    guest.click("#publish")
    expect(guest.locator("#log")).to_contain_text("PENDING_ADMISSION")

    host = open_page(browser, one, "hana", "host")
    expect(host.locator("#state")).to_have_text("in the room")
    host.fill("#who", "gus")
    host.click("#admit")

    expect(guest.locator("#state")).to_have_text("in the room")
    guest.click("#publish")
    expect(guest.locator("#log")).to_contain_text('"type": "ok", "of": "publish"')
    expect(guest.locator("#counts")).to_contain_text("speaking")
