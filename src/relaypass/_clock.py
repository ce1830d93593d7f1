"""The only place the core reads time."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current Unix time in seconds."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The wall clock."""

    __slots__ = ()

    def now(self) -> float:
        """Seconds since the epoch, from :func:`time.time`."""
        return time.time()


SYSTEM_CLOCK = SystemClock()
