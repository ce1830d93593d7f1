"""Token providers: refresh timing, single flight, retries, refusals, expiry, ready-made ones."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from relaypass import (
    InvalidPermissionsError,
    Key,
    RateLimitedError,
    TokenExpiredError,
    UnavailableError,
    decode_unverified,
    sign_jwt,
)
from relaypass.client import (
    AsyncClient,
    AsyncTokenProvider,
    Client,
    TokenProvider,
    async_url_token_provider,
    service_account_token_provider,
    url_token_provider,
)
from tests._net import serve_in_thread
from tests.client.conftest import Served

KEY = Key.generate("EdDSA", kid="p1")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def jwt(iat: float, exp: float) -> str:
    return sign_jwt({"sub": "s", "iat": int(iat), "exp": int(exp)}, KEY)


class Fetcher:
    """Hands out tokens of ``lifetime`` seconds issued at the clock's time, or fails on demand."""

    def __init__(self, clock: Clock, lifetime: float) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.failure: Exception | None = None

    def __call__(self) -> str:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return jwt(self.clock.now, self.clock.now + self.lifetime)


@pytest.mark.parametrize(
    ("lifetime", "due_after"),
    [(3600.0, 2880.0), (600.0, 480.0), (240.0, 180.0), (150.0, 90.0), (100.0, 50.0), (5.0, 2.5)],
    ids=["1h: 80%", "10m: 80%", "4m: exp-60", "150s: exp-60", "100s: half", "5s: half"],
)
def test_refresh_is_due_at_the_earlier_of_exp_minus_60_and_80_percent(
    lifetime: float, due_after: float
) -> None:
    clock = Clock()
    fetch = Fetcher(clock, lifetime)
    provider = TokenProvider(fetch, clock=clock, jitter=0.0)
    first = provider.token()
    clock.now += due_after - 0.25
    assert provider.token() == first
    assert fetch.calls == 1
    clock.now += 0.5
    assert provider.token() != first
    assert fetch.calls == 2


def test_jitter_spreads_refreshes_within_ten_percent() -> None:
    dues = []
    for seed in range(200):
        clock = Clock()
        provider = TokenProvider(Fetcher(clock, 3600.0), clock=clock, rng=random.Random(seed))  # noqa: S311 - a seeded schedule  # noqa: S311 - a seeded schedule
        provider.token()
        dues.append(provider.refresh_in_seconds)
    assert 2880 * 0.9 <= min(dues) < 2880 * 0.95
    assert 2880 * 1.05 < max(dues) <= 2880 * 1.1


def test_only_one_fetch_is_in_flight() -> None:
    clock = Clock()
    gate = threading.Event()
    calls = 0

    def slow() -> str:
        nonlocal calls
        calls += 1
        gate.wait(5)
        return jwt(clock.now, clock.now + 600)

    provider = TokenProvider(slow, clock=clock)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(provider.token())) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert calls == 1
    assert len(set(results)) == 1
    assert len(results) == 8


def test_transient_failure_keeps_the_token_and_retries_after_5_to_10_s() -> None:
    clock = Clock()
    fetch = Fetcher(clock, 600.0)
    provider = TokenProvider(fetch, clock=clock, jitter=0.0, rng=random.Random(1))  # noqa: S311 - a seeded schedule  # noqa: S311 - a seeded schedule
    first = provider.token()
    clock.now += 480
    fetch.failure = UnavailableError("down")
    assert provider.token() == first  # still valid: served while the retry is pending
    assert 5.0 <= provider.refresh_in_seconds <= 10.0
    clock.now += 4.9
    assert provider.token() == first
    assert fetch.calls == 2  # no hammering inside the retry window
    clock.now += 5.2
    fetch.failure = None
    assert provider.token() != first
    assert fetch.calls == 3


def test_401_or_403_from_the_fetch_is_terminal() -> None:
    clock = Clock()
    fetch = Fetcher(clock, 600.0)
    provider = TokenProvider(fetch, clock=clock, jitter=0.0)
    provider.token()
    clock.now += 500
    fetch.failure = InvalidPermissionsError("revoked")
    with pytest.raises(InvalidPermissionsError):
        provider.token()
    fetch.failure = None
    clock.now += 100
    with pytest.raises(InvalidPermissionsError):
        provider.token()
    assert fetch.calls == 2


def test_a_429_is_transient() -> None:
    clock = Clock()
    fetch = Fetcher(clock, 600.0)
    provider = TokenProvider(fetch, clock=clock, jitter=0.0)
    first = provider.token()
    clock.now += 500
    fetch.failure = RateLimitedError("slow down", retry_after_seconds=1)
    assert provider.token() == first


