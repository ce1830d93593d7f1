"""The live-session table of the moq-relay auth server: in this process, or shared in Redis.

Each session a relay asked about is a :class:`SessionRecord` (its relay node,
org, tenant, subject, token ids, dialed path, remote address, when it
connected), kept from ``connect`` to ``end``. A relay that dies without sending
``end`` never says so: a record not seen again (``connect`` or ``revalidate``)
within two cadences is dropped, as moq's own server drops it. Without a
cadence, a record lives until its grant's ``expires``, or :data:`UNBOUNDED_SECONDS`.

The table also holds the optional caps on live sessions per token and per
remote address (``--limit-token``, ``--limit-remote``): counted at ``connect``
only, never enforced on a ``revalidate`` (the session was admitted; which
survivor to drop would be an accident of arrival order). A nuisance limit, not
a security boundary, as upstream says of its own.

:class:`RedisSessionTable` is the same table shared by every auth-server
replica: one JSON value per session with its expiry, and sorted sets (id by
deadline) per token, per remote address and per org. Every key carries one
hash tag, so the connect script's keys share a Cluster slot. Tokens are kept
as a digest, never as themselves.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Final, Protocol, final

import orjson

from relaypass._redis import keyspace, redis_client
from relaypass.errors import QuotaExceededError

if TYPE_CHECKING:
    import redis

__all__ = [
    "UNBOUNDED_SECONDS",
    "Limits",
    "MemorySessionTable",
    "RedisSessionTable",
    "SessionRecord",
    "SessionTable",
    "remote_address",
    "token_digest",
]

#: How long a record lives with neither a cadence nor an ``expires`` to bound it.
UNBOUNDED_SECONDS: Final = 24 * 3600


@dataclass(frozen=True, slots=True)
class Limits:
    """Live sessions per token and per remote address; ``None`` is unlimited."""

    token: int | None = None
    remote: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One live session, as the auth server knows it."""

    id: str
    node: str
    org: str | None
    tenant: str | None
    subject: str | None
    jti: str | None
    kid: str | None
    profile: str
    room: str | None
    path: str
    remote: str | None
    token: str | None  # a digest of the credential
    connected_at: float

    def to_json(self) -> bytes:
        """The record as stored."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> SessionRecord:
        """A stored record."""
        return cls(**orjson.loads(raw))


def token_digest(credential: str | None) -> str | None:
    """A credential's identity in the table, without the credential itself."""
    if credential is None:
        return None
    return hashlib.sha256(credential.encode()).hexdigest()[:32]


def remote_address(remote: str | None) -> str | None:
    """The address of ``host:port`` or ``[v6]:port`` without its port, IPv4-mapped folded."""
    if not remote:
        return None
    host = remote.rpartition(":")[0] if remote.count(":") == 1 or remote.startswith("[") else remote
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def _over_token() -> QuotaExceededError:
    return QuotaExceededError("too many live sessions for this token")


def _over_remote() -> QuotaExceededError:
    return QuotaExceededError("too many live sessions from this address")


