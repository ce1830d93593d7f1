"""A room's decisions and notices, applied on every gate alike.

Admissions, denials, grant changes, removals and ends come from this gate's own
moderators, from the control plane or from other gates through Redis; ``joined``,
``waiting`` and ``left`` are other gates' notices. Each event is applied the same
way wherever it comes from, so the gates act as one. Mixed into
:class:`~relaypass.gate.rooms.RoomBoard`, which keeps the rooms and the lobby.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic

from relaypass.errors import RelaypassError
from relaypass.gate.room_memory import RoomMemory
from relaypass.gate.room_parts import (
    Room,
    RoomGate,
    RoomKey,
    S,
    Waiting,
    changed,
    grant_changed,
    matches,
    room_key,
    same_room,
)
from relaypass.profiles.room import RoomGrantFlags
from relaypass.profiles.room_events import ACTIONS

__all__ = ["RoomDecisions"]


class RoomDecisions(Generic[S]):
    """Applies room events to a board's sessions (its lock, rooms, lobby and memory)."""

    gate_id: str
    _gate: RoomGate[S]
    _lock: threading.RLock
    _rooms: dict[RoomKey, Room[S]]
    _waiting: dict[int, Waiting[S]]
    _memory: RoomMemory
    _let_in: Callable[[Waiting[S]], None]
    _sessions_of: Callable[[RoomKey, str], list[S]]
    _moderators_of: Callable[[RoomKey], list[S]]
    _schedule_count: Callable[[RoomKey, Room[S]], None]
    _report_session: Callable[[S], None]
    _used: Callable[[str, S], None]
    _emit: Callable[[S, dict[str, Any]], None]

    def apply(self, event: Mapping[str, Any]) -> None:
        """Apply one room event (this gate's own, the control plane's or another gate's)."""
        action = event.get("action")
        room = event.get("room")
        if action not in ACTIONS or not isinstance(room, str):
            return
        if event.get("gate") == self.gate_id:
            return  # our own, back from Redis
        org = event.get("org") if isinstance(event.get("org"), str) else None
        participant = event.get("participant")
        participant = participant if isinstance(participant, str) else None
        at = event.get("at")
        when = float(at) if isinstance(at, int | float) else self._gate.clock.now()
        handler = getattr(self, f"_on_{action}".lower())
        handler((org, room), participant, when, event)

    def hydrate(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Standing state after a (re)connect: removals, ends, changes, admissions."""
        horizon = self._gate.clock.now() - self._memory.horizon_seconds
        for event in sorted(events, key=lambda e: float(e.get("at") or 0)):
            if float(event.get("at") or 0) >= horizon:
                self.apply(event)

    def _on_admit(self, key: RoomKey, participant: str | None, when: float, _: Any) -> None:  # noqa: ANN401
        if participant is not None:
            self._admit(key, participant, when)

    def _on_admitall(self, key: RoomKey, _p: str | None, when: float, _: Any) -> None:  # noqa: ANN401
        self._admit(key, None, when)

    def _admit(self, key: RoomKey, participant: str | None, when: float) -> None:
        """Let in one participant waiting in a room's lobby, or (``None``) everyone waiting."""
        with self._lock:
            admitted = [
                w for w in self._waiting.values()
                if matches(w.session, key)
                and (participant is None or w.session.grant.participant == participant)
            ]  # fmt: skip
            named = [w.session.grant.participant for w in admitted] if participant is None else [
                participant
            ]  # fmt: skip
            for who in named:
                if who is not None:  # remembered: their next join skips the lobby
                    self._memory.admitted(key, who, when)
            for w in admitted:
                self._let_in(w)
        for w in admitted:
            self._report_session(w.session)
            self._used("admitted", w.session)
            self._emit(w.session, {"type": "admitted"})

    def _on_deny(self, key: RoomKey, participant: str | None, _w: float, _: Any) -> None:  # noqa: ANN401
        with self._lock:
            denied = [
                w.session for w in self._waiting.values()
                if matches(w.session, key) and w.session.grant.participant == participant
            ]  # fmt: skip
        for session in denied:
            self._used("denied", session)
            self._gate.close(session, "entry_denied")

    def _on_update(self, key: RoomKey, participant: str | None, when: float, event: Any) -> None:  # noqa: ANN401
        if participant is None:
            return
        raw = event.get("grant")
        viewer = event.get("isViewer")
        try:
            flags = RoomGrantFlags.from_wire(raw) if raw is not None else None
        except RelaypassError:
            return  # the control plane validated it; a forged event changes nothing
        is_viewer = viewer if isinstance(viewer, bool) else None
        with self._lock:
            self._memory.updated(key, participant, flags, is_viewer=is_viewer, when=when)
            sessions = self._sessions_of(key, participant)
        for session in sessions:
            before = session.grant
            after = changed(before, flags, is_viewer)
            self._gate.regrant(session, after)
            self._report_session(session)
            self._used("grant_changed", session)
            self._emit(session, grant_changed(before, after))
            if before.is_viewer != after.is_viewer:
                with self._lock:
                    room = self._rooms.get(room_key(after) or key)
                    if room is not None:
                        self._schedule_count(room_key(after) or key, room)

    def _on_remove(self, key: RoomKey, participant: str | None, when: float, _: Any) -> None:  # noqa: ANN401
        if participant is None:
            return
        with self._lock:
            self._memory.removed(key, participant, when)
            sessions = self._sessions_of(key, participant)
        for session in sessions:
            if (session.grant.issued_at or 0.0) <= when:
                self._used("removed", session)
                self._gate.close(session, "removed")

    def _on_end(self, key: RoomKey, _p: str | None, when: float, _: Any) -> None:  # noqa: ANN401
        with self._lock:
            self._memory.ended(key, when)
            sessions = [
                s for k, room in self._rooms.items() if same_room(k, key)
                for members in room.members.values() for s in members
            ]  # fmt: skip
        for session in sessions:
            if (session.grant.issued_at or 0.0) <= when:
                self._gate.close(session, "room_ended")

    def _on_joined(self, key: RoomKey, participant: str | None, when: float, _: Any) -> None:  # noqa: ANN401
        """Another gate admitted a newer session of this participant: ours is stale."""
        if participant is None:
            return
        with self._lock:
            stale = [s for s in self._sessions_of(key, participant) if s.started_at < when]
        for session in stale:
            self._gate.close(session, "replaced")

    def _on_waiting(self, key: RoomKey, participant: str | None, _w: float, _: Any) -> None:  # noqa: ANN401
        """Someone waits on another gate: this gate's moderators of the room are told too."""
        if participant is None:
            return
        for moderator in self._moderators_of(key):
            self._emit(moderator, {"type": "participant-waiting", "participant": participant})

    def _on_left(self, *_: Any) -> None:  # noqa: ANN401 - for the control plane's list
        return
