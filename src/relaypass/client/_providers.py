"""Token providers: a cached token, refreshed ahead of its expiry (VideoSDK's tokenProvider).

A provider wraps a *fetch* (a function that returns a fresh token) and owns the
timing:

- the token is cached and refreshed at min(``exp`` - 60 s, 80 % of its
  lifetime), moved by up to ±10 % jitter so that many clients do not refresh
  in step; a token shorter than two minutes, where ``exp`` - 60 s would come
  before half its lifetime (or before it was issued), is refreshed at half its
  lifetime instead of on every call;
- only one fetch runs at a time; concurrent callers share its result;
- a transient failure (network, 5xx, 429) is retried 5-10 s later, while the
  cached token, if still valid, keeps being served;
- a 401 or 403 from the fetch is terminal: the provider raises it from then on;
- once the cached token has expired and no fresh one could be fetched, it
  raises :class:`~relaypass.errors.TokenExpiredError` (reason ``TOKEN_EXPIRED``).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import httpx

from relaypass._tokens import decode_unverified
from relaypass.errors import HTTP_STATUS, RelaypassError, TokenExpiredError

__all__ = ["AsyncTokenProvider", "Token", "TokenProvider", "is_terminal"]

REFRESH_MARGIN_SECONDS: Final = 60.0
LIFETIME_FRACTION: Final = 0.8
JITTER: Final = 0.1
RETRY_SECONDS: Final = (5.0, 10.0)
_TERMINAL: Final = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class Token:
    """A token and the times that schedule its refresh (seconds since the epoch)."""

    value: str
    issued_at: float
    expires_at: float

    def __repr__(self) -> str:
        return f"Token(expires_at={self.expires_at})"

    @classmethod
    def parse(cls, value: str, *, now: float) -> Token:
        """Read ``iat`` and ``exp`` (unverified: the client only schedules with them)."""
        _, claims = decode_unverified(value)
        exp, iat = claims.get("exp"), claims.get("iat")
        expires = float(exp) if isinstance(exp, int | float) else float("inf")
        issued = float(iat) if isinstance(iat, int | float) and iat <= now else now
        return cls(value, issued, expires)


def is_terminal(exc: BaseException) -> bool:
    """Whether a fetch failure is a 401 or 403 (retrying cannot help)."""
    if isinstance(exc, RelaypassError):
        status = getattr(exc, "status_code", None) or HTTP_STATUS[exc.code]
        return status in _TERMINAL
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in _TERMINAL
    return False


class _Schedule:
    """The state both providers share: the token, when to refresh it, when to retry."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        refresh_margin_seconds: float,
        lifetime_fraction: float,
        jitter: float,
        retry_seconds: tuple[float, float],
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.margin = refresh_margin_seconds
        self.fraction = lifetime_fraction
        self.jitter = jitter
        self.retry_seconds = retry_seconds
        self.token: Token | None = None
        self.refresh_at = 0.0
        self.retry_at = 0.0
        self.terminal: BaseException | None = None
        self.last_error: BaseException | None = None

    def cached(self) -> str | None:
        """The cached token when no fetch is due; raises when that can never change."""
        if self.terminal is not None:
            raise self.terminal
        now = self.clock()
        token = self.token
        if token is not None and now < self.refresh_at:
            return token.value
        if token is not None and now < self.retry_at:
            if now < token.expires_at:
                return token.value  # a retry is pending; the old token still works
            raise self.expired()
        return None

    def accept(self, value: str) -> str:
        now = self.clock()
        token = Token.parse(value, now=now)
        lifetime = max(token.expires_at - token.issued_at, 0.0)
        lead = min(token.expires_at - self.margin, token.issued_at + self.fraction * lifetime)
        lead = max(lead, token.issued_at + lifetime / 2)  # short tokens: not before half-life
        delay = max(lead - token.issued_at, 0.0) * (1 + self.rng.uniform(-self.jitter, self.jitter))
        self.token, self.refresh_at, self.retry_at = token, token.issued_at + delay, 0.0
        self.last_error = None
        return value

    def failed(self, exc: Exception) -> str:
        """After a failed fetch: the still-valid token, or the error to raise."""
        if is_terminal(exc):
            self.terminal = exc
            raise exc
        now = self.clock()
        self.last_error = exc
        self.retry_at = now + self.rng.uniform(*self.retry_seconds)
        token = self.token
        if token is None:
            raise exc
        if now < token.expires_at:
            return token.value
        raise self.expired() from exc

    def expired(self) -> TokenExpiredError:
        error = TokenExpiredError("the token expired and no fresh one could be fetched")
        error.__cause__ = self.last_error
        return error

    def next_check(self) -> float:
        """Seconds until something is due (a refresh or a retry)."""
        due = self.retry_at or self.refresh_at
        return max(due - self.clock(), 0.0)


