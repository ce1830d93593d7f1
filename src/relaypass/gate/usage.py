"""Usage events: what every session did, for the control plane's rollups.

Every adapter connects through one :class:`~relaypass.gate.Gate`, so the gate
emits the events: ``started``, ``ended`` (reason, seconds, bytes where the
adapter knows them), ``refused`` (the stable code), and for the room sessions
it holds ``waiting``, ``admitted``, ``denied``, ``removed``,
``grant_changed`` and ``room_ended`` (a moderator's session ended the room).
Emitting appends one tuple to a bounded deque: no lock, no I/O, nothing that
can block the connect path (``bench/gate.py`` measures it).

:class:`RedisUsageShipper` moves them off the machine: every ``flush_seconds``
it writes what accumulated as one entry of the Redis stream
``<prefix>:usage`` (a batch per entry, its id ``<node>:<seq>``), and every
``snapshot_seconds`` the gate's live sessions per org and tenant into the hash
``<prefix>:live`` (``usage.live`` reads it; the control plane samples it for
peak concurrency). While Redis is away the events wait in the deque; past its
capacity the newest are dropped and counted (``relaypass_gate_usage_dropped``),
never blocking a connect.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, final

import redis
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from relaypass._redis import ERRORS, keyspace, redis_client

if TYPE_CHECKING:
    from collections.abc import Iterator

    from relaypass.gate.session import Gate

__all__ = ["EVENT_KINDS", "RedisUsageShipper", "UsageEvents", "default_node"]

#: Every kind of usage event a gate emits (``live`` is the snapshot, kept apart).
EVENT_KINDS: Final = frozenset(
    {
        "started",
        "ended",
        "refused",
        "waiting",
        "admitted",
        "denied",
        "removed",
        "grant_changed",
        "room_ended",
    }
)
#: Events per stream entry: one XADD carries a batch.
_PER_ENTRY: Final = 500
#: The stream keeps about this many entries (batches) for late consumers.
_STREAM_MAXLEN: Final = 200_000

#: One event: kind, org, tenant, unix seconds, detail (a small dict, or None).
Event = tuple[str, str | None, str | None, float, dict[str, Any] | None]


def default_node() -> str:
    """The name of this process among the gates: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@final
