"""Key-set and revocation publication for gates (as ClutchCall's relays do: a refresh every 30 s).

With Redis configured, the control plane keeps the versioned public key set
at ``<prefix>:jwks`` (a JSON document ``{"version": n, "keys": [...]}``) and
announces every change on the channel ``<prefix>:events``: ``{"type":
"jwks", "version": n}`` after a key-set change and ``{"type": "revoke",
"kind": "kid", "value": ...}`` when a key is revoked. Revocations are also
kept in the hash ``<prefix>:revoked`` so a gate that starts later (or missed a
message) hydrates them. Without Redis, gates read ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Final, final

import redis

from relaypass._keyset import KeySet
from relaypass._redis import announce, keyspace, publish_command, redis_client
from relaypass.profiles.room_events import glob_literal, lobby_field, read_roster, standing_field

__all__ = ["RedisPublisher"]

DEFAULT_PREFIX: Final = "relaypass"

# KEYS: the set, the channel. ARGV: version, document, announcement, force (0/1), and the
# command that announces (SPUBLISH on a cluster).
_SET_IF_NEWER: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local held = tonumber(cjson.decode(current)['version']) or 0
  local offered = tonumber(ARGV[1])
  if held > offered or (held == offered and ARGV[4] ~= '1') then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call(ARGV[5], KEYS[2], ARGV[3])
return 1
"""


