"""Debian's Chromium, driven by Playwright through the system executable (nothing downloaded)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

from playwright.sync_api import Browser, Playwright

CHROMIUM: Final = shutil.which("chromium") or "/usr/bin/chromium"
#: As root in a closed network: no sandbox, no background fetches, no QUIC.
FLAGS: Final = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def launch(playwright: Playwright) -> Browser:
    """The system Chromium; ``scripts/test`` installs it with apt when missing."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/test installs it)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
