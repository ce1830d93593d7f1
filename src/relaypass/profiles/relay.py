"""Relay tokens (ClutchCall): namespace-scoped tokens that a relay's namespace hook checks.

Wire claims: ``iss`` (the minting control plane), ``sub`` (the tenant the
relay stamps on the session), ``ns`` (patterns the token may publish or
subscribe to), ``exp``, ``iat``, ``jti``; header ``alg`` EdDSA with ``kid``.
Client tokens live 1 h by default and at most ``max_client_ttl_seconds``;
service-to-service tokens may live up to ``max_service_ttl_seconds``.

Also ClutchCall's two browser shapes: the playback token
(``mintPlaybackToken({inputId, scopes, ttlSeconds})``) and the browser voice
token (``mintBrowserToken({callSid, ttlSeconds})``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, final

from relaypass._clock import SYSTEM_CLOCK, Clock
from relaypass._grant import NO_TENANCY, Grant, Tenancy, provenance
from relaypass._keys import Key
from relaypass._scopes import PathError, PatternSet, compiled_patterns, split_path
from relaypass._tokens import Minter, VerifiedToken
from relaypass.errors import InvalidClaimError, InvalidRequestError
from relaypass.profiles._common import req_str, require_identifier, str_list
from relaypass.profiles.algorithms import require_profile_algorithm

__all__ = ["RelayClaims", "RelayMinter"]

DEFAULT_CLIENT_TTL_SECONDS: Final = 3600
DEFAULT_BROWSER_VOICE_TTL_SECONDS: Final = 1800


@final
@dataclass(frozen=True, slots=True)
class RelayClaims:
    """A relay token's own claims."""

    tenant: str
    namespaces: tuple[str, ...]

    def to_wire(self) -> dict[str, object]:
        """``sub`` and ``ns``; the minter adds ``iss``, ``iat``, ``exp``, ``jti``."""
        return {"sub": self.tenant, "ns": list(self.namespaces)}

    @classmethod
    def from_wire(cls, claims: dict[str, object] | VerifiedToken) -> RelayClaims:
        """Read ``sub`` and ``ns``; every pattern must compile."""
        tenant, namespaces, _ = _parse(claims)
        return cls(tenant=tenant, namespaces=namespaces)

    @staticmethod
    def grant(verified: VerifiedToken, tenancy: Tenancy = NO_TENANCY) -> Grant:
        """The grant: ``ns`` covers both publish and subscribe."""
        tenant, _, patterns = _parse(verified)
        return Grant(
            profile="relay",
            tenant=tenant,
            subject=tenant,
            publish=patterns,
            subscribe=patterns,
            expires_at=verified.expires_at,
            **provenance(verified, tenancy),
        )


def _parse(claims: dict[str, object] | VerifiedToken) -> tuple[str, tuple[str, ...], PatternSet]:
    """Tenant, namespaces and compiled patterns (compiled once: this runs on every connect)."""
    wire = claims.claims if isinstance(claims, VerifiedToken) else claims
    tenant = req_str(wire, "sub")
    if "ns" not in wire:
        msg = "ns is required"
        raise InvalidClaimError(msg, claim="ns")
    namespaces = str_list(wire["ns"], "ns")
    if not namespaces:
        msg = "ns must name at least one namespace"
        raise InvalidClaimError(msg, claim="ns")
    try:
        patterns = compiled_patterns(namespaces)
    except PathError:
        msg = "ns holds a malformed pattern"
        raise InvalidClaimError(msg, claim="ns") from None
    return tenant, namespaces, patterns


@final
class RelayMinter:
    """Mints relay, playback and browser voice tokens with an org's key (EdDSA, ES256, ES384)."""

    __slots__ = ("_client", "_service", "max_client_ttl_seconds", "max_service_ttl_seconds")

    def __init__(
        self,
        key: Key,
        *,
        issuer: str = "relaypass",
        max_client_ttl_seconds: int = DEFAULT_CLIENT_TTL_SECONDS,
        max_service_ttl_seconds: int = 86_400,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        require_profile_algorithm("relay", key.alg)
        if not 0 < max_client_ttl_seconds <= max_service_ttl_seconds:
            msg = "need 0 < max_client_ttl_seconds <= max_service_ttl_seconds"
            raise InvalidRequestError(msg)
        default = min(DEFAULT_CLIENT_TTL_SECONDS, max_client_ttl_seconds)
        self._client, self._service = (
            Minter(key, issuer=issuer, default_ttl_seconds=default, max_ttl_seconds=ceiling,
                   clock=clock)
            for ceiling in (max_client_ttl_seconds, max_service_ttl_seconds)
        )  # fmt: skip
        self.max_client_ttl_seconds = max_client_ttl_seconds
        self.max_service_ttl_seconds = max_service_ttl_seconds

    def mint(
        self,
        tenant: str,
        namespaces: Sequence[str],
        *,
        ttl_seconds: int | None = None,
        service: bool = False,
    ) -> str:
        """A relay token for ``tenant`` scoped to ``namespaces``."""
        require_identifier(tenant, "tenant")
        if not namespaces:
            msg = "a relay token needs at least one namespace"
            raise InvalidRequestError(msg)
        try:
            compiled = PatternSet(namespaces)
        except PathError as exc:
            raise InvalidRequestError(str(exc)) from None
        claims = RelayClaims(tenant=tenant, namespaces=compiled.patterns)
        minter = self._service if service else self._client
        return minter.mint(claims.to_wire(), ttl_seconds=ttl_seconds)

    def mint_playback_token(
        self,
        tenant: str,
        input_id: str,
        *,
        scopes: Sequence[str] | None = None,
        ttl_seconds: int = DEFAULT_CLIENT_TTL_SECONDS,
        root: str = "",
    ) -> str:
        """``mintPlaybackToken``: scopes must stay inside ``[root/]playback/{inputId}``.

        ``root`` is the org's namespace root (empty for the unprefixed space).
        """
        require_identifier(input_id, "inputId")
        base = [*split_path(root), "playback", input_id]
        chosen = list(scopes) if scopes is not None else ["/".join(base)]
        for scope in chosen:
            try:
                segments = split_path(scope)
            except PathError as exc:
                raise InvalidRequestError(str(exc)) from None
            if segments[: len(base)] != base:
                msg = "playback scopes must stay inside [root/]playback/{inputId}"
                raise InvalidRequestError(msg)
        return self.mint(tenant, chosen, ttl_seconds=ttl_seconds)

    def mint_browser_token(
        self,
        tenant: str,
        call_sid: str,
        *,
        ttl_seconds: int = DEFAULT_BROWSER_VOICE_TTL_SECONDS,
        root: str = "",
    ) -> str:
        """ClutchCall's ``voice.audioBridge.mintBrowserToken``: the call's voice namespace.

        ``root`` is the org's namespace root (empty for the unprefixed space).
        """
        require_identifier(call_sid, "callSid")
        pattern = "/".join([*split_path(root), "voice", call_sid, "*"])
        return self.mint(tenant, [pattern], ttl_seconds=ttl_seconds)
