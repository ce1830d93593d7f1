"""Rooms live: the lobby, participants' grants and removal, ending a room.

Decisions travel to every gate through Redis (the outbox, so a committed one is
never lost); the lobby is what the gates report waiting. They need an API key
with ``keys:admin``: moderating from a backend is an org administrator's act.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field

from relaypass.api._base import OWN_ORG, Input, Output, Procedure
from relaypass.errors import ErrorCode

__all__ = [
    "LOBBY_ADMIT",
    "LOBBY_ADMIT_ALL",
    "LOBBY_DENY",
    "LOBBY_LIST",
    "PARTICIPANTS_LIST",
    "PARTICIPANTS_REMOVE",
    "PARTICIPANTS_UPDATE",
    "ROOMS_END",
    "LobbyEntry",
    "LobbyList",
    "ParticipantEntry",
    "ParticipantList",
    "ParticipantQuery",
    "ParticipantRef",
    "ParticipantUpdate",
    "RoomChanged",
    "RoomRef",
]

_ROOM_ID = Field(min_length=1, max_length=256)
_PARTICIPANT = Field(min_length=1, max_length=256)


class RoomRef(Input):
    """A room of the org."""

    org_id: str = OWN_ORG
    room_id: str = _ROOM_ID


class ParticipantRef(RoomRef):
    """A participant of a room."""

    participant_id: str = _PARTICIPANT


class ParticipantUpdate(ParticipantRef):
    """A new room grant and/or tier, pushed to every live session of the participant."""

    grant: dict[str, Any] | None = Field(
        default=None, description="Room grant flags, as in tokens."
    )
    is_viewer: bool | None = None


class ParticipantQuery(RoomRef):
    """A room's participants, all or one tier."""

    tier: Literal["speaker", "viewer"] | None = Field(
        default=None, description="speaker (isViewer false) or viewer; all when left out."
    )


class ParticipantEntry(Output):
    """One participant, as the gate holding their session reports them."""

    participant_id: str
    tier: Literal["speaker", "viewer"]
    state: Literal["waiting", "admitted"] = Field(description="waiting: in the lobby.")
    grant: dict[str, Any] = Field(description="Room grant flags in force (after live changes).")
    since: float = Field(description="When the session joined (unix seconds).")


class ParticipantList(Output):
    """Who is in a room on every gate, oldest first (empty without Redis)."""

    participants: list[ParticipantEntry]


class LobbyEntry(Output):
    """Someone waiting to be admitted."""

    participant_id: str
    since: float
    deadline: float


class LobbyList(Output):
    """Who waits in the room's lobby, on every gate (empty without Redis)."""

    waiting: list[LobbyEntry]


class RoomChanged(Output):
    """A decision, committed; ``published``: whether gates heard it yet (null: no Redis)."""

    room_id: str
    participant_id: str | None = None
    action: str
    published: bool | None


_ADMIN: Final = "keys:admin"
_ROOM: Final[dict[str, object]] = {"orgId": "org_1", "roomId": "standup"}
_WHO: Final[dict[str, object]] = {**_ROOM, "participantId": "ada"}

LOBBY_LIST: Final = Procedure(
    "rooms.lobby.list", "query", _ADMIN, RoomRef, LobbyList,
    "Who waits in a room's lobby, as the gates report it.", examples=_ROOM,
)  # fmt: skip
LOBBY_ADMIT: Final = Procedure(
    "rooms.lobby.admit", "mutation", _ADMIN, ParticipantRef, RoomChanged,
    "Admit a waiting participant on whichever gate holds them.", examples=_WHO,
)  # fmt: skip
LOBBY_DENY: Final = Procedure(
    "rooms.lobby.deny", "mutation", _ADMIN, ParticipantRef, RoomChanged,
    "Turn a waiting participant away (ENTRY_DENIED).", examples=_WHO,
)  # fmt: skip
LOBBY_ADMIT_ALL: Final = Procedure(
    "rooms.lobby.admitAll", "mutation", _ADMIN, RoomRef, RoomChanged,
    "Admit everyone waiting in a room's lobby.", examples=_ROOM,
)  # fmt: skip
PARTICIPANTS_LIST: Final = Procedure(
    "rooms.participants.list", "query", _ADMIN, ParticipantQuery, ParticipantList,
    "Who is in a room on every gate: tier, lobby state and grant in force.",
    examples={**_ROOM, "tier": "viewer"},
)  # fmt: skip
PARTICIPANTS_UPDATE: Final = Procedure(
    "rooms.participants.update", "mutation", _ADMIN, ParticipantUpdate, RoomChanged,
    "Push a new grant and/or tier to every live session of a participant, on every gate.",
    errors=(ErrorCode.INVALID_REQUEST,),
    examples={**_WHO, "grant": {"canSubscribe": True}, "isViewer": True},
)  # fmt: skip
PARTICIPANTS_REMOVE: Final = Procedure(
    "rooms.participants.remove", "mutation", _ADMIN, ParticipantRef, RoomChanged,
    "Close a participant's sessions everywhere; tokens issued before cannot rejoin.",
    examples=_WHO,
)  # fmt: skip
ROOMS_END: Final = Procedure(
    "rooms.end", "mutation", _ADMIN, RoomRef, RoomChanged,
    "Close every session of a room; tokens issued before cannot rejoin.", examples=_ROOM,
)  # fmt: skip
