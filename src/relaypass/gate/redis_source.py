"""Keys and revocations from the control plane's Redis (refreshed every 30 s).

Reads the versioned key set the control plane keeps at ``<prefix>:jwks``,
re-reads it every ``refresh_seconds`` and at once when ``<prefix>:events``
announces a change, hydrates standing revocations from ``<prefix>:revoked``,
and hands every revocation event to ``on_revoke`` (typically
:meth:`Gate.apply_revocation`). A lost connection is retried with backoff and
the subscription re-established; known keys are never dropped meanwhile, and
the periodic refresh bounds the damage of a lost message to one interval.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, final

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.client import PubSub

from relaypass._keyset import KeySet
from relaypass._redis import ERRORS, announce, keyspace, listen, next_message, redis_client
from relaypass.errors import InvalidKeyError
from relaypass.gate.quotas import Quotas
from relaypass.gate.usage import default_node
from relaypass.profiles.room_events import (
    ROSTER_TTL_SECONDS,
    lobby_field,
    read_roster,
    roster_key,
    standing_field,
)

if TYPE_CHECKING:
    from relaypass.gate.session import Gate

__all__ = ["RedisKeySource"]

#: redis-py's backoff between reconnection attempts: 0.1 s doubling, with jitter, at most 0.5 s.
#: (The waits stay interruptible by ``close()``, which redis-py's own ``Retry`` sleeps are not.)
_BACKOFF = ExponentialWithJitterBackoff(cap=0.5, base=0.1)

_LEARN_COOLDOWN: Final = 1.0
#: One participant of this gate's roster: (org, room), participant, entry.
_RosterEntry = tuple[tuple[str | None, str], str, dict[str, Any]]


@final
class RedisKeySource:
    """A :class:`~relaypass.gate.KeySource` fed by Redis, with a listener thread."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "relaypass",
        refresh_seconds: float = 30.0,
        on_revoke: Callable[[dict[str, Any]], object] | None = None,
        start: bool = True,
    ) -> None:
        self._client: redis.Redis = redis_client(url, socket_timeout=5, decode_responses=True)
        self.prefix = keyspace(self._client, prefix)
        self.refresh_seconds = refresh_seconds
        self.on_revoke = on_revoke
        #: Resource ownership (TeleQuick): one change, and the whole table on (re)connect.
        self.on_resource: Callable[[dict[str, Any]], object] | None = None
        self.on_resources: Callable[[dict[tuple[str, str, str], str]], object] | None = None
        #: Rooms live: one event, and the standing ones on (re)connect.
        self.on_room: Callable[[dict[str, Any]], object] | None = None
        self.on_room_state: Callable[[list[dict[str, Any]]], object] | None = None
        #: This gate's roster (see :mod:`relaypass.profiles.room_events`), reported again on
        #: every (re)connect so a Redis that lost it learns it back.
        self.roster_key: str | None = None
        self.on_roster: Callable[[], list[_RosterEntry]] | None = None
        #: The attached gate's quotas, reloaded on every change.
        self.quotas: Quotas | None = None
        self.version = 0
        self._keys = KeySet([])
        self._confirmed_at = -math.inf
        self._lock = threading.Lock()
        self._last_learn = 0.0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.reload()
        self._thread = threading.Thread(
            target=self._listen, name="relaypass-redis-keys", daemon=True
        )
        if start:
            self._thread.start()

    def start(self) -> None:
        """Start the listener (after ``start=False``, e.g. once ``on_revoke`` is wired)."""
        if not self._thread.is_alive():
            self._thread.start()

    def keyset(self) -> KeySet:
        """The keys known now."""
        return self._keys

    def learn(self, kid: str) -> bool:
        """Re-read the set (at most once a second)."""
        if kid in self._keys:
            return True
        now = time.monotonic()
        if now - self._last_learn >= _LEARN_COOLDOWN:
            self._last_learn = now
            self.reload()
        return kid in self._keys

    def reload(self) -> bool:
        """Read the stored set; whether a newer version was taken."""
        try:
            raw = self._client.get(f"{self.prefix}:jwks")
        except ERRORS:
            return False
        if raw is None:
            return False
        try:
            document = json.loads(str(raw))
            version = int(document["version"])
            if version <= self.version:
                self._confirmed_at = time.monotonic()  # what we hold is still current
                return False
            keys = KeySet.from_jwks(
                {k: document[k] for k in ("keys", "issuers", "service_accounts") if k in document}
            )
        except (ValueError, KeyError, TypeError, InvalidKeyError):
            return False  # keep what we know
        self._confirmed_at = time.monotonic()
        with self._lock:
            if version <= self.version:
                return False
            self.version, self._keys = version, keys
        return True

    def age_seconds(self) -> float:
        """Seconds since Redis last confirmed the set this gate holds (inf: never)."""
        return time.monotonic() - self._confirmed_at

    def _stored_hash(self, name: str) -> dict[Any, Any] | None:
        """One of the control plane's hashes, or ``None`` while Redis is away."""
        try:
            return dict(self._client.hgetall(f"{self.prefix}:{name}"))
        except ERRORS:
            return None

    def hydrate_revocations(self) -> int:
        """Replay the standing revocations to ``on_revoke``."""
        if self.on_revoke is None or (events := self._stored_hash("revoked")) is None:
            return 0
        for raw in events.values():
            self._revoke(str(raw))
        return len(events)

    def hydrate_resources(self) -> int:
        """Hand the whole resource-ownership table to ``on_resources``."""
        if self.on_resources is None or (raw := self._stored_hash("resources")) is None:
            return 0
        owners: dict[tuple[str, str, str], str] = {}
        for field, tenant in raw.items():
            org, kind, rid = ([*str(field).split("/", 2), "", ""])[:3]
            if org and kind and rid:
                owners[org, kind, rid] = str(tenant)
        self.on_resources(owners)
        return len(owners)

    def hydrate_rooms(self) -> int:
        """Hand the standing room events (admissions, changes, removals, ends) to the gate."""
        if self.on_room_state is None or (raw := self._stored_hash("rooms")) is None:
            return 0
        events = [e for e in (_json_object(str(v)) for v in raw.values()) if e is not None]
        self.on_room_state(events)
        return len(events)

    def publish_room(self, event: dict[str, Any]) -> None:
        """Announce a gate's own room event to the other gates (and keep it if it stands).

        A moderator's decision on this gate must reach the joiner's gate; a lobby
        entry is kept while someone waits, for the control plane's list. Never
        raises: while Redis is away the decision still holds on this gate.
        """
        pipe = self._client.pipeline(transaction=True)
        field = standing_field(event)
        if field is not None:
            pipe.hset(f"{self.prefix}:rooms", field, json.dumps(event))
        participant, room = event.get("participant"), event.get("room")
        if isinstance(participant, str) and isinstance(room, str):
            lobby = lobby_field(event.get("org"), room, participant)
            if event.get("action") == "waiting":
                pipe.hset(f"{self.prefix}:lobby", lobby, json.dumps(event))
            elif event.get("action") in {"left", "admit", "deny"}:
                pipe.hdel(f"{self.prefix}:lobby", lobby)
        announce(pipe, f"{self.prefix}:events", json.dumps(event))
        try:
            pipe.execute()
        except ERRORS:
            return

    def report_roster(
        self, key: tuple[str | None, str], participant: str, entry: dict[str, Any] | None
    ) -> None:
        """Keep (or drop) one participant in this gate's roster. Never raises."""
        if self.roster_key is None:
            return
        field = lobby_field(key[0], key[1], participant)
        pipe = self._client.pipeline(transaction=False)
        if entry is None:
            pipe.hdel(self.roster_key, field)
        else:
            pipe.hset(self.roster_key, field, json.dumps(entry))
        pipe.expire(self.roster_key, ROSTER_TTL_SECONDS)
        try:
            pipe.execute()
        except ERRORS:
            return

    def resync_roster(self) -> int:
        """Report this gate's whole roster again (after a (re)connect), renewing its expiry."""
        if self.roster_key is None or self.on_roster is None:
            return 0
        entries = self.on_roster()
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(self.roster_key)
        if entries:
            mapping = {lobby_field(k[0], k[1], p): json.dumps(e) for k, p, e in entries}
            pipe.hset(self.roster_key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(self.roster_key, ROSTER_TTL_SECONDS)
        try:
            pipe.execute()
        except ERRORS:
            return 0
        return len(entries)

    def renew_roster(self) -> None:
        """Keep this gate's roster from expiring; report it whole if Redis lost it."""
        if self.roster_key is None or self.on_roster is None:
            return
        if not self._client.expire(self.roster_key, ROSTER_TTL_SECONDS) and self.on_roster():
            self.resync_roster()

    def read_roster(self, key: tuple[str | None, str]) -> list[dict[str, Any]] | None:
        """Every gate's roster of one room; ``None`` while Redis is away (the gate's own then)."""
        try:
            return read_roster(self._client, self.prefix, key[0], key[1])
        except ERRORS:
            return None

    def attach(self, gate: Gate, *, node: str | None = None) -> None:
        """Wire a gate to this source: revocations, resources, rooms and quotas, both ways.

        ``node`` names this gate among the others (quota counters, usage; ``host:pid``).
        """
        self.on_revoke = gate.apply_revocation
        self.on_resource = gate.resources.apply
        self.on_resources = gate.resources.replace
        self.on_room = gate.rooms.apply
        self.on_room_state = gate.rooms.hydrate
        gate.rooms.publish = self.publish_room
        self.roster_key = roster_key(self.prefix, gate.rooms.gate_id)
        self.on_roster = gate.rooms.roster
        gate.rooms.report = self.report_roster
        gate.rooms.roster_reader = self.read_roster
        gate.quotas = self.quotas = Quotas(self._client, prefix=self.prefix,
                                           node=node or default_node())  # fmt: skip

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block until the listener has subscribed."""
        return self._ready.wait(timeout)

    def close(self) -> None:
        """Stop the listener."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._client.close()

    def _revoke(self, raw: str) -> None:
        if self.on_revoke is None:
            return
        try:
            event = json.loads(raw)
        except ValueError:
            return
        if isinstance(event, dict) and event.get("type") == "revoke":
            self.on_revoke(event)

    def _listen(self) -> None:
        failures = 0
        while not self._stop.is_set():
            pubsub: PubSub | None = None
            try:
                pubsub = listen(self._client, f"{self.prefix}:events")
                self._resync()
                self._ready.set()
                failures = 0
                subscribed = False
                next_refresh = time.monotonic() + self.refresh_seconds
                next_roster = time.monotonic() + ROSTER_TTL_SECONDS / 3
                while not self._stop.is_set():
                    heard = next_message(pubsub, timeout=0.2)
                    if heard is not None and heard[0] == "message":
                        self._dispatch(heard[1])
                    elif heard is not None and subscribed:
                        # Subscribed again by redis-py after a lost connection (a
                        # failover): announcements made meanwhile were not heard.
                        self._resync()
                    elif heard is not None:
                        subscribed = True  # the first confirmation: read already
                    if time.monotonic() >= next_refresh:
                        # Also the safety net for a lost pub/sub message: revocations
                        # are re-read, so the worst case is one refresh interval.
                        self.reload()
                        self.hydrate_revocations()
                        next_refresh = time.monotonic() + self.refresh_seconds
                    if time.monotonic() >= next_roster:
                        self.renew_roster()
                        next_roster = time.monotonic() + ROSTER_TTL_SECONDS / 3
            except ERRORS:
                failures += 1
                self._stop.wait(_BACKOFF.compute(failures))  # back within half a second of Redis
            finally:
                if pubsub is not None:
                    pubsub.close()

    def _resync(self) -> None:
        """Read everything an announcement could have said (after a (re)subscription)."""
        self.reload()
        self.hydrate_revocations()
        self.hydrate_resources()
        self.hydrate_rooms()
        self.resync_roster()
        if self.quotas is not None:
            self.quotas.load()

    def _dispatch(self, raw: str) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if event.get("type") == "jwks":
            self.reload()
        elif event.get("type") == "revoke":
            self._revoke(raw)
        elif event.get("type") == "resource" and self.on_resource is not None:
            self.on_resource(event)
        elif event.get("type") == "resources":
            self.hydrate_resources()
        elif event.get("type") == "room" and self.on_room is not None:
            self.on_room(event)
        elif event.get("type") == "limits" and self.quotas is not None:
            self.quotas.load()


def _json_object(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
