"""Refresh-ahead for the store's in-process caches.

Each cache (API keys, signing keys, tenants, namespace scopes) keeps an entry for at most its
bound (5 s): what the documents promise, e.g. a revocation through another worker takes effect
here within it. A request that finds its entry gone reads the database, and on the event loop
that moves the whole call to a worker thread; with many orgs, entries expire a hundred times as
often and the calls that pay it make the p99 (``bench/mint.py`` at 100 orgs). So an entry used
during its life is reloaded in the background in the last part of it, while requests keep the
still-valid one: traffic that uses an entry at least once per bound never misses, and no entry
is served past its bound. (Reloading on a request that lands in that last part instead needs
such a request: at a thousand orgs, each seen every few seconds, many missed it, missed again
and fell behind for good.) An entry nobody used since its load is left to expire.

Reloads of one cache are read together (:meth:`Refresher.used`): entries loaded in the same
moment come due in the same moment, and a hundred orgs' entries then cost one query per cache,
not a hundred transactions competing with the requests for the interpreter.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Final, final

import structlog

__all__ = ["AHEAD_MS", "BATCH_MAX", "CACHE_MAX", "CACHE_MS", "Refresher"]

#: The bound of every cache entry: how long a change elsewhere may go unseen here.
CACHE_MS: Final = 5_000
#: Entries per cache at most.
CACHE_MAX: Final = 10_000
#: How long before its bound an entry is reloaded.
AHEAD_MS: Final = 1_500
#: Entries one batched reload reads at most (one query's parameters).
BATCH_MAX: Final = 500
#: How often the due entries are looked for.
TICK_S: Final = 0.1

_log = structlog.get_logger("relaypass.server.db.refresh")


@final
class Refresher:
    """Reloads used cache entries before their bound, a batch per cache, one at a time per key."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="relaypass-cache")
        self._now = clock_ms
        self._running: set[Hashable] = set()
        self._batches: dict[str, dict[Hashable, object]] = {}
        #: Entries used since their load: (when due, order, kind, key, the entry seen), a heap,
        #: so a look for due entries costs what is due, not what is cached.
        self._scheduled: list[tuple[int, int, str, Hashable, object]] = []
        self._order = itertools.count()
        self._reloads: dict[str, Callable[[Mapping[Hashable, object]], None]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def ahead(self, key: Hashable, reload: Callable[[], object]) -> None:
        """Reload ``key`` in the background, once at a time.

        A failure drops nothing here: ``reload`` decides what a refusal means for its entry.
        """
        with self._lock:
            if self._closed or key in self._running:
                return
            self._running.add(key)

        def run() -> None:
            try:
                reload()
            except Exception as exc:  # noqa: BLE001 - a background reload never raises
                _log.info("cache.refresh_failed", error=type(exc).__name__)
            finally:
                with self._lock:
                    self._running.discard(key)

        try:
            self._pool.submit(run)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._running.discard(key)

    def used(
        self,
        kind: str,
        key: Hashable,
        seen: object,
        until_ms: int,
        reload: Callable[[Mapping[Hashable, object]], None],
    ) -> None:
        """Note that the entry ``seen`` of ``key`` (valid until ``until_ms``) served a request.

        Its reload is then due :data:`AHEAD_MS` before its bound, read with the other due
        entries of ``kind``, in one call of ``reload`` (the same for every key of a kind), which
        gets each key with the entry it may replace (at most :data:`BATCH_MAX` at a time) and
        decides what a refusal means. Cheap when noted already: every hit calls it.
        """
        if (kind, key) in self._running:  # scheduled or being reloaded (a set read, no lock)
            return
        with self._lock:
            if self._closed or (kind, key) in self._running:
                return
            self._running.add((kind, key))
            heapq.heappush(
                self._scheduled, (until_ms - AHEAD_MS, next(self._order), kind, key, seen)
            )
            self._reloads[kind] = reload
            if self._timer is None:
                self._timer = threading.Thread(
                    target=self._tick, name="relaypass-cache-timer", daemon=True
                )
                self._timer.start()

    def _tick(self) -> None:
        """Hand the due entries to the reload thread, a batch per kind, every :data:`TICK_S`."""
        while not self._stop.wait(TICK_S):
            now = self._now()
            with self._lock:
                due: dict[str, dict[Hashable, object]] = {}
                scheduled = self._scheduled
                while scheduled and scheduled[0][0] <= now:
                    _, _, kind, key, entry = heapq.heappop(scheduled)
                    due.setdefault(kind, {})[key] = entry
                for kind, seen in due.items():
                    batch = self._batches.setdefault(kind, {})
                    queued = bool(batch)
                    batch.update(seen)
                    if not queued:
                        self._submit(kind, self._reloads[kind])

    def _submit(self, kind: str, reload: Callable[[Mapping[Hashable, object]], None]) -> None:
        """Queue a read of the kind's batch as it will be when the read starts (lock held)."""

        def run() -> None:
            with self._lock:
                pending = self._batches.pop(kind, {})
            items = list(pending.items())
            for start in range(0, len(items), BATCH_MAX):
                chunk = dict(items[start : start + BATCH_MAX])
                try:
                    reload(chunk)
                except Exception as exc:  # noqa: BLE001 - a background reload never raises
                    _log.info("cache.refresh_failed", error=type(exc).__name__, entries=len(chunk))
                finally:
                    with self._lock:
                        self._running.difference_update((kind, k) for k in chunk)

        try:
            self._pool.submit(run)
        except RuntimeError:  # shut down meanwhile
            for k in self._batches.pop(kind, {}):
                self._running.discard((kind, k))

    def close(self) -> None:
        """Stop taking reloads, dropping those not started.

        One under way is waited for: it holds a database connection the store is about to
        release.
        """
        with self._lock:
            self._closed = True
            timer = self._timer
        self._stop.set()
        if timer is not None:
            timer.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
