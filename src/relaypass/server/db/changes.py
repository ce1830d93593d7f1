"""The change feed: which orgs' objects changed, so each worker's caches may hold entries long.

Every write to what the caches hold (API keys, signing keys, tenants, the org: the actions
``Store._audit`` records under those names) adds a row to ``changes`` in its own transaction.
Each worker reads the rows added since its last look every :data:`POLL_MS` and drops the
entries of the orgs they name from its caches. While that works, an entry is kept
:data:`LONG_MS` (a change elsewhere still reaches this worker within a poll, sooner than the
5 s bound promised), so an org that mints steadily is reloaded once a minute instead of every
few seconds: with a thousand orgs the reloads were a tenth of the process (``bench/mint.py``).

When the feed cannot be read (the database is away, the table is not migrated yet, the
thread is gone), entries get the plain bound (:data:`~relaypass.server.db.refresh.CACHE_MS`)
as before, and once a look has failed for longer than that every cache is dropped.

Two races are closed here. A load that read the database before a change committed, and
finishes after the poll that dropped its org, would put the old entry back: an entry loaded
at or before the moment a change was last noticed gets the plain bound. And ids of
concurrent transactions commit out of order on PostgreSQL: each look reads again what was
among the last :data:`OVERLAP` ids and skips those already taken (no clock is trusted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

import structlog

from relaypass._background import Background
from relaypass.server.db.refresh import CACHE_MS

__all__ = ["LONG_MS", "OVERLAP", "POLL_MS", "ChangeFeed"]

#: How long an entry is kept while the feed is read.
LONG_MS: Final = 60_000
#: How often the feed is read.
POLL_MS: Final = 1_000
#: How many ids back each look reads again (ids committed out of order).
OVERLAP: Final = 256
#: How long a change is kept in the table.
KEEP_MS: Final = 3_600_000
#: How often old changes are deleted.
TRIM_MS: Final = 600_000

_log = structlog.get_logger("relaypass.server.db.changes")

#: A change as read: its id and its org.
Change = tuple[int, str]


@final
class ChangeFeed:
    """Reads ``changes`` in the background and drops the named orgs' cache entries.

    ``read(after_id)`` returns the changes with a greater id; ``forget(org)``
    drops an org's entries (``None``: every entry); ``trim(before_ms)`` deletes old changes.
    Not started until :meth:`start`; until a look succeeds, :meth:`until` gives the plain
    bound.
    """

    def __init__(
        self,
        read: Callable[[int], list[Change]],
        forget: Callable[[str | None], None],
        trim: Callable[[int], None],
        clock_ms: Callable[[], int],
    ) -> None:
        self._read = read
        self._forget = forget
        self._trim = trim
        self._now = clock_ms
        self._taken: set[int] = set()  # ids read within the overlap
        self._last_id = -1  # the greatest id taken (-1: none yet: the first look reads all)
        self._background = Background(self._run, "relaypass-changes")
        #: When the last look that succeeded began (-1: none yet).
        self.read_at_ms = -1
        #: When a change was last noticed: a load that began then or before gets the plain bound.
        self.noticed_at_ms = -1
        #: Looks that failed in a row.
        self.failures = 0
        self._trimmed_at_ms = -1

    @property
    def healthy(self) -> bool:
        """Whether the last look succeeded, recently enough for entries to be kept long."""
        return self.read_at_ms >= 0 and self.failures == 0

    def until(self, began_ms: int) -> int:
        """Until when an entry whose load began at ``began_ms`` may be served."""
        if self.healthy and began_ms > self.noticed_at_ms:
            return began_ms + LONG_MS
        return began_ms + CACHE_MS

    def start(self) -> None:
        """Read the feed every :data:`POLL_MS` in the background (nothing if it already runs)."""
        self._background.start()

    def close(self) -> None:
        """Stop reading (entries then get the plain bound)."""
        self._background.stop(timeout=5)
        self.read_at_ms = -1

    def poll(self) -> int:
        """One look: drop the entries of the orgs changed since the last; how many changes."""
        started = self._now()
        after = self._last_id - OVERLAP if self._last_id >= 0 else -1
        try:
            rows = self._read(after)
        except Exception as exc:  # noqa: BLE001 - the database may be away: entries go short
            self._failed(started, type(exc).__name__)
            return 0
        fresh = [(i, org) for i, org in rows if i not in self._taken]
        if fresh or self.failures:
            # Noticed before anything is dropped: a load finishing in between gets the plain
            # bound, and one finishing after finds its org gone. After failed looks, a load
            # that began while the feed was unread gets the plain bound too.
            self.noticed_at_ms = max(self._now(), self.noticed_at_ms)
        for org in dict.fromkeys(org for _, org in fresh):
            self._forget(org)
        self._taken.update(i for i, _ in fresh)
        self._last_id = max([self._last_id, *(i for i, _ in fresh)])
        self._taken = {i for i in self._taken if i > self._last_id - OVERLAP}
        self.failures = 0
        self.read_at_ms = started
        if started - self._trimmed_at_ms >= TRIM_MS:
            self._trimmed_at_ms = started
            try:
                self._trim(started - KEEP_MS)
            except Exception as exc:  # noqa: BLE001 - tried again at the next trim
                _log.info("changes.trim_failed", error=type(exc).__name__)
        return len(fresh)

    def _failed(self, now: int, error: str) -> None:
        self.failures += 1
        if self.failures == 1:
            _log.warning("changes.read_failed", error=error)
        if self.read_at_ms >= 0 and now - self.read_at_ms >= CACHE_MS - POLL_MS:
            # Nothing seen for as long as the plain bound: what is cached may be stale.
            self.read_at_ms = -1
            self.noticed_at_ms = max(now, self.noticed_at_ms)
            self._forget(None)

    def _run(self) -> None:
        stopping = self._background.stopping
        while not stopping.is_set():
            self.poll()
            stopping.wait(POLL_MS / 1000)
