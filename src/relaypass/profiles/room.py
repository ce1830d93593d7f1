"""Room tokens (VideoSDK): a grant of capability flags that the SFU enforces.

Wire claims, exactly as VideoSDK names them: ``roomId`` (optional: omitted
means domain-wide), ``participantId`` (optional: pins the identity),
``isViewer`` (tier, default false), ``joinPolicy`` (``{"mode": "direct"}`` or
``{"mode": "ask", "ttl": n}``), ``grant`` (the eleven flags below), ``iss``
(the API key id that minted it), ``exp``, and ``iat``/``nbf``/``jti``.

Guardrails, enforced when minting *and* when verifying (customers may mint
with their own JWT library):

- a roomless token lives at most ``max_roomless_ttl_seconds`` (default 1 h;
  room-scoped tokens up to ``max_room_ttl_seconds``, default 24 h);
- a roomless token may not carry ``canModerate``, ``canRecord``, ``canHls`` or
  ``canLivestream`` (``INVALID_PERMISSIONS``);
- ``joinPolicy`` ``ask`` together with ``canModerate`` is ``INVALID_ENTRY_CLAIM``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Final, final

from relaypass._claims import ClaimsPolicy
from relaypass._clock import SYSTEM_CLOCK, Clock
from relaypass._grant import NO_TENANCY, Grant, Tenancy, provenance
from relaypass._keys import Key, is_valid_kid
from relaypass._keyset import KeySet
from relaypass._scopes import EMPTY, compiled_patterns
from relaypass._tokens import Minter, VerifiedToken, Verifier, decode_unverified
from relaypass.errors import (
    InvalidApiKeyError,
    InvalidClaimError,
    InvalidEntryClaimError,
    InvalidPermissionsError,
    InvalidRequestError,
)
from relaypass.profiles._common import opt_bool, opt_str
from relaypass.profiles.algorithms import accepts, require_profile_algorithm

__all__ = [
    "JoinPolicy",
    "RoomAction",
    "RoomClaims",
    "RoomGrantFlags",
    "RoomMinter",
    "RoomVerifier",
    "role_preset",
]

SOURCES: Final = ("camera", "microphone", "screen")
DEFAULT_ROOM_TTL_SECONDS: Final = 86_400
DEFAULT_ROOMLESS_TTL_SECONDS: Final = 3600
MAX_LOBBY_TTL_SECONDS: Final = 3600
#: How long ``joinPolicy: ask`` waits for a moderator when the claim sets no ``ttl``.
DEFAULT_LOBBY_TTL_SECONDS: Final = 300


class RoomAction(enum.StrEnum):
    """Actions a room grant authorizes; values are the grant's capability names."""

    PUBLISH = "room.publish"
    SUBSCRIBE = "room.subscribe"
    PUBLISH_DATA = "data.publish"
    SUBSCRIBE_DATA = "data.subscribe"
    RECORD = "room.record"
    HLS = "room.hls"
    LIVESTREAM = "room.livestream"
    TRANSCRIBE = "room.transcribe"
    WHITEBOARD = "room.whiteboard"
    MODERATE = "room.moderate"


@final
@dataclass(frozen=True, slots=True)
class RoomGrantFlags:
    """The ``grant`` object. Field names are snake_case here, camelCase on the wire."""

    can_publish: bool = False
    can_publish_sources: tuple[str, ...] | None = None
    can_subscribe: bool = False
    can_publish_data: bool = False
    can_subscribe_data: bool = True
    can_record: bool = False
    can_hls: bool = False
    can_livestream: bool = False
    can_transcribe: bool = False
    can_whiteboard: bool = False
    can_moderate: bool = False

    @property
    def privileged(self) -> bool:
        """Carries a flag a roomless token may not carry."""
        return self.can_moderate or self.can_record or self.can_hls or self.can_livestream

    def to_wire(self) -> dict[str, object]:
        """CamelCase object; ``canPublishSources`` only when set."""
        wire: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "can_publish_sources":
                if value is not None:
                    wire[_WIRE[f.name]] = list(value)
                continue
            wire[_WIRE[f.name]] = value
        return wire

    @classmethod
    def of_grant(cls, grant: Grant) -> RoomGrantFlags:
        """The flags a room grant stands for (as a live change or a token left them)."""
        flags: dict[str, object] = {
            name: action in grant.capabilities for action, name in _FLAG_OF.items()
        }
        if RoomAction.PUBLISH in grant.capabilities and grant.publish_sources is not None:
            flags["can_publish_sources"] = tuple(s for s in SOURCES if s in grant.publish_sources)
        return cls(**flags)  # type: ignore[arg-type]

    @classmethod
    def from_wire(cls, value: object) -> RoomGrantFlags:
        """Strict: an object of known flags, booleans only, sources from the allow-list."""
        if not isinstance(value, dict):
            msg = "grant must be an object"
            raise InvalidClaimError(msg, claim="grant")
        unknown = set(value) - set(_FROM_WIRE)
        if unknown:
            msg = f"grant holds unknown flags: {', '.join(sorted(map(str, unknown)))[:200]}"
            raise InvalidClaimError(msg, claim="grant")
        kwargs: dict[str, object] = {}
        for wire_name, name in _FROM_WIRE.items():
            if wire_name not in value:
                continue
            item = value[wire_name]
            if name == "can_publish_sources":
                kwargs[name] = _sources(item)
            elif type(item) is not bool:
                msg = f"grant.{wire_name} must be a boolean"
                raise InvalidClaimError(msg, claim="grant")
            else:
                kwargs[name] = item
        return cls(**kwargs)  # type: ignore[arg-type]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_WIRE: Final = {f.name: _camel(f.name) for f in fields(RoomGrantFlags)}
