"""Quotas at connect: an org's concurrent sessions and connects per second, shared by every gate.

The platform operator sets them (``orgs.setLimits``); the control plane keeps
them in ``<prefix>:limits`` (and orgs past a monthly quota in
``<prefix>:blocked``), and every gate following its Redis holds a copy. A
connect of an org with no quota costs one dict lookup. For an org with one,
one Lua script on Redis decides atomically across gates: connects this second
(``<prefix>:quota:{org}:cps:<second>``) and live sessions, one hash field per
gate (``<prefix>:quota:{org}:sessions``) that each gate rewrites from its own
count every few seconds (so a session opened before the quota, or a gate that
died, cannot skew it for long). A refusal is ``QUOTA_EXCEEDED``. While Redis is
away, connects are admitted (quotas gate admission; they never cut a live
session) and the miss is counted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any, Final, final

import redis

from relaypass._redis import ERRORS
from relaypass.errors import QuotaExceededError

__all__ = ["Quotas"]

#: KEYS: cps counter, sessions hash. ARGV: node, cps limit, sessions limit (-1: none).
_ADMIT: Final = """
local cps_limit, session_limit = tonumber(ARGV[2]), tonumber(ARGV[3])
if cps_limit >= 0 then
  local n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('EXPIRE', KEYS[1], 2) end
  if n > cps_limit then return 1 end
end
if session_limit >= 0 then
  local total = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[2])) do total = total + tonumber(v) end
  if total >= session_limit then return 2 end
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
return 0
"""
_RELEASE: Final = """
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -1) end
return 0
"""
_NONE: Final = -1
_REFUSED: Final = {
    1: "the org's connects per second are at their limit",
    2: "the org's concurrent sessions are at their limit",
}


@final
class Quotas:
    """The quotas of every org, as this gate last read them, and the shared counters."""

    def __init__(self, client: redis.Redis | None, *, prefix: str, node: str) -> None:
        self._client = client
        self.prefix = prefix
        self.node = node
        self._limits: dict[str, tuple[int, int]] = {}
        self._blocked: dict[str, str] = {}
        self._lock = threading.Lock()
        self.unchecked = 0
        self._admit = client.register_script(_ADMIT) if client is not None else None
        self._release = client.register_script(_RELEASE) if client is not None else None

    def replace(self, limits: Mapping[str, Mapping[str, Any]], blocked: Mapping[str, str]) -> None:
        """Take every org's quotas (as the control plane keeps them)."""
        enforced: dict[str, tuple[int, int]] = {}
        for org, values in limits.items():
            sessions = values.get("max_sessions")
            cps = values.get("connects_per_second")
            if isinstance(sessions, int) or isinstance(cps, int):
                enforced[org] = (cps if isinstance(cps, int) else _NONE,
                                 sessions if isinstance(sessions, int) else _NONE)  # fmt: skip
        with self._lock:
            self._limits, self._blocked = enforced, dict(blocked)

    def limited(self, org: str | None) -> bool:
        """Whether connects of ``org`` are counted."""
        return org is not None and org in self._limits

    def check_blocked(self, org: str | None) -> None:
        """Refuse an org past a monthly quota (no counter moves)."""
        reason = self._blocked.get(org) if org is not None else None
        if reason is not None:
            msg = f"the org is past its {reason} quota for this month"
            raise QuotaExceededError(msg)

    def admit(self, org: str | None) -> None:
        """Count one connect of ``org`` against its quotas, or refuse it."""
        if org is None:
            return
        self.check_blocked(org)
        limits = self._limits.get(org)
        if limits is None or self._admit is None:
            return
        keys = [f"{self.prefix}:quota:{{{org}}}:cps:{int(time.time())}",
                f"{self.prefix}:quota:{{{org}}}:sessions"]  # fmt: skip
        try:
            verdict = int(self._admit(keys=keys, args=[self.node, limits[0], limits[1]]))
        except ERRORS:
            self.unchecked += 1  # quotas gate admission; Redis away admits
            return
        if verdict:
            raise QuotaExceededError(_REFUSED[verdict])

    def release(self, org: str | None) -> None:
        """A counted session of ``org`` ended."""
        if org is None or self._release is None:
            return
        limits = self._limits.get(org)
        if limits is None or limits[1] == _NONE:
            return
        try:
            self._release(keys=[f"{self.prefix}:quota:{{{org}}}:sessions"], args=[self.node])
        except ERRORS:
            return  # the next resync writes the true count

    def resync(self, live: Mapping[str | None, int]) -> None:
        """Write this gate's true session count for every org with a session quota."""
        if self._client is None:
            return
        pipe = self._client.pipeline(transaction=False)
        for org, (_, sessions) in list(self._limits.items()):
            if sessions != _NONE:
                pipe.hset(f"{self.prefix}:quota:{{{org}}}:sessions", self.node, live.get(org, 0))
        try:
            pipe.execute()
        except ERRORS:
            return

    def load(self) -> None:
        """Read every org's quotas and the blocked orgs from Redis."""
        if self._client is None:
            return
        try:
            raw = self._client.hgetall(f"{self.prefix}:limits")
            blocked = self._client.hgetall(f"{self.prefix}:blocked")
        except ERRORS:
            return
        limits: dict[str, dict[str, Any]] = {}
        for org, value in raw.items():
            try:
                parsed = json.loads(value)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                limits[_text(org)] = parsed
        self.replace(limits, {_text(k): _text(v) for k, v in blocked.items()})


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
