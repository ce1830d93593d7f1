"""Shipping a gate's usage events and live counts to Redis (see :mod:`relaypass.gate.usage`)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Final, final

import redis

from relaypass._background import Background
from relaypass._redis import ERRORS, keyspace, redis_client
from relaypass.gate.session import Gate
from relaypass.gate.usage import UsageEvents, default_node, event_record

__all__ = ["RedisUsageShipper"]

#: Events per stream entry: one XADD carries a batch.
_PER_ENTRY: Final = 500
#: The stream keeps about this many entries (batches) for late consumers.
_STREAM_MAXLEN: Final = 200_000


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
        self._background = Background(self._run, "relaypass-usage")

    def start(self) -> None:
        """Start shipping in the background."""
        self._background.start()

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
        self._background.stop(timeout=5)
        self.flush()
        with contextlib.suppress(*ERRORS):
            self._client.hdel(f"{self.prefix}:live", self.node)
        self._client.close()

    def _run(self) -> None:
        next_snapshot = 0.0
        while not self._background.stopping.wait(self.flush_seconds):
            self.flush()
            if time.monotonic() >= next_snapshot:
                self.snapshot()
                next_snapshot = time.monotonic() + self.snapshot_seconds
