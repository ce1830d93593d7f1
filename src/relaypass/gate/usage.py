"""Usage events: what every session did, for the control plane's rollups.

Every adapter connects through one :class:`~relaypass.gate.Gate`, so the gate
emits the events: ``started``, ``ended`` (reason, seconds, bytes where the
adapter knows them), ``refused`` (the stable code), and for the room sessions
it holds ``waiting``, ``admitted``, ``denied``, ``removed``,
``grant_changed`` and ``room_ended`` (a moderator's session ended the room).
Emitting appends one tuple to a bounded deque: no lock, no I/O, nothing that
can block the connect path (``bench/gate.py`` measures it).

:class:`~relaypass.gate.shipper.RedisUsageShipper` moves them off the machine: every
``flush_seconds`` it writes what accumulated as one entry of the Redis stream
``<prefix>:usage`` (a batch per entry, its id ``<node>:<seq>``), and every
``snapshot_seconds`` the gate's live sessions per org and tenant into the hash
``<prefix>:live`` (``usage.live`` reads it; the control plane samples it for
peak concurrency). While Redis is away the events wait in the deque; past its
capacity the newest are dropped and counted (``relaypass_gate_usage_dropped``),
never blocking a connect.
"""

from __future__ import annotations

import collections
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, final

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["EVENT_KINDS", "UsageEvents", "default_node", "event_record"]

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
