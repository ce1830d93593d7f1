"""The control plane's usage recorder: the gates' events into rollups, mints, live sessions.

- **Mints** are counted in process and added to the rollups every second (with
  or without Redis).
- **Gate events** arrive on the Redis stream ``<prefix>:usage`` (see
  :mod:`relaypass.gate.usage`) and are read by the consumer group
  ``relaypass-usage``: each control-plane replica is one consumer, so replicas
  share the work. A batch is applied to the rollups together with the
  consumer's mark (its last applied entry) and acknowledged after the commit.
  Entries a dead replica left pending are claimed after a minute: those at or
  below its mark were applied already and are only acknowledged; the rest are
  applied under a claim consumer of their own, so nothing is lost or counted
  twice across a ``kill -9``.
- **Live sessions** are what each gate last wrote to ``<prefix>:live``;
  sampled every ``snapshot_seconds`` into ``peak_sessions`` (a maximum, so
  every replica may sample), and read by ``usage.live``.
- **Retention**: minutes older than ``minutes_for`` fold into hours, hours
  older than ``hours_for`` into days, days older than ``days_for`` are dropped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Final, final

import redis
import structlog
from sqlalchemy.orm import Session

from relaypass._background import Background
from relaypass._redis import announce, disconnect, keyspace, redis_client
from relaypass.errors import QuotaExceededError, RateLimitedError
from relaypass.server.db.usage import DAY, MINUTE, ORG_TOTAL, Figure, UsageStore, bucket_of
from relaypass.server.db.webhooks import enqueue
from relaypass.server.ratelimit import MintRateLimiter

__all__ = ["GROUP", "UsageRecorder", "figures_of", "webhooks_of"]

GROUP: Final = "relaypass-usage"
#: Events counted under a name of their own (``ended`` also adds time and bytes).
_COUNTED: Final = {
    "started": "connects",
    "ended": "ended",
    "refused": "refused",
    "waiting": "lobby_waiting",
    "admitted": "lobby_admitted",
    "denied": "lobby_denied",
    "removed": "removed",
    "grant_changed": "grant_changed",
}
#: A pending entry idle this long belongs to a consumer that is gone.
_CLAIM_IDLE_MS: Final = 60_000
#: Rollup rows one transaction of a mint flush writes: the flush holds SQLite's write lock,
#: which the audit appends of mints in flight wait for (1,000 orgs' rows held it ~12 ms).
_FLUSH_ROWS: Final = 100
_LIVE_STALE_FACTOR: Final = 3

_log = structlog.get_logger("relaypass.server.usage")


def _minute(at: float) -> int:
    return bucket_of(at, MINUTE)


def figures_of(events: list[dict[str, Any]]) -> list[Figure]:
    """The rollup figures of a batch of gate events (events of no org are not an org's)."""
    out: list[Figure] = []
    for event in events:
        org, kind = event.get("o"), event.get("k")
        at = event.get("at")
        if not isinstance(org, str) or not org or kind not in _COUNTED:
            continue
        if not isinstance(at, int | float):
            continue
        raw_tenant, raw_detail = event.get("t"), event.get("d")
        tenant = raw_tenant if isinstance(raw_tenant, str) else ""
        minute = _minute(at)
        out.append(Figure(org, tenant, minute, _COUNTED[kind], 1))
        detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
        if kind == "refused" and isinstance(detail.get("code"), str):
            out.append(Figure(org, tenant, minute, f"refused:{detail['code'][:40]}", 1))
        if kind == "ended":
            seconds = detail.get("seconds")
            if isinstance(seconds, int | float) and seconds >= 0:
                out.append(Figure(org, tenant, minute, "session_ms", int(seconds * 1000)))
            for field, metric in (("sent", "bytes_sent"), ("received", "bytes_received")):
                value = detail.get(field)
                if type(value) is int and value >= 0:
                    out.append(Figure(org, tenant, minute, metric, value))
    return out


#: Gate events -> the webhook event type they are announced as (room sessions: participants).
_ANNOUNCED: Final = {
    "waiting": "participant.waiting",
    "admitted": "participant.admitted",
    "denied": "participant.denied",
    "removed": "participant.removed",
    "room_ended": "room.ended",
}


def webhooks_of(events: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """The webhook events of a batch of gate events: (org, type, data)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for event in events:
        org, kind = event.get("o"), event.get("k")
        if not isinstance(org, str) or not org or not isinstance(kind, str):
            continue
        raw = event.get("d")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
        data: dict[str, Any] = {"tenant": event.get("t"), "at": event.get("at")}
        room = detail.get("room")
        if room is not None:
            data |= {"roomId": room, "participantId": detail.get("participant")}
        if kind == "started":
            out.append((org, "participant.joined" if room else "session.started", data))
        elif kind == "ended":
            data |= {k: detail.get(k) for k in ("reason", "seconds", "sent", "received")}
            out.append((org, "participant.left" if room else "session.ended", data))
        elif kind in _ANNOUNCED:
            out.append((org, _ANNOUNCED[kind], data))
    return out


def _quota_refusal(event: dict[str, Any]) -> bool:
    detail = event.get("d")
    return (
        event.get("k") == "refused"
        and isinstance(detail, dict)
        and detail.get("code") == "QUOTA_EXCEEDED"
    )


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@final
class UsageRecorder:
    """Mints, the gates' usage stream and their live table, into the rollups."""

    def __init__(
        self,
        store: UsageStore,
        *,
        redis_url: str | None = None,
        prefix: str = "relaypass",
        snapshot_seconds: float = 10.0,
        minutes_for: int = 2 * DAY,
        hours_for: int = 60 * DAY,
        days_for: int = 400 * DAY,
    ) -> None:
        self.store = store
        self._client: redis.Redis | None = (
            redis_client(redis_url, socket_timeout=5, decode_responses=True) if redis_url else None
        )
        self.prefix = keyspace(self._client, prefix)
        self.stream = f"{self.prefix}:usage"
        self.snapshot_seconds = snapshot_seconds
        self.retention = {"minutes_for": minutes_for, "hours_for": hours_for,
                          "days_for": days_for}  # fmt: skip
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._mints: Counter[tuple[str, str, int]] = Counter()
        self._mints_lock = threading.Lock()
        self._background = Background(self._run, "relaypass-usage")
        self._group_ready = False
        self.applied = 0
        #: A pending entry idle this long (ms) belongs to a consumer that is gone.
        self.claim_idle_ms = _CLAIM_IDLE_MS
        #: Called after a batch queued webhooks (the deliverer looks at once).
        self.on_queued: Callable[[], None] | None = None
        #: Every org's quotas (from the store), refreshed with each sample.
        self.limits_source: Callable[[], dict[str, dict[str, Any]]] | None = None
        self.org_limits: dict[str, dict[str, Any]] = {}
        #: Orgs past a monthly quota -> which one (refused at connect and at mint).
        self.blocked: dict[str, str] = {}
        self._quota_announced: dict[str, int] = {}
        #: Queues one webhook event in a transaction of its own (the store's ``emit_webhook``).
        self.announce: Callable[[str, str, dict[str, Any]], object] | None = None
        self._org_mints = MintRateLimiter(
            1, window_seconds=60, redis_url=redis_url, prefix=f"{prefix}:org-mints"
        )

    # ------------------------------------------------------------ mints

    def mint(self, org: str, tenant: str | None) -> None:
        """Count one minted token (added to the rollups within a second)."""
        key = (org, tenant or "", _minute(time.time()))
        with self._mints_lock:
            self._mints[key] += 1

    def flush_mints(self) -> int:
        """Add the mints counted so far to the rollups."""
        with self._mints_lock:
            counted, self._mints = self._mints, Counter()
        rows = list(counted.items())
        for start in range(0, len(rows), _FLUSH_ROWS):  # sums: each slice stands alone
            self.store.apply(
                Figure(o, t, m, "mints", n) for (o, t, m), n in rows[start : start + _FLUSH_ROWS]
            )
        return sum(counted.values())

    # ------------------------------------------------------------ the stream

    def _ensure_group(self, client: redis.Redis) -> None:
        if self._group_ready:
            return
        try:
            client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def consume(self, *, block_ms: int = 1000, count: int = 50) -> int:
        """Apply the next entries delivered to this consumer; events applied."""
        client = self._client
        if client is None:
            return 0
        self._ensure_group(client)
        answer: Any = client.xreadgroup(
            GROUP, self.name, {self.stream: ">"}, count=count, block=block_ms
        )
        entries = [e for _, stream_entries in (answer or []) for e in stream_entries]
        return self._apply_entries(client, entries, self.name)

    def _apply_entries(
        self, client: redis.Redis, entries: list[tuple[str, dict[str, str]]], consumer: str
    ) -> int:
        if not entries:
            return 0
        events: list[dict[str, Any]] = []
        for _, fields in entries:
            try:
                batch = json.loads(fields.get("events", "[]"))
            except ValueError:
                continue  # not ours; acknowledged with the rest
            if isinstance(batch, list):
                events.extend(e for e in batch if isinstance(e, dict))
        announced = webhooks_of(events)
        now_ms = int(time.time() * 1000)
        announced += [
            (org, "quota.reached", {"at": now_ms / 1000, "where": "connect"})
            for org in sorted({str(e["o"]) for e in events if _quota_refusal(e) and e.get("o")})
            if self._first_this_minute(org)
        ]

        def queue(session: Session) -> None:
            for org, event_type, data in announced:
                enqueue(session, org, event_type, data, now_ms)

        self.store.apply(figures_of(events), consumer=consumer, last_id=entries[-1][0],
                         also=queue if announced else None)  # fmt: skip
        client.xack(self.stream, GROUP, *[entry_id for entry_id, _ in entries])
        if announced and self.on_queued is not None:
            self.on_queued()
        self.applied += len(events)
        return len(events)

    def claim_abandoned(self) -> int:
        """Entries a gone consumer left pending: acknowledged if applied, else applied now."""
        client = self._client
        if client is None:
            return 0
        self._ensure_group(client)
        pending = client.xpending_range(
            self.stream, GROUP, min="-", max="+", count=500, idle=self.claim_idle_ms
        )
        owners: dict[str, list[str]] = {}
        for item in pending:
            if item["consumer"] != self.name:
                owners.setdefault(str(item["consumer"]), []).append(str(item["message_id"]))
        if not owners:
            return 0
        marks = self.store.marks()
        applied = 0
        for owner, ids in owners.items():
            mark = marks.get(owner)
            done = [i for i in ids if mark is not None and _id_key(i) <= _id_key(mark)]
            if done:
                client.xack(self.stream, GROUP, *done)
            rest = sorted((i for i in ids if i not in done), key=_id_key)
            if rest:
                claimer = f"{self.name}/claim-{uuid.uuid4().hex[:6]}"
                claimed: Any = client.xclaim(
                    self.stream, GROUP, claimer, self.claim_idle_ms, list[Any](rest)
                )
                applied += self._apply_entries(client, sorted(claimed, key=lambda e: _id_key(e[0])),
                                               claimer)  # fmt: skip
                client.xgroup_delconsumer(self.stream, GROUP, claimer)
            if not client.xpending_range(self.stream, GROUP, "-", "+", 1, consumername=owner):
                client.xgroup_delconsumer(self.stream, GROUP, owner)
        return applied

    # ------------------------------------------------------------ live

    def live(self, org: str | None = None) -> list[dict[str, Any]]:
        """Each gate's live sessions (``org``: that org's only), freshest gates only."""
        client = self._client
        if client is None:
            return []
        now = time.time()
        gates: list[dict[str, Any]] = []
        for node, raw in sorted(client.hgetall(f"{self.prefix}:live").items()):
            try:
                document = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(document, dict):
                continue
            every = document.get("every")
            every = float(every) if isinstance(every, int | float) and every > 0 else 10.0
            if float(document.get("at") or 0) < now - _LIVE_STALE_FACTOR * every:
                continue  # a gate that stopped reporting
            raw_counts = document.get("counts")
            counts: dict[str, Any] = raw_counts if isinstance(raw_counts, dict) else {}
            sessions = []
            for key, count in sorted(counts.items()):
                key_org, _, tenant = str(key).partition("\t")
                if (org is None or key_org == org) and type(count) is int:
                    sessions.append({"org": key_org, "tenant": tenant, "sessions": count})
            if org is None or sessions:
                gates.append({"node": str(node), "profile": str(document.get("profile") or ""),
                              "at": float(document["at"]), "sessions": sessions})  # fmt: skip
        return gates

    def sample(self) -> int:
        """Raise this minute's peaks to the live sessions the gates report now."""
        per_tenant: Counter[tuple[str, str]] = Counter()
        per_org: Counter[str] = Counter()
        gates = self.live()
        self._forget_gone_gates({g["node"] for g in gates})
        for gate in gates:
            for row in gate["sessions"]:
                if row["org"]:
                    per_tenant[(row["org"], row["tenant"])] += row["sessions"]
                    per_org[row["org"]] += row["sessions"]
        minute = _minute(time.time())
        figures = [Figure(o, t, minute, "peak_sessions", n) for (o, t), n in per_tenant.items()]
        figures += [Figure(o, ORG_TOTAL, minute, "peak_sessions", n) for o, n in per_org.items()]
        if figures:
            self.store.apply(figures)
        return len(figures)

    def _forget_gone_gates(self, fresh: set[str]) -> None:
        """Session-quota counters of gates that stopped reporting no longer count."""
        client = self._client
        if client is None:
            return
        for org, limits in self.org_limits.items():
            if not isinstance(limits.get("max_sessions"), int):
                continue
            key = f"{self.prefix}:quota:{{{org}}}:sessions"
            gone = [node for node in client.hkeys(key) if node not in fresh]
            if gone:
                client.hdel(key, *gone)

    # ------------------------------------------------------------ quotas

    def refresh_limits(self) -> None:
        """Read every org's quotas, and find the orgs past their monthly session minutes."""
        if self.limits_source is not None:
            self.org_limits = self.limits_source()
        now = time.time()
        today = dt.datetime.fromtimestamp(now, dt.UTC)
        month = int(dt.datetime(today.year, today.month, 1, tzinfo=dt.UTC).timestamp())
        blocked: dict[str, str] = {}
        for org, limits in self.org_limits.items():
            cap = limits.get("session_minutes_per_month")
            if not isinstance(cap, int):
                continue
            spent = self.store.query(org, tenant=None, start=month, until=int(now) + 1,
                                     granularity=DAY, metrics=["session_ms"])  # fmt: skip
            if sum(v.get("session_ms", 0) for _, v in spent) >= cap * 60_000:
                blocked[org] = "session minutes"
        self.blocked = blocked
        client = self._client
        if client is None:
            return
        key = f"{self.prefix}:blocked"
        if client.hgetall(key) != blocked:
            pipe = client.pipeline(transaction=True)
            pipe.delete(key)
            if blocked:
                pipe.hset(key, mapping=blocked)  # type: ignore[arg-type]
            announce(pipe, f"{self.prefix}:events", json.dumps({"type": "limits"}))
            pipe.execute()

    def _first_this_minute(self, org: str) -> bool:
        """Whether ``quota.reached`` was not announced for ``org`` this minute (by this replica)."""
        minute = _minute(time.time())
        if self._quota_announced.get(org) == minute:
            return False
        self._quota_announced[org] = minute
        return True

    def check_mint(self, org: str) -> None:
        """Refuse a mint of an org past a quota (``QUOTA_EXCEEDED``), or count it."""
        reason = self.blocked.get(org)
        try:
            if reason is not None:
                msg = f"the org is past its {reason} quota for this month"
                raise QuotaExceededError(msg)  # noqa: TRY301 - announced below, as the other
            limit = self.org_limits.get(org, {}).get("mints_per_minute")
            if isinstance(limit, int):
                try:
                    self._org_mints.hit(org, limit=limit)
                except RateLimitedError:
                    msg = "the org's mints per minute are at their limit"
                    raise QuotaExceededError(msg) from None
        except QuotaExceededError:
            if self.announce is not None and self._first_this_minute(org):
                self.announce(org, "quota.reached", {"at": time.time(), "where": "mint"})
            raise

    # ------------------------------------------------------------ running

    def start(self) -> None:
        """Record in the background (again after :meth:`close`: an app's lifespan may rerun)."""
        self._background.start()

    def close(self) -> None:
        """Stop, adding the last mints (Redis connections are opened again on use)."""
        self._background.stop(timeout=10)
        with contextlib.suppress(Exception):
            self.flush_mints()
        if self._client is not None:
            disconnect(self._client)

    def _run(self) -> None:
        next_sample = next_claim = next_compact = 0.0
        while not self._background.stopping.is_set():
            now = time.monotonic()
            try:
                self.flush_mints()
                if now >= next_compact:
                    self.store.compact(int(time.time()), **self.retention)
                    next_compact = now + 600
                if self._client is None:
                    if now >= next_sample:
                        self.refresh_limits()
                        next_sample = now + self.snapshot_seconds
                    self._background.stopping.wait(1.0)
                    continue
                if now >= next_sample:
                    self.refresh_limits()
                    self.sample()
                    next_sample = now + self.snapshot_seconds
                if now >= next_claim:
                    self.claim_abandoned()
                    next_claim = now + 30
                self.consume(block_ms=1000)
            except Exception as exc:  # noqa: BLE001 - the recorder outlives Redis and DB outages
                _log.warning("usage.recorder_failed", error=type(exc).__name__)
                self._group_ready = False
                self._background.stopping.wait(1.0)
