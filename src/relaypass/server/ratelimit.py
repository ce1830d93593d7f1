"""Per-API-key rate limits on mint procedures: fixed one-minute windows.

In process by default; shared through Redis when it is configured, so every
worker and replica counts against the same budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, Protocol, final

import redis

from relaypass.errors import RateLimitedError
from relaypass.server import logging as rlog

__all__ = ["InProcessLimiter", "RateLimiter", "RedisLimiter"]

WINDOW_SECONDS: Final = 60
_log = rlog.get_logger()


class RateLimiter(Protocol):
    """Counts a hit; raises :class:`RateLimitedError` past the limit."""

    def hit(self, key: str) -> None:
        """Count one request for ``key``."""
        ...


def _refuse(now: float) -> RateLimitedError:
    retry = int(WINDOW_SECONDS - now % WINDOW_SECONDS) + 1
    return RateLimitedError("rate limit reached for this API key", retry_after_seconds=retry)


@final
class InProcessLimiter:
    """Counts in this process only."""

    __slots__ = ("_clock", "_counts", "_lock", "limit")

    def __init__(self, limit_per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit_per_minute
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hit(self, key: str) -> None:
        """Count and enforce."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            start, count = self._counts.get(key, (window, 0))
            if start != window:
                start, count = window, 0
                if len(self._counts) > 100_000:  # noqa: PLR2004 - drop stale windows
                    self._counts.clear()
            count += 1
            self._counts[key] = (start, count)
        if count > self.limit:
            raise _refuse(now)


@final
class RedisLimiter:
    """Counts in Redis: one key per API key and window, expiring on its own.

    Minting needs no Redis, so an unreachable Redis never fails a mint: the
    limiter falls back to counting in this process (logged, and counted through
    ``on_fallback`` for ``/metrics``) and tries Redis again after a second.
    """

    __slots__ = ("_client", "_clock", "_fallback", "_retry_at", "limit", "on_fallback", "prefix")

    def __init__(
        self,
        url: str,
        limit_per_minute: int,
        *,
        prefix: str = "relaypass",
        clock: Callable[[], float] = time.time,
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self.limit = limit_per_minute
        self.prefix = prefix
        self._clock = clock
        self._fallback = InProcessLimiter(limit_per_minute, clock=clock)
        self._retry_at = 0.0
        self.on_fallback = on_fallback

    def hit(self, key: str) -> None:
        """Count and enforce (INCR + EXPIRE in one round trip)."""
        now = self._clock()
        if time.monotonic() < self._retry_at:
            self._fell_back(key)
            return
        bucket = f"{self.prefix}:ratelimit:{key}:{int(now // WINDOW_SECONDS)}"
        pipe = self._client.pipeline(transaction=True)
        pipe.incr(bucket)
        pipe.expire(bucket, 2 * WINDOW_SECONDS)
        try:
            count = int(pipe.execute()[0])
        except redis.RedisError:
            self._retry_at = time.monotonic() + 1.0
            _log.warning("ratelimit.fallback", state="redis unreachable; counting in process")
            self._fell_back(key)
            return
        if count > self.limit:
            raise _refuse(now)

    def _fell_back(self, key: str) -> None:
        if self.on_fallback is not None:
            self.on_fallback()
        self._fallback.hit(key)
