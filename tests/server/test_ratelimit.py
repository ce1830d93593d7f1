from __future__ import annotations

from pathlib import Path

import pytest

from relaypass import RateLimitedError
from relaypass.server.app import create_app
from relaypass.server.db.store import Store
from relaypass.server.ratelimit import InProcessLimiter, RedisLimiter
from relaypass.server.settings import Settings
from tests.server.conftest import MsClock, bootstrap_with_tenants
from tests.server.test_app import Http, rpc


def test_in_process_window(ms_clock: MsClock) -> None:
    limiter = InProcessLimiter(3, clock=lambda: ms_clock.now_ms / 1000)
    for _ in range(3):
        limiter.hit("key_a")
    with pytest.raises(RateLimitedError) as info:
        limiter.hit("key_a")
    assert 1 <= info.value.retry_after_seconds <= 61
    limiter.hit("key_b")  # another key has its own budget
    ms_clock.advance(60)
    limiter.hit("key_a")  # a new window


def test_redis_window_is_shared_between_limiters(
    redis_server: str, redis_prefix: str, ms_clock: MsClock
) -> None:
    def clock() -> float:
        return ms_clock.now_ms / 1000

    one = RedisLimiter(redis_server, 2, prefix=redis_prefix, clock=clock)
    two = RedisLimiter(redis_server, 2, prefix=redis_prefix, clock=clock)
    one.hit("key_a")
    two.hit("key_a")
    with pytest.raises(RateLimitedError):
        one.hit("key_a")
    ms_clock.advance(60)
    two.hit("key_a")


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