#: Each capability and the grant flag that carries it.
_FLAG_OF: Final = {
    RoomAction.PUBLISH: "can_publish",
    RoomAction.SUBSCRIBE: "can_subscribe",
    RoomAction.PUBLISH_DATA: "can_publish_data",
    RoomAction.SUBSCRIBE_DATA: "can_subscribe_data",
    RoomAction.RECORD: "can_record",
    RoomAction.HLS: "can_hls",
    RoomAction.LIVESTREAM: "can_livestream",
    RoomAction.TRANSCRIBE: "can_transcribe",
    RoomAction.WHITEBOARD: "can_whiteboard",
    RoomAction.MODERATE: "can_moderate",
}
_FROM_WIRE: Final = {wire: name for name, wire in _WIRE.items()}


def _sources(value: object) -> tuple[str, ...]:
    if (
        type(value) is not list
        or not all(type(s) is str and s in SOURCES for s in value)
        or len(set(value)) != len(value)
    ):
        msg = "grant.canPublishSources must be distinct items of camera, microphone, screen"
        raise InvalidClaimError(msg, claim="grant")
    return tuple(value)


@final
@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """``direct``: straight in; ``ask``: held in the lobby (optionally for ``ttl`` s)."""

    mode: str = "direct"
    ttl: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("direct", "ask"):
            msg = "joinPolicy.mode must be 'direct' or 'ask'"
            raise InvalidClaimError(msg, claim="joinPolicy")
        if self.ttl is not None and (
            self.mode != "ask"
            or type(self.ttl) is not int
            or not 0 < self.ttl <= MAX_LOBBY_TTL_SECONDS
        ):
            msg = f"joinPolicy.ttl is for 'ask' only, 1-{MAX_LOBBY_TTL_SECONDS} seconds"
            raise InvalidClaimError(msg, claim="joinPolicy")

    def to_wire(self) -> dict[str, object]:
        """``{"mode": ...}`` plus ``ttl`` when set."""
        wire: dict[str, object] = {"mode": self.mode}
        if self.ttl is not None:
            wire["ttl"] = self.ttl
        return wire

    @classmethod
    def from_wire(cls, value: object) -> JoinPolicy:
        """Strict object with ``mode`` and an optional integer ``ttl``."""
        if not isinstance(value, dict) or set(value) - {"mode", "ttl"} or "mode" not in value:
            msg = "joinPolicy must be {mode, ttl?}"
            raise InvalidClaimError(msg, claim="joinPolicy")
        mode, ttl = value["mode"], value.get("ttl")
        if type(mode) is not str or (ttl is not None and type(ttl) is not int):
            msg = "joinPolicy has the wrong types"
            raise InvalidClaimError(msg, claim="joinPolicy")
        return cls(mode=mode, ttl=ttl)