class SessionTable(Protocol):
    """Where the auth server keeps live sessions."""

    def connect(self, record: SessionRecord, deadline: float, limits: Limits) -> None:
        """File a session until ``deadline`` (unix seconds); refuse it over a cap.

        A known id is refreshed instead of counted again.
        """
        ...

    def revalidate(self, record: SessionRecord, deadline: float, limits: Limits) -> None:
        """Keep a session until ``deadline``, filing it again if it aged out (never capped)."""
        ...

    def end(self, session_id: str) -> SessionRecord | None:
        """Forget a session; its record, if it was live."""
        ...

    def get(self, session_id: str) -> SessionRecord | None:
        """A live session's record."""
        ...

    def cut(self, session_id: str, until: float) -> None:
        """Mark a session revoked until ``until``: every replica answers its revalidate 401."""
        ...

    def is_cut(self, session_id: str) -> bool:
        """Whether some replica cut this session."""
        ...

    def live(self, org: str | None = None) -> list[SessionRecord]:
        """Every live session, or an org's."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@final
class MemorySessionTable:
    """The table in this process: one auth server, or one per relay."""

    def __init__(self) -> None:
        self._records: dict[str, tuple[SessionRecord, float]] = {}
        self._cut: dict[str, float] = {}
        self._lock = threading.Lock()
        self._swept = 0.0

    def _sweep(self, now: float) -> None:
        if now - self._swept < 1.0:
            return
        self._swept = now
        for session_id in [i for i, (_, until) in self._records.items() if until <= now]:
            del self._records[session_id]
        for session_id in [i for i, until in self._cut.items() if until <= now]:
            del self._cut[session_id]

    def _count(self, attribute: str, value: str | None) -> int:
        return sum(1 for r, _ in self._records.values() if getattr(r, attribute) == value)

    def connect(self, record: SessionRecord, deadline: float, limits: Limits) -> None:
        """File a session, or refuse it over a cap."""
        now = time.time()
        with self._lock:
            self._sweep(now)
            known = self._records.get(record.id)
            if known is not None and known[1] > now:
                self._records[record.id] = (known[0], deadline)
                return
            if limits.token and record.token and self._count("token", record.token) >= limits.token:
                raise _over_token()
            if (
                limits.remote
                and record.remote
                and self._count("remote", record.remote) >= limits.remote
            ):
                raise _over_remote()
            self._records[record.id] = (record, deadline)

    def revalidate(self, record: SessionRecord, deadline: float, limits: Limits) -> None:  # noqa: ARG002
        """Keep (or file again) a session."""
        with self._lock:
            known = self._records.get(record.id)
            self._records[record.id] = (known[0] if known else record, deadline)

    def end(self, session_id: str) -> SessionRecord | None:
        """Forget a session."""
        with self._lock:
            known = self._records.pop(session_id, None)
        return known[0] if known is not None and known[1] > time.time() else None

    def get(self, session_id: str) -> SessionRecord | None:
        """A live session's record."""
        known = self._records.get(session_id)
        return known[0] if known is not None and known[1] > time.time() else None

    def cut(self, session_id: str, until: float) -> None:
        """Mark a session revoked."""
        with self._lock:
            self._cut[session_id] = until

    def is_cut(self, session_id: str) -> bool:
        """Whether this session was cut."""
        until = self._cut.get(session_id)
        return until is not None and until > time.time()

    def live(self, org: str | None = None) -> list[SessionRecord]:
        """Every live session, or an org's."""
        now = time.time()
        with self._lock:
            self._sweep(now)
            return [
                r for r, until in self._records.values() if until > now and org in (None, r.org)
            ]

    def close(self) -> None:
        """Nothing to release."""


