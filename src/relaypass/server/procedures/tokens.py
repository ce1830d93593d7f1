"""Minting the five token profiles, and revoking one token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relaypass._tokens import Minter, decode_unverified
from relaypass.api import tokens as api
from relaypass.errors import (
    ClaimsError,
    InvalidPermissionsError,
    InvalidRequestError,
    UnauthorizedPathError,
)
from relaypass.profiles.moq import MoqClaims
from relaypass.profiles.relay import RelayMinter
from relaypass.profiles.room import JoinPolicy, RoomClaims, RoomGrantFlags, RoomMinter, role_preset
from relaypass.server.current import PROCEDURE
from relaypass.server.db.store import ApiKeyRecord
from relaypass.server.procedures._context import Call, Handlers, Services

__all__ = ["handlers"]

handlers = Handlers()


def _minted(
    s: Services, kind: str, who: ApiKeyRecord, token: str, detail: dict[str, Any]
) -> api.MintedToken:
    """Audit the mint and answer."""
    kid, claims = decode_unverified(token)
    exp = claims.get("exp")
    s.mints.labels(kind).inc()
    if s.usage is not None:
        tenant = detail.get("tenant")
        s.usage.mint(who.org_id, tenant if isinstance(tenant, str) else None)
    s.store.record(
        who.org_id,
        who.id,
        "token.mint",
        kind,
        {"kid": kid, "jti": claims.get("jti"), "exp": exp, **detail},
    )
    return api.MintedToken(
        token=token, expires_at=exp if isinstance(exp, int) else None, kid=kid or ""
    )


def _minter(s: Services, call: Call, org_id: str) -> ApiKeyRecord:
    """The caller, checked: its own org, and within the mint rate."""
    who = call.who
    s.same_org(who, org_id)
    if s.usage is not None and "quota" not in call.marks:  # counted once, even if retried
        s.usage.check_mint(org_id)
        call.marks.add("quota")
    if s.limiter is not None and "rate" not in call.marks:  # counted once, even if retried
        s.limiter.hit(who.id)
        call.marks.add("rate")
    return who


def _inside_org(s: Services, org_id: str, publish: list[str], subscribe: list[str]) -> None:
    """Refuse namespaces outside the org's space (``INVALID_PERMISSIONS``)."""
    try:
        s.store.org_scope(org_id).check(publish, subscribe)
    except UnauthorizedPathError:
        msg = "the namespaces lie outside the org's namespace space"
        raise InvalidPermissionsError(msg) from None


def _org_root(s: Services, org_id: str) -> str:
    """Where ClutchCall's defaults (``playback/…``, ``voice/…``) live for this org."""
    roots = s.store.org_scope(org_id).roots
    return "/".join(roots[0]) if roots else ""


def _relay_token(s: Services, org_id: str, tenant: str, mint: Callable[[RelayMinter], str]) -> str:
    try:
        s.store.require_tenant(org_id, tenant)
    except InvalidPermissionsError:
        s.store.record_denied_on_tenant(tenant, org_id, "api key", PROCEDURE.get())
        raise
    minter = RelayMinter(
        s.store.active_signing_key(org_id, "relay"),
        issuer=s.settings.token_issuer,
        max_service_ttl_seconds=s.settings.max_token_ttl_seconds,
        clock=s.store.clock,
    )
    token = mint(minter)
    _, claims = decode_unverified(token)
    ns = claims.get("ns")
    patterns = [str(p) for p in ns] if isinstance(ns, list) else []
    _inside_org(s, org_id, patterns, patterns)
    return token


@handlers.handles(api.MINT_RELAY)
def mint_relay(s: Services, call: Call, body: api.RelayMint) -> api.MintedToken:
    who = _minter(s, call, body.org_id)
    token = _relay_token(
        s,
        body.org_id,
        body.tenant,
        lambda m: m.mint(body.tenant, body.ns, ttl_seconds=body.ttl_seconds, service=body.service),
    )
    return _minted(s, "relay", who, token, {"tenant": body.tenant, "ns": body.ns})