@final
@dataclass(frozen=True, slots=True)
class RoomClaims:
    """A room token's own claims (the minter adds ``iss``, ``iat``, ``exp``, ``jti``)."""

    grant: RoomGrantFlags
    room_id: str | None = None
    participant_id: str | None = None
    is_viewer: bool = False
    join_policy: JoinPolicy = field(default_factory=JoinPolicy)

    def check_guardrails(self) -> None:
        """The guardrails that do not depend on time."""
        if self.join_policy.mode == "ask" and self.grant.can_moderate:
            msg = "joinPolicy 'ask' cannot be combined with canModerate"
            raise InvalidEntryClaimError(msg)
        if self.room_id is None and self.grant.privileged:
            msg = "a roomless token may not carry moderate, record, HLS or livestream grants"
            raise InvalidPermissionsError(msg)

    def check_lifetime(
        self,
        verified: VerifiedToken,
        now: float,
        max_roomless: float,
        *,
        max_scoped: float = DEFAULT_ROOM_TTL_SECONDS,
    ) -> None:
        """No token outlives its ceiling: roomless ones the roomless one, others ``max_scoped``.

        Customers mint their own room tokens, so the ceilings that minting
        applies are checked again here.
        """
        expires = verified.expires_at
        if expires is None:
            return
        if self.room_id is None and expires - now > max_roomless:
            msg = "a roomless token may not outlive the roomless ceiling"
            raise InvalidClaimError(msg, claim="exp")
        if expires - now > max_scoped:
            msg = "a room token may not outlive the room-token ceiling"
            raise InvalidClaimError(msg, claim="exp")

    def to_wire(self) -> dict[str, object]:
        """VideoSDK's claim names."""
        self.check_guardrails()
        wire: dict[str, object] = {}
        if self.room_id is not None:
            wire["roomId"] = self.room_id
        if self.participant_id is not None:
            wire["participantId"] = self.participant_id
        wire["isViewer"] = self.is_viewer
        wire["joinPolicy"] = self.join_policy.to_wire()
        wire["grant"] = self.grant.to_wire()
        return wire

    @classmethod
    def from_wire(cls, claims: Mapping[str, object]) -> RoomClaims:
        """Read and check the claims, guardrails included."""
        if "grant" not in claims:
            msg = "grant is required"
            raise InvalidClaimError(msg, claim="grant")
        policy = claims.get("joinPolicy")
        room = cls(
            grant=RoomGrantFlags.from_wire(claims["grant"]),
            room_id=opt_str(claims, "roomId"),
            participant_id=opt_str(claims, "participantId"),
            is_viewer=opt_bool(claims, "isViewer", default=False),
            join_policy=JoinPolicy() if policy is None else JoinPolicy.from_wire(policy),
        )
        room.check_guardrails()
        return room

    def to_grant(
        self, verified: VerifiedToken | None = None, tenancy: Tenancy = NO_TENANCY
    ) -> Grant:
        """Map the flags onto the internal grant."""
        flags = self.grant
        caps = {action: getattr(flags, name) for action, name in _FLAG_OF.items()}
        everything = compiled_patterns(["**"])
        sources = flags.can_publish_sources
        return Grant(
            profile="room",
            subject=self.participant_id,
            publish=everything if flags.can_publish else EMPTY,
            subscribe=everything if flags.can_subscribe else EMPTY,
            capabilities=frozenset(str(a) for a, on in caps.items() if on),
            publish_sources=frozenset(sources if sources is not None else SOURCES),
            room=self.room_id,
            participant=self.participant_id,
            is_viewer=self.is_viewer,
            expires_at=verified.expires_at if verified is not None else None,
            issued_at=verified.issued_at if verified is not None else None,
            lobby_ttl=(
                (self.join_policy.ttl or DEFAULT_LOBBY_TTL_SECONDS)
                if self.join_policy.mode == "ask"
                else None
            ),
            **provenance(verified, tenancy),
        )


def role_preset(role: str) -> tuple[RoomGrantFlags, bool]:
    """Expand a role (``host``, ``speaker``, ``viewer``) into ``(grant, isViewer)``."""
    if role == "host":
        return (
            RoomGrantFlags(
                can_publish=True,
                can_publish_sources=SOURCES,
                can_subscribe=True,
                can_publish_data=True,
                can_record=True,
                can_hls=True,
                can_livestream=True,
                can_transcribe=True,
                can_whiteboard=True,
                can_moderate=True,
            ),
            False,
        )
    if role == "speaker":
        return (
            RoomGrantFlags(
                can_publish=True,
                can_publish_sources=("camera", "microphone"),
                can_subscribe=True,
                can_publish_data=True,
            ),
            False,
        )
    if role == "viewer":
        return RoomGrantFlags(can_subscribe=True), True
    msg = "role must be host, speaker or viewer"
    raise InvalidRequestError(msg)


