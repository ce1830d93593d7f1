"""Rooms live: the lobby, admissions, live grant changes, removal, tiers.

Every room session of a :class:`~relaypass.gate.Gate` is filed here under its
room (``(org, roomId)``) and participant. What happens to a room arrives as
events, from this gate's own moderators or from the control plane and other
gates through Redis; all gates apply the same events, so they act as one.

- **Lobby.** A token with ``joinPolicy: ask`` connects *pending*: every check
  refuses with ``PENDING_ADMISSION`` until a moderator (a session of the room
  with ``canModerate``) or the control plane admits the participant. Denied, the
  session closes with ``ENTRY_DENIED``; not admitted within the policy's ``ttl``
  (300 s by default), with ``ENTRY_TIMEOUT``. Someone who joins before any
  moderator simply waits for the first one.
- **Grant changes.** ``update`` replaces a participant's room grant and tier
  (``isViewer``) on every live session at once; the adapter gets a
  ``grant-changed`` event naming what to stop. A later join or refresh with a
  token issued before the change keeps the change (old tokens cannot win back
  old rights); a token issued after it carries its own grant.
- **Removal.** ``remove`` closes the participant's sessions (``PARTICIPANT_REMOVED``)
  and refuses tokens issued before it; ``end`` does the same for a whole room
  (``ROOM_ENDED``).
- **One session per participant.** A newer session of the same participant in
  the same room replaces the older one, on any gate (``DUPLICATE_IDENTITY``):
  a client that reconnects after a network change is not locked out by its own
  stale session.
- **Tiers.** Admitted sessions count as speakers or viewers; changes are
  coalesced into one ``participant-count-changed`` event per room.
- **Identity.** A token's ``participantId`` pins who joins: a join that names
  another identity is refused ``UNAUTHORIZED_PARTICIPANT``. A token without one
  (the single-mint audience token) gets an identity the gate generates for each
  session (``guest-…``); a name the client proposes is not taken, since it could
  be someone else's and replace their session.
- **Moderators' own sessions** (``canModerate`` in this room) admit, deny,
  change a participant's grant, remove a participant and end the room, as the
  control plane does; every gate applies the decision.
- **The roster** (who is in, in which tier and lobby state, with what grant) is
  reported through :attr:`RoomBoard.report` (Redis keeps every gate's), for the
  control plane's ``rooms.participants.list`` and a session's own list.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any, Final, final

from prometheus_client.registry import CollectorRegistry

from relaypass._grant import Grant
from relaypass.errors import (
    ErrorCode,
    InvalidPermissionsError,
    InvalidRequestError,
    ParticipantRemovedError,
    PendingAdmissionError,
    RoomEndedError,
    UnauthorizedParticipantError,
)
from relaypass.gate.room_decisions import RoomDecisions
from relaypass.gate.room_memory import MEMORY_SECONDS, RoomMemory
from relaypass.gate.room_parts import (
    Room,
    RoomCollector,
    RoomGate,
    RoomKey,
    RoomSession,
    S,
    Waiting,
    changed,
    count,
    room_key,
    same_room,
    valid_participant,
)
from relaypass.profiles.room import RoomAction, RoomGrantFlags
from relaypass.profiles.room_events import update_change

__all__ = [
    "CLOSE_CODES",
    "MODERATOR_ACTIONS",
    "TIERS",
    "RoomBoard",
    "RoomGate",
    "RoomKey",
    "RoomSession",
    "pending_error",
]

#: Why the gate closed a room session -> the stable code adapters report.
CLOSE_CODES: Final = {
    "entry_denied": ErrorCode.ENTRY_DENIED,
    "entry_timeout": ErrorCode.ENTRY_TIMEOUT,
    "removed": ErrorCode.PARTICIPANT_REMOVED,
    "room_ended": ErrorCode.ROOM_ENDED,
    "replaced": ErrorCode.DUPLICATE_IDENTITY,
}
#: What a moderator's own session may decide, as the control plane may.
MODERATOR_ACTIONS: Final = frozenset({"admit", "deny", "admitAll", "update", "remove", "end"})
_NEEDS_PARTICIPANT: Final = frozenset({"admit", "deny", "update", "remove"})
#: Tiers a participant list may be narrowed to.
TIERS: Final = frozenset({"speaker", "viewer"})


def pending_error() -> PendingAdmissionError:
    """The refusal every check of a session in the lobby gets."""
    return PendingAdmissionError("waiting in the lobby for a moderator")


@final
class RoomBoard(RoomDecisions[S]):
    """The room sessions of one gate, and the events that change them."""

    def __init__(self, gate: RoomGate[S], *, coalesce_seconds: float = 0.1) -> None:
        self._gate = gate
        self.gate_id = uuid.uuid4().hex[:12]
        self.coalesce_seconds = coalesce_seconds
        self._lock = threading.RLock()
        self._rooms: dict[RoomKey, Room[S]] = {}
        self._waiting: dict[int, Waiting[S]] = {}
        #: Admissions, removals, ends and grant changes, for as long as a token can live.
        self._memory = RoomMemory(max(MEMORY_SECONDS, gate.max_room_ttl_seconds))
        #: Sends an event to the other gates (Redis); ``None`` for a gate on its own.
        self.publish: Callable[[dict[str, Any]], None] | None = None
        #: Tells the adapter about one session: ``grant-changed``, ``admitted``,
        #: ``participant-count-changed``, ``participant-waiting``.
        self.on_event: Callable[[S, dict[str, Any]], None] | None = None
        #: Reports one roster change: an entry, or ``None`` once the participant left.
        self.report: Callable[[RoomKey, str, dict[str, Any] | None], None] | None = None
        #: Reads every gate's roster of a room (Redis); ``None``: this gate's own.
        self.roster_reader: Callable[[RoomKey], list[dict[str, Any]] | None] | None = None

    # ------------------------------------------------------------ identity

    def identify(self, grant: Grant, requested: str | None) -> Grant:
        """The identity a room session joins as: the token's, or one generated for it.

        ``requested`` is the identity the client names (``None``: none); a token
        that pins ``participantId`` refuses any other one.
        """
        if requested is not None and not valid_participant(requested):
            msg = "participant must be 1-256 printable characters"
            raise InvalidRequestError(msg)
        if grant.participant is not None:
            if requested is not None and requested != grant.participant:
                msg = "the token is pinned to another participant"
                raise UnauthorizedParticipantError(msg)
            return grant
        if grant.room is None:
            return grant  # not in a room yet: nothing to be in it as
        return dataclasses.replace(grant, participant=f"guest-{secrets.token_urlsafe(12)}")

    # ------------------------------------------------------------ sessions

    def check_join(self, grant: Grant) -> None:
        """Refuse a token issued before its participant's removal or its room's end."""
        key = room_key(grant)
        if key is None:
            return
        issued = grant.issued_at or 0.0
        with self._lock:
            ended = self._memory.ended_at(key)
            removed = self._memory.removed_at(key, grant.participant)
        if ended is not None and issued <= ended:
            msg = "the room was ended after this token was issued"
            raise RoomEndedError(msg)
        if removed is not None and issued <= removed:
            msg = "the participant was removed after this token was issued"
            raise ParticipantRemovedError(msg)

    def joined(self, session: S) -> None:
        """File a room session: standing changes, an older twin replaced, the lobby."""
        key = room_key(session.grant)
        participant = session.grant.participant
        if key is None or participant is None:
            return
        now = self._gate.clock.now()
        replaced: list[S] = []
        with self._lock:
            update = self._memory.update_for(key, participant)
            if update is not None and (session.grant.issued_at or 0.0) <= update[2]:
                session.grant = changed(session.grant, update[0], update[1])
            room = self._rooms.setdefault(key, Room())
            replaced = list(room.members.get(participant, ()))
            room.members[participant] = {session}
            wait = (
                session.grant.lobby_ttl is not None
                and RoomAction.MODERATE not in session.grant.capabilities
                and self._memory.admitted_at(key, participant) is None
            )
            if wait:
                session.pending = True
                ttl = float(session.grant.lobby_ttl or 0)
                timer = threading.Timer(ttl, self._timed_out, args=(session,))
                timer.daemon = True
                self._waiting[session.id] = Waiting(session, now + ttl, timer)
                timer.start()
            self._schedule_count(key, room)
        for old in replaced:
            self._gate.close(old, "replaced")
        self._report(key, participant, session)
        self._send(
            {"action": "joined", "org": key[0], "room": key[1], "participant": participant,
             "since": now},
        )  # fmt: skip
        if wait:
            self._send(
                {"action": "waiting", "org": key[0], "room": key[1], "participant": participant,
                 "since": now, "deadline": now + float(session.grant.lobby_ttl or 0)},
            )  # fmt: skip
            for moderator in self._moderators_of(key):
                self._emit(moderator, {"type": "participant-waiting", "participant": participant})
            self._used("waiting", session)

    def left(self, session: S) -> None:
        """Forget a closed session."""
        key = room_key(session.grant)
        participant = session.grant.participant
        if key is None or participant is None:
            return
        with self._lock:
            waiting = self._waiting.pop(session.id, None)
            if waiting is not None:
                waiting.timer.cancel()
            room = self._rooms.get(key)
            if room is None:
                return
            members = room.members.get(participant)
            gone = members is not None and session in members and len(members) == 1
            if members is not None:
                members.discard(session)
                if not members:
                    del room.members[participant]
            self._schedule_count(key, room)
            if not room.members and room.count_timer is None:
                del self._rooms[key]
        if gone and self.report is not None:
            self.report(key, participant, None)
        if waiting is not None:
            self._send(
                {"action": "left", "org": key[0], "room": key[1], "participant": participant}
            )

    def regranted(self, session: S, grant: Grant) -> Grant:
        """A refresh: a standing change outlives tokens issued before it; ``exp`` never shrinks."""
        current = session.grant
        if grant.participant is None:
            grant = dataclasses.replace(grant, participant=current.participant)
        elif grant.participant != current.participant:
            msg = "a refresh must keep the session's participant"
            raise UnauthorizedParticipantError(msg)
        key = room_key(grant)
        if current.expires_at is not None and (
            grant.expires_at is None or grant.expires_at < current.expires_at
        ):
            grant = dataclasses.replace(grant, expires_at=current.expires_at)
        if key is not None and grant.participant is not None:
            with self._lock:
                update = self._memory.update_for(key, grant.participant)
            if update is not None and (grant.issued_at or 0.0) <= update[2]:
                grant = changed(grant, update[0], update[1])
        return grant

    # ------------------------------------------------------------ moderation

    def waiting(self, key: RoomKey) -> list[dict[str, object]]:
        """Joiners waiting in a room's lobby on this gate."""
        with self._lock:
            return [
                {"participant": w.session.grant.participant, "deadline": w.deadline}
                for w in self._waiting.values()
                if room_key(w.session.grant) == key
            ]

    def moderate(
        self,
        moderator: S,
        action: str,
        participant: str | None = None,
        *,
        grant: object = None,
        is_viewer: bool | None = None,
    ) -> None:
        """A moderator's decision, for every gate: see :data:`MODERATOR_ACTIONS`.

        ``update`` takes a room grant (validated as a token's) and/or a tier.
        """
        current = moderator.grant
        key = room_key(current)
        if moderator.pending:
            raise pending_error()
        if key is None or RoomAction.MODERATE not in current.capabilities:
            msg = "only a moderator of this room may do this"
            raise InvalidPermissionsError(msg)
        if action not in MODERATOR_ACTIONS:
            msg = f"a moderator's action is one of {', '.join(sorted(MODERATOR_ACTIONS))}"
            raise InvalidRequestError(msg)
        if action in _NEEDS_PARTICIPANT and (
            participant is None or not valid_participant(participant)
        ):
            msg = f"{action} names a participant (1-256 printable characters)"
            raise InvalidRequestError(msg)
        event: dict[str, Any] = {
            "action": action, "org": key[0], "room": key[1], "at": self._gate.clock.now()
        }  # fmt: skip
        if action in _NEEDS_PARTICIPANT:
            event["participant"] = participant
        if action == "update":
            event.update(update_change(grant, is_viewer))
        self.apply(event)
        self._send(event)
        if action == "end" and self._gate.usage is not None:  # a moderator ended it
            self._gate.usage.emit("room_ended", key[0], current.tenant, {"room": key[1]})

    def participants(self, key: RoomKey, tier: str | None = None) -> list[dict[str, Any]]:
        """Who is in a room (on every gate with Redis), oldest first, narrowed to a tier."""
        if tier is not None and tier not in TIERS:
            msg = "tier is speaker or viewer"
            raise InvalidRequestError(msg)
        entries = self.roster_reader(key) if self.roster_reader is not None else None
        if entries is None:
            with self._lock:
                entries = sorted(
                    (self._entry(s) for k, room in self._rooms.items() if same_room(k, key)
                     for members in room.members.values() for s in members),
                    key=lambda e: (e["since"], e["participant"]),
                )  # fmt: skip
        return [e for e in entries if tier is None or e.get("tier") == tier]

    def roster(self) -> list[tuple[RoomKey, str, dict[str, Any]]]:
        """Every participant on this gate with its entry (to report it again after a reconnect)."""
        with self._lock:
            return [
                (key, participant, self._entry(s))
                for key, room in self._rooms.items()
                for participant, members in room.members.items()
                for s in list(members)[-1:]
            ]

    # ------------------------------------------------------------ tiers

    def counts(self, key: RoomKey) -> tuple[int, int]:
        """Admitted speakers and viewers of a room on this gate."""
        with self._lock:
            room = self._rooms.get(key)
            return count(room) if room is not None else (0, 0)

    def waiting_total(self) -> int:
        """Joiners in every lobby on this gate."""
        with self._lock:
            return len(self._waiting)

    def totals(self) -> tuple[int, int, int]:
        """Rooms, speakers and viewers on this gate (for ``/metrics``)."""
        with self._lock:
            speakers = viewers = 0
            for room in self._rooms.values():
                s, v = count(room)
                speakers += s
                viewers += v
            return len(self._rooms), speakers, viewers

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Expose the tiers in ``/metrics``: rooms and participants by tier, no per-room labels."""
        registry.register(RoomCollector(self))

    def _schedule_count(self, key: RoomKey, room: Room[S]) -> None:
        if room.count_timer is not None:
            return
        timer = threading.Timer(self.coalesce_seconds, self._flush_count, args=(key,))
        timer.daemon = True
        room.count_timer = timer
        timer.start()

    def _flush_count(self, key: RoomKey) -> None:
        with self._lock:
            room = self._rooms.get(key)
            if room is None:
                return
            room.count_timer = None
            speaker, viewer = count(room)
            sessions = [s for members in room.members.values() for s in members if not s.pending]
            if not room.members:
                del self._rooms[key]
        event = {"type": "participant-count-changed", "speaker": speaker, "viewer": viewer,
                 "total": speaker + viewer}  # fmt: skip
        for session in sessions:
            self._emit(session, event)

    # ------------------------------------------------------------ internals

    def _let_in(self, waiting: Waiting[S]) -> None:
        waiting.timer.cancel()
        self._waiting.pop(waiting.session.id, None)
        waiting.session.pending = False
        key = room_key(waiting.session.grant)
        room = self._rooms.get(key) if key is not None else None
        if key is not None and room is not None:
            self._schedule_count(key, room)
        if key is not None:
            self._send({"action": "left", "org": key[0], "room": key[1],
                        "participant": waiting.session.grant.participant})  # fmt: skip

    def _timed_out(self, session: S) -> None:
        with self._lock:
            if self._waiting.pop(session.id, None) is None:
                return
        self._gate.close(session, "entry_timeout")

    def _sessions_of(self, key: RoomKey, participant: str) -> list[S]:
        return [
            s for k, room in self._rooms.items() if same_room(k, key)
            for s in room.members.get(participant, ())
        ]  # fmt: skip

    def _moderators_of(self, key: RoomKey) -> list[S]:
        """Admitted moderators of the room on this gate (an event without an org: any org's)."""
        with self._lock:
            return [
                s for k, room in self._rooms.items() if same_room(k, key)
                for members in room.members.values() for s in members
                if not s.pending and RoomAction.MODERATE in s.grant.capabilities
            ]  # fmt: skip

    def _entry(self, session: S) -> dict[str, Any]:
        grant = session.grant
        return {
            "participant": grant.participant,
            "tier": "viewer" if grant.is_viewer else "speaker",
            "state": "waiting" if session.pending else "admitted",
            "grant": RoomGrantFlags.of_grant(grant).to_wire(),
            "since": session.started_at,
            "gate": self.gate_id,
        }

    def _report(self, key: RoomKey, participant: str, session: S) -> None:
        if self.report is not None and session.open:
            self.report(key, participant, self._entry(session))

    def _used(self, kind: str, session: S) -> None:
        """A usage event of one of this gate's room sessions."""
        usage = self._gate.usage
        if usage is not None:
            grant = session.grant
            detail = {"room": grant.room, "participant": grant.participant}
            usage.emit(kind, grant.org, grant.tenant, detail)

    def _report_session(self, session: S) -> None:
        key, participant = room_key(session.grant), session.grant.participant
        if key is not None and participant is not None:
            self._report(key, participant, session)

    def _emit(self, session: S, event: dict[str, Any]) -> None:
        if self.on_event is not None and session.open:
            self.on_event(session, event)

    def _send(self, event: dict[str, Any]) -> None:
        if self.publish is not None:
            now = self._gate.clock.now()
            self.publish({"type": "room", "gate": self.gate_id, "at": now, **event})
