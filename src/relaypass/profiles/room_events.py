"""Room events (rooms live): the wire format between control plane and gates.

An event is a JSON object ``{"type": "room", "action", "org", "room",
"participant"?, "grant"?, "isViewer"?, "at", "gate"?}``, announced on
``<prefix>:events``. The ones that stand (admissions, changes, removals, ends)
are also kept in ``<prefix>:rooms`` so a gate that (re)connects catches up;
lobby entries are kept in ``<prefix>:lobby`` while someone waits, for the
control plane's ``rooms.lobby.list``. Everything else (``deny``,
``admitAll``, ``joined``) acts once, on the gates that hear it.

Each gate also keeps its roster (who is in which room, in which tier and lobby
state, with what grant) in ``<prefix>:roster:<gate>``, a hash that expires
unless the gate renews it: a gate that dies takes its roster with it within
:data:`ROSTER_TTL_SECONDS`. :func:`read_roster` joins them for
``rooms.participants.list`` and a page's own list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

from relaypass.errors import InvalidRequestError, RelaypassError
from relaypass.profiles.room import RoomGrantFlags

__all__ = [
    "ACTIONS",
    "ROSTER_TTL_SECONDS",
    "STANDING",
    "glob_literal",
    "lobby_field",
    "read_roster",
    "roster_key",
    "standing_field",
    "update_change",
]

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


def update_change(grant: object, is_viewer: bool | None) -> dict[str, Any]:
    """The fields of an ``update``: a grant checked as a token's would be, and/or a tier."""
    if grant is None and is_viewer is None:
        msg = "give a grant, isViewer, or both"
        raise InvalidRequestError(msg)
    change: dict[str, Any] = {}
    if grant is not None:
        try:
            change["grant"] = RoomGrantFlags.from_wire(grant).to_wire()
        except RelaypassError as exc:
            raise InvalidRequestError(exc.reason) from None
    if is_viewer is not None:
        change["isViewer"] = is_viewer
    return change


def lobby_field(org: str | None, room: str, participant: str) -> str:
    """The ``<prefix>:lobby`` field of one waiting participant."""
    return f"{org or ''}:{room}:{participant}"


#: A gate's roster outlives the gate by at most this long (renewed every third of it).
ROSTER_TTL_SECONDS: Final = 90


class _RosterClient(Protocol):
    def scan_iter(self, match: str, count: int) -> Iterable[Any]: ...
    def hscan_iter(self, name: str, match: str) -> Iterable[tuple[Any, Any]]: ...


def roster_key(prefix: str, gate: str) -> str:
    """The hash holding one gate's roster."""
    return f"{prefix}:roster:{gate}"


def read_roster(
    client: _RosterClient, prefix: str, org: str | None, room: str
) -> list[dict[str, Any]]:
    """Every gate's entries for one room, one per participant (the latest join wins)."""
    field_prefix = lobby_field(org, room, "")
    latest: dict[str, dict[str, Any]] = {}
    for key in client.scan_iter(match=glob_literal(f"{prefix}:roster:") + "*", count=500):
        name = key.decode() if isinstance(key, bytes) else str(key)
        for field, raw in client.hscan_iter(name, match=glob_literal(field_prefix) + "*"):
            text = field.decode() if isinstance(field, bytes) else str(field)
            if not text.startswith(field_prefix):
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("participant"), str):
                continue
            seen = latest.get(entry["participant"])
            if seen is None or float(entry.get("since") or 0) > float(seen.get("since") or 0):
                latest[entry["participant"]] = entry
    return sorted(latest.values(), key=lambda e: (float(e.get("since") or 0), e["participant"]))


def glob_literal(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