class TokenProvider:
    """A cached token from a blocking ``fetch``; thread-safe."""

    def __init__(
        self,
        fetch: Callable[[], str],
        *,
        on_close: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        lifetime_fraction: float = LIFETIME_FRACTION,
        jitter: float = JITTER,
        retry_seconds: tuple[float, float] = RETRY_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._on_close = on_close
        self._lock = threading.Lock()
        self._s = _Schedule(
            clock=clock,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not secrecy
            refresh_margin_seconds=refresh_margin_seconds,
            lifetime_fraction=lifetime_fraction,
            jitter=jitter,
            retry_seconds=retry_seconds,
        )

    def __repr__(self) -> str:
        return f"TokenProvider(token={self._s.token!r})"

    def token(self) -> str:
        """A valid token, fetching a fresh one when it is due."""
        cached = self._s.cached()
        if cached is not None:
            return cached
        with self._lock:  # one fetch at a time; the others take its result
            cached = self._s.cached()
            if cached is not None:
                return cached
            try:
                return self._s.accept(self._fetch())
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                return self._s.failed(exc)

    @property
    def refresh_in_seconds(self) -> float:
        """Seconds until the next refresh (or retry) is due."""
        return self._s.next_check()

    def close(self) -> None:
        """Release what the fetch holds (an HTTP client the provider made)."""
        if self._on_close is not None:
            self._on_close()

    def keep_fresh(self, on_token: Callable[[str], None], stop: threading.Event) -> None:
        """Until ``stop``: hand every new token to ``on_token`` as soon as it is fetched.

        For a session that refreshes in-band: run it in a thread. It returns on
        ``stop``; it raises when the token expired beyond recovery or the fetch
        was refused (401/403).
        """
        current = None
        while not stop.is_set():
            value = self.token()
            if value != current:
                on_token(value)
                current = value
            stop.wait(min(self.refresh_in_seconds, 60.0) + 0.01)


class AsyncTokenProvider:
    """A cached token from an async ``fetch``."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[str]],
        *,
        on_close: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        lifetime_fraction: float = LIFETIME_FRACTION,
        jitter: float = JITTER,
        retry_seconds: tuple[float, float] = RETRY_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._on_close = on_close
        self._lock = asyncio.Lock()
        self._s = _Schedule(
            clock=clock,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not secrecy
            refresh_margin_seconds=refresh_margin_seconds,
            lifetime_fraction=lifetime_fraction,
            jitter=jitter,
            retry_seconds=retry_seconds,
        )

    def __repr__(self) -> str:
        return f"AsyncTokenProvider(token={self._s.token!r})"

    async def token(self) -> str:
        """A valid token, fetching a fresh one when it is due."""
        cached = self._s.cached()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._s.cached()
            if cached is not None:
                return cached
            try:
                return self._s.accept(await self._fetch())
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                return self._s.failed(exc)

    @property
    def refresh_in_seconds(self) -> float:
        """Seconds until the next refresh (or retry) is due."""
        return self._s.next_check()

    async def aclose(self) -> None:
        """Release what the fetch holds (an HTTP client the provider made)."""
        if self._on_close is not None:
            await self._on_close()

    async def keep_fresh(self, on_token: Callable[[str], Awaitable[None]]) -> None:
        """Forever (cancel to stop): await ``on_token`` with every new token as it is fetched."""
        current = None
        while True:
            value = await self.token()
            if value != current:
                await on_token(value)
                current = value
            await asyncio.sleep(min(self.refresh_in_seconds, 60.0) + 0.01)
