"""One object per token kind: everything the gate does differently for each.

A :class:`~relaypass.gate.Gate` holds one profile object and calls it; nothing
else in the gate asks which kind of token it serves. A profile owns how a token
is verified (the key set, a customer's registered secret, the service-account
directory), which org, issuer and fence its grant gets, how claims become a
grant, the scope check against its key's binding, the grant of a connection
without a token, and whether its sessions live in rooms. A new kind is one new
class here, registered in :data:`PROFILES`.

The profiles read the gate's key view and settings; the gate stays the one
place that keeps sessions, revocations and the cutoff.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar, Final, NamedTuple, Protocol, final

from relaypass._grant import NO_TENANCY, Grant, Tenancy
from relaypass._jws import parse_header
from relaypass._keyset import PublishedAccount
from relaypass._scopes import EMPTY, PatternSet
from relaypass._tokens import VerifiedToken, Verifier, decode_unverified
from relaypass.errors import InvalidPermissionsError, InvalidTokenError, MalformedTokenError
from relaypass.gate.accounts import account_grant
from relaypass.gate.tenancy import OrgFences, room_in_scope, room_issuer
from relaypass.profiles.moq import MoqClaims
from relaypass.profiles.relay import RelayClaims
from relaypass.profiles.room import RoomClaims
from relaypass.profiles.session import SessionClaims

if TYPE_CHECKING:
    from collections.abc import Mapping

    from relaypass._claims import ClaimsPolicy
    from relaypass._clock import Clock
    from relaypass._keyset import KeySet
    from relaypass.gate.accounts import AccountDirectory

__all__ = [
    "PROFILES",
    "Connect",
    "GateProfile",
    "GateView",
    "MoqProfile",
    "RelayProfile",
    "RoomProfile",
    "ServiceAccountProfile",
    "SessionProfile",
    "Verified",
    "header_kid",
    "profile_named",
]


class GateView(Protocol):
    """What a profile reads of the gate that holds it: its key view and settings.

    The gate (:class:`relaypass.gate.Gate`) is this and more; the profiles know only
    this much of it, so the gate builds on the profiles and not the other way round.
    """

    @property
    def clock(self) -> Clock:
        """The gate's clock."""

    @property
    def public_grant(self) -> Grant:
        """What a connection without a token may do."""

    @property
    def public_moq(self) -> MoqClaims:
        """The public prefixes, with moq's prefix rule."""

    @property
    def max_roomless_ttl_seconds(self) -> int:
        """The longest a room-kind token without a room may live."""

    @property
    def max_room_ttl_seconds(self) -> int:
        """The longest a room token may live."""

    @property
    def room_issuers(self) -> Mapping[str, Verifier]:
        """Customers' registered room-token secrets, by ``iss``."""

    @property
    def account_policy(self) -> ClaimsPolicy:
        """The claims policy of service-account tokens."""

    def account_directory(self) -> AccountDirectory:
        """The service-account registrations of the current key set."""

    def verify_with_keyset(self, token: str) -> VerifiedToken:
        """Verify with the current key set."""


class Verified(NamedTuple):
    """A verified token, with what its profile learned verifying it."""

    token: VerifiedToken
    #: The service-account registration that verified it (service accounts only).
    account: PublishedAccount | None = None
    #: Verified with the secret registered for its ``iss`` (customer-minted room tokens).
    issuer_known: bool = False


class Connect(NamedTuple):
    """One connection being admitted: what a profile's grant is built from."""

    gate: GateView
    verified: Verified
    #: The path the connection dialed (a room's, a broadcast's; "" where none).
    connection: str
    #: The handshake's ``Origin`` (browsers), or ``None``.
    origin: str | None
    tenancy: Tenancy