@handlers.handles(api.MINT_PLAYBACK_TOKEN)
def mint_playback(s: Services, call: Call, body: api.PlaybackMint) -> api.MintedToken:
    return _under_org_root(
        s, call, body.org_id, body.tenant, "playback", {"inputId": body.input_id},
        lambda m, root: m.mint_playback_token(body.tenant, body.input_id, scopes=body.scopes,
                                              ttl_seconds=body.ttl_seconds, root=root),
    )  # fmt: skip


@handlers.handles(api.MINT_BROWSER_TOKEN)
def mint_browser_voice(s: Services, call: Call, body: api.BrowserVoiceMint) -> api.MintedToken:
    return _under_org_root(
        s, call, body.org_id, body.tenant, "browser_voice", {"callSid": body.call_sid},
        lambda m, root: m.mint_browser_token(body.tenant, body.call_sid,
                                             ttl_seconds=body.ttl_seconds, root=root),
    )  # fmt: skip


def _under_org_root(  # noqa: PLR0917 - the two ClutchCall mints' one shape
    s: Services,
    call: Call,
    org_id: str,
    tenant: str,
    kind: str,
    detail: dict[str, Any],
    mint: Callable[[RelayMinter, str], str],
) -> api.MintedToken:
    """A relay token whose default namespace lies under the org's root (playback, voice)."""
    who = _minter(s, call, org_id)
    root = _org_root(s, org_id)
    token = _relay_token(s, org_id, tenant, lambda m: mint(m, root))
    return _minted(s, kind, who, token, {"tenant": tenant, **detail})


@handlers.handles(api.MINT_ROOM)
def mint_room(s: Services, call: Call, body: api.RoomMint) -> api.MintedToken:
    """Room token with guardrails; a ``role`` expands to its preset grant."""
    who = _minter(s, call, body.org_id)
    if body.role is not None:
        flags, is_viewer = role_preset(body.role)
    elif body.grant is not None:
        flags, is_viewer = RoomGrantFlags.from_wire(body.grant), False
    else:
        msg = "give a role or a grant"
        raise InvalidRequestError(msg)
    claims = RoomClaims(
        grant=flags,
        room_id=body.room_id,
        participant_id=body.participant_id,
        is_viewer=body.is_viewer if body.is_viewer is not None else is_viewer,
        join_policy=JoinPolicy.from_wire(body.join_policy) if body.join_policy else JoinPolicy(),
    )
    minter = RoomMinter(
        who.id, s.store.active_signing_key(body.org_id, "room"), clock=s.store.clock
    )
    token = minter.mint(claims, ttl_seconds=body.ttl_seconds)
    return _minted(s, "room", who, token, {"roomId": body.room_id})


@handlers.handles(api.MINT_MOQ)
def mint_moq(s: Services, call: Call, body: api.MoqMint) -> api.MintedToken:
    """Moq token in moq-token's or moq-auth's wire format, signed with the org's active key."""
    who = _minter(s, call, body.org_id)
    if body.format == "moq-auth":
        wire = MoqClaims(
            root=body.root,
            publish_patterns=tuple(body.publish),
            subscribe_patterns=tuple(body.subscribe),
            cluster=body.cluster,
        ).to_auth_wire()
    else:
        wire = MoqClaims(
            root=body.root,
            publish=tuple(body.publish),
            subscribe=tuple(body.subscribe),
            cluster=body.cluster,
        ).to_wire()
    try:
        claims = MoqClaims.from_wire(wire)  # the same checks a verifier applies
    except ClaimsError as exc:
        raise InvalidRequestError(exc.reason) from None
    _inside_org(s, body.org_id, *claims.claimed_paths())
    key = s.store.active_signing_key(body.org_id, "moq")
    ttl = min(body.ttl_seconds, s.settings.max_token_ttl_seconds)
    minter = Minter(key, default_ttl_seconds=ttl, max_ttl_seconds=ttl, clock=s.store.clock)
    return _minted(s, "moq", who, minter.mint(wire), {"root": body.root})


@handlers.handles(api.TOKENS_REVOKE)
def tokens_revoke(s: Services, call: Call, body: api.TokenRef) -> api.TokenRevoked:
    """Revoke one token by its ``jti``: gates cut its live sessions and refuse it."""
    s.same_org(call.who, body.org_id)
    s.store.revoke_token(body.org_id, body.jti, actor=call.who.id)
    return api.TokenRevoked(revoked=body.jti, published=s.published())
