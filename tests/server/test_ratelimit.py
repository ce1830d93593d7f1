from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import limits.storage.memory
import limits.strategies
import pytest

from relaypass import RateLimitedError
from relaypass.server.app import create_app
from relaypass.server.db.store import Store
from relaypass.server.ratelimit import MintRateLimiter
from relaypass.server.settings import Settings
from tests.server.conftest import MsClock, bootstrap_with_tenants
from tests.server.test_app import Http, rpc


def test_in_process_limit_per_key_and_window() -> None:
    limiter = MintRateLimiter(3, window_seconds=1)
    for _ in range(3):
        limiter.hit("key_a")
    with pytest.raises(RateLimitedError) as info:
        limiter.hit("key_a")
    assert 1 <= info.value.retry_after_seconds <= 2
    limiter.hit("key_b")  # another key has its own budget
    time.sleep(2.05)  # the sliding window has moved past both windows
    limiter.hit("key_a")


class _LimitsClock:
    """The time the in-process counters read (``limits`` reads ``time.time()``), set by a test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_no_double_burst_across_a_window_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed window lets 2x the limit through around its edge; a sliding one does not.

    The counters' clock is set, not slept to: a loaded machine oversleeps, and a burst
    meant for just after the edge would land later, where the window has slid on.
    """
    edge = float(math.ceil(time.time()))
    clock = _LimitsClock(edge - 0.1)  # just before a window edge
    for module in (limits.storage.memory, limits.strategies):
        monkeypatch.setattr(module, "time", clock)
    limiter = MintRateLimiter(10, window_seconds=1)
    passed = 0
    for _ in range(10):
        with contextlib.suppress(RateLimitedError):
            limiter.hit("key")
            passed += 1
    assert passed == 10
    clock.now = edge + 0.05  # just after it: the last window still counts 95 %
    for _ in range(10):
        with contextlib.suppress(RateLimitedError):
            limiter.hit("key")
            passed += 1
    assert passed == 11  # the last burst weighs 95 %: one more hit fits, not ten


def test_redis_window_is_shared_between_limiters(redis_server: str, redis_prefix: str) -> None:
    one = MintRateLimiter(2, window_seconds=1, redis_url=redis_server, prefix=redis_prefix)
    two = MintRateLimiter(2, window_seconds=1, redis_url=redis_server, prefix=redis_prefix)
    one.hit("key_a")
    two.hit("key_a")
    with pytest.raises(RateLimitedError):
        one.hit("key_a")
    time.sleep(2.05)
    two.hit("key_a")


def test_unreachable_redis_counts_in_process() -> None:
    fallbacks: list[int] = []
    limiter = MintRateLimiter(
        2, redis_url="redis://127.0.0.1:1/0", on_fallback=lambda: fallbacks.append(1)
    )
    limiter.hit("key_a")
    limiter.hit("key_a")
    with pytest.raises(RateLimitedError):
        limiter.hit("key_a")
    assert len(fallbacks) == 3


def test_mint_procedures_answer_429_with_retry_after(
    store: Store, tmp_path: Path, ms_clock: MsClock
) -> None:
    first = bootstrap_with_tenants(store)
    org_id, admin_key = first
    http = Http(create_app(Settings(data_dir=tmp_path, mint_rate_per_minute=2), store))
    rpc(http, "streams.signingKeys.create", admin_key, {"orgId": org_id, "label": "v1"})
    ms_clock.advance(60)
    body = {"orgId": org_id, "tenant": "t", "callSid": "sid_1"}
    codes = [
        rpc(http, "voice.audioBridge.mintBrowserToken", admin_key, body).status_code
        for _ in range(3)
    ]
    assert codes[:2] == [200, 200]
    limited = rpc(http, "voice.audioBridge.mintBrowserToken", admin_key, body)
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1
    # Administration is not rate limited.
    assert rpc(http, "streams.apiKeys.list", admin_key, {"orgId": org_id}).status_code == 200
