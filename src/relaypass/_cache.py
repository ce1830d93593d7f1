"""A verified-token cache keyed by the exact token string.

An entry lives until the token's own validity window closes (``exp`` plus
leeway), or ``max_age_seconds`` after it was stored, whichever is first; the
cache holds at most ``max_entries`` entries and drops the oldest first. Keying
on the exact string is safe because our base64url and JSON are canonical: a
re-spelled token is a different key and is verified in full.

Revocation drops entries: by ``kid`` (a key was revoked), by ``jti``, by
subject, by tenant, or by any predicate. These scan the cache; they are rare
control-plane events, and a scan of 100,000 entries takes a few milliseconds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, final

from relaypass._verified import VerifiedToken

__all__ = ["VerifiedTokenCache"]

DEFAULT_MAX_ENTRIES: Final = 10_000
DEFAULT_MAX_AGE_SECONDS: Final = 300.0

# (verified token, earliest acceptable time, first unacceptable time)
Entry = tuple[VerifiedToken, float, float]


@final
class VerifiedTokenCache:
    """Bounded map from token string to its :class:`VerifiedToken`."""

    __slots__ = ("_entries", "_lock", "max_age_seconds", "max_entries")

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        if max_entries < 1 or max_age_seconds <= 0:
            msg = "max_entries and max_age_seconds must be positive"
            raise ValueError(msg)
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        # Ordered: evicting the oldest is O(1). A plain dict's ``next(iter(d))`` walks
        # the holes earlier deletions leave, which made a miss in a full cache cost ~16 µs.
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, token: str, now: float) -> VerifiedToken | None:
        """The cached result if still inside its window, else ``None``."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[1] <= now < entry[2]:
            return entry[0]
        self._entries.pop(token, None)
        return None

    def store(
        self, token: str, verified: VerifiedToken, not_before: float, not_after: float, now: float
    ) -> None:
        """Remember ``verified`` for its window, capped at ``max_age_seconds``."""
        entries = self._entries
        with self._lock:
            while len(entries) >= self.max_entries:
                try:
                    entries.popitem(last=False)
                except KeyError:  # pragma: no cover - emptied meanwhile
                    break
            entries[token] = (verified, not_before, min(not_after, now + self.max_age_seconds))

    def drop_where(self, predicate: Callable[[VerifiedToken], bool]) -> int:
        """Drop every entry whose token matches; return how many were dropped."""
        with self._lock:
            doomed = [tok for tok, entry in list(self._entries.items()) if predicate(entry[0])]
            for tok in doomed:
                self._entries.pop(tok, None)
        return len(doomed)

    def drop_token(self, token: str) -> bool:
        """Drop one token string."""
        return self._entries.pop(token, None) is not None

    def drop_kid(self, kid: str) -> int:
        """Drop every token signed with ``kid``."""
        return self.drop_where(lambda v: v.kid == kid)

    def drop_jti(self, jti: str) -> int:
        """Drop every token with this ``jti``."""
        return self.drop_where(lambda v: v.claims.get("jti") == jti)

    def drop_subject(self, sub: str, issued_before: float | None = None) -> int:
        """Drop a subject's tokens (optionally only those issued before a time)."""

        def match(v: VerifiedToken) -> bool:
            if v.claims.get("sub") != sub:
                return False
            if issued_before is None:
                return True
            iat = v.claims.get("iat")
            return not isinstance(iat, int | float) or iat < issued_before

        return self.drop_where(match)

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
