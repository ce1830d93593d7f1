"""Minting the five token profiles, and revoking one token (``tokens.*`` and customers' mints)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field, field_validator

from relaypass.api._base import DEFAULT_TENANT, OWN_ORG, Input, Output, Procedure
from relaypass.errors import ErrorCode, RelaypassError
from relaypass.profiles.room import JoinPolicy, RoomGrantFlags

__all__ = [
    "MINT_BROWSER_TOKEN",
    "MINT_MOQ",
    "MINT_PLAYBACK_TOKEN",
    "MINT_RELAY",
    "MINT_ROOM",
    "TOKENS_REVOKE",
    "BrowserVoiceMint",
    "MintedToken",
    "MoqMint",
    "PlaybackMint",
    "RelayMint",
    "RoomMint",
    "TokenRef",
    "TokenRevoked",
]

_TENANT = Field(
    default=DEFAULT_TENANT,
    max_length=256,
    description="A tenant of the org (default: the org's 'default' tenant, made with the org).",
)


class RelayMint(Input):
    """A relay token for a tenant and namespaces."""

    org_id: str = OWN_ORG
    tenant: str = _TENANT
    ns: list[str] = Field(min_length=1, max_length=256)
    ttl_seconds: int | None = Field(default=None, ge=1)
    service: bool = False


class PlaybackMint(Input):
    """``mintPlaybackToken({ inputId, scopes, ttlSeconds })``."""

    org_id: str = OWN_ORG
    tenant: str = _TENANT
    input_id: str = Field(max_length=256)
    scopes: list[str] | None = Field(default=None, max_length=32)
    ttl_seconds: int = Field(default=3600, ge=1)


class BrowserVoiceMint(Input):
    """``mintBrowserToken({ callSid, ttlSeconds })``."""

    org_id: str = OWN_ORG
    tenant: str = _TENANT
    call_sid: str = Field(max_length=256)
    ttl_seconds: int = Field(default=1800, ge=1)


class RoomMint(Input):
    """A room token (VideoSDK); ``iss`` is the calling API key's id."""

    org_id: str = OWN_ORG
    room_id: str | None = Field(default=None, max_length=256)
    participant_id: str | None = Field(default=None, max_length=256)
    role: str | None = Field(default=None, pattern="^(host|speaker|viewer)$")
    grant: dict[str, Any] | None = Field(default=None, description="Grant flags, as in the token.")
    is_viewer: bool | None = None
    join_policy: dict[str, Any] | None = None
    ttl_seconds: int | None = Field(default=None, ge=1)

    @field_validator("grant")
    @classmethod
    def _grant_flags(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """Read as a verifier reads it: a bad flag is this input's fault (400), not a token's."""
        if value is not None:
            try:
                RoomGrantFlags.from_wire(value)
            except RelaypassError as exc:
                hint = (
                    " (isViewer is a field of the mint, beside grant)"
                    if "isViewer" in value
                    else ""
                )
                raise ValueError(exc.reason + hint) from None
        return value

    @field_validator("join_policy")
    @classmethod
    def _join_policy(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """``{mode, ttl?}``, checked as a verifier checks it."""
        if value is not None:
            try:
                JoinPolicy.from_wire(value)
            except RelaypassError as exc:
                raise ValueError(exc.reason) from None
        return value


class MoqMint(Input):
    """A moq token: ``root`` and what it may publish and subscribe to beneath it.

    ``format`` ``moq-token`` (the default): ``publish``/``subscribe`` are literal
    prefixes, written as ``put``/``get`` (and ``cluster``). ``moq-auth``: they are
    patterns (``alice`` one broadcast, ``alice/**`` a subtree, ``*`` one segment),
    written as moq-auth writes them, with no claim moq's own server refuses.
    """

    org_id: str = OWN_ORG
    root: str = Field(default="", max_length=1024)
    publish: list[str] = Field(default_factory=list, max_length=256)
    subscribe: list[str] = Field(default_factory=list, max_length=256)
    cluster: bool = False
    ttl_seconds: int = Field(default=3600, ge=1)
    format: str = Field(
        default="moq-token",
        pattern="^(moq-token|moq-auth)$",
        description="moq-token (literal prefixes) or moq-auth (patterns).",
    )


class MintedToken(Output):
    """A signed token, when it expires (seconds since the epoch) and the key that signed it."""

    token: str
    expires_at: int | None
    kid: str


class TokenRef(Input):
    """One minted token, by its ``jti``."""

    org_id: str = OWN_ORG
    jti: str = Field(min_length=1, max_length=128, pattern="^[A-Za-z0-9_-]+$")


class TokenRevoked(Output):
    """A revoked ``jti``."""

    revoked: str
    published: bool | None


_MINT_ERRORS: Final = (ErrorCode.INVALID_KEY,)


def _mint(
    name: str, body: type[Input], summary: str, example: dict[str, object]
) -> Procedure[Any, MintedToken]:
    return Procedure(
        name, "mutation", "tokens:mint", body, MintedToken, summary,
        errors=_MINT_ERRORS, rate_limited=True, examples=example,
    )  # fmt: skip


MINT_RELAY: Final[Procedure[RelayMint, MintedToken]] = _mint(
    "tokens.relay.mint", RelayMint,
    "A relay token: a tenant and the namespaces it may use.",
    {"orgId": "org_1", "tenant": "acme", "ns": ["acme/calls/**"], "ttlSeconds": 600},
)  # fmt: skip
MINT_PLAYBACK_TOKEN: Final[Procedure[PlaybackMint, MintedToken]] = _mint(
    "streams.signingKeys.mintPlaybackToken", PlaybackMint,
    "A playback token for one input (ClutchCall).",
    {"orgId": "org_1", "tenant": "acme", "inputId": "in_1", "ttlSeconds": 3600},
)  # fmt: skip
MINT_BROWSER_TOKEN: Final[Procedure[BrowserVoiceMint, MintedToken]] = _mint(
    "voice.audioBridge.mintBrowserToken", BrowserVoiceMint,
    "A browser token for one call's audio bridge (ClutchCall).",
    {"orgId": "org_1", "tenant": "acme", "callSid": "CA1", "ttlSeconds": 1800},
)  # fmt: skip
MINT_ROOM: Final[Procedure[RoomMint, MintedToken]] = _mint(
    "tokens.room.mint", RoomMint,
    "A room token (VideoSDK); a role expands to its preset grant.",
    {"orgId": "org_1", "roomId": "standup", "participantId": "ada", "role": "speaker"},
)  # fmt: skip
MINT_MOQ: Final[Procedure[MoqMint, MintedToken]] = _mint(
    "tokens.moq.mint", MoqMint,
    "A moq token in moq-token's or moq-auth's wire format, signed with the org's active key.",
    {"orgId": "org_1", "root": "demo", "publish": ["alice"], "subscribe": [""]},
)  # fmt: skip
TOKENS_REVOKE: Final = Procedure(
    "tokens.revoke", "mutation", "keys:admin", TokenRef, TokenRevoked,
    "Revoke one token by its jti: gates cut its live sessions and refuse it.",
    examples={"orgId": "org_1", "jti": "6c1f0b7e"},
)  # fmt: skip