@final
class RedisPublisher:
    """Writes the key set and revocations to Redis; idempotent and safe to repeat."""

    __slots__ = ("_client", "_last_version", "_publish", "_set_if_newer", "prefix")

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client: redis.Redis = redis_client(
            url, socket_timeout=2, socket_connect_timeout=1, decode_responses=True
        )
        self.prefix = keyspace(self._client, prefix)
        self._publish = publish_command(self._client)
        self._set_if_newer = self._client.register_script(_SET_IF_NEWER)
        self._last_version = 0  # the newest version this publisher wrote

    @property
    def jwks_key(self) -> str:
        """Where the versioned key set lives."""
        return f"{self.prefix}:jwks"

    @property
    def channel(self) -> str:
        """Where changes are announced."""
        return f"{self.prefix}:events"

    @property
    def revoked_key(self) -> str:
        """The hash of standing revocations."""
        return f"{self.prefix}:revoked"

    @staticmethod
    def digest(keyset: KeySet) -> str:
        """The content digest a stored key set carries."""
        published = keyset.to_jwks()
        return hashlib.sha256(json.dumps(published, sort_keys=True).encode()).hexdigest()

    def stored_digest(self) -> str | None:
        """The digest of the set Redis holds, or ``None`` when it holds none."""
        current = self._client.get(self.jwks_key)
        if current is None:
            return None
        digest = json.loads(current).get("digest")
        return str(digest) if digest is not None else ""

    def publish_keyset(
        self, keyset: KeySet, *, force: bool = False, version: int | None = None
    ) -> int | None:
        """Store and announce the key set; the version written, or ``None`` if nothing was.

        With ``version`` (the control plane's outbox sequence) Redis takes the set
        only if that version is newer than the one it holds (atomically, so two
        replicas never overwrite a newer set with an older one); ``force`` also
        rewrites an equal version. Without it, a set that changed gets the next
        version of a Redis counter, floored at the wall clock in milliseconds.
        """
        published = keyset.to_jwks()
        digest = hashlib.sha256(json.dumps(published, sort_keys=True).encode()).hexdigest()
        if version is not None:
            document = {"version": version, "digest": digest, **published}
            note = json.dumps({"type": "jwks", "version": version})
            written = self._set_if_newer(
                keys=[self.jwks_key, self.channel],
                args=[version, json.dumps(document), note, 1 if force else 0, self._publish],
            )
            return version if written else None
        # Compared with what Redis holds, not with what this process last wrote: a Redis
        # that restarted empty gets the set back on the next refresh.
        current = self._client.get(self.jwks_key)
        if not force and current is not None:
            stored = json.loads(current)
            if stored.get("digest") == digest:
                return None
        # Versions never go backwards, even across a Redis that lost its data (gates
        # take only a newer version): at least the wall clock in milliseconds, and
        # past what this publisher wrote before (a restart within the same millisecond).
        version = int(self._client.incr(f"{self.jwks_key}:version"))
        floor = max(int(time.time() * 1000), self._last_version + 1)
        if version < floor:
            version = floor
            self._client.set(f"{self.jwks_key}:version", version)
        document = {"version": version, "digest": digest, **published}
        pipe = self._client.pipeline(transaction=True)
        pipe.set(self.jwks_key, json.dumps(document))
        announce(pipe, self.channel, json.dumps({"type": "jwks", "version": version}))
        pipe.execute()
        self._last_version = max(self._last_version, version)
        return version

    def publish_revocation(
        self,
        kind: str,
        value: str,
        *,
        before: float | None = None,
        org: str | None = None,
        tenant: str | None = None,
        until: float | None = None,
    ) -> None:
        """Record and announce a revocation (``until``: when no token it matches is left).

        ``kind`` is ``kid``, ``jti``, ``sub``, ``tenant``, ``org`` or ``iss`` (an
        API key). ``org`` (and ``tenant``) confine it: names are unique within
        an org only, so one org's revocation never reaches another's sessions.
        """
        event: dict[str, Any] = {"type": "revoke", "kind": kind, "value": value, "at": time.time()}
        if before is not None:
            event["before"] = before
        if org is not None:
            event["org"] = org
        if tenant is not None:
            event["tenant"] = tenant
        if until is not None:
            event["until"] = until
        field = f"{kind}:{value}" if org is None else f"{kind}:{org}/{tenant or ''}:{value}"
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self.revoked_key, field, json.dumps(event))
        announce(pipe, self.channel, json.dumps(event))
        pipe.execute()

    @property
    def resources_key(self) -> str:
        """The hash of resource owners: ``org/kind/id`` -> tenant."""
        return f"{self.prefix}:resources"

    def publish_resource(self, event: dict[str, Any]) -> None:
        """Record and announce one ownership change (``op`` assign or release)."""
        field = f"{event['org']}/{event['kind']}/{event['id']}"
        pipe = self._client.pipeline(transaction=True)
        if event.get("op") == "assign":
            pipe.hset(self.resources_key, field, str(event["tenant"]))
        else:
            pipe.hdel(self.resources_key, field)
        announce(pipe, self.channel, json.dumps({"type": "resource", **event}))
        pipe.execute()

    def replace_resources(self, owners: dict[str, str]) -> None:
        """Write the whole ownership table (after Redis came back) and tell gates to reload."""
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(self.resources_key)
        if owners:
            mapping: dict[str | bytes, str | bytes] = dict(owners.items())
            pipe.hset(self.resources_key, mapping=mapping)  # type: ignore[arg-type]
        announce(pipe, self.channel, json.dumps({"type": "resources"}))
        pipe.execute()

    def publish_room(self, event: dict[str, Any]) -> None:
        """Keep a standing room decision for late gates, and announce it."""
        pipe = self._client.pipeline(transaction=True)
        field = standing_field(event)
        if field is not None:
            pipe.hset(f"{self.prefix}:rooms", field, json.dumps(event))
        participant, room = event.get("participant"), event.get("room")
        if event.get("action") in {"admit", "deny"} and isinstance(participant, str):
            pipe.hdel(f"{self.prefix}:lobby", lobby_field(event.get("org"), str(room), participant))
        announce(pipe, self.channel, json.dumps(event))
        pipe.execute()

    def lobby(self, org: str, room: str) -> list[dict[str, Any]]:
        """Who the gates report waiting in a room's lobby."""
        prefix = lobby_field(org, room, "")
        found: list[dict[str, Any]] = []
        for field, raw in self._client.hscan_iter(
            f"{self.prefix}:lobby", match=glob_literal(prefix) + "*"
        ):
            if not _text(field).startswith(prefix):
                continue
            try:
                event = json.loads(_text(raw))
            except ValueError:
                continue
            if isinstance(event, dict):
                found.append(event)
        return found

    def publish_limits(self, event: dict[str, Any]) -> None:
        """Keep one org's quotas for the gates (``<prefix>:limits``) and announce them."""
        org, limits = str(event["org"]), dict(event.get("limits") or {})
        pipe = self._client.pipeline(transaction=True)
        if any(v is not None for v in limits.values()):
            pipe.hset(f"{self.prefix}:limits", org, json.dumps(limits))
        else:
            pipe.hdel(f"{self.prefix}:limits", org)
        announce(pipe, self.channel, json.dumps({"type": "limits", "org": org}))
        pipe.execute()

    def replace_limits(self, limits: dict[str, dict[str, Any]]) -> None:
        """Write every org's quotas (after Redis came back) and tell gates to reload."""
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(f"{self.prefix}:limits")
        if limits:
            mapping = {org: json.dumps(v) for org, v in limits.items()}
            pipe.hset(f"{self.prefix}:limits", mapping=mapping)  # type: ignore[arg-type]
        announce(pipe, self.channel, json.dumps({"type": "limits"}))
        pipe.execute()

    def participants(self, org: str, room: str) -> list[dict[str, Any]]:
        """Who the gates report in a room: tier, lobby state, grant."""
        return read_roster(self._client, self.prefix, org, room)

    def ping(self) -> bool:
        """Whether Redis answers."""
        return bool(self._client.ping())

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
