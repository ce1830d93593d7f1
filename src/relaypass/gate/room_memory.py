"""What a room board remembers of its rooms' decisions, for as long as they can matter.

A removal or a room's end refuses every token issued before it; a grant change
holds for every token issued before it; an admission lets the participant's
next join skip the lobby. Each is kept by room id (and participant), so a join
looks up the entries of its own room, not every decision the gate has heard of;
and each is forgotten once every token it could concern has expired (the
longest a room token may live, a day by default), so a gate that runs for
months holds no more than a day of decisions.

Rooms match as :func:`~relaypass.gate.room_parts.same_room` says: the same id,
and the same org where both know theirs.
"""

from __future__ import annotations

import math
from typing import Any, Final, TypeVar, final

from relaypass.gate.room_parts import RoomKey
from relaypass.profiles.room import RoomGrantFlags

__all__ = ["MEMORY_SECONDS", "RoomMemory", "Update"]

#: The shortest a decision is remembered (the longest room token's life, by default).
MEMORY_SECONDS: Final = 86_400.0
#: How often (in the decisions' own time) the forgotten ones are swept out.
_SWEEP_SECONDS: Final = 60.0

#: A grant change: the new flags (``None``: unchanged), the tier (``None``: unchanged), when.
Update = tuple[RoomGrantFlags | None, bool | None, float]
_V = TypeVar("_V", float, Update)
_ByOrg = dict[str | None, _V]


def _when(value: float | Update) -> float:
    """When a decision was made: the time itself, or a grant change's third member."""
    return value[2] if isinstance(value, tuple) else value


def _latest(by_org: dict[str | None, _V] | None, org: str | None) -> _V | None:
    """The newest entry of a room whose org matches ``org`` (either unknown matches any)."""
    if not by_org:
        return None
    found = [v for o, v in by_org.items() if o is None or org is None or o == org]
    return max(found, key=_when, default=None)


@final
class RoomMemory:
    """Admissions, removals, ends and grant changes; not locked (the board holds its lock)."""

    __slots__ = ("_admitted", "_ended", "_horizon", "_removed", "_swept", "_updates")

    def __init__(self, horizon_seconds: float = MEMORY_SECONDS) -> None:
        self._horizon = horizon_seconds
        self._admitted: dict[tuple[str, str], _ByOrg[float]] = {}
        self._removed: dict[tuple[str, str], _ByOrg[float]] = {}
        self._updates: dict[tuple[str, str], _ByOrg[Update]] = {}
        self._ended: dict[str, _ByOrg[float]] = {}
        self._swept = -math.inf

    @property
    def horizon_seconds(self) -> float:
        """How long a decision is remembered."""
        return self._horizon

    def __len__(self) -> int:
        """How many decisions are remembered."""
        tables = (self._admitted, self._removed, self._updates, self._ended)
        return sum(len(by_org) for table in tables for by_org in table.values())

    # ------------------------------------------------------------ decisions

    def admitted(self, key: RoomKey, participant: str, when: float) -> None:
        """A participant was let in: their next join skips the lobby."""
        self._admitted.setdefault((key[1], participant), {})[key[0]] = when
        self._sweep(when)

    def removed(self, key: RoomKey, participant: str, when: float) -> None:
        """A participant was removed: tokens issued before ``when`` cannot rejoin."""
        self._removed.setdefault((key[1], participant), {})[key[0]] = when
        self._sweep(when)

    def ended(self, key: RoomKey, when: float) -> None:
        """A room was ended: tokens issued before ``when`` cannot rejoin."""
        self._ended.setdefault(key[1], {})[key[0]] = when
        self._sweep(when)

    def updated(
        self, key: RoomKey, participant: str, flags: RoomGrantFlags | None, *,
        is_viewer: bool | None, when: float,
    ) -> None:  # fmt: skip
        """A participant's grant or tier changed: tokens issued before ``when`` get the change."""
        self._updates.setdefault((key[1], participant), {})[key[0]] = (flags, is_viewer, when)
        self._sweep(when)

    # ------------------------------------------------------------ lookups

    def admitted_at(self, key: RoomKey, participant: str) -> float | None:
        """When the participant was last let into the room, if ever."""
        return _latest(self._admitted.get((key[1], participant)), key[0])

    def removed_at(self, key: RoomKey, participant: str | None) -> float | None:
        """When the participant was last removed from the room, if ever."""
        if participant is None:
            return None
        return _latest(self._removed.get((key[1], participant)), key[0])

    def ended_at(self, key: RoomKey) -> float | None:
        """When the room was last ended, if ever."""
        return _latest(self._ended.get(key[1]), key[0])

    def update_for(self, key: RoomKey, participant: str) -> Update | None:
        """The participant's newest grant change in the room, if any."""
        return _latest(self._updates.get((key[1], participant)), key[0])

    # ------------------------------------------------------------ forgetting

    def _sweep(self, now: float) -> None:
        """Forget what is older than the horizon, at most once a minute of decisions."""
        if now - self._swept < _SWEEP_SECONDS:
            return
        self._swept = now
        before = now - self._horizon
        for table in (self._admitted, self._removed, self._updates, self._ended):
            _forget(table, before)


def _forget(table: dict[Any, dict[str | None, Any]], before: float) -> None:
    for name, by_org in list(table.items()):
        for org, value in list(by_org.items()):
            if _when(value) < before:
                del by_org[org]
        if not by_org:
            del table[name]
