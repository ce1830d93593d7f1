"""Stream keys: short opaque keys that stand for a token where the token would not fit.

A key is ``sk_`` and 22 characters (128 random bits). Only its SHA-256 is stored,
beside the token it stands for, until the token's life or the key's cap ends:
in this process's memory, in Redis so that every gate resolves it, in a SQLite
file of the gate's own so that it outlives a restart of Redis, or in the last
two at once. The token is verified again on every use, so a revocation reaches
its keys too.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol, final

import structlog

from relaypass._redis import keyspace, redis_client
from relaypass.errors import InvalidRequestError

__all__ = [
    "DEFAULT_STREAM_KEY_TTL",
    "MAX_STREAM_KEY_TTL",
    "FileStreamKeys",
    "MemoryStreamKeys",
    "RedisStreamKeys",
    "SharedStreamKeys",
    "StreamKeys",
    "is_stream_key",
    "new_stream_key",
    "stream_key_digest",
]

STREAM_KEY_PREFIX: Final = "sk_"
_STREAM_KEY_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)
#: Longest life of a stream key for a token without ``exp``, and the cap for any.
DEFAULT_STREAM_KEY_TTL: Final = 3600
MAX_STREAM_KEY_TTL: Final = 86_400
_MAX_MEMORY_KEYS: Final = 100_000

_log = structlog.get_logger("relaypass.gate.adapters.stream_keys")


def new_stream_key() -> str:
    """A fresh opaque stream key (128 random bits)."""
    return STREAM_KEY_PREFIX + secrets.token_urlsafe(16)


def stream_key_digest(stream_key: str) -> str:
    """What is stored of a key: its SHA-256, in hex."""
    return hashlib.sha256(stream_key.encode()).hexdigest()


def is_stream_key(value: str) -> bool:
    """Whether ``value`` has a stream key's shape (before any lookup)."""
    body = value[len(STREAM_KEY_PREFIX) :]
    return (
        value.startswith(STREAM_KEY_PREFIX)
        and len(body) == 22  # noqa: PLR2004 - token_urlsafe(16)
        and set(body) <= _STREAM_KEY_CHARS
    )


class StreamKeys(Protocol):
    """Where stream keys live: SHA-256 of the key -> the token it stands for."""

    def put(self, digest: str, token: str, ttl_seconds: int) -> None:
        """Store for ``ttl_seconds``."""

    def get(self, digest: str) -> str | None:
        """The token, or ``None`` when unknown or expired."""


@final
class MemoryStreamKeys:
    """Stream keys of one gate process (bounded; expired keys are dropped on write)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, limit: int = _MAX_MEMORY_KEYS
    ) -> None:
        self._now = clock
        self._limit = limit
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, float]] = {}

    def put(self, digest: str, token: str, ttl_seconds: int) -> None:
        """Store for ``ttl_seconds``."""
        now = self._now()
        with self._lock:
            if len(self._keys) >= self._limit:
                self._keys = {d: v for d, v in self._keys.items() if v[1] > now}
                if len(self._keys) >= self._limit:
                    msg = "too many live stream keys"
                    raise InvalidRequestError(msg)
            self._keys[digest] = (token, now + ttl_seconds)

    def get(self, digest: str) -> str | None:
        """The token, or ``None`` when unknown or expired."""
        entry = self._keys.get(digest)
        if entry is None or entry[1] <= self._now():
            return None
        return entry[0]


@final
class RedisStreamKeys:
    """Stream keys shared by every gate on one Redis (``<prefix>:streamkey:<sha256>``)."""

    def __init__(self, url: str, *, prefix: str = "relaypass") -> None:
        import redis  # noqa: PLC0415 - only this store needs it

        self._client: redis.Redis = redis_client(url, socket_timeout=5, decode_responses=True)
        self._prefix = keyspace(self._client, prefix)

    def put(self, digest: str, token: str, ttl_seconds: int) -> None:
        """Store for ``ttl_seconds``."""
        self._client.set(f"{self._prefix}:streamkey:{digest}", token, ex=ttl_seconds)

    def get(self, digest: str) -> str | None:
        """The token, or ``None`` when unknown or expired."""
        value = self._client.get(f"{self._prefix}:streamkey:{digest}")
        return None if value is None else str(value)

    def close(self) -> None:
        """Drop the connection pool."""
        self._client.close()


@final
class FileStreamKeys:
    """Stream keys in a SQLite file of this gate: they outlive a restart of Redis or the gate.

    The file holds what the gate's Redis would hold (the key's SHA-256 and the
    token, a bearer credential already): give it mode 0600 in a directory of the
    gate's own, as the default does.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.path.chmod(0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stream_keys "
            "(digest TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL)"
        )

    def put(self, digest: str, token: str, ttl_seconds: int) -> None:
        """Store for ``ttl_seconds`` (and drop expired keys)."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM stream_keys WHERE expires_at <= ?", (now,))
            self._db.execute(
                "INSERT OR REPLACE INTO stream_keys VALUES (?, ?, ?)",
                (digest, token, now + ttl_seconds),
            )

    def get(self, digest: str) -> str | None:
        """The token, or ``None`` when unknown or expired."""
        return self.lookup(digest)[0]

    def lookup(self, digest: str) -> tuple[str | None, int]:
        """The token and its remaining seconds."""
        with self._lock:
            row = self._db.execute(
                "SELECT token, expires_at FROM stream_keys WHERE digest = ?", (digest,)
            ).fetchone()
        if row is None or row[1] <= time.time():
            return None, 0
        return str(row[0]), max(1, int(row[1] - time.time()))

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


@final
class SharedStreamKeys:
    """Redis for sharing between gates, a local file for surviving Redis.

    Every key is written to both. A lookup asks Redis first; when Redis has lost
    the key (it restarted empty) or is unreachable, the gate's file answers and
    the key is written back to Redis, so the gates share it again.
    """

    def __init__(self, shared: RedisStreamKeys, local: FileStreamKeys) -> None:
        self.shared = shared
        self.local = local

    def put(self, digest: str, token: str, ttl_seconds: int) -> None:
        """Store in the file, then (best effort) in Redis."""
        self.local.put(digest, token, ttl_seconds)
        try:
            self.shared.put(digest, token, ttl_seconds)
        except Exception as exc:  # noqa: BLE001 - the file has it; Redis is refilled on use
            _log.warning("stream_key.unshared", error=type(exc).__name__)

    def get(self, digest: str) -> str | None:
        """Redis, then this gate's file (refilling Redis)."""
        try:
            token = self.shared.get(digest)
        except Exception as exc:  # noqa: BLE001 - fall back to the file
            _log.warning("stream_key.redis_unreachable", error=type(exc).__name__)
            return self.local.get(digest)
        if token is not None:
            return token
        token, remaining = self.local.lookup(digest)
        if token is not None:
            with contextlib.suppress(Exception):
                self.shared.put(digest, token, remaining)
        return token

    def close(self) -> None:
        """Close both."""
        self.shared.close()
        self.local.close()