class GateProfile:
    """What differs between token kinds; the defaults are those of path-scoped tokens."""

    #: The wire name (``--profile``), and the key of the algorithm table.
    name: ClassVar[str]
    #: Whether a token without ``exp`` is refused (moq tokens may omit it, as moq's do).
    requires_exp: ClassVar[bool] = True
    #: Whether sessions join rooms (the lobby, live grant changes, tiers).
    holds_rooms: ClassVar[bool] = False
    #: Whether the NATS callout may admit these tokens (they name subjects as paths).
    maps_to_subjects: ClassVar[bool] = False
    #: Whether grants are relative to the dialed path (what a MoQ relay serves).
    paths_relative_to_connection: ClassVar[bool] = False

    def verify(self, gate: GateView, token: str) -> Verified:
        """Signature, time and structure, with the gate's key set."""
        return Verified(gate.verify_with_keyset(token))

    def tenancy(
        self, verified: Verified, connection: str, keyset: KeySet, fences: OrgFences
    ) -> Tenancy:
        """The org, issuer and fence the grant gets, the fence in the grant's own paths."""
        org = verified.token.binding.org
        base = connection if self.paths_relative_to_connection else None
        fence = fences.fence_set(org, base) if fences.for_org(org) else EMPTY
        return _tenancy(org, None, fence)

    def grant(self, at: Connect) -> Grant:
        """The grant the claims give."""
        raise NotImplementedError

    def check_scope(self, grant: Grant, verified: Verified, connection: str) -> None:
        """Refuse (``UNAUTHORIZED_PATH``) a token that claims more than its key's scope."""
        scope = verified.token.binding.scope
        if scope is not None:
            scope.check_sets(grant.publish, grant.subscribe)

    def anonymous_grant(self, gate: GateView, connection: str) -> Grant:
        """A connection without a token: the public prefixes."""
        return gate.public_grant

    def connection_is_room(self) -> bool:
        """Whether an adapter's stream path names the room a token is held to."""
        return self.holds_rooms


@final
class RelayProfile(GateProfile):
    """Namespace-scoped relay tokens (``ns``), absolute paths."""

    name = "relay"
    maps_to_subjects = True

    def grant(self, at: Connect) -> Grant:
        """``ns`` patterns for both publish and subscribe."""
        return RelayClaims.grant(at.verified.token, at.tenancy)


@final
class MoqProfile(GateProfile):
    """moq-token's ``root``/``put``/``get``, relative to the connection path."""

    name = "moq"
    requires_exp = False
    paths_relative_to_connection = True

    def grant(self, at: Connect) -> Grant:
        """The claims rebased onto the dialed path; a token that grants nothing admits nothing.

        A token of another kind (a relay token's ``ns``, say) reads as moq
        claims with no path at all: refused here, as moq-relay refuses an empty
        session, rather than admitted to a session that can do nothing.
        """
        claims = MoqClaims.from_wire(at.verified.token.claims)
        if not (
            claims.publish
            or claims.subscribe
            or claims.publish_patterns
            or claims.subscribe_patterns
        ):
            msg = "the token grants no publish or subscribe path"
            raise InvalidPermissionsError(msg)
        return claims.grant(at.connection, at.verified.token, at.tenancy)

    def check_scope(self, grant: Grant, verified: Verified, connection: str) -> None:
        """What the token claims (its root and paths), held to its key's scope."""
        scope = verified.token.binding.scope
        if scope is not None:
            scope.check(*MoqClaims.from_wire(verified.token.claims).claimed_paths())

    def anonymous_grant(self, gate: GateView, connection: str) -> Grant:
        """The public prefixes rebased onto the connection path; refused when that is empty."""
        grant = gate.public_moq.grant(connection)
        if not (grant.publish or grant.subscribe):  # as moq-relay: no empty sessions
            msg = "a token is required outside the public prefixes"
            raise MalformedTokenError(msg)
        return grant


