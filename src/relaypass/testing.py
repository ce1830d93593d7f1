"""Helpers for tests, ours and users': a frozen clock and ephemeral keys."""

from __future__ import annotations

import time
from typing import final

from relaypass._alg import Algorithm
from relaypass._keys import Key
from relaypass._keyset import KeySet

__all__ = ["FrozenClock", "ephemeral_key", "ephemeral_keyset"]


@final
class FrozenClock:
    """A clock that only moves when told to."""

    __slots__ = ("_now",)

    def __init__(self, now: float | None = None) -> None:
        self._now = time.time() if now is None else float(now)

    def now(self) -> float:
        """The frozen time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move forward (or back, with a negative number)."""
        self._now += seconds

    def set(self, now: float) -> None:
        """Jump to ``now``."""
        self._now = float(now)


def ephemeral_key(alg: Algorithm | str = Algorithm.EdDSA, kid: str | None = None) -> Key:
    """A freshly generated private key."""
    return Key.generate(alg, kid=kid)


def ephemeral_keyset(*algs: Algorithm | str) -> tuple[KeySet, KeySet | None]:
    """A private key set and its public counterpart (``None`` for HMAC sets)."""
    keys = [Key.generate(alg, kid=f"test-{i}") for i, alg in enumerate(algs or ("EdDSA",))]
    private = KeySet(keys)
    if any(key.is_symmetric for key in keys):
        return private, None
    return private, KeySet([key.public() for key in keys])
