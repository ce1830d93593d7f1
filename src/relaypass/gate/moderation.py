"""A room session's moderation: what its moderators decide with their own sessions.

Admit, deny, remove, end, change a participant's grant or tier, read the lobby and
the participant list; each decision applies on every gate (see
:mod:`relaypass.gate.rooms`). Mixed into :class:`~relaypass.gate.Session`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from relaypass._grant import Grant
from relaypass.errors import InvalidPermissionsError
from relaypass.gate.rooms import RoomBoard
from relaypass.profiles.room import RoomAction

__all__ = ["Moderation"]


class _HoldsRooms(Protocol):
    """What moderation reads of the gate: its room board."""

    @property
    def rooms(self) -> RoomBoard[Any]:
        """The room sessions of the gate."""


class Moderation:
    """A session's room decisions (its gate, and its grant when live and admitted)."""

    __slots__ = ()  # a session keeps no more than its own slots
    _gate: _HoldsRooms
    _live: Callable[[], Grant]
    _admitted: Callable[[], Grant]

    def admit(self, participant: str) -> None:
        """As a moderator of this room: let a waiting participant in."""
        self.moderate("admit", participant)

    def deny(self, participant: str) -> None:
        """As a moderator of this room: turn a waiting participant away (``ENTRY_DENIED``)."""
        self.moderate("deny", participant)

    def admit_all(self) -> None:
        """As a moderator of this room: let everyone waiting in."""
        self.moderate("admitAll")

    def remove(self, participant: str) -> None:
        """As a moderator: close a participant's sessions everywhere (``PARTICIPANT_REMOVED``)."""
        self.moderate("remove", participant)

    def end_room(self) -> None:
        """As a moderator: close every session of this room (``ROOM_ENDED``)."""
        self.moderate("end")

    def update_participant(
        self, participant: str, *, grant: object = None, is_viewer: bool | None = None
    ) -> None:
        """As a moderator: a new room grant and/or tier for a participant, live on every gate."""
        self.moderate("update", participant, grant=grant, is_viewer=is_viewer)

    def moderate(
        self,
        action: str,
        participant: str | None = None,
        *,
        grant: object = None,
        is_viewer: bool | None = None,
    ) -> None:
        """As a moderator of this room: one of the room's decisions, applied on every gate."""
        self._live()
        self._gate.rooms.moderate(self, action, participant, grant=grant, is_viewer=is_viewer)

    def lobby(self) -> list[dict[str, object]]:
        """As a moderator: who waits in this room's lobby on this gate."""
        grant = self._admitted()
        grant.authorize(RoomAction.MODERATE)
        return self._gate.rooms.waiting((grant.org, grant.room or ""))

    def participants(self, tier: str | None = None) -> list[dict[str, Any]]:
        """Who is in this room, oldest first (``tier``: ``speaker`` or ``viewer`` only).

        Each entry has ``participant``, ``tier``, ``state`` (``waiting`` or
        ``admitted``) and ``since``; a moderator also sees each ``grant``.
        """
        grant = self._admitted()
        if grant.room is None:
            msg = "this session is not in a room"
            raise InvalidPermissionsError(msg)
        moderator = RoomAction.MODERATE in grant.capabilities
        keep = ("participant", "tier", "state", "since", "grant") if moderator else (
            "participant", "tier", "state", "since"
        )  # fmt: skip
        return [
            {k: entry[k] for k in keep if k in entry}
            for entry in self._gate.rooms.participants((grant.org, grant.room), tier)
        ]
