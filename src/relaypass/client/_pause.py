"""Waiting until a stop is set or a time has passed: the one primitive the two SDKs differ in."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

__all__ = ["async_pause", "pause"]


async def async_pause(stop: asyncio.Event | None, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def pause(stop: threading.Event | None, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    if stop is None:
        time.sleep(seconds)
        return
    stop.wait(seconds)
