"""The outbox relay: what gates must learn reaches Redis, however long Redis is away.

Every key-set change and every revocation is written to the ``outbox`` table in
the same transaction as the change (``Store._audit``). This relay drains the
table to Redis in order, retrying with backoff (0.1 s doubling to 0.5 s) until
Redis accepts. When Redis comes back after an outage, or turns up empty, the
relay first republishes everything gates need: the current key set and every
revocation that may still cut a live token. Gates resynchronise when their own
connection returns, so a revocation made during an outage cuts live sessions
within about a second of Redis returning.

Key-set versions are outbox row ids (plus :data:`VERSION_BASE`): a database
sequence every replica shares, so versions never collide and never go
backwards, and Redis only ever takes a newer one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final, final

from redis.backoff import ExponentialWithJitterBackoff
from sqlalchemy.exc import SQLAlchemyError

from relaypass._background import Background
from relaypass._redis import ERRORS
from relaypass.server.db.store import Store
from relaypass.server.publish import RedisPublisher

__all__ = ["VERSION_BASE", "OutboxRelay"]

#: Above the wall-clock-millisecond versions that earlier releases wrote, so gates
#: that hold one of those take the first outbox version.
VERSION_BASE: Final = 2_000_000_000_000
MAX_BACKOFF_SECONDS: Final = 0.5

#: redis-py's backoff between attempts (0.1 s doubling, with jitter, capped). The waits stay
#: interruptible by ``close()``; per-command ``Retry`` is not used, so that an outage never
#: slows a request's answer (the committed change is published from here instead).
_BACKOFF = ExponentialWithJitterBackoff(cap=MAX_BACKOFF_SECONDS, base=0.1)
REFRESH_SECONDS: Final = 30.0


@final
class OutboxRelay:
    """Drains the store's outbox to Redis from a background thread."""

    def __init__(
        self,
        store: Store,
        publisher: RedisPublisher,
        *,
        log: Any,  # noqa: ANN401 - a structlog logger
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.refresh_seconds = refresh_seconds
        self._log = log
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._recover = True  # first of all: make Redis hold everything
        self.healthy = False
        self.failures = 0
        self._background = Background(self._run, "relaypass-outbox")

    def start(self) -> None:
        """Start draining in the background."""
        self._background.start()

    def close(self) -> None:
        """Stop the background thread."""
        self._background.stop(timeout=5, wake=self._wake)

    def notify(self) -> None:
        """Something was committed: drain soon."""
        self._wake.set()

    def flush(self, timeout: float = 1.0) -> bool:
        """Try to drain now; whether everything committed so far has reached Redis.

        Never raises: a committed change is answered with success and
        ``published: false`` while Redis is away; the background thread goes on.
        """
        if not self._lock.acquire(timeout=timeout):
            self.notify()
            return False
        try:
            self._drain_locked()
        except (*ERRORS, SQLAlchemyError, OSError):
            self._failed()
            self.notify()
            return False
        finally:
            self._lock.release()
        return True

    def drain(self) -> None:
        """Publish every pending row (raises while Redis or the database is away)."""
        with self._lock:
            self._drain_locked()

    # ------------------------------------------------------------ internals

    def _drain_locked(self) -> None:
        if self._recover:
            self._republish_everything()
            self._recover = False
        while True:
            rows = self.store.pending_outbox()
            if not rows:
                break
            keyset = False
            for _, kind, event in rows:
                publish = self._publishers.get(kind)
                if publish is None:
                    keyset = True
                else:
                    publish(event)
            if keyset:
                self._publish_keyset()
            self.store.mark_published([row_id for row_id, _, _ in rows])
        if not self.healthy:
            self._log.info("outbox.published", state="redis reachable")
        self.healthy = True

    @property
    def _publishers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        """How each outbox kind reaches Redis (a key-set change: the whole set, once)."""
        return {
            "revoke": self._revoke,
            "resource": self.publisher.publish_resource,
            "room": self.publisher.publish_room,
            "limits": self.publisher.publish_limits,
        }

    def _republish_everything(self) -> None:
        self._publish_keyset(force=True)
        self.publisher.replace_resources(self.store.all_resources())
        for event in self.store.standing_revocations():
            self._revoke(event)
        for event in self.store.standing_room_events():
            self.publisher.publish_room(event)
        self.publisher.replace_limits(self.store.all_org_limits())

    def _publish_keyset(self, *, force: bool = False) -> None:
        version = VERSION_BASE + self.store.keyset_version()
        self.publisher.publish_keyset(self.store.published_keys(), version=version, force=force)

    def _revoke(self, event: dict[str, Any]) -> None:
        kind, value = event.get("kind"), event.get("value")
        if not isinstance(kind, str) or not isinstance(value, str):
            return
        org, tenant, until = event.get("org"), event.get("tenant"), event.get("until")
        self.publisher.publish_revocation(
            kind,
            value,
            org=org if isinstance(org, str) else None,
            tenant=tenant if isinstance(tenant, str) else None,
            until=until if isinstance(until, int | float) else None,
        )

    def _failed(self) -> None:
        if self.healthy:
            self._log.warning("outbox.unpublished", state="redis unreachable; retrying")
        self.healthy = False
        self.failures += 1
        self._recover = True  # Redis may come back empty

    def _refresh(self) -> None:
        """Time moves keys between states; a Redis that restarted empty needs everything."""
        stored = self.publisher.stored_digest()
        if stored is None:
            with self._lock:
                self._recover = True
                self._drain_locked()
            return
        if stored != self.publisher.digest(self.store.published_keys()):
            self.store.enqueue_keyset()
            self.drain()

    def _run(self) -> None:
        failures = 0
        next_refresh = time.monotonic() + self.refresh_seconds
        while not self._background.stopping.is_set():
            try:
                self.drain()
                if time.monotonic() >= next_refresh:
                    self._refresh()
                    next_refresh = time.monotonic() + self.refresh_seconds
            except (*ERRORS, SQLAlchemyError, OSError):
                self._failed()
                failures += 1
                self._background.stopping.wait(_BACKOFF.compute(failures))
                continue
            failures = 0
            self._wake.wait(timeout=1.0)
            self._wake.clear()