class UsageEvents:
    """A gate's usage events, waiting to be shipped. Appends are lock-free (``deque``)."""

    __slots__ = ("_clock", "_queue", "capacity", "dropped", "emitted", "shipped")

    def __init__(self, *, capacity: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._queue: collections.deque[Event] = collections.deque()
        self._clock = clock
        self.capacity = capacity
        self.dropped = 0
        self.emitted = 0
        #: Events a shipper got to Redis.
        self.shipped = 0

    def emit(
        self,
        kind: str,
        org: str | None,
        tenant: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record one event; past capacity it is dropped and counted."""
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            return
        self._queue.append((kind, org, tenant, self._clock(), detail))
        self.emitted += 1

    def take(self, limit: int = 50_000) -> list[Event]:
        """Up to ``limit`` of the oldest events, removed."""
        out: list[Event] = []
        queue = self._queue
        while len(out) < limit:
            try:
                out.append(queue.popleft())
            except IndexError:
                break
        return out

    def give_back(self, events: list[Event]) -> None:
        """Events a failed shipment took, back at the front (the newest beyond capacity dropped)."""
        self._queue.extendleft(reversed(events))
        while len(self._queue) > self.capacity:
            self._queue.pop()
            self.dropped += 1

    def __len__(self) -> int:
        return len(self._queue)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """``relaypass_gate_usage_*`` in ``/metrics``: emitted, shipped, waiting, dropped."""
        registry.register(_UsageCollector(self))


def event_record(event: Event) -> dict[str, Any]:
    """The JSON form of one event in a stream entry."""
    kind, org, tenant, at, detail = event
    record: dict[str, Any] = {"k": kind, "o": org, "t": tenant, "at": round(at, 3)}
    if detail:
        seconds = detail.get("seconds")
        if isinstance(seconds, float):  # rounded here, off the connect path
            detail = {**detail, "seconds": round(seconds, 3)}
        record["d"] = {k: v for k, v in detail.items() if v is not None}
    return record


@final
class RedisUsageShipper:
    """Ships a gate's usage events to ``<prefix>:usage``, its live counts to ``<prefix>:live``."""

    def __init__(
        self,
        url: str,
        gate: Gate,
        *,
        prefix: str = "relaypass",
        node: str | None = None,
        flush_seconds: float = 0.5,
        snapshot_seconds: float = 10.0,
    ) -> None:
        self._client: redis.Redis = redis_client(url, socket_timeout=5)
        self._gate = gate
        if gate.usage is None:
            gate.usage = UsageEvents()
        self.events = gate.usage
        self.prefix = keyspace(self._client, prefix)
        self.node = node or default_node()
        self.flush_seconds = flush_seconds
        self.snapshot_seconds = snapshot_seconds
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relaypass-usage", daemon=True)

    def start(self) -> None:
        """Start shipping in the background."""
        self._thread.start()

    def flush(self) -> int:
        """Ship what waits now; the number of events that reached Redis (0 on failure)."""
        sent = 0
        while True:
            events = self.events.take()
            if not events:
                return sent
            pipe = self._client.pipeline(transaction=False)
            for start in range(0, len(events), _PER_ENTRY):
                self._seq += 1
                chunk = [event_record(e) for e in events[start : start + _PER_ENTRY]]
                entry = {"id": f"{self.node}:{self._seq}", "node": self.node,
                         "events": json.dumps(chunk, separators=(",", ":"))}  # fmt: skip
                pipe.xadd(f"{self.prefix}:usage", entry, maxlen=_STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
            try:
                pipe.execute()
            except ERRORS:
                self.events.give_back(events)
                return sent
            sent += len(events)
            self.events.shipped += len(events)

    def snapshot(self) -> dict[str, int]:
        """Write this gate's live sessions per org and tenant to ``<prefix>:live``."""
        counts = self._gate.live_counts()
        wire = {f"{org or ''}\t{tenant or ''}": n for (org, tenant), n in counts.items()}
        quotas = self._gate.quotas
        if quotas is not None:  # the quota counters, from the true count
            per_org: dict[str | None, int] = {}
            for (org, _), n in counts.items():
                per_org[org] = per_org.get(org, 0) + n
            quotas.resync(per_org)
        document = json.dumps({"at": time.time(), "every": self.snapshot_seconds,
                               "counts": wire, "profile": self._gate.profile})  # fmt: skip
        try:
            self._client.hset(f"{self.prefix}:live", self.node, document)
        except ERRORS:
            return wire
        return wire

    def close(self) -> None:
        """Ship what is left (once), leave the live table, and stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.flush()
        with contextlib.suppress(*ERRORS):
            self._client.hdel(f"{self.prefix}:live", self.node)
        self._client.close()

    def _run(self) -> None:
        next_snapshot = 0.0
        while not self._stop.wait(self.flush_seconds):
            self.flush()
            if time.monotonic() >= next_snapshot:
                self.snapshot()
                next_snapshot = time.monotonic() + self.snapshot_seconds


class _UsageCollector(Collector):
    def __init__(self, events: UsageEvents) -> None:
        self._events = events

    def collect(self) -> Iterator[Metric]:
        events = self._events
        yield CounterMetricFamily(
            "relaypass_gate_usage_emitted", "Usage events emitted", value=events.emitted
        )
        yield CounterMetricFamily(
            "relaypass_gate_usage_shipped", "Usage events written to Redis",
            value=events.shipped,
        )  # fmt: skip
        yield CounterMetricFamily(
            "relaypass_gate_usage_dropped",
            "Usage events dropped because the buffer was full (Redis away too long)",
            value=events.dropped,
        )
        yield GaugeMetricFamily(
            "relaypass_gate_usage_waiting", "Usage events waiting to be shipped", value=len(events)
        )
