"""Session / browser tokens (``SessionAuth``; ClutchCall's and TeleQuick's browser tokens).

A short-lived token minted from a service account for a browser: ``sub`` is
the end user (``subject``), ``tenant`` the tenant, ``scope`` a space-separated
list such as ``call.dial call.barge``, ``origin`` the requesting origin it is
pinned to. ``ttl_seconds`` is hard-capped at 300: a larger request is clamped,
as ClutchCall's gateway does, and the response says when it really expires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, final
from urllib.parse import urlsplit

from relaypass._clock import SYSTEM_CLOCK, Clock
from relaypass._grant import NO_TENANCY, Grant, Tenancy, normalise_origin, provenance
from relaypass._keys import Key
from relaypass._tokens import Minter, VerifiedToken
from relaypass.errors import InvalidClaimError, InvalidRequestError, RelaypassError
from relaypass.profiles._common import IDENTIFIER, req_str
from relaypass.profiles.algorithms import require_profile_algorithm

__all__ = ["SESSION_TTL_CAP_SECONDS", "SessionAuthResponse", "SessionClaims", "SessionMinter"]

SESSION_TTL_CAP_SECONDS: Final = 300
_SCOPE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
MAX_SCOPES: Final = 32


def parse_scope(scope: object) -> frozenset[str]:
    """Space-separated scope names, each ``[a-z][a-z0-9_.:-]{0,63}``."""
    if type(scope) is not str:
        msg = "scope must be a space-separated string"
        raise InvalidClaimError(msg, claim="scope")
    names = scope.split()
    if not names or len(names) > MAX_SCOPES or not all(_SCOPE.fullmatch(n) for n in names):
        msg = "scope must hold 1-32 names of [a-z][a-z0-9_.:-]"
        raise InvalidClaimError(msg, claim="scope")
    return frozenset(names)


def parse_origin(origin: object) -> str:
    """A web origin ``http(s)://host[:port]``, normalised."""
    if type(origin) is not str or len(origin) > 256:  # noqa: PLR2004 - sane origin bound
        msg = "origin must be a string"
        raise InvalidClaimError(msg, claim="origin")
    normal = normalise_origin(origin)
    parts = urlsplit(normal)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path or parts.query:
        msg = "origin must be scheme://host[:port]"
        raise InvalidClaimError(msg, claim="origin")
    return normal


@final
@dataclass(frozen=True, slots=True)
class SessionClaims:
    """The session token's own claims."""

    tenant: str
    subject: str
    scopes: frozenset[str]
    origin: str

    def to_wire(self) -> dict[str, object]:
        """``sub``, ``tenant``, ``scope`` (sorted, space-separated), ``origin``."""
        return {
            "sub": self.subject,
            "tenant": self.tenant,
            "scope": " ".join(sorted(self.scopes)),
            "origin": self.origin,
        }

    @classmethod
    def from_wire(cls, claims: dict[str, object] | VerifiedToken) -> SessionClaims:
        """Read and check the claims."""
        wire = dict(claims.claims) if isinstance(claims, VerifiedToken) else claims
        return cls(
            tenant=req_str(wire, "tenant"),
            subject=req_str(wire, "sub"),
            scopes=parse_scope(wire.get("scope")),
            origin=parse_origin(wire.get("origin")),
        )

    @staticmethod
    def grant(verified: VerifiedToken, tenancy: Tenancy = NO_TENANCY) -> Grant:
        """Scopes become capabilities; the gate checks the handshake origin."""
        claims = SessionClaims.from_wire(verified)
        return Grant(
            profile="session",
            tenant=claims.tenant,
            subject=claims.subject,
            capabilities=claims.scopes,
            origin=claims.origin,
            expires_at=verified.expires_at,
            **provenance(verified, tenancy),
        )


@final
@dataclass(frozen=True, slots=True)
class SessionAuthResponse:
    """ClutchCall's ``SessionAuthResponse``: ``error_message`` is empty on success."""

    token: str
    expires_at_ms: int
    error_message: str = ""


@final
class SessionMinter:
    """Implements ``SessionAuth`` with the gateway's session-signing key."""

    __slots__ = ("_clock", "_minter")

    def __init__(self, key: Key, *, issuer: str = "relaypass", clock: Clock = SYSTEM_CLOCK) -> None:
        require_profile_algorithm("session", key.alg)
        self._minter = Minter(
            key,
            issuer=issuer,
            default_ttl_seconds=SESSION_TTL_CAP_SECONDS,
            max_ttl_seconds=SESSION_TTL_CAP_SECONDS,
            clock=clock,
        )
        self._clock = clock

    def session_auth(
        self, *, tenant_id: str, subject: str, ttl_seconds: int, scope: str, origin: str
    ) -> SessionAuthResponse:
        """Mint, or answer with an ``error_message`` (never raises on bad input)."""
        try:
            if IDENTIFIER.fullmatch(tenant_id) is None or IDENTIFIER.fullmatch(subject) is None:
                msg = "tenant_id and subject must be identifiers"
                raise InvalidRequestError(msg)
            if type(ttl_seconds) is not int or ttl_seconds <= 0:
                msg = "ttl_seconds must be a positive integer"
                raise InvalidRequestError(msg)
            ttl = min(ttl_seconds, SESSION_TTL_CAP_SECONDS)
            claims = SessionClaims(
                tenant=tenant_id,
                subject=subject,
                scopes=parse_scope(scope),
                origin=parse_origin(origin),
            )
            now = int(self._clock.now())
            token = self._minter.mint(claims.to_wire(), ttl_seconds=ttl)
        except RelaypassError as exc:
            return SessionAuthResponse(token="", expires_at_ms=0, error_message=exc.reason)
        return SessionAuthResponse(token=token, expires_at_ms=(now + ttl) * 1000)