@final
class RoomProfile(GateProfile):
    """Room tokens: a grant of capability flags, one room, the lobby."""

    name = "room"
    holds_rooms = True

    def verify(self, gate: GateView, token: str) -> Verified:
        """A customer's registered secret for a token without ``kid``; else the key set."""
        customer = _customer_verifier(gate, token)
        if customer is not None:
            return Verified(customer.verify(token), issuer_known=True)
        return Verified(gate.verify_with_keyset(token))

    def tenancy(
        self, verified: Verified, connection: str, keyset: KeySet, fences: OrgFences
    ) -> Tenancy:
        """The minting API key as issuer; a room inside another org's namespace is refused."""
        token = verified.token
        iss = token.claims.get("iss")
        issuer = (
            iss if verified.issuer_known and isinstance(iss, str) else room_issuer(token, keyset)
        )
        org = token.binding.org
        if fences.for_org(org):
            fences.fence_set(org, connection)  # refuses a connection inside a fence
        return _tenancy(org, issuer, EMPTY)

    def grant(self, at: Connect) -> Grant:
        """Guardrails, the roomless ceiling, and the room joined.

        A room lives at ``<org root>/<roomId>``: for a key scoped to ``acme``
        the connection path ``acme/standup`` is the room ``standup``.
        """
        token, gate = at.verified.token, at.gate
        room_id = room_in_scope(token.binding.scope, at.connection)
        room = RoomClaims.from_wire(token.claims)
        room.check_lifetime(
            token,
            gate.clock.now(),
            gate.max_roomless_ttl_seconds,
            max_scoped=gate.max_room_ttl_seconds,
        )
        grant = room.to_grant(token, at.tenancy)
        if room_id:
            grant.check_room(room_id)
            if grant.room is None:  # a roomless token joins the room of its connection path
                grant = dataclasses.replace(grant, room=room_id)
        return grant

    def check_scope(self, grant: Grant, verified: Verified, connection: str) -> None:
        """The room's path inside the key's scope."""
        scope = verified.token.binding.scope
        if scope is not None:
            scope.check_path(connection)


@final
class SessionProfile(GateProfile):
    """Session and browser tokens: capabilities, pinned to an origin."""

    name = "session"

    def grant(self, at: Connect) -> Grant:
        """The capabilities, refused from any origin but the one pinned."""
        grant = SessionClaims.grant(at.verified.token, at.tenancy)
        grant.check_origin(at.origin)
        return grant

    def check_scope(self, grant: Grant, verified: Verified, connection: str) -> None:
        """Session tokens carry capabilities, not paths: nothing to hold to a scope."""


@final
class ServiceAccountProfile(GateProfile):
    """Service-account JWTs (RS256), verified by the tenant's registered key."""

    name = "service_account"

    def verify(self, gate: GateView, token: str) -> Verified:
        """With the service-account directory, not the signing keys."""
        verified, account = gate.account_directory().verify(token, gate.account_policy, gate.clock)
        return Verified(verified, account=account)

    def grant(self, at: Connect) -> Grant:
        """The tenant's grant, from its registration."""
        account = at.verified.account
        if account is None:  # pragma: no cover - verify() always sets it
            msg = "a service-account token without its registration"
            raise InvalidTokenError(msg)
        return account_grant(at.verified.token, account, at.tenancy)

    def check_scope(self, grant: Grant, verified: Verified, connection: str) -> None:
        """A registration is a tenant's, not a namespace's: nothing to hold to a scope."""


#: Every profile, by name: the one registry.
PROFILES: Final[dict[str, GateProfile]] = {
    p.name: p
    for p in (
        RelayProfile(),
        MoqProfile(),
        SessionProfile(),
        RoomProfile(),
        ServiceAccountProfile(),
    )
}


def profile_named(name: str | GateProfile) -> GateProfile:
    """The profile object of a name (or the object itself)."""
    if isinstance(name, GateProfile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        msg = f"profile must be one of {tuple(PROFILES)}"
        raise ValueError(msg) from None


def _tenancy(org: str | None, issuer: str | None, fence: PatternSet) -> Tenancy:
    if org is None and issuer is None and not fence:
        return NO_TENANCY  # an unbound key (a single-org gate): nothing to add
    return Tenancy(org, issuer, fence)


def _customer_verifier(gate: GateView, token: str) -> Verifier | None:
    """The registered secret of the token's ``iss``, for a token without ``kid``."""
    issuers = gate.room_issuers
    if not issuers or header_kid(token) is not None:
        return None
    try:
        _, claims = decode_unverified(token)
    except InvalidTokenError:
        return None
    iss = claims.get("iss")
    return issuers.get(iss) if isinstance(iss, str) else None


def header_kid(token: str) -> str | None:
    """The ``kid`` of a token's header, without verifying anything."""
    try:
        return parse_header(token.split(".", 1)[0]).kid
    except InvalidTokenError:
        return None
