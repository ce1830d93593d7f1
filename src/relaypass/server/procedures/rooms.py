"""Rooms live: lobby decisions, participants' grants and removal, ending a room."""

from __future__ import annotations

from typing import Any

from relaypass.api import rooms as api
from relaypass.profiles.room_events import update_change
from relaypass.server.procedures._context import Call, Handlers, Services

__all__ = ["handlers"]

handlers = Handlers()


def _decide(
    s: Services,
    call: Call,
    action: str,
    body: api.RoomRef,
    *,
    participant: str | None = None,
    change: dict[str, Any] | None = None,
) -> api.RoomChanged:
    s.same_org(call.who, body.org_id)
    s.store.room_action(
        body.org_id, action, body.room_id, participant_id=participant, change=change,
        actor=call.who.id,
    )  # fmt: skip
    return api.RoomChanged(
        room_id=body.room_id, participant_id=participant, action=action, published=s.published()
    )


@handlers.handles(api.LOBBY_LIST)
def lobby_list(s: Services, call: Call, body: api.RoomRef) -> api.LobbyList:
    s.same_org(call.who, body.org_id)
    entries = s.lobby(body.org_id, body.room_id) if s.lobby is not None else []
    waiting = [
        api.LobbyEntry(
            participant_id=str(e["participant"]),
            since=float(e.get("since") or 0),
            deadline=float(e.get("deadline") or 0),
        )
        for e in entries
        if isinstance(e.get("participant"), str)
    ]
    return api.LobbyList(waiting=sorted(waiting, key=lambda e: e.since))


@handlers.handles(api.PARTICIPANTS_LIST)
def participants_list(s: Services, call: Call, body: api.ParticipantQuery) -> api.ParticipantList:
    s.same_org(call.who, body.org_id)
    entries = s.participants(body.org_id, body.room_id) if s.participants is not None else []
    return api.ParticipantList(
        participants=[
            api.ParticipantEntry(
                participant_id=e["participant"],
                tier="viewer" if e.get("tier") == "viewer" else "speaker",
                state="waiting" if e.get("state") == "waiting" else "admitted",
                grant=e["grant"] if isinstance(e.get("grant"), dict) else {},
                since=float(e.get("since") or 0),
            )
            for e in entries
            if body.tier is None or e.get("tier") == body.tier
        ]
    )


@handlers.handles(api.LOBBY_ADMIT)
def lobby_admit(s: Services, call: Call, body: api.ParticipantRef) -> api.RoomChanged:
    return _decide(s, call, "admit", body, participant=body.participant_id)


@handlers.handles(api.LOBBY_DENY)
def lobby_deny(s: Services, call: Call, body: api.ParticipantRef) -> api.RoomChanged:
    return _decide(s, call, "deny", body, participant=body.participant_id)


@handlers.handles(api.LOBBY_ADMIT_ALL)
def lobby_admit_all(s: Services, call: Call, body: api.RoomRef) -> api.RoomChanged:
    return _decide(s, call, "admitAll", body)


@handlers.handles(api.PARTICIPANTS_UPDATE)
def participants_update(s: Services, call: Call, body: api.ParticipantUpdate) -> api.RoomChanged:
    """Validated here as a gate would validate a token's grant; gates apply it live."""
    change = update_change(body.grant, body.is_viewer)
    return _decide(s, call, "update", body, participant=body.participant_id, change=change)


@handlers.handles(api.PARTICIPANTS_REMOVE)
def participants_remove(s: Services, call: Call, body: api.ParticipantRef) -> api.RoomChanged:
    return _decide(s, call, "remove", body, participant=body.participant_id)


@handlers.handles(api.ROOMS_END)
def rooms_end(s: Services, call: Call, body: api.RoomRef) -> api.RoomChanged:
    return _decide(s, call, "end", body)
