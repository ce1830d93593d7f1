"""Sessions pinned to a verified grant, and their live cutoff.

``Gate.connect(token | None, path, origin)`` verifies once and returns a
:class:`Session`; every publish or subscribe afterwards is a local check on
the pinned grant (microseconds, no crypto). A session ends at its token's
``exp``, or when its key (kid), its token (jti), its subject (optionally only
tokens issued before a time) or its tenant is revoked; ``on_close`` is called
so the relay can drop the connection, and a revoked token is refused on
reconnect.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple, final

from relaypass._claims import ClaimsPolicy
from relaypass._clock import SYSTEM_CLOCK, Clock
from relaypass._grant import Grant
from relaypass._keys import Key
from relaypass._keyset import KeySet
from relaypass._scopes import PatternSet
from relaypass._tokens import VerifiedToken, Verifier
from relaypass.errors import (
    InvalidClaimError,
    InvalidPermissionsError,
    InvalidTokenError,
    KeyNotFoundError,
    MalformedTokenError,
    RelaypassError,
    RevokedTokenError,
)
from relaypass.gate.accounts import SDK_ISSUERS, AccountDirectory, ResourceOwners
from relaypass.gate.cutoff import Cutoff
from relaypass.gate.index import SessionIndex
from relaypass.gate.keysource import KeySource
from relaypass.gate.moderation import Moderation
from relaypass.gate.profiles import Connect, GateProfile, header_kid, profile_named
from relaypass.gate.quotas import Quotas
from relaypass.gate.revoked import Revoked
from relaypass.gate.rooms import RoomBoard, pending_error
from relaypass.gate.tenancy import OrgFences
from relaypass.gate.usage import UsageEvents
from relaypass.profiles.algorithms import accepts
from relaypass.profiles.moq import MoqClaims
from relaypass.profiles.room import (
    DEFAULT_ROOM_TTL_SECONDS,
    DEFAULT_ROOMLESS_TTL_SECONDS,
)

__all__ = ["Gate", "Session"]

_ids = itertools.count(1)


def _identity(grant: Grant) -> tuple[str | None, ...]:
    """What a session is pinned to for its whole life (a refresh must keep it)."""
    return (grant.org, grant.tenant, grant.subject, grant.profile, grant.room)


class _KeyView(NamedTuple):
    keyset: KeySet
    verifier: Verifier
    fences: OrgFences


@final
class Session(Moderation):
    """One live connection and the grant it is pinned to.

    A room's moderators also decide with it (:class:`~relaypass.gate.moderation.Moderation`).
    """

    __slots__ = (
        "_gate", "close_reason", "grant", "id", "origin", "path", "pending", "started_at",
    )  # fmt: skip

    _gate: Gate

    def __init__(self, gate: Gate, grant: Grant, path: str, origin: str | None) -> None:
        self._gate = gate
        self.grant = grant
        self.path = path
        self.origin = origin
        self.id = next(_ids)
        self.close_reason: str | None = None
        #: Held in a room's lobby: every check refuses with ``PENDING_ADMISSION``.
        self.pending = False
        self.started_at = gate.clock.now()

    @property
    def open(self) -> bool:
        """Not yet closed (expiry is checked on use)."""
        return self.close_reason is None

    def _live(self) -> Grant:
        if self.close_reason is not None:
            msg = f"session closed: {self.close_reason}"
            raise InvalidTokenError(msg)
        expires = self.grant.expires_at
        if expires is not None and self._gate.clock.now() >= expires:
            self._gate.close(self, "expired")
            msg = "session token expired"
            raise InvalidTokenError(msg)
        return self.grant

    def _admitted(self) -> Grant:
        grant = self._live()
        if self.pending:
            raise pending_error()
        return grant

    def current_grant(self) -> Grant:
        """The grant in force now (after any refresh or live change), or the refusal."""
        return self._admitted()

    def authorize_publish(self, path: str, *, source: str | None = None) -> None:
        """Allow a publish at ``path`` or raise."""
        self._admitted().authorize_publish(path, source=source)

    def authorize_subscribe(self, path: str) -> None:
        """Allow a subscribe at ``path`` or raise."""
        self._admitted().authorize_subscribe(path)

    def authorize_resource(self, kind: str, resource_id: str) -> None:
        """Allow acting on a trunk, call or event stream only if this session's tenant owns it.

        Ownership is the control plane's, pushed to the gate; a foreign and an
        unknown resource are refused alike (``INVALID_PERMISSIONS``).
        """
        self._gate.resources.authorize(self._admitted(), kind, resource_id)

    def authorize(self, capability: str) -> None:
        """Allow a named action (a room action such as ``canRecord``, a session scope) or raise."""
        self._admitted().authorize(capability)

    def refresh(self, token: str) -> None:
        """In-band token refresh: the same identity; the grant may narrow or widen.

        The identity is the org, tenant, subject, profile and room: a token of
        another org's tenant of the same name is refused like any other tenant.
        """
        current = self._live()
        grant = self._gate.grant_for(token, self.path, self.origin)
        if _identity(grant) != _identity(current):
            msg = "a refresh must keep the session's org, tenant, subject, profile and room"
            raise InvalidPermissionsError(msg)
        if self._gate.kind.holds_rooms:
            grant = self._gate.rooms.regranted(self, grant)
        self._gate.regrant(self, grant)

    def close(
        self, reason: str = "closed", *, sent: int | None = None, received: int | None = None
    ) -> None:
        """End the session (idempotent); ``sent``/``received``: its bytes, where known."""
        self._gate.close(self, reason, sent=sent, received=received)


@final
class Gate(Cutoff):
    """Verifies at connect, pins grants to sessions, and cuts them on revocation or expiry."""

    def __init__(
        self,
        keys: KeySource,
        *,
        profile: str | GateProfile = "relay",
        policy: ClaimsPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        public_publish: Iterable[str] = (),
        public_subscribe: Iterable[str] = (),
        on_close: Callable[[Session, str], None] | None = None,
        max_roomless_ttl_seconds: int = DEFAULT_ROOMLESS_TTL_SECONDS,
        max_room_ttl_seconds: int = DEFAULT_ROOM_TTL_SECONDS,
        room_issuers: Mapping[str, Key] | None = None,
        sdk_issuers: Iterable[str] = SDK_ISSUERS,
    ) -> None:
        #: The token kind this gate serves, and everything that differs by kind.
        self.kind = profile_named(profile)
        self.keys = keys
        self.profile = self.kind.name
        self.policy = policy or ClaimsPolicy(require_exp=self.kind.requires_exp)
        self._rooms_held = self.kind.holds_rooms
        self.clock = clock
        self.public_publish = tuple(public_publish)
        self.public_subscribe = tuple(public_subscribe)
        self.on_close = on_close
        self.max_roomless_ttl_seconds = max_roomless_ttl_seconds
        self.max_room_ttl_seconds = max_room_ttl_seconds
        #: Customer-minted room tokens (VideoSDK-style: HS256, no kid), chosen by iss.
        self.room_issuers = {
            iss: Verifier(KeySet([key]), policy=self.policy, clock=clock)
            for iss, key in (room_issuers or {}).items()
        }
        #: Public prefixes with moq's prefix rule (p means p/**), compiled once.
        self.public_moq = MoqClaims(publish=self.public_publish, subscribe=self.public_subscribe)
        #: The grant of a connection without a token, outside moq (absolute public prefixes).
        self.public_grant = Grant(
            profile="anonymous",
            publish=PatternSet(f"{p}/**" for p in self.public_publish),
            subscribe=PatternSet(f"{p}/**" for p in self.public_subscribe),
        )
        self._lock = threading.Lock()
        self._sessions: dict[int, Session] = {}
        self._index = SessionIndex()
        self._view: _KeyView | None = None
        #: What this gate has been told is revoked (bounded: see :mod:`.revoked`).
        self.revoked = Revoked(self._lock)
        # Service-account tokens (their own key namespace) and resource owners.
        self.account_policy = ClaimsPolicy(issuer=frozenset(sdk_issuers))
        self._accounts: AccountDirectory | None = None
        self.resources = ResourceOwners()
        self.rooms: RoomBoard[Session] = RoomBoard(self)
        #: Usage events (started, ended, refused, rooms), shipped by a
        #: :class:`~relaypass.gate.shipper.RedisUsageShipper`; ``None``: not recorded.
        self.usage: UsageEvents | None = None
        #: Quotas per org (concurrent sessions, connects per second), shared through Redis;
        #: ``None``: no quotas here (a gate that does not follow the control plane's Redis).
        self.quotas: Quotas | None = None

    # ---------------------------------------------------------------- connect

    def connect(
        self,
        token: str | None,
        path: str = "",
        origin: str | None = None,
        *,
        participant: str | None = None,
    ) -> Session:
        """A session for this connection; anonymous only on public prefixes without a token.

        ``participant``: the identity a room session names (a token that pins
        another refuses it; a token without one gets a generated identity).
        """
        grant: Grant | None = None
        try:
            grant = (
                self.anonymous_grant(path) if token is None else self.grant_for(token, path, origin)
            )
            if self._rooms_held:
                grant = self.rooms.identify(grant, participant)
                self.rooms.check_join(grant)
            if self.quotas is not None:
                self.quotas.admit(grant.org)
        except RelaypassError as exc:
            if grant is not None:  # refused after the token checked out: the org is known
                exc.org = grant.org
            if self.usage is not None:
                self.usage.emit("refused", exc.org, None, {"code": exc.code.value})
            raise
        session = self._file(grant, path, origin)
        if self.usage is not None:
            where = {"room": grant.room, "participant": grant.participant} if grant.room else None
            self.usage.emit("started", grant.org, grant.tenant, where)
        if self._rooms_held:
            self.rooms.joined(session)
        return session

    def _file(self, grant: Grant, path: str, origin: str | None) -> Session:
        """A live session for ``grant``, indexed for the cutoff."""
        session = Session(self, grant, path, origin)
        with self._lock:
            self._sessions[session.id] = session
            self._index.add(session.id, grant)
        return session

    def _check_standing(self, grant: Grant) -> None:
        """Refuse a grant whose org, tenant or minting API key was revoked, or that expired."""
        self.revoked.check_standing(grant, self.clock.now())

    def adopt(self, grant: Grant, path: str = "", origin: str | None = None) -> Session:
        """A live connection admitted before this gate existed, filed again from its grant.

        For an adapter that restarts while its peer keeps connections open (the NATS
        callout): what it recorded of each connection comes back as a grant, is held
        to every revocation this gate knows (raising as :meth:`connect` would), and is
        cut by later ones like any session.
        """
        if self.revoked.names(
            grant.kid, grant.token_id, grant.jti, grant.subject, grant.issued_at, grant.org
        ):
            msg = "token was revoked"
            raise RevokedTokenError(msg)
        self._check_standing(grant)
        return self._file(grant, path, origin)

    def regrant(self, session: Session, grant: Grant) -> None:
        """Pin a new grant to a live session (an in-band refresh), re-filing it."""
        with self._lock:
            if session.close_reason is not None:
                return
            self._index.remove(session.id, session.grant)
            session.grant = grant
            self._index.add(session.id, grant)

    def grant_for(self, token: str, path: str, origin: str | None) -> Grant:
        """Verify ``token`` (learning a new kid once) and build its grant, through the profile.

        A refusal after the signature checked out names the key's org (``exc.org``),
        for that org's usage; a client never sees it.
        """
        kind = self.kind
        verified = kind.verify(self, token)
        try:
            if not accepts(kind.name, verified.token.alg):  # the same table minting reads
                msg = f"{kind.name} tokens are not signed with {verified.token.alg}"
                raise InvalidClaimError(msg)
            self._check_revoked(verified.token)
            view = self._current()
            tenancy = kind.tenancy(verified, path, view.keyset, view.fences)
            grant = kind.grant(Connect(self, verified, path, origin, tenancy))
            kind.check_scope(grant, verified, path)
            self._check_standing(grant)
        except RelaypassError as exc:
            exc.org = verified.token.binding.org
            raise
        return grant

    def request_grant(self, token: str, path: str = "", origin: str | None = None) -> Grant:
        """A stateless grant for one request (an HLS playlist or segment): no session.

        Not a session, so not a connect: no session or connect quota counts it, but an org
        past a monthly quota is refused, and a refusal is recorded like a connect's.
        """
        grant: Grant | None = None
        try:
            grant = self.grant_for(token, path, origin)
            if self.quotas is not None:
                self.quotas.check_blocked(grant.org)
        except RelaypassError as exc:
            if grant is not None:
                exc.org = grant.org
            if self.usage is not None:
                self.usage.emit("refused", exc.org, None, {"code": exc.code.value})
            raise
        return grant

    def live_counts(self) -> dict[tuple[str | None, str | None], int]:
        """Live sessions by org and tenant (for usage snapshots and quotas)."""
        counts: dict[tuple[str | None, str | None], int] = {}
        with self._lock:
            for session in self._sessions.values():
                key = (session.grant.org, session.grant.tenant)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def account_directory(self) -> AccountDirectory:
        """The service-account registrations of the current key set."""
        keyset = self.keys.keyset()
        directory = self._accounts
        if directory is None or directory.keyset is not keyset:
            directory = self._accounts = AccountDirectory(keyset)
        return directory

    def _current(self) -> _KeyView:
        """The key set with its verifier and fences, rebuilt when the key set changes."""
        keyset = self.keys.keyset()
        view = self._view
        if view is None or view.keyset is not keyset:
            verifier = Verifier(keyset, policy=self.policy, clock=self.clock)
            view = self._view = _KeyView(keyset, verifier, OrgFences(keyset))
        return view

    def verify_with_keyset(self, token: str) -> VerifiedToken:
        """Verify with the current key set, learning an unknown kid once (within its cooldown)."""
        try:
            return self._current().verifier.verify(token)
        except KeyNotFoundError:
            kid = header_kid(token)
            if kid is None or not self.keys.learn(kid):
                raise
        return self._current().verifier.verify(token)

    def _current_verifier(self) -> Verifier:
        return self._current().verifier

    def anonymous_grant(self, path: str = "") -> Grant:
        """The grant of a connection without a token (public prefixes only, else refused)."""
        if not (self.public_publish or self.public_subscribe):
            msg = "a token is required"
            raise MalformedTokenError(msg)
        return self.kind.anonymous_grant(self, path)

    def _check_revoked(self, verified: VerifiedToken) -> None:
        issued = _issued(verified) if self.revoked.subjects else None  # read only when it counts
        if self.revoked.names(
            verified.kid, verified.token_id, verified.jti, verified.subject, issued,
            verified.binding.org,
        ):  # fmt: skip
            msg = "token was revoked"
            raise RevokedTokenError(msg)

    # ------------------------------------------------------------- cutoff

    def close(
        self,
        session: Session,
        reason: str,
        *,
        sent: int | None = None,
        received: int | None = None,
    ) -> None:
        """End one session and tell the relay (``sent``/``received``: bytes, where known)."""
        with self._lock:
            if session.close_reason is not None:
                return
            session.close_reason = reason
            self._sessions.pop(session.id, None)
            self._index.remove(session.id, session.grant)
        if self.quotas is not None:
            self.quotas.release(session.grant.org)
        usage = self.usage
        if usage is not None:
            grant = session.grant
            detail: dict[str, object] = {
                "reason": reason, "seconds": self.clock.now() - session.started_at
            }  # fmt: skip
            if sent is not None or received is not None:
                detail["sent"], detail["received"] = sent, received
            if grant.room:
                detail["room"], detail["participant"] = grant.room, grant.participant
            usage.emit("ended", grant.org, grant.tenant, detail)
        if self._rooms_held:
            self.rooms.left(session)
        if self.on_close is not None:
            self.on_close(session, reason)

    @property
    def sessions(self) -> list[Session]:
        """Live sessions."""
        with self._lock:
            return list(self._sessions.values())


def _issued(verified: VerifiedToken) -> float:
    """``iat`` as a number; a token without one counts as issued before any revocation."""
    iat = verified.claims.get("iat")
    return float(iat) if isinstance(iat, int | float) and not isinstance(iat, bool) else -math.inf