def authorize(grant: Grant, action: RoomAction, *, source: str | None = None) -> None:
    """Authorize one room action; media publishing also checks the source."""
    if action is RoomAction.PUBLISH:
        grant.authorize(action)
        if source is not None and (
            grant.publish_sources is None or source not in grant.publish_sources
        ):
            msg = "publishing from this source is not granted"
            raise InvalidPermissionsError(msg)
        return
    grant.authorize(action)


@final
class RoomMinter:
    """Mints room tokens for one API key (HS256 under the app secret by default)."""

    __slots__ = (
        "_clock",
        "_minter",
        "api_key_id",
        "max_room_ttl_seconds",
        "max_roomless_ttl_seconds",
    )

    def __init__(
        self,
        api_key_id: str,
        secret: Key,
        *,
        max_room_ttl_seconds: int = DEFAULT_ROOM_TTL_SECONDS,
        max_roomless_ttl_seconds: int = DEFAULT_ROOMLESS_TTL_SECONDS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        require_profile_algorithm("room", secret.alg)
        if not is_valid_kid(api_key_id):
            msg = "api_key_id must be 1-128 characters of [A-Za-z0-9_-]"
            raise InvalidRequestError(msg)
        if not 0 < max_roomless_ttl_seconds <= max_room_ttl_seconds:
            msg = "need 0 < max_roomless_ttl_seconds <= max_room_ttl_seconds"
            raise InvalidRequestError(msg)
        self.api_key_id = api_key_id
        self.max_room_ttl_seconds = max_room_ttl_seconds
        self.max_roomless_ttl_seconds = max_roomless_ttl_seconds
        self._minter = Minter(
            secret,
            issuer=api_key_id,
            default_ttl_seconds=min(3600, max_roomless_ttl_seconds),
            max_ttl_seconds=max_room_ttl_seconds,
            clock=clock,
        )
        self._clock = clock

    def mint(self, claims: RoomClaims, *, ttl_seconds: int | None = None) -> str:
        """A signed room token; guardrails and TTL caps are checked first."""
        cap = self.max_room_ttl_seconds if claims.room_id else self.max_roomless_ttl_seconds
        ttl = ttl_seconds if ttl_seconds is not None else min(3600, cap)
        if ttl > cap:
            msg = f"ttl_seconds exceeds {cap} for this token"
            raise InvalidRequestError(msg)
        wire = claims.to_wire()  # runs the guardrails
        return self._minter.mint(wire, ttl_seconds=ttl)


@final
class RoomVerifier:
    """Verifies room tokens: the key (or key set) is the one registered for the token's ``iss``."""

    __slots__ = ("_clock", "_leeway", "_resolve", "max_roomless_ttl_seconds")

    def __init__(
        self,
        resolve_api_key: Callable[[str], Key | KeySet | None],
        *,
        max_roomless_ttl_seconds: int = DEFAULT_ROOMLESS_TTL_SECONDS,
        leeway_seconds: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._resolve = resolve_api_key
        self._clock = clock
        self._leeway = leeway_seconds
        self.max_roomless_ttl_seconds = max_roomless_ttl_seconds

    def verify(self, token: str) -> tuple[RoomClaims, Grant]:
        """Verify signature, time and guardrails; ``INVALID_API_KEY`` for an unknown ``iss``."""
        _, unverified = decode_unverified(token)
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or not is_valid_kid(issuer):
            msg = "iss must name an API key"
            raise InvalidClaimError(msg, claim="iss")
        key = self._resolve(issuer)
        if key is None:
            msg = "the API key is unknown or revoked"
            raise InvalidApiKeyError(msg)
        policy = ClaimsPolicy(issuer=issuer, leeway_seconds=self._leeway)
        verified = Verifier(key, policy=policy, clock=self._clock).verify(token)
        if not accepts("room", verified.alg):  # one verdict, whether a key or a key set
            msg = "the token's algorithm is not one room tokens are signed with"
            raise InvalidClaimError(msg)
        room = RoomClaims.from_wire(verified.claims)
        room.check_lifetime(verified, self._clock.now(), self.max_roomless_ttl_seconds)
        return room, room.to_grant(verified)

    def join(
        self, token: str, room_id: str, participant_id: str | None = None
    ) -> tuple[RoomClaims, Grant]:
        """Verify and check the room and identity being joined."""
        room, grant = self.verify(token)
        grant.check_room(room_id)
        grant.check_participant(participant_id)
        return room, grant
