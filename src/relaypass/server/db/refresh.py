"""Refresh-ahead for the store's in-process caches.

Each cache (API keys, signing keys, tenants, namespace scopes) keeps an entry for at most its
bound (5 s): what the documents promise, e.g. a revocation through another worker takes effect
here within it. A request that finds its entry gone reads the database, and on the event loop
that moves the whole call to a worker thread; with many orgs, entries expire a hundred times as
often and the calls that pay it make the p99 (``bench/mint.py`` at 100 orgs). So an entry in
the last part of its life is reloaded in the background while requests keep the still-valid
one: steady traffic never misses, and no entry is served past its bound.

Reloads of one cache are read together (:meth:`Refresher.ahead_many`): entries loaded in the same
moment come due in the same moment, and a hundred orgs' entries then cost one query per cache,
not a hundred transactions competing with the requests for the interpreter.
"""

from __future__ import annotations

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

_log = structlog.get_logger("relaypass.server.db.refresh")


@final
class Refresher:
    """Runs at most one background reload per cache key at a time."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="relaypass-cache")
        self._running: set[Hashable] = set()
        self._batches: dict[str, dict[Hashable, object]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def due(self, now_ms: int, until_ms: int) -> bool:
        """Whether an entry valid until ``until_ms`` should be reloaded now."""
        return now_ms >= until_ms - AHEAD_MS

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

    def ahead_many(
        self,
        kind: str,
        key: Hashable,
        seen: object,
        reload: Callable[[Mapping[Hashable, object]], None],
    ) -> None:
        """Reload ``key`` (whose entry is ``seen`` now) with the other due entries of ``kind``.

        The entries that came due while the last batch of the kind was read are read in the
        next, together: ``reload`` gets each key with the entry it may replace (at most
        :data:`BATCH_MAX` at a time) and, as :meth:`ahead`'s, decides what a refusal means.
        """
        with self._lock:
            if self._closed or (kind, key) in self._running:
                return
            self._running.add((kind, key))
            batch = self._batches.setdefault(kind, {})
            batch[key] = seen
            if len(batch) > 1:
                return  # a read of this kind is already queued: it takes this key too

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
            with self._lock:
                for k in self._batches.pop(kind, {}):
                    self._running.discard((kind, k))

    def close(self) -> None:
        """Stop taking reloads, dropping those not started.

        One under way is waited for: it holds a database connection the store is about to
        release.
        """
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
