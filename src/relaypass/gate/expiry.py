"""The live cutoff at ``exp`` for adapters that run on an asyncio loop."""

from __future__ import annotations

import asyncio
from typing import final

from relaypass.gate.session import Gate, Session

__all__ = ["ExpiryTimer"]


@final
class ExpiryTimer:
    """Ends the session at its ``exp``, following in-band refreshes that move it."""

    def __init__(self, gate: Gate, session: Session, loop: asyncio.AbstractEventLoop) -> None:
        self._gate = gate
        self._session = session
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        expires = self._session.grant.expires_at
        if expires is None or not self._session.open:
            self._handle = None
            return
        delay = max(0.0, expires - self._gate.clock.now())
        self._handle = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._gate.expire_sessions()
        self._arm()  # a refreshed grant expires later: wait for that

    def cancel(self) -> None:
        """Stop watching (the connection ended)."""
        if self._handle is not None:
            self._handle.cancel()
