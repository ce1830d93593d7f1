"""How many failed sign-ins the dashboard takes: per client address, and in all.

Only failures count, so a user who knows their key is never slowed down. Each
limit is a sliding window (``limits``) kept in this process: a brute force
spread over several workers meets each worker's limit, and the global one
bounds what a crowd of addresses can try together.
"""

from __future__ import annotations

import math
import time
from typing import Final, final

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

__all__ = ["SignInLimiter"]

PER_ADDRESS: Final = 10
IN_ALL: Final = 100
_EVERYONE: Final = "*"


@final
class SignInLimiter:
    """Failed sign-ins per address and in all; :meth:`retry_after` says when one may try again."""

    def __init__(self, *, per_address: int = PER_ADDRESS, in_all: int = IN_ALL) -> None:
        self._window = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._address = RateLimitItemPerMinute(per_address)
        self._all = RateLimitItemPerMinute(in_all)

    def retry_after(self, address: str) -> int | None:
        """Seconds to wait before another attempt from ``address``, or ``None``: go ahead."""
        for item, key in ((self._address, address), (self._all, _EVERYONE)):
            if not self._window.test(item, key):
                reset = self._window.get_window_stats(item, key).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None

    def failed(self, address: str) -> None:
        """Count one failed attempt from ``address``."""
        self._window.hit(self._address, address)
        self._window.hit(self._all, _EVERYONE)
