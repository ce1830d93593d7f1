"""What a MoQ client hands the relay: its token, fresh tokens, the broadcast paths it names.

The token rides in the connection URL (``?jwt=``). A session outlives it by
announcing the reserved broadcast :data:`REFRESH_BROADCAST` with a track
:data:`REFRESH_TRACK` and writing each fresh token as a frame;
:class:`RefreshChannel` is that client side.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from typing import Final, final

import moq

from relaypass.errors import InvalidRequestError, InvalidTokenError

__all__ = [
    "MAX_QUERY_BYTES",
    "MAX_REFRESH_FRAME",
    "REFRESH_BROADCAST",
    "REFRESH_TRACK",
    "RefreshChannel",
    "check_broadcast_path",
    "token_from_query",
]

#: Longest query string read for ``?jwt=`` (tokens are capped by the verifier too).
MAX_QUERY_BYTES: Final = 8192
#: The broadcast a client announces to hand the relay fresh tokens, and its track. (A path
#: starting with "." is hidden by moq and never announced to the relay.)
REFRESH_BROADCAST: Final = "_relaypass/refresh"
REFRESH_TRACK: Final = "refresh"
MAX_REFRESH_FRAME: Final = 16 * 1024


def token_from_query(query: str | None) -> str | None:
    """The ``jwt`` parameter of a connection URL (``None`` when absent).

    Strict: oversized queries and a repeated ``jwt`` are refused rather than
    guessed at.
    """
    if not query:
        return None
    if len(query) > MAX_QUERY_BYTES:
        msg = "connection query is too long"
        raise InvalidTokenError(msg)
    values = urllib.parse.parse_qs(query, keep_blank_values=True, max_num_fields=32).get("jwt")
    if values is None:
        return None
    if len(values) != 1 or not values[0]:
        msg = "connection query must carry one non-empty jwt"
        raise InvalidTokenError(msg)
    return values[0]


@final
class RefreshChannel:
    """The client side of in-band refresh: hands the relay fresh tokens on a session.

    ::

        async with moq.Client(url) as conn:
            channel = RefreshChannel(conn)
            await provider.keep_fresh(channel.send)   # relaypass.client token provider
    """

    def __init__(self, conn: moq.Client) -> None:
        self._broadcast = conn.create_broadcast(REFRESH_BROADCAST)
        self._track = self._broadcast.publish_track(REFRESH_TRACK)
        self._broadcast.announce()
        self._sequence = 0

    async def send(self, token: str) -> None:
        """Write one token (the relay pins its grant to the session)."""
        self._sequence += 1
        self._track.write_frame(token.encode("ascii"), self._sequence)

    def close(self) -> None:
        """Withdraw the channel."""
        with contextlib.suppress(moq.Error):
            self._broadcast.close()


def check_broadcast_path(path: str) -> None:
    """Broadcast paths are plain segments: no empty, ``.`` or ``..`` segment."""
    if not path or any(seg in {"", ".", ".."} for seg in path.split("/")):
        msg = "broadcast paths are plain segments"
        raise InvalidRequestError(msg)
