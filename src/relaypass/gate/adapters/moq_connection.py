"""One session the MoQ relay admitted: what it runs and what it forwards.

The connection record (its origins, tasks, routes and what the grant keeps out),
the path arithmetic between a session's root and the hub, and the copy of a
publisher's track into the hub, frame by frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Final, final

import moq

from relaypass.gate.adapters.moq_auth_client import AuthSession
from relaypass.gate.expiry import ExpiryTimer
from relaypass.gate.session import Session

__all__ = ["NOT_FOUND", "Connection", "copy_track", "join_path", "relative_to", "transport_name"]

NOT_FOUND: Final = 404


def transport_name(transport: object) -> str:
    """The contract's transport name (``quic``, ``websocket``, ...) of a moq transport."""
    name = getattr(transport, "name", None)
    return name.lower().replace("_", "") if isinstance(name, str) else "quic"


def join_path(root: str, path: str) -> str:
    """``path`` under ``root`` (either may be empty)."""
    return f"{root}/{path}" if root and path else root or path


@final
@dataclass(eq=False)
class Connection:
    """One admitted MoQ session and what it runs."""

    gate_session: Session
    root: str
    ingest: moq.OriginProducer = field(default_factory=moq.OriginProducer)
    egress: moq.OriginProducer = field(default_factory=moq.OriginProducer)
    moq_session: moq.Session | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    published: dict[str, moq.BroadcastProducer] = field(default_factory=dict)
    routes: dict[str, Any] = field(default_factory=dict)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    expiry: ExpiryTimer | None = None
    # With an auth server: what it knows of the session, and a push's wake-up.
    auth: AuthSession | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Paths kept out by the current grant, reconsidered when a revalidate widens it.
    withheld: set[str] = field(default_factory=set)  # announced in the hub, not mirrored
    refused: set[str] = field(default_factory=set)  # announced by the client, not forwarded
    consumer: moq.OriginConsumer | None = None


def relative_to(prefix: str, path: str) -> str | None:
    """``path`` below ``prefix`` by whole segments, or ``None``."""
    if not prefix:
        return path
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return None


async def copy_track(upstream: moq.TrackConsumer, downstream: moq.TrackProducer) -> None:
    """Copy a publisher's track into the hub, group by group, frame by frame."""
    try:
        while (group := await upstream.recv_group()) is not None:
            out = downstream.create_group(group.sequence)
            while (frame := await group.read_frame()) is not None:
                out.write_frame(frame.payload, frame.timestamp_us)
            out.finish()
        downstream.finish()
    except moq.Error:
        with contextlib.suppress(moq.Error):
            downstream.abort(NOT_FOUND)
    finally:
        upstream.cancel()
