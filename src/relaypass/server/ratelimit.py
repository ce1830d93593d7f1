"""Per-API-key rate limits on mint procedures, with ``limits``' sliding-window counter.

A sliding window (unlike fixed one-minute windows) never lets twice the limit
through across a window edge. Counts live in this process by default and in
Redis when it is configured, so every worker and replica counts against the
same budget. Minting needs no Redis: while it is unreachable the limiter counts
in process (logged, and reported through ``on_fallback`` for ``/metrics``) and
tries Redis again after a second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final, final

import redis
from limits import RateLimitItemPerSecond
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage, RedisClusterStorage, RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from relaypass._redis import ERRORS, clustered, redis_client
from relaypass.errors import RateLimitedError
from relaypass.server import logging as rlog
from relaypass.server.blocking import forbid_blocking

__all__ = ["MintRateLimiter"]

WINDOW_SECONDS: Final = 60
_RETRY_REDIS_AFTER: Final = 1.0
_log = rlog.get_logger()


@final
class MintRateLimiter:
    """Counts a hit per key; past the limit raises :class:`RateLimitedError` with a retry delay."""

    def __init__(
        self,
        limit: int,
        *,
        window_seconds: int = WINDOW_SECONDS,
        redis_url: str | None = None,
        prefix: str = "relaypass",
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        self.item = RateLimitItemPerSecond(limit, window_seconds)
        self._memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._redis_url = redis_url or ""  # used only with the client below
        self._key_prefix = f"{prefix}:ratelimit"
        # Made now, so a malformed URL is refused at start-up (nothing connects yet).
        self._client = (
            redis_client(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
            if redis_url
            else None
        )
        self._shared: SlidingWindowCounterRateLimiter | None = None
        self._retry_redis_at = 0.0
        self.on_fallback = on_fallback

    def hit(self, key: str, *, limit: int | None = None) -> None:
        """Count one request for ``key`` and enforce the limit (``limit``: this key's own)."""
        item = self.item if limit is None else RateLimitItemPerSecond(limit, self.item.amount)
        limiter = self._choose()
        if limiter is not self._memory:
            forbid_blocking()  # Redis is a network round trip: not on the event loop
        try:
            allowed = limiter.hit(item, key)
        except StorageError:
            self._retry_redis_at = time.monotonic() + _RETRY_REDIS_AFTER
            _log.warning("ratelimit.fallback", state="redis unreachable; counting in process")
            limiter = self._fallback()
            allowed = limiter.hit(item, key)
        if not allowed:
            try:
                reset = limiter.get_window_stats(item, key).reset_time
            except StorageError:
                reset = time.time() + 1
            retry = max(1, math.ceil(reset - time.time()))
            msg = "rate limit reached for this API key"
            raise RateLimitedError(msg, retry_after_seconds=retry)

    def _choose(self) -> SlidingWindowCounterRateLimiter:
        if self._client is None:
            return self._memory
        if time.monotonic() < self._retry_redis_at:
            return self._fallback()
        if self._shared is None:
            forbid_blocking()  # a cluster's client connects as it is built
            try:
                self._shared = SlidingWindowCounterRateLimiter(
                    self._storage(self._redis_url, self._client)
                )
            except (*ERRORS, ConfigurationError, StorageError):
                self._retry_redis_at = time.monotonic() + _RETRY_REDIS_AFTER
                _log.warning("ratelimit.fallback", state="redis unreachable; counting in process")
                return self._fallback()
        return self._shared

    def _storage(self, url: str, client: redis.Redis) -> RedisStorage:
        """Where counts are shared; a cluster's client asks for the slot map as it is built."""
        if clustered(client):
            # One API key's window (two keys sharing a hash tag) is all a check touches, so
            # the counters spread over the cluster's slots.
            scheme, _, rest = url.partition("://")
            return RedisClusterStorage(
                f"redis+cluster://{rest}",
                key_prefix=self._key_prefix,
                wrap_exceptions=True,
                ssl=scheme.lower() == "rediss+cluster",
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
        return RedisStorage(
            "redis://",  # the pool decides where (one node, or Sentinel's primary)
            connection_pool=client.connection_pool,
            key_prefix=self._key_prefix,
            wrap_exceptions=True,
        )

    def _fallback(self) -> SlidingWindowCounterRateLimiter:
        if self.on_fallback is not None:
            self.on_fallback()
        return self._memory
