"""What the room board is made of, apart from its state.

What it asks of sessions and of its gate, the records it keeps, the pure functions over grants
and rooms, and its metrics.

:mod:`relaypass.gate.rooms` holds the board itself (the state and the events that change
it); everything here is stateless, or a record the board keeps.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from relaypass._grant import Grant
from relaypass.profiles.room import RoomAction, RoomClaims, RoomGrantFlags

if TYPE_CHECKING:
    from relaypass._clock import Clock
    from relaypass.gate.usage import UsageEvents

__all__ = [
    "MAX_PARTICIPANT",
    "Room",
    "RoomCollector",
    "RoomGate",
    "RoomKey",
    "RoomSession",
    "Waiting",
    "changed",
    "count",
    "grant_changed",
    "matches",
    "room_key",
    "same_room",
    "valid_participant",
]

#: A room: its org (``None`` on a gate without orgs) and its id.
RoomKey = tuple[str | None, str]
#: The longest participant id a moderator's event may name.
MAX_PARTICIPANT: Final = 256


class RoomSession(Protocol):
    """What the board reads and marks of a session (:class:`relaypass.gate.Session` is one)."""

    grant: Grant
    pending: bool

    @property
    def id(self) -> int:
        """The session's number on its gate."""

    @property
    def started_at(self) -> float:
        """When it connected (the gate's clock)."""

    @property
    def open(self) -> bool:
        """Whether it is still live."""


S = TypeVar("S", bound=RoomSession)
S_contra = TypeVar("S_contra", bound=RoomSession, contravariant=True)


class RoomGate(Protocol[S_contra]):
    """What the board asks of its gate (:class:`relaypass.gate.Gate` is one).

    The gate builds on the board, not the board on the gate: it files its room
    sessions here, and the board closes or re-grants them through this.
    """

    @property
    def clock(self) -> Clock:
        """The gate's clock."""

    @property
    def usage(self) -> UsageEvents | None:
        """Where usage events go, if anywhere."""

    def close(self, session: S_contra, reason: str) -> None:
        """End a session for ``reason``."""

    def regrant(self, session: S_contra, grant: Grant) -> None:
        """Pin a new grant to a live session."""

    @property
    def max_room_ttl_seconds(self) -> int:
        """The longest a room token may live (how long the board remembers a decision)."""


@dataclass
class Waiting(Generic[S]):
    """A session in a lobby: until when it may wait, and the timer that ends the wait."""

    session: S
    deadline: float
    timer: threading.Timer


@dataclass
class Room(Generic[S]):
    """A room's sessions on this gate, by participant, and its pending count event."""

    members: dict[str, set[S]] = field(default_factory=dict)
    count_timer: threading.Timer | None = None


def room_key(grant: Grant) -> RoomKey | None:
    """The room a grant names (``None``: not a room grant)."""
    return (grant.org, grant.room) if grant.room else None  # only room grants name a room


def valid_participant(value: str) -> bool:
    """Whether a moderator's event may name this participant id."""
    return 0 < len(value) <= MAX_PARTICIPANT and value.isprintable()


def same_room(a: RoomKey, b: RoomKey) -> bool:
    """Same room id, and the same org where both know theirs (a gate without orgs knows none)."""
    return a[1] == b[1] and (a[0] is None or b[0] is None or a[0] == b[0])


def matches(session: RoomSession, key: RoomKey) -> bool:
    """Whether a session is in the room ``key``."""
    own = room_key(session.grant)
    return own is not None and same_room(own, key)


def count(room: Room[Any]) -> tuple[int, int]:
    """Admitted live participants of a room on this gate: (speakers, viewers)."""
    speakers = viewers = 0
    for members in room.members.values():
        live = [s for s in members if not s.pending and s.open]
        if not live:
            continue
        if live[0].grant.is_viewer:
            viewers += 1
        else:
            speakers += 1
    return speakers, viewers


def changed(grant: Grant, flags: RoomGrantFlags | None, is_viewer: bool | None) -> Grant:
    """``grant`` with a new room grant and/or tier; everything else (room, expiry, ids) kept."""
    viewer = grant.is_viewer if is_viewer is None else is_viewer
    if flags is None:
        return dataclasses.replace(grant, is_viewer=viewer)
    rebuilt = RoomClaims(
        grant=flags, room_id=grant.room, participant_id=grant.participant, is_viewer=viewer
    ).to_grant()
    return dataclasses.replace(
        grant,
        publish=rebuilt.publish,
        subscribe=rebuilt.subscribe,
        capabilities=rebuilt.capabilities,
        publish_sources=rebuilt.publish_sources,
        is_viewer=viewer,
    )


def grant_changed(before: Grant, after: Grant) -> dict[str, Any]:
    """What the adapter needs: the new rights, and what it must stop carrying now."""
    was = before.publish_sources or frozenset()
    now = after.publish_sources or frozenset()
    can_publish = RoomAction.PUBLISH in after.capabilities
    stop = sorted(was if not can_publish else was - now)
    return {
        "type": "grant-changed",
        "capabilities": sorted(after.capabilities),
        "canPublishSources": sorted(now) if can_publish else [],
        "isViewer": after.is_viewer,
        "stopSources": stop if RoomAction.PUBLISH in before.capabilities else [],
    }


class _Totals(Protocol):
    def totals(self) -> tuple[int, int, int]: ...

    def waiting_total(self) -> int: ...


class RoomCollector(Collector):
    """A board's tiers in ``/metrics``: rooms and participants by tier, no per-room labels."""

    def __init__(self, board: _Totals) -> None:
        self._board = board

    def collect(self) -> Iterator[Metric]:
        """Rooms, participants by tier and lobby waiters, read at scrape time."""
        rooms, speakers, viewers = self._board.totals()
        yield GaugeMetricFamily(
            "relaypass_gate_rooms", "Rooms with a session on this gate", value=rooms
        )
        participants = GaugeMetricFamily(
            "relaypass_gate_room_participants",
            "Admitted room participants on this gate, by tier",
            labels=["tier"],
        )
        participants.add_metric(["speaker"], speakers)
        participants.add_metric(["viewer"], viewers)
        yield participants
        waiting = GaugeMetricFamily(
            "relaypass_gate_room_waiting", "Joiners waiting in a lobby on this gate",
            value=self._board.waiting_total(),
        )  # fmt: skip
        yield waiting