# KEYS: record, org set, token set (or the record again), remote set (or the record again).
# ARGV: id, now (ms), deadline (ms), token cap, remote cap, the record's JSON, check caps (0/1).
# Returns 0 when filed, 1 over the token cap, 2 over the remote cap.
_CONNECT: Final = """
local now, deadline = tonumber(ARGV[2]), tonumber(ARGV[3])
local sets = {KEYS[2], KEYS[3], KEYS[4]}
local caps = {0, tonumber(ARGV[4]), tonumber(ARGV[5])}
for i = 1, 3 do
  if sets[i] ~= KEYS[1] then redis.call('ZREMRANGEBYSCORE', sets[i], '-inf', now) end
end
local stored = redis.call('GET', KEYS[1])
if not stored and ARGV[7] == '1' then
  for i = 2, 3 do
    if sets[i] ~= KEYS[1] and caps[i] > 0 and redis.call('ZCARD', sets[i]) >= caps[i] then
      return i - 1
    end
  end
end
redis.call('SET', KEYS[1], stored or ARGV[6], 'PXAT', deadline)
for i = 1, 3 do
  if sets[i] ~= KEYS[1] then
    redis.call('ZADD', sets[i], deadline, ARGV[1])
    if redis.call('PTTL', sets[i]) < deadline - now then
      redis.call('PEXPIREAT', sets[i], deadline)
    end
  end
end
return 0
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@final
class RedisSessionTable:
    """The table in Redis, shared by every auth-server replica."""

    def __init__(self, client: redis.Redis, *, prefix: str = "relaypass") -> None:
        self._client = client
        self._prefix = f"{keyspace(client, prefix)}:{{moq-sessions}}:"
        self._connect = client.register_script(_CONNECT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "relaypass") -> RedisSessionTable:
        """A table on the Redis at ``url``."""
        return cls(redis_client(url, socket_timeout=2.0), prefix=prefix)

    def _keys(self, record: SessionRecord, limits: Limits) -> list[str]:
        """The record's key, its org's set, and the cap sets (only for a cap in force)."""
        p = self._prefix
        own = f"{p}s:{record.id}"
        return [
            own,
            f"{p}org:{record.org or ''}",
            f"{p}tok:{record.token}" if record.token and limits.token else own,
            f"{p}rem:{record.remote}" if record.remote and limits.remote else own,
        ]

    def _run(self, record: SessionRecord, deadline: float, limits: Limits, *, check: bool) -> int:
        now_ms, deadline_ms = math.floor(time.time() * 1000), math.ceil(deadline * 1000)
        args: Sequence[str | int | bytes] = [
            record.id, now_ms, deadline_ms, limits.token or 0, limits.remote or 0,
            record.to_json(), "1" if check else "0",
        ]  # fmt: skip
        return int(self._connect(keys=self._keys(record, limits), args=args))

    def connect(self, record: SessionRecord, deadline: float, limits: Limits) -> None:
        """File a session, or refuse it over a cap (one script: counted and filed at once)."""
        over = self._run(record, deadline, limits, check=True)
        if over == 1:
            raise _over_token()
        if over == 2:  # noqa: PLR2004 - the script's answer
            raise _over_remote()

    def revalidate(self, record: SessionRecord, deadline: float, limits: Limits) -> None:
        """Keep (or file again) a session, in the cap sets too, without enforcing a cap."""
        self._run(record, deadline, limits, check=False)

    def end(self, session_id: str) -> SessionRecord | None:
        """Forget a session and its place in every set."""
        raw = self._client.getdel(f"{self._prefix}s:{session_id}")
        if raw is None:
            return None
        record = SessionRecord.from_json(raw)
        own, *sets = self._keys(record, Limits(token=1, remote=1))  # wherever it may be filed
        with self._client.pipeline(transaction=False) as pipe:
            for key in sets:
                if key != own:
                    pipe.zrem(key, session_id)
            pipe.execute()
        return record

    def get(self, session_id: str) -> SessionRecord | None:
        """A live session's record."""
        raw = self._client.get(f"{self._prefix}s:{session_id}")
        return None if raw is None else SessionRecord.from_json(raw)

    def cut(self, session_id: str, until: float) -> None:
        """Mark a session revoked for every replica, until ``until``."""
        self._client.set(f"{self._prefix}cut:{session_id}", b"1", pxat=math.ceil(until * 1000))

    def is_cut(self, session_id: str) -> bool:
        """Whether some replica cut this session."""
        return bool(self._client.exists(f"{self._prefix}cut:{session_id}"))

    def live(self, org: str | None = None) -> list[SessionRecord]:
        """Every live session of ``org`` (every org's: a scan of the records)."""
        if org is None:
            keys = list(self._client.scan_iter(match=f"{self._prefix}s:*", count=1000))
        else:
            now_ms = math.floor(time.time() * 1000)
            ids = self._client.zrangebyscore(f"{self._prefix}org:{org}", now_ms, "+inf")
            keys = [f"{self._prefix}s:{_text(i)}" for i in ids]
        if not keys:
            return []
        values = self._client.mget(keys)
        return [SessionRecord.from_json(v) for v in values if v is not None]

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
