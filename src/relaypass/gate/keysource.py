"""Where a gate gets its keys: static sets, key files, a moq-relay key directory, a JWKS URL.

Every source answers :meth:`KeySource.keyset` (the keys known now) and
:meth:`KeySource.learn` (try to learn an unknown ``kid``: re-read a file,
load ``{kid}.jwk``, or refetch the JWKS, within the source's limits).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, Protocol, final

import httpx

from relaypass._keys import Key, is_valid_kid
from relaypass._keyset import KeySet
from relaypass.errors import InvalidKeyError

__all__ = [
    "DirectoryKeySource",
    "FileKeySource",
    "FilesKeySource",
    "JwksUrlKeySource",
    "KeySource",
    "StaticKeySource",
]

MAX_JWKS_BYTES: Final = 1024 * 1024
_MAX_AGE: Final = re.compile(r"max-age=(\d+)")


class KeySource(Protocol):
    """A provider of verification keys."""

    def keyset(self) -> KeySet:
        """The keys known now."""
        ...

    def learn(self, kid: str) -> bool:
        """Try to learn ``kid``; whether it is known afterwards."""
        ...


@final
class StaticKeySource:
    """A fixed key set."""

    __slots__ = ("_keys",)

    def __init__(self, keys: KeySet | Key) -> None:
        self._keys = keys if isinstance(keys, KeySet) else KeySet([keys])

    def keyset(self) -> KeySet:
        """The fixed set."""
        return self._keys

    def learn(self, kid: str) -> bool:
        """Nothing to learn."""
        return kid in self._keys


def _read_keys(path: Path) -> KeySet:
    text = path.read_text(encoding="utf-8")
    if '"keys"' in text:
        return KeySet.from_jwks(text)
    key = Key.parse(text)
    return KeySet([key.public() if key.has_private and not key.is_symmetric else key])


def _parse_jwks(body: bytes) -> KeySet:
    if len(body) > MAX_JWKS_BYTES:
        msg = "JWKS too large"
        raise InvalidKeyError(msg)
    return KeySet.from_jwks(body)


@final
class FileKeySource:
    """A JWK or JWKS file, re-read when it changes (rotation by replacing the file)."""

    __slots__ = ("_keys", "_lock", "_mtime", "path")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._keys = _read_keys(self.path)
        self._mtime = self.path.stat().st_mtime_ns

    def keyset(self) -> KeySet:
        """The file's keys (private halves are reduced to public ones)."""
        return self._keys

    def learn(self, kid: str) -> bool:
        """Re-read the file if it changed."""
        with self._lock:
            mtime = self.path.stat().st_mtime_ns
            if mtime != self._mtime:
                self._keys = _read_keys(self.path)
                self._mtime = mtime
        return kid in self._keys


@final
class FilesKeySource:
    """Several JWK/JWKS files used together (moq-relay's ``keys``), each re-read on change."""

    __slots__ = ("_files", "_merged")

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self._files = [FileKeySource(p) for p in paths]
        self._merged: tuple[tuple[KeySet, ...], KeySet] | None = None

    def keyset(self) -> KeySet:
        """Every file's keys in one set (a kid in two files is refused)."""
        sets = tuple(f.keyset() for f in self._files)
        merged = self._merged
        if merged is None or any(a is not b for a, b in zip(merged[0], sets, strict=True)):
            merged = (sets, KeySet([key for keyset in sets for key in keyset]))
            self._merged = merged
        return merged[1]

    def learn(self, kid: str) -> bool:
        """Re-read the files that changed."""
        for source in self._files:
            source.learn(kid)
        return kid in self.keyset()


@final
class DirectoryKeySource:
    """moq-relay's layout: a directory of ``{kid}.jwk`` files, loaded on demand.

    The kid is validated (``[A-Za-z0-9_-]{1,128}``) before it becomes a file
    name, so no kid can reach outside the directory.
    """

    __slots__ = ("_keys", "_lock", "_missing", "cooldown_seconds", "directory")

    def __init__(self, directory: str | Path, *, cooldown_seconds: float = 10.0) -> None:
        self.directory = Path(directory)
        self.cooldown_seconds = cooldown_seconds
        self._lock = threading.Lock()
        self._missing: dict[str, float] = {}
        keys: list[Key] = []
        for path in sorted(self.directory.glob("*.jwk")):
            keys.extend(_read_keys(path))
        self._keys = KeySet(keys)

    def keyset(self) -> KeySet:
        """The keys loaded so far."""
        return self._keys

    def learn(self, kid: str) -> bool:
        """Load ``{kid}.jwk`` if it appeared (at most once per cooldown per kid)."""
        if kid in self._keys:
            return True
        if not is_valid_kid(kid):
            return False
        now = time.monotonic()
        with self._lock:
            if now - self._missing.get(kid, -1e9) < self.cooldown_seconds:
                return False
            path = self.directory / f"{kid}.jwk"
            if not path.is_file():
                self._missing[kid] = now
                return False
            self._keys = KeySet([*self._keys, *_read_keys(path)])
        return kid in self._keys


