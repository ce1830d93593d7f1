"""Dashboard sign-in sessions: kept by the server, referenced by an opaque cookie.

The API key a user signs in with stays on the server, in this process's memory
(never in browser storage, a URL or a log line); the cookie carries only a
random session id. A session ends after ``idle_seconds`` without a request,
after ``absolute_seconds`` in any case, and on sign-out. Every state-changing
request must carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, final

__all__ = ["COOKIE", "DashboardSession", "SessionStore"]

COOKIE: Final = "relaypass_dashboard"
_MAX_SESSIONS: Final = 10_000


@dataclass(slots=True)
class DashboardSession:
    """One signed-in browser."""

    api_key: str = field(repr=False)
    org_id: str
    key_id: str
    scopes: tuple[str, ...]
    created: float
    seen: float
    org_name: str = ""
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    #: What a POST did, shown once by the page it redirects to (post/redirect/get).
    flash: dict[str, Any] = field(default_factory=dict, repr=False)

    def csrf_ok(self, presented: str | None) -> bool:
        """Constant-time check of a form's CSRF token."""
        return presented is not None and hmac.compare_digest(presented, self.csrf)


@final
class SessionStore:
    """Sessions by id, with idle and absolute expiry."""

    def __init__(
        self,
        *,
        idle_seconds: float = 1800.0,
        absolute_seconds: float = 12 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds
        self._clock = clock
        self._sessions: dict[str, DashboardSession] = {}
        self._lock = threading.Lock()

    def create(
        self,
        api_key: str,
        org_id: str,
        key_id: str,
        scopes: tuple[str, ...],
        *,
        org_name: str = "",
    ) -> tuple[str, DashboardSession]:
        """A new session and its id (for the cookie)."""
        now = self._clock()
        session = DashboardSession(api_key, org_id, key_id, scopes, now, now, org_name)
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= _MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].seen)
                del self._sessions[oldest]
            self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> DashboardSession | None:
        """The live session of this id (touching it), or ``None``."""
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.seen > self.idle_seconds or now - session.created > (
                self.absolute_seconds
            ):
                del self._sessions[sid]
                return None
            session.seen = now
            return session

    def end(self, sid: str | None) -> None:
        """Sign out."""
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)

    def _expire(self, now: float) -> None:
        stale = [
            k
            for k, s in self._sessions.items()
            if now - s.seen > self.idle_seconds or now - s.created > self.absolute_seconds
        ]
        for k in stale:
            del self._sessions[k]
