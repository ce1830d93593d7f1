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

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from relaypass._tokens import decode_unverified
from relaypass.errors import HTTP_STATUS, RelaypassError, TokenExpiredError

__all__ = [
    "JITTER",
    "LIFETIME_FRACTION",
    "REFRESH_MARGIN_SECONDS",
    "RETRY_SECONDS",
    "Schedule",
    "Token",
    "is_terminal",
]

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


class Schedule:
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