@final
class JwksUrlKeySource:
    """A JWKS over HTTP(S).

    - Honours ``Cache-Control: max-age`` (within ``[min_age, max_age]``).
    - An unknown kid triggers at most one refetch per ``cooldown_seconds``,
      single-flight (concurrent misses wait for the same fetch), and is then
      remembered as missing until the next allowed refetch (negative cache).
    - A failed fetch never drops the keys already known.
    - A refresh when max-age runs out happens in the background: the old set
      keeps serving meanwhile, so a slow JWKS endpoint never holds up a
      connect. (Only a kid never seen before waits for its fetch, in
      :meth:`learn`, within the cooldown.)
    - With ``background=True`` (what ``gate serve`` uses) a thread of its own
      refreshes the set as its max-age runs out, traffic or not, so a gate
      with no connects stays ready whenever the endpoint answers; it stops
      with :meth:`close`.
    """

    __slots__ = (
        "_client",
        "_clock",
        "_confirmed_at",
        "_expires",
        "_idle",
        "_keys",
        "_last_fetch",
        "_lock",
        "_stop",
        "_thread",
        "cooldown_seconds",
        "max_age",
        "min_age",
        "url",
    )

    def __init__(
        self,
        url: str,
        *,
        cooldown_seconds: float = 10.0,
        min_age: float = 5.0,
        max_age: float = 300.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
    ) -> None:
        self.url = url
        self.cooldown_seconds = cooldown_seconds
        self.min_age = min_age
        self.max_age = max_age
        self._client = client or httpx.Client(timeout=5.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._keys = KeySet([])
        self._expires = -1e18
        self._last_fetch = -1e18
        self._idle = threading.Event()
        self._idle.set()
        self._confirmed_at = -1e18
        self._stop = threading.Event()
        self._fetch()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._refresh_forever, name="relaypass-jwks-refresh", daemon=True
            )
            self._thread.start()

    def _refresh_forever(self) -> None:
        """Refetch as the set's max-age (or, after a failure, the cooldown) runs out."""
        while not self._stop.wait(max(0.05, self._expires - self._clock())):
            with self._lock:
                self._fetch()

    def keyset(self) -> KeySet:
        """The current set; once its max-age ran out, a refresh starts in the background."""
        if self._clock() >= self._expires and self._idle.is_set():
            with self._lock:
                if self._clock() >= self._expires and self._idle.is_set():
                    self._idle.clear()
                    threading.Thread(
                        target=self._refresh, name="relaypass-jwks", daemon=True
                    ).start()
        return self._keys

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no background refresh runs (for tests and orderly shutdown)."""
        return self._idle.wait(timeout)

    def _refresh(self) -> None:
        try:
            with self._lock:
                self._fetch()
        finally:
            self._idle.set()

    def learn(self, kid: str) -> bool:
        """Refetch for an unknown kid, within the cooldown; single-flight."""
        if kid in self._keys:
            return True
        with self._lock:
            if kid in self._keys:
                return True  # another caller's fetch brought it
            if self._clock() - self._last_fetch < self.cooldown_seconds:
                return False
            self._fetch()
        return kid in self._keys

    def _fetch(self) -> None:
        self._last_fetch = self._clock()
        try:
            response = self._client.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = _parse_jwks(response.content)
        except (httpx.HTTPError, InvalidKeyError):
            # Keep what we know; try again after the cooldown.
            self._expires = self._last_fetch + self.cooldown_seconds
            return
        match = _MAX_AGE.search(response.headers.get("cache-control", ""))
        age = float(match.group(1)) if match else self.min_age
        self._expires = self._last_fetch + min(max(age, self.min_age), self.max_age)
        self._keys = keys
        self._confirmed_at = self._last_fetch

    def age_seconds(self) -> float:
        """Seconds since the endpoint last served the set this gate holds."""
        return self._clock() - self._confirmed_at

    def close(self) -> None:
        """Stop refreshing and release the HTTP client (after a running refresh)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._idle.wait(10)
        self._client.close()
