"""Room events (rooms live): the wire format between control plane and gates.

An event is a JSON object ``{"type": "room", "action", "org", "room",
"participant"?, "grant"?, "isViewer"?, "at", "gate"?}``, announced on
``<prefix>:events``. The ones that stand (admissions, changes, removals, ends)
are also kept in ``<prefix>:rooms`` so a gate that (re)connects catches up;
lobby entries are kept in ``<prefix>:lobby`` while someone waits, for the
control plane's ``rooms.lobby.list``. Everything else (``deny``,
``admitAll``, ``joined``) acts once, on the gates that hear it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["ACTIONS", "STANDING", "lobby_field", "standing_field"]

#: Every action a room event may carry.
ACTIONS: Final = frozenset(
    {"admit", "deny", "admitAll", "update", "remove", "end", "joined", "waiting", "left"}
)
#: Actions whose latest event per room (and participant) is kept for late gates.
STANDING: Final = frozenset({"admit", "update", "remove", "end"})


def standing_field(event: Mapping[str, Any]) -> str | None:
    """The ``<prefix>:rooms`` field a standing event is kept under (``None``: not kept)."""
    action = event.get("action")
    if action not in STANDING:
        return None
    org, room = event.get("org") or "", event.get("room")
    if not isinstance(room, str):
        return None
    if action == "end":
        return f"end:{org}:{room}"
    participant = event.get("participant")
    return f"{action}:{org}:{room}:{participant}" if isinstance(participant, str) else None


def lobby_field(org: str | None, room: str, participant: str) -> str:
    """The ``<prefix>:lobby`` field of one waiting participant."""
    return f"{org or ''}:{room}:{participant}"