def test_token_expired_when_no_refresh_succeeds_before_exp() -> None:
    clock = Clock()
    fetch = Fetcher(clock, 120.0)
    provider = TokenProvider(fetch, clock=clock, jitter=0.0)
    provider.token()
    fetch.failure = httpx.ConnectError("refused")
    clock.now += 61
    provider.token()  # a retry is scheduled; the token still has 59 s
    clock.now += 60
    with pytest.raises(TokenExpiredError) as expired:
        provider.token()
    assert expired.value.code.value == "TOKEN_EXPIRED"
    assert isinstance(expired.value.__cause__, httpx.ConnectError)


def test_async_provider_single_flight_and_expiry() -> None:
    clock = Clock()
    calls = 0
    fail = False

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        if fail:
            raise UnavailableError("down")
        return jwt(clock.now, clock.now + 120)

    async def go() -> None:
        nonlocal fail
        provider = AsyncTokenProvider(fetch, clock=clock, jitter=0.0)
        tokens = await asyncio.gather(*(provider.token() for _ in range(10)))
        assert len(set(tokens)) == 1
        assert calls == 1
        fail = True
        clock.now += 121
        with pytest.raises(TokenExpiredError):
            await provider.token()

    asyncio.run(go())


def test_repr_never_shows_the_token() -> None:
    clock = Clock()
    provider = TokenProvider(Fetcher(clock, 600.0), clock=clock)
    token = provider.token()
    assert token not in repr(provider)


# ------------------------------------------------------------ ready-made


def test_client_providers_mint_every_modality(served: Served) -> None:
    with Client(served.url, api_key=served.key) as client:
        providers = [
            client.providers.relay(tenant="acme", ns=["acme/**"], ttl_seconds=60),
            client.providers.moq(root="demo", publish=[""], subscribe=[""], ttl_seconds=60),
            client.providers.room(room_id="r1", participant_id="ada", role="speaker"),
            client.providers.playback(tenant="acme", input_id="in1", ttl_seconds=60),
            client.providers.browser(tenant="acme", call_sid="CA1", ttl_seconds=60),
        ]
        for provider in providers:
            token = provider.token()
            assert provider.token() == token  # cached
            _, claims = decode_unverified(token)
            assert isinstance(claims["exp"], int)


def test_async_client_providers(served: Served) -> None:
    async def go() -> None:
        async with AsyncClient(served.url, api_key=served.key) as client:
            relay = client.providers.relay(tenant="acme", ns=["acme/**"], ttl_seconds=60)
            moq = client.providers.moq(root="demo", subscribe=[""], ttl_seconds=60)
            room = client.providers.room(room_id="r1", participant_id="bo", role="viewer")
            for provider in (relay, moq, room):
                assert (await provider.token()).count(".") == 2

    asyncio.run(go())


def test_service_account_provider_signs_rs256_from_the_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"tenant_id": "acme", "private_key_id": "sa1", "private_key": pem}))
    monkeypatch.setenv("TELEQUICK_CREDENTIALS", str(path))
    token = service_account_token_provider().token()
    kid, claims = decode_unverified(token)
    assert kid == "sa1"
    assert claims["sub"] == "acme"
    assert service_account_token_provider(path).token().count(".") == 2


@pytest.fixture
def token_backend() -> Iterator[tuple[str, list[int]]]:
    """A customer backend (VideoSDK-style): POST /token answers {"token": …}; 403 once told to."""
    state = [0]

    async def token(request: Request) -> JSONResponse:
        body = await request.json()
        if state[0]:
            return JSONResponse({"error": "no"}, 403)
        now = time.time()
        return JSONResponse({"token": jwt(now, now + 300), "room": body.get("room")})

    app = Starlette(routes=[Route("/token", token, methods=["POST"])])
    with serve_in_thread(app) as address:
        yield f"http://{address}/token", state


def test_url_provider_posts_and_treats_403_as_terminal(
    token_backend: tuple[str, list[int]],
) -> None:
    url, state = token_backend
    clock = Clock(time.time())
    provider = url_token_provider(url, json={"room": "r1"}, clock=clock, jitter=0.0)
    first = provider.token()
    assert first.count(".") == 2
    state[0] = 1
    clock.now += 250
    with pytest.raises(httpx.HTTPStatusError):
        provider.token()
    with pytest.raises(httpx.HTTPStatusError):
        provider.token()
    provider.close()

    async def go() -> None:
        state[0] = 0
        provider = async_url_token_provider(url, json={"room": "r2"})
        assert (await provider.token()).count(".") == 2
        await provider.aclose()

    asyncio.run(go())
