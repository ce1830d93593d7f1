"""Rooms live: decisions on a room, recorded with the event every gate must apply.

A decision is one audit row and one outbox row in the same transaction, so a
committed decision reaches the gates even across a Redis outage (the outbox
relay retries), and the standing ones (admissions, grant changes, removals,
ends) are replayed to a Redis that lost them.
"""

from __future__ import annotations

from typing import Any, Final

from relaypass.profiles.room_events import STANDING, standing_field
from relaypass.server.db import models
from relaypass.server.db._part import StorePart

__all__ = ["RoomStore"]

#: Room tokens live at most 24 h: older decisions concern no live token.
_MEMORY_MS: Final = 86_400_000


class RoomStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`."""

    def room_action(
        self,
        org_id: str,
        action: str,
        room_id: str,
        *,
        participant_id: str | None = None,
        change: dict[str, Any] | None = None,
        actor: str,
    ) -> dict[str, Any]:
        """Record a decision: ``admit``, ``deny``, ``admitAll``, ``update``, ``remove``, ``end``."""
        event: dict[str, Any] = {
            "type": "room",
            "action": action,
            "org": org_id,
            "room": room_id,
            "at": self._now() / 1000,
        }
        if participant_id is not None:
            event["participant"] = participant_id
        event.update(change or {})
        target = room_id if participant_id is None else f"{room_id}/{participant_id}"
        with self.transaction() as session:
            self._audit(session, org_id, actor, f"room.{action}", target, {"event": event})
        return event

    def standing_room_events(self) -> list[dict[str, Any]]:
        """The latest standing decision per room and participant, recent enough to matter."""
        since = self._now() - _MEMORY_MS
        with self.transaction() as session:
            events = models.OutboxEvent.since(session, "room", since)
        latest: dict[str, dict[str, Any]] = {}
        for event in events:
            field = standing_field(event) if event.get("action") in STANDING else None
            if field is not None:
                latest[field] = event
        return list(latest.values())
