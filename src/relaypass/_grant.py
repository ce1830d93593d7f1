"""The one internal grant every profile maps onto, and that the gate authorizes against.

A :class:`Grant` is built only by a profile from a :class:`VerifiedToken`, so
``authorize_*`` never sees claims that did not pass verification. Checks are
allow-lists: an empty pattern set or a missing capability refuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple, TypedDict, final

from relaypass._record import record
from relaypass._scopes import EMPTY, PatternSet
from relaypass.errors import (
    InvalidPermissionsError,
    UnauthorizedOriginError,
    UnauthorizedParticipantError,
    UnauthorizedRoomError,
)

if TYPE_CHECKING:
    from relaypass._tokens import VerifiedToken

__all__ = ["NO_TENANCY", "Grant", "Provenance", "Tenancy", "normalise_origin", "provenance"]

_SOURCES: Final = frozenset({"camera", "microphone", "screen"})
#: One shared empty set: a default factory would allocate 216 bytes per grant.
_NO_CAPABILITIES: Final[frozenset[str]] = frozenset()


class Tenancy(NamedTuple):
    """What the gate adds to a grant: the key's org, a room token's issuer, the fence.

    Handed to the profile that builds the grant, so the grant is built once.
    """

    org: str | None = None
    issuer: str | None = None
    fence: PatternSet = EMPTY


NO_TENANCY: Final = Tenancy()


class Provenance(TypedDict):
    """The fields of a grant that say which token it came from and whose it is."""

    kid: str | None
    token_id: str | None
    jti: str | None
    org: str | None
    issuer: str | None
    fence: PatternSet


def provenance(verified: VerifiedToken | None, tenancy: Tenancy = NO_TENANCY) -> Provenance:
    """A grant's :class:`Provenance`: the token's ids (none for public paths) and the tenancy."""
    if verified is None:
        return Provenance(
            kid=None, token_id=None, jti=None, org=tenancy.org, issuer=tenancy.issuer,
            fence=tenancy.fence,
        )  # fmt: skip
    return Provenance(
        kid=verified.kid, token_id=verified.token_id, jti=verified.jti, org=tenancy.org,
        issuer=tenancy.issuer, fence=tenancy.fence,
    )  # fmt: skip


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, without a trailing slash."""
    return origin.strip().rstrip("/").lower()


@final
@record
class Grant:
    """What one verified token allows.

    ``publish``/``subscribe`` are compiled path patterns; ``capabilities`` are
    named rights (room flags such as ``room.record``, session scopes such as
    ``call.dial``); ``publish_sources`` narrows media publishing to some
    sources (``None``: any). ``room``/``participant``/``origin`` pin the token
    when set.
    """

    profile: str
    tenant: str | None = None
    subject: str | None = None
    publish: PatternSet = EMPTY
    subscribe: PatternSet = EMPTY
    capabilities: frozenset[str] = _NO_CAPABILITIES
    publish_sources: frozenset[str] | None = None
    room: str | None = None
    participant: str | None = None
    origin: str | None = None
    is_viewer: bool = False
    cluster: bool = False
    expires_at: float | None = None
    issued_at: float | None = None
    lobby_ttl: int | None = None
    kid: str | None = None
    token_id: str | None = None
    jti: str | None = None
    org: str | None = None
    issuer: str | None = None
    fence: PatternSet = EMPTY

    def _fenced(self, path: str) -> bool:
        """Inside another org's namespace (the fence is empty on a single-org gate)."""
        return self.fence is not EMPTY and self.fence.matches(path)

    def authorize_publish(self, path: str, *, source: str | None = None) -> None:
        """Allow publishing at ``path`` (and from ``source``, for media) or raise."""
        if not self.publish.matches(path) or self._fenced(path):
            msg = "publish is not granted for this path"
            raise InvalidPermissionsError(msg)
        if source is not None and self.publish_sources is not None:
            if source not in self.publish_sources:
                msg = "publishing from this source is not granted"
                raise InvalidPermissionsError(msg)
        elif source is not None and source not in _SOURCES:
            msg = "unknown media source"
            raise InvalidPermissionsError(msg)

    def authorize_subscribe(self, path: str) -> None:
        """Allow subscribing at ``path`` or raise."""
        if not self.subscribe.matches(path) or self._fenced(path):
            msg = "subscribe is not granted for this path"
            raise InvalidPermissionsError(msg)

    def can_publish(self, path: str) -> bool:
        """Non-raising form of :meth:`authorize_publish`."""
        return self.publish.matches(path) and not self._fenced(path)

    def can_subscribe(self, path: str) -> bool:
        """Non-raising form of :meth:`authorize_subscribe`."""
        return self.subscribe.matches(path) and not self._fenced(path)

    def authorize(self, capability: str) -> None:
        """Allow a named capability or raise ``INVALID_PERMISSIONS``."""
        if capability not in self.capabilities:
            msg = "the grant does not include this capability"
            raise InvalidPermissionsError(msg)

    def check_room(self, room: str) -> None:
        """A room-scoped token only joins its own room."""
        if self.room is not None and self.room != room:
            msg = "token is scoped to another room"
            raise UnauthorizedRoomError(msg)

    def check_participant(self, participant: str | None) -> None:
        """A token that pins an identity only joins as that identity."""
        if self.participant is not None and participant not in (None, self.participant):
            msg = "token is pinned to another participant"
            raise UnauthorizedParticipantError(msg)

    def check_origin(self, origin: str | None) -> None:
        """An origin-pinned token is only accepted from that origin."""
        if self.origin is None:
            return
        if origin is None or normalise_origin(origin) != self.origin:
            msg = "token is pinned to another origin"
            raise UnauthorizedOriginError(msg)
