"""The store: every control-plane write is one transaction.

A crash or a half-done request therefore leaves either nothing or the whole
change. Create procedures take an idempotency key; their outcome is recorded
in the same transaction and replayed on retry (sealed under the KEK, since an
API key's creation response holds the key once).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import queue
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy import Engine, create_engine, event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from relaypass._alg import Algorithm
from relaypass._apikeys import ApiKeyHasher, NewApiKey, generate_api_key, parse_api_key
from relaypass._keys import Key
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass._keyset import KeySet, PublishedAccount, issuer_digest
from relaypass.errors import (
    InvalidApiKeyError,
    InvalidKeyError,
    InvalidRequestError,
    QuotaExceededError,
)
from relaypass.profiles.algorithms import PROFILE_ALGORITHMS, profiles_for
from relaypass.server.blocking import AuditRow, deferred_audit, forbid_blocking
from relaypass.server.db import models
from relaypass.server.db.limits import LimitsStore
from relaypass.server.db.migrate import upgrade
from relaypass.server.db.refresh import Refresher
from relaypass.server.db.rooms import RoomStore
from relaypass.server.db.tenancy import TenancyStore
from relaypass.server.db.webhooks import AUDITED_EVENTS, WebhookStore, enqueue
from relaypass.server.secrets import KeyEncryptionKey, SecretsMismatchError, pepper_check

__all__ = ["KeyState", "Store", "make_engine"]

T = TypeVar("T")
IDEMPOTENCY_TTL_MS: Final = 24 * 3600 * 1000
CACHE_MS: Final = 5_000
CACHE_MAX: Final = 10_000
LAST_USED_EVERY_MS: Final = 60_000
_ANY: Final = object()  # "cache it, whatever the entry is now"


def _now_ms() -> int:
    return int(time.time() * 1000)


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, foreign keys on) or PostgreSQL (psycopg 3)."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:  # noqa: ANN401 - DB-API
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # Bounded waits: with the database down a request fails within about a second
    # (503 UNAVAILABLE) instead of hanging; libpq's connect timeout floors at 2 s.
    return create_engine(
        url, pool_pre_ping=True, pool_timeout=1, connect_args={"connect_timeout": 2}
    )


#: Audited actions that change what gates must know: the key set (keys, orgs and
#: the live-issuer registry) and revocations, with the revocation each implies.
_KEYSET_ACTIONS: Final = frozenset(
    {
        "signing_key.create",
        "signing_key.retire",
        "signing_key.revoke",
        "org.create",
        "org.disable",
        "api_key.create",
        "api_key.revoke",
        "api_key.reroll",
        "service_account.publish",
        "service_account.revoke",
        "tenant.disable",
    }
)
_REVOCATIONS: Final = {
    "token.revoke": "jti",
    "signing_key.revoke": "kid",
    "api_key.revoke": "iss",
    "org.disable": "org",
    "tenant.disable": "tenant",
    "service_account.revoke": "kid",
}


def outbox_events(
    action: str, org_id: str, target: str | None, detail: dict[str, Any] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The outbox rows an audited action implies: key set, revocation, resource, room."""
    events: list[tuple[str, dict[str, Any]]] = []
    if action in {"resource.assign", "resource.release"} and target is not None:
        kind, _, resource_id = target.partition("/")
        tenant = (detail or {}).get("tenant")
        events.append(
            (
                "resource",
                {"op": action.removeprefix("resource."), "org": org_id, "kind": kind,
                 "id": resource_id, "tenant": tenant},
            )
        )  # fmt: skip
    revocation = _REVOCATIONS.get(action)
    if revocation is not None and target is not None:
        event: dict[str, Any] = {"kind": revocation, "value": target, "org": org_id}
        until = (detail or {}).get("until")
        if isinstance(until, int | float):
            event["until"] = until
        if action == "service_account.revoke":  # target is "<tenant>/<kid>"
            tenant, _, kid = target.partition("/")
            event = {"kind": "kid", "value": kid, "org": org_id, "tenant": tenant}
        events.append(("revoke", event))
    if action == "org.set_limits" and isinstance((detail or {}).get("limits"), dict):
        events.append(("limits", {"org": org_id, "limits": dict((detail or {})["limits"])}))
    if action.startswith("room.") and isinstance((detail or {}).get("event"), dict):
        events.append(("room", dict((detail or {})["event"])))
    if action in _KEYSET_ACTIONS:
        events.append(("keyset", {}))
    return events


#: Clock skew a gate may allow past ``exp`` (its verifier's leeway is smaller).
_REVOCATION_LEEWAY_SECONDS: Final = 120


class KeyState:
    """Signing-key lifecycle states, derived from timestamps (never stored twice)."""

    PENDING = "pending"
    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"
    REVOKED = "revoked"


_PUBLISHED_STATES: Final = frozenset({KeyState.PENDING, KeyState.ACTIVE, KeyState.RETIRING})


def key_state(row: models.SigningKey, now_ms: int) -> str:
    """Pending -> active -> retiring -> retired, or revoked."""
    if row.revoked_at_ms is not None:
        return KeyState.REVOKED
    if row.retired_at_ms is not None and now_ms >= row.retired_at_ms:
        return KeyState.RETIRED
    if row.retiring_at_ms is not None:
        return KeyState.RETIRING
    if now_ms < row.active_at_ms:
        return KeyState.PENDING
    return KeyState.ACTIVE


@dataclass(frozen=True, slots=True)
class _StoreClock:
    ms: Callable[[], int]

    def now(self) -> float:
        return self.ms() / 1000


@dataclass(slots=True)
class _CachedKey:
    record: ApiKeyRecord
    valid_until_ms: int
    dies_at_ms: int
    last_used_written_ms: int


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What a verified API key tells the service."""

    id: str
    org_id: str
    label: str
    scopes: tuple[str, ...]
    environment: str


def _announced(
    action: str, actor: str, target: str | None, detail: dict[str, Any]
) -> dict[str, Any]:
    """What a webhook says of an audited change: who, what, and the change's own facts."""
    data: dict[str, Any] = {"actor": actor, "target": target}
    if action.startswith("room."):
        raw = detail.get("event")
        event: dict[str, Any] = raw if isinstance(raw, dict) else {}
        data |= {"roomId": event.get("room"), "participantId": event.get("participant")}
    else:
        data |= {k: v for k, v in detail.items() if k in {"alg", "label", "scopes", "until"}}
    return data


class Store(TenancyStore, RoomStore, WebhookStore, LimitsStore):
    """All persistent state of the control plane."""

    def __init__(
        self,
        engine: Engine,
        *,
        kek: KeyEncryptionKey,
        hasher: ApiKeyHasher,
        api_key_prefix: str = "rp",
        key_propagation_seconds: int = 60,
        max_token_ttl_seconds: int = 86_400,
        max_keys_per_org: int = 16,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._kek = kek
        self._hasher = hasher
        self.api_key_prefix = api_key_prefix
        self.key_propagation_ms = key_propagation_seconds * 1000
        self.max_token_ttl_ms = max_token_ttl_seconds * 1000
        self.max_keys_per_org = max_keys_per_org
        self._now = clock_ms
        self._appender = _AuditAppender(engine)
        self._api_key_cache: dict[str, _CachedKey] = {}
        self._signing_cache: dict[str, dict[str | None, tuple[Key, int]]] = {}
        #: Reloads cache entries near their bound in the background (see ``refresh.py``).
        self._refresher = Refresher()
        self._init_tenancy()

    def close(self) -> None:
        """Release every connection."""
        self._refresher.close()
        self._appender.close()
        self.engine.dispose()

    @property
    def clock(self) -> _StoreClock:
        """The store's time as a :class:`~relaypass.Clock`, so minting and lifecycle agree."""
        return _StoreClock(self._now)

    def migrate(self) -> None:
        """Apply the packaged migrations."""
        upgrade(self.engine)

    def check_secrets(self, pepper: bytes) -> None:
        """Refuse to run with another key-encryption key or pepper than the database's.

        The first run stores a check value of each (a blob sealed under the KEK,
        an HMAC under the pepper; neither reveals its secret). A replica started
        with different secrets would decrypt no signing key and recognise no API
        key, so it stops here with :class:`SecretsMismatchError` instead.
        """
        with self.transaction() as session:
            kek_row = session.get(models.Meta, "kek_check")
            pepper_row = session.get(models.Meta, "pepper_check")
            if kek_row is None:
                sealed = self._kek.seal(b"relaypass kek check", "meta:kek_check").hex()
                session.add(models.Meta(name="kek_check", value=sealed))
            else:
                try:
                    self._kek.open(bytes.fromhex(kek_row.value), "meta:kek_check")
                except (InvalidKeyError, ValueError):
                    raise SecretsMismatchError("RELAYPASS_KEK", "key-encryption key") from None
            check = pepper_check(pepper)
            if pepper_row is None:
                session.add(models.Meta(name="pepper_check", value=check))
            elif not hmac.compare_digest(pepper_row.value, check):
                raise SecretsMismatchError("RELAYPASS_API_KEY_PEPPER", "API-key pepper")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error.

        On the event loop (:mod:`relaypass.server.blocking`) it raises
        ``NeedsThread`` instead: the call goes on in a worker thread.
        """
        forbid_blocking()
        with self._sessions.begin() as session:
            yield session

    # ------------------------------------------------------------ API keys

    def create_api_key(
        self,
        org_id: str,
        label: str,
        scopes: list[str],
        *,
        actor: str = "system",
        environment: str = "live",
        expires_at_ms: int | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """A new API key: its record and the key string (shown once)."""
        request = {
            "label": label,
            "scopes": sorted(scopes),
            "env": environment,
            "exp": expires_at_ms,
        }

        def create(session: Session) -> dict[str, Any]:
            row, new = self._add_api_key(
                session, org_id, label, environment, sorted(set(scopes)), expires_at_ms
            )
            self._audit(
                session,
                org_id,
                actor,
                "api_key.create",
                row.id,
                {"label": label, "scopes": row.scopes},
            )
            return {"id": row.id, "secret": new.secret}

        out = self._idempotent(org_id, "api_key.create", idempotency_key, request, create)
        return self.get_api_key(out["id"]), out["secret"]

    def create_org_with_admin_key(
        self,
        name: str,
        *,
        namespaces: list[str] | None,
        scopes: list[str],
        actor: str,
        caller_org: str,
        idempotency_key: str | None = None,
    ) -> tuple[dict[str, Any], ApiKeyRecord, str]:
        """``orgs.create``: the org and its first admin key, in one transaction.

        An ``idempotency_key`` is the caller's (kept under the calling key's org): the
        same request again answers the same org and key, never a second org.
        """
        request = {"name": name, "namespaces": namespaces}

        def create(session: Session) -> dict[str, Any]:
            org = self._add_org(session, name, None, namespaces, actor)
            row, new = self._add_api_key(session, org.id, "org admin", "live", sorted(scopes), None)
            self._audit(
                session, org.id, actor, "api_key.create", row.id,
                {"label": "org admin", "scopes": row.scopes},
            )  # fmt: skip
            return {"org_id": org.id, "key_id": row.id, "secret": new.secret}

        out = self._idempotent(caller_org, "org.create", idempotency_key, request, create)
        return self.get_org(out["org_id"]), self.get_api_key(out["key_id"]), out["secret"]

    def _add_api_key(  # noqa: PLR0917 - the row's own fields
        self,
        session: Session,
        org_id: str,
        label: str,
        environment: str,
        scopes: list[str],
        expires_at_ms: int | None,
    ) -> tuple[models.ApiKey, NewApiKey]:
        """Generate a key and add its row (hash and display parts only)."""
        new = generate_api_key(self.api_key_prefix, environment)
        row = models.ApiKey(
            id=models.new_id("key"),
            org_id=org_id,
            label=label,
            environment=environment,
            key_hash=self._hasher.digest(new.parsed),
            display_start=new.parsed.display_start,
            display_end=new.parsed.display_end,
            scopes=scopes,
            created_at_ms=self._now(),
            expires_at_ms=expires_at_ms,
            revoked_at_ms=None,
            last_used_at_ms=None,
            replaced_by=None,
        )
        session.add(row)
        return row, new

    def get_api_key(self, key_id: str) -> ApiKeyRecord:
        """The record of one key."""
        with self.transaction() as session:
            row = session.get(models.ApiKey, key_id)
            if row is None:
                msg = "no such API key"
                raise InvalidRequestError(msg)
            return _record(row)

    def list_api_keys(self, org_id: str, *, holding: Collection[str]) -> list[dict[str, Any]]:
        """Keys of an org, without secrets: those whose scopes are all in ``holding``.

        ``holding`` is the caller's own scopes: a key never sees, rerolls or
        revokes a key that can do more than it can.
        """
        held = frozenset(holding)
        with self.transaction() as session:
            rows = [
                r
                for r in session.scalars(
                    select(models.ApiKey)
                    .where(models.ApiKey.org_id == org_id)
                    .order_by(models.ApiKey.created_at_ms)
                ).all()
                if held.issuperset(r.scopes)
            ]
            return [
                {
                    "id": r.id,
                    "label": r.label,
                    "environment": r.environment,
                    "display": f"{r.display_start}…{r.display_end}",
                    "scopes": r.scopes,
                    "created_at_ms": r.created_at_ms,
                    "expires_at_ms": r.expires_at_ms,
                    "revoked_at_ms": r.revoked_at_ms,
                    "last_used_at_ms": r.last_used_at_ms,
                }
                for r in rows
            ]

    def cached_api_key(self, text: str) -> ApiKeyRecord | None:
        """The record from the in-process cache, without touching the database.

        ``None`` on a miss: then :meth:`verify_api_key` answers, off the event
        loop. A cached key that died meanwhile is refused here too. A due
        ``last_used_at_ms`` write, and a reload near the entry's bound, happen in
        the background.
        """
        digest = self._hasher.digest(parse_api_key(text, prefix=self.api_key_prefix))
        cached = self._api_key_cache.get(digest)
        now = self._now()
        if cached is None or now >= cached.valid_until_ms:
            return None
        if now >= cached.dies_at_ms:
            msg = "revoked or expired API key"
            raise InvalidApiKeyError(msg)
        if now - cached.last_used_written_ms >= LAST_USED_EVERY_MS:
            # Written in the background (at most once a minute per key), not on this request.
            cached.last_used_written_ms = now
            key_id = cached.record.id
            self._refresher.ahead(("touch", key_id), lambda: self._touch(key_id, now))
        if self._refresher.due(now, cached.valid_until_ms):
            self._refresh_api_key(text, digest)
        return cached.record

    def _refresh_api_key(self, text: str, digest: str) -> None:
        """Reload a key's entry in the background; a key refused now leaves the cache.

        Written back only over the entry it replaces: a revocation through this worker
        that dropped the entry meanwhile is not undone by an older read.
        """
        seen = self._api_key_cache.get(digest)

        def reload() -> None:
            try:
                self._load_api_key(text, only_over=seen)
            except InvalidApiKeyError:
                if self._api_key_cache.get(digest) is seen:
                    self._api_key_cache.pop(digest, None)

        self._refresher.ahead(("api_key", digest), reload)

    def verify_api_key(self, text: str) -> ApiKeyRecord:
        """The record for a presented key, or ``INVALID_API_KEY``.

        Results are cached in process for ``CACHE_MS`` (5 s): a revocation made
        through another worker or replica takes effect here within that bound
        (at once through this one). ``last_used_at_ms`` is written at most once
        a minute per key.
        """
        parsed = parse_api_key(text, prefix=self.api_key_prefix)
        digest = self._hasher.digest(parsed)
        now = self._now()
        cached = self._api_key_cache.get(digest)
        if cached is not None and now < cached.valid_until_ms:
            if now >= cached.dies_at_ms:
                msg = "revoked or expired API key"
                raise InvalidApiKeyError(msg)
            if now - cached.last_used_written_ms >= LAST_USED_EVERY_MS:
                self._touch(cached.record.id, now)
                cached.last_used_written_ms = now
            if self._refresher.due(now, cached.valid_until_ms):
                self._refresh_api_key(text, digest)
            return cached.record
        return self._load_api_key(text)

    def _load_api_key(self, text: str, *, only_over: object = _ANY) -> ApiKeyRecord:
        """Read a key from the database and cache it (``INVALID_API_KEY`` when refused).

        ``only_over``: cache it only if the entry is still that one (a background reload).
        """
        parsed = parse_api_key(text, prefix=self.api_key_prefix)
        digest = self._hasher.digest(parsed)
        now = self._now()
        with self.transaction() as session:
            row = session.scalars(
                select(models.ApiKey).where(models.ApiKey.key_hash == digest)
            ).first()
            if row is None or not self._hasher.matches(parsed, row.key_hash):
                msg = "unknown API key"
                raise InvalidApiKeyError(msg)
            if row.revoked_at_ms is not None and now >= row.revoked_at_ms:
                msg = "revoked API key"
                raise InvalidApiKeyError(msg)
            if row.expires_at_ms is not None and now >= row.expires_at_ms:
                msg = "expired API key"
                raise InvalidApiKeyError(msg)
            org = session.get(models.Org, row.org_id)
            if org is None or org.disabled_at_ms is not None:
                msg = "the API key's org is disabled"
                raise InvalidApiKeyError(msg)
            row.last_used_at_ms = now
            record = _record(row)
            ends = [t for t in (row.revoked_at_ms, row.expires_at_ms) if t is not None]
        if only_over is not _ANY and self._api_key_cache.get(digest) is not only_over:
            return record  # changed meanwhile (dropped by a revocation here): leave it
        if len(self._api_key_cache) >= CACHE_MAX:
            self._api_key_cache.clear()
        self._api_key_cache[digest] = _CachedKey(
            record, now + CACHE_MS, min(ends) if ends else 2**62, now
        )
        return record

    def _touch(self, key_id: str, now: int) -> None:
        with self.transaction() as session:
            row = session.get(models.ApiKey, key_id)
            if row is not None:
                row.last_used_at_ms = now

    def forget_org_keys(self, org_id: str) -> None:
        """Drop an org's API keys from this process's cache (the org was disabled)."""
        for digest, entry in list(self._api_key_cache.items()):
            if entry.record.org_id == org_id:
                self._api_key_cache.pop(digest, None)
        self._signing_cache.pop(org_id, None)

    def _forget_api_key(self, key_id: str) -> None:
        for digest, entry in list(self._api_key_cache.items()):
            if entry.record.id == key_id:
                self._api_key_cache.pop(digest, None)

    def revoke_api_key(
        self, org_id: str, key_id: str, *, holding: Collection[str], actor: str = "system"
    ) -> None:
        """Revoke now (a key whose scopes are all in ``holding``, the caller's own)."""
        with self.transaction() as session:
            row = self._org_api_key(session, org_id, key_id, holding)
            if row.revoked_at_ms is None:
                row.revoked_at_ms = self._now()
            self._audit(session, org_id, actor, "api_key.revoke", key_id, {})
        self._forget_api_key(key_id)

    def reroll_api_key(
        self,
        org_id: str,
        key_id: str,
        *,
        holding: Collection[str],
        grace_seconds: int = 0,
        actor: str = "system",
    ) -> tuple[ApiKeyRecord, str]:
        """Replace a key: same label and scopes; the old key works ``grace_seconds`` more.

        Only a key whose scopes are all in ``holding`` (the caller's own): the new
        secret is answered to the caller, so rerolling is granting.
        """
        if not 0 <= grace_seconds <= 7 * 86_400:
            msg = "grace_seconds must be within [0, 604800]"
            raise InvalidRequestError(msg)
        with self.transaction() as session:
            old = self._org_api_key(session, org_id, key_id, holding)
            if old.revoked_at_ms is not None:
                msg = "a revoked key cannot be rerolled"
                raise InvalidRequestError(msg)
            row, new = self._add_api_key(
                session, org_id, old.label, old.environment, list(old.scopes), old.expires_at_ms
            )
            old.revoked_at_ms = self._now() + grace_seconds * 1000
            old.replaced_by = row.id
            self._audit(
                session,
                org_id,
                actor,
                "api_key.reroll",
                key_id,
                {"new": row.id, "grace_seconds": grace_seconds},
            )
            record = _record(row)
        self._forget_api_key(key_id)
        return record, new.secret

    @staticmethod
    def _org_api_key(
        session: Session, org_id: str, key_id: str, holding: Collection[str]
    ) -> models.ApiKey:
        row = session.get(models.ApiKey, key_id)
        # One answer for a missing key, another org's and one beyond the caller's
        # scopes (which its list does not show either): no existence leak.
        if row is None or row.org_id != org_id or not frozenset(holding).issuperset(row.scopes):
            msg = "no such API key"
            raise InvalidRequestError(msg)
        return row

    # -------------------------------------------------------- signing keys

    def create_signing_key(
        self,
        org_id: str,
        label: str,
        *,
        alg: Algorithm = Algorithm.EdDSA,
        actor: str = "system",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A new key: published at once, signing only after the propagation delay."""
        request = {"label": label, "alg": str(alg)}
        if Algorithm(alg).startswith("HS"):
            msg = "signing keys are asymmetric: their public half is published"
            raise InvalidRequestError(msg)

        def create(session: Session) -> dict[str, Any]:
            session.get(models.Org, org_id, with_for_update=True)  # one create at a time
            now = self._now()
            published = sum(
                1
                for row in session.scalars(
                    select(models.SigningKey).where(models.SigningKey.org_id == org_id)
                ).all()
                if key_state(row, now) in _PUBLISHED_STATES
            )
            if published >= self.max_keys_per_org:
                msg = (
                    f"the org already publishes {published} signing keys "
                    f"(limit {self.max_keys_per_org}); retire or revoke one first"
                )
                raise QuotaExceededError(msg)
            kid = f"rk_{secrets.token_hex(8)}"
            key = Key.generate(alg, kid=kid)
            now = self._now()
            row = models.SigningKey(
                id=models.new_id("sk"),
                org_id=org_id,
                kid=kid,
                alg=key.alg.value,
                label=label,
                public_jwk=key.to_jwk(private=key.is_symmetric)
                if key.is_symmetric
                else key.to_jwk(),
                sealed_private=self._kek.seal(
                    json.dumps(key.to_jwk(private=True)).encode(), f"{org_id}:{kid}"
                ),
                created_at_ms=now,
                active_at_ms=now + self.key_propagation_ms,
                retiring_at_ms=None,
                retired_at_ms=None,
                revoked_at_ms=None,
            )
            session.add(row)
            self._audit(
                session, org_id, actor, "signing_key.create", kid, {"alg": row.alg, "label": label}
            )
            return {"id": row.id, "kid": kid}

        created = self._idempotent(org_id, "signing_key.create", idempotency_key, request, create)
        self._signing_cache.pop(org_id, None)  # this worker signs with it once it is active
        return created

    def list_signing_keys(self, org_id: str) -> list[dict[str, Any]]:
        """Keys of an org with their derived state."""
        now = self._now()
        with self.transaction() as session:
            rows = session.scalars(
                select(models.SigningKey)
                .where(models.SigningKey.org_id == org_id)
                .order_by(models.SigningKey.created_at_ms)
            ).all()
            return [
                {
                    "id": r.id,
                    "kid": r.kid,
                    "alg": r.alg,
                    "profiles": profiles_for(r.alg),
                    "label": r.label,
                    "state": key_state(r, now),
                    "created_at_ms": r.created_at_ms,
                    "active_at_ms": r.active_at_ms,
                    "retired_at_ms": r.retired_at_ms,
                    "revoked_at_ms": r.revoked_at_ms,
                }
                for r in rows
            ]

    def retire_signing_key(self, org_id: str, kid: str, *, actor: str = "system") -> None:
        """Stop minting with it now; keep verifying until every token it signed expired."""
        with self.transaction() as session:
            row = self._org_signing_key(session, org_id, kid)
            if row.revoked_at_ms is None and row.retiring_at_ms is None:
                now = self._now()
                row.retiring_at_ms = now
                row.retired_at_ms = now + self.max_token_ttl_ms
            self._audit(session, org_id, actor, "signing_key.retire", row.kid, {})
        self._signing_cache.pop(org_id, None)

    def revoke_signing_key(self, org_id: str, kid: str, *, actor: str = "system") -> None:
        """Remove it from the published set now; gates cut sessions that used it."""
        with self.transaction() as session:
            row = self._org_signing_key(session, org_id, kid)
            if row.revoked_at_ms is None:
                row.revoked_at_ms = self._now()
            self._audit(session, org_id, actor, "signing_key.revoke", row.kid, {})
        self._signing_cache.pop(org_id, None)

    def active_signing_key(self, org_id: str, profile: str | None = None) -> Key:
        """The newest active key of an org (never a pending one).

        With ``profile``, the newest active key whose algorithm that profile
        accepts (:mod:`relaypass.profiles.algorithms`), so an org rotating from
        EdDSA to ES256 keeps minting every profile during the overlap. Cached
        for ``CACHE_MS``: a retirement or revocation made through another worker
        stops this one signing within that bound.
        """
        now = self._now()
        by_profile = self._signing_cache.setdefault(org_id, {})
        cached = by_profile.get(profile)
        if cached is not None and now < cached[1]:
            if self._refresher.due(now, cached[1]):
                self._refresher.ahead(
                    ("signing", org_id, profile),
                    lambda: self._reload_signing(org_id, profile, cached),
                )
            return cached[0]
        key = self._load_active_signing_key(org_id, now, profile)
        by_profile[profile] = (key, now + CACHE_MS)
        return key

    def _reload_signing(self, org_id: str, profile: str | None, seen: tuple[Key, int]) -> None:
        """Background reload, written back only over the entry it replaces.

        A retirement or revocation through this worker that dropped it meanwhile stands.
        """
        now = self._now()
        try:
            key = self._load_active_signing_key(org_id, now, profile)
        except InvalidRequestError:  # no active key now: the next mint reads and says so
            key = None
        by_profile = self._signing_cache.get(org_id, {})
        if by_profile.get(profile) is not seen:
            return
        if key is None:
            by_profile.pop(profile, None)
        else:
            by_profile[profile] = (key, now + CACHE_MS)

    def _load_active_signing_key(self, org_id: str, now: int, profile: str | None) -> Key:
        accepted = PROFILE_ALGORITHMS[profile] if profile is not None else None
        with self.transaction() as session:
            rows = session.scalars(
                select(models.SigningKey)
                .where(models.SigningKey.org_id == org_id)
                .order_by(models.SigningKey.active_at_ms.desc())
            ).all()
            for row in rows:
                if key_state(row, now) != KeyState.ACTIVE:
                    continue
                if accepted is not None and row.alg not in accepted:
                    continue
                jwk = json.loads(self._kek.open(row.sealed_private, f"{org_id}:{row.kid}"))
                return Key.from_jwk(jwk)
        if accepted is not None:
            names = ", ".join(str(a) for a in accepted)
            msg = (
                f"the org has no active signing key for {profile} tokens, which are signed "
                f"with {names} (a new key signs after the propagation delay)"
            )
            raise InvalidRequestError(msg)
        msg = "the org has no active signing key (a new key signs after the propagation delay)"
        raise InvalidRequestError(msg)

    def published_keys(self, org_id: str | None = None) -> KeySet:
        """Public keys gates must know (pending, active and retiring), and the live issuers.

        Each key is bound to its org and the org's namespace scope (JWK members
        ``org`` and ``scope``); a disabled org publishes nothing. The issuer
        registry names every live API key that may mint (by digest), so a gate
        can refuse a room token whose ``iss`` is unknown, revoked or foreign.
        """
        now = self._now()
        published = _PUBLISHED_STATES
        with self.transaction() as session:
            orgs = {
                o.id: o
                for o in session.scalars(select(models.Org)).all()
                if o.disabled_at_ms is None and (org_id is None or o.id == org_id)
            }
            rows = session.scalars(
                select(models.SigningKey)
                .where(models.SigningKey.org_id.in_(orgs))
                .order_by(models.SigningKey.created_at_ms)
            ).all()
            scopes = {o.id: KeyScope.for_roots(o.namespaces or []) for o in orgs.values()}
            keys = [
                Key.from_jwk(r.public_jwk).bound(KeyBinding(org=r.org_id, scope=scopes[r.org_id]))
                for r in rows
                if key_state(r, now) in published
            ]
            minting = session.scalars(
                select(models.ApiKey).where(models.ApiKey.org_id.in_(orgs))
            ).all()
            issuers = {
                issuer_digest(k.id): k.org_id
                for k in minting
                if "tokens:mint" in k.scopes
                and (k.revoked_at_ms is None or now < k.revoked_at_ms)
                and (k.expires_at_ms is None or now < k.expires_at_ms)
            }
            return KeySet(keys, issuers=issuers, accounts=self._published_accounts(session, orgs))

    def _published_accounts(
        self, session: Session, orgs: dict[str, models.Org]
    ) -> list[PublishedAccount]:
        """Service-account keys of live tenants of live orgs, not yet expired."""
        now = self._now()
        disabled = {
            (t.org_id, t.id)
            for t in session.scalars(
                select(models.Tenant).where(
                    models.Tenant.org_id.in_(orgs), models.Tenant.disabled_at_ms.is_not(None)
                )
            ).all()
        }
        rows = session.scalars(
            select(models.ServiceAccount)
            .where(models.ServiceAccount.org_id.in_(orgs))
            .order_by(models.ServiceAccount.created_at_ms)
        ).all()
        return [
            PublishedAccount(
                org=r.org_id,
                tenant=r.tenant_id,
                role=r.role,
                expires_at_ms=r.expires_at_ms,
                key=Key.from_pem(r.public_key_pem, Algorithm.RS256, kid=r.private_key_id).bound(
                    KeyBinding(org=r.org_id)
                ),
            )
            for r in rows
            if (r.org_id, r.tenant_id) not in disabled
            and (r.expires_at_ms == 0 or now < r.expires_at_ms)
        ]

    @staticmethod
    def _org_signing_key(session: Session, org_id: str, ref: str) -> models.SigningKey:
        """One of the org's keys, named by its kid (as create answers) or its id (as list does)."""
        row = session.scalars(
            select(models.SigningKey).where(
                models.SigningKey.org_id == org_id,
                or_(models.SigningKey.kid == ref, models.SigningKey.id == ref),
            )
        ).first()
        if row is None:
            msg = "no such signing key"
            raise InvalidRequestError(msg)
        return row

    def _audit(  # noqa: PLR0917 - one call shape, used throughout this module
        self,
        session: Session,
        org_id: str,
        actor: str,
        action: str,
        target: str | None,
        detail: dict[str, Any],
    ) -> None:
        """Record the action, and what gates must learn of it, in the caller's transaction.

        The outbox rows commit or roll back with the change itself, so a change
        is never lost between the database and Redis (see ``server/outbox.py``).
        """
        now = self._now()
        session.add(
            models.AuditEvent(
                at_ms=now,
                org_id=org_id,
                actor=actor,
                action=action,
                target=target,
                detail=detail,
            )
        )
        for kind, change in outbox_events(action, org_id, target, detail):
            session.add(models.OutboxEvent(at_ms=now, kind=kind, event=change))
        event_type = AUDITED_EVENTS.get(action)
        if event_type is not None:  # announced to the org's webhooks with the change itself
            enqueue(session, org_id, event_type, _announced(action, actor, target, detail), now)

    def record(
        self,
        org_id: str,
        actor: str,
        action: str,
        target: str | None,
        detail: dict[str, Any],
    ) -> None:
        """Append one audit event (mints, admin actions); never pass a token or secret.

        Every event belongs to an org: the one whose objects it concerns.

        Runs on every mint, so it goes through one dedicated DB-API connection
        (a plain INSERT and COMMIT, no ORM unit of work): durable before the
        response leaves, at about half the cost of the ORM path.
        """
        row = (self._now(), org_id, actor, action, target, detail)
        deferred = deferred_audit()
        if deferred is not None:  # on the loop: the dispatcher commits it before answering
            deferred.append(row)
        else:
            self._appender.append(row)

    def commit_audit(self, rows: list[AuditRow]) -> Future[None]:
        """Commit audit rows from the writer thread (group commit); done once durable."""
        return self._appender.submit(rows)

    def revoke_token(self, org_id: str, jti: str, *, actor: str) -> None:
        """Revoke one token of the org by its ``jti`` (gates confine it to the org's keys)."""
        # Every token this control plane minted expires within max_token_ttl of now: after
        # that, no token the revocation could match is left, and gates forget it (``until``).
        until = self._now() / 1000 + self.max_token_ttl_ms / 1000 + _REVOCATION_LEEWAY_SECONDS
        with self.transaction() as session:
            self._audit(session, org_id, actor, "token.revoke", jti, {"until": until})

    # -------------------------------------------------------------- outbox

    def pending_outbox(self, limit: int = 500) -> list[tuple[int, str, dict[str, Any]]]:
        """Unpublished outbox rows, oldest first: ``(id, kind, event)``."""
        with self.transaction() as session:
            rows = session.scalars(
                select(models.OutboxEvent)
                .where(models.OutboxEvent.published_at_ms.is_(None))
                .order_by(models.OutboxEvent.id)
                .limit(limit)
            ).all()
            return [(r.id, r.kind, dict(r.event)) for r in rows]

    def mark_published(self, ids: list[int]) -> None:
        """Mark outbox rows as accepted by Redis."""
        if not ids:
            return
        with self.transaction() as session:
            for row in session.scalars(
                select(models.OutboxEvent).where(models.OutboxEvent.id.in_(ids))
            ).all():
                row.published_at_ms = self._now()

    def keyset_version(self) -> int:
        """The current key-set version: the id of the newest key-set outbox row."""
        with self.transaction() as session:
            newest = session.scalars(
                select(models.OutboxEvent.id)
                .where(models.OutboxEvent.kind == "keyset")
                .order_by(models.OutboxEvent.id.desc())
                .limit(1)
            ).first()
        return int(newest or 0)

    def enqueue_keyset(self) -> None:
        """A new key-set version with no change behind it (time moved keys between states)."""
        with self.transaction() as session:
            session.add(models.OutboxEvent(at_ms=self._now(), kind="keyset", event={}))

    def all_resources(self) -> dict[str, str]:
        """Every resource's owner, as gates hold them: ``"org/kind/id" -> tenant``."""
        with self.transaction() as session:
            rows = session.scalars(select(models.TenantResource)).all()
            return {f"{r.org_id}/{r.kind}/{r.resource_id}": r.tenant_id for r in rows}

    def standing_revocations(self) -> list[dict[str, Any]]:
        """Revocations recent enough to matter: a token they cut may still be live."""
        since = self._now() - self.max_token_ttl_ms
        with self.transaction() as session:
            rows = session.scalars(
                select(models.OutboxEvent)
                .where(models.OutboxEvent.kind == "revoke", models.OutboxEvent.at_ms >= since)
                .order_by(models.OutboxEvent.id)
            ).all()
            return [dict(r.event) for r in rows]

    def record_denied(self, org_id: str, who: ApiKeyRecord, procedure: str) -> None:
        """Record, in ``org_id``'s log, a refused attempt by another org's key.

        Only the actor (key id and its org) and the procedure: nothing of the
        other org's data. Nothing is written for an org that does not exist.
        """
        with self.transaction() as session:
            if session.get(models.Org, org_id) is None:
                return
        self.record(
            org_id,
            f"{who.org_id}/{who.id}",
            "access.denied",
            procedure or None,
            {"reason": "another org's key"},
        )
        self.emit_webhook(org_id, "access.denied", {"procedure": procedure or None,
                                                    "actorOrg": who.org_id})  # fmt: skip

    def record_denied_on_tenant(
        self, tenant_id: str, actor_org: str, actor: str, procedure: str
    ) -> None:
        """Record a refused attempt on ``tenant_id`` in the log of every other org that has it.

        Tenant ids are unique within an org only; an org learns of attempts on
        its tenants, and the caller gets the same answer either way.
        """
        with self.transaction() as session:
            owners = session.scalars(
                select(models.Tenant.org_id).where(
                    models.Tenant.id == tenant_id, models.Tenant.org_id != actor_org
                )
            ).all()
        for org_id in owners:
            self.record(
                org_id,
                f"{actor_org}/{actor}",
                "access.denied",
                procedure or None,
                {"reason": "another org's credentials", "tenant": tenant_id},
            )

    def audit_log(
        self,
        org_id: str | None = None,
        *,
        action: str | None = None,
        actor: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Newest first, filterable by org, action, actor and time; paginated by ``offset``."""
        table = models.AuditEvent
        filters = [
            (org_id is not None, table.org_id == org_id),
            (action is not None, table.action == action),
            (actor is not None, table.actor == actor),
            (since_ms is not None, table.at_ms >= (since_ms or 0)),
            (until_ms is not None, table.at_ms < (until_ms or 0)),
        ]
        query = select(table).where(*(clause for wanted, clause in filters if wanted))
        with self.transaction() as session:
            rows = session.scalars(
                query.order_by(table.id.desc()).limit(min(limit, 1000)).offset(max(offset, 0))
            ).all()
            return [
                {
                    "id": r.id,
                    "at_ms": r.at_ms,
                    "org_id": r.org_id,
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "detail": r.detail,
                }
                for r in rows
            ]

    # --------------------------------------------------------- idempotency

    def _idempotent(
        self,
        org_id: str,
        procedure: str,
        key: str | None,
        request: dict[str, Any],
        create: Callable[[Session], dict[str, Any]],
    ) -> dict[str, Any]:
        if key is None:
            with self.transaction() as session:
                return create(session)
        if not 0 < len(key) <= 128:  # noqa: PLR2004 - column size
            msg = "idempotency keys are 1-128 characters"
            raise InvalidRequestError(msg)
        request_hash = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        aad = f"{org_id}:{procedure}:{key}"
        replay = self._replay(org_id, procedure, key, request_hash, aad)
        if replay is not None:
            return replay
        try:
            with self.transaction() as session:
                out = create(session)
                session.add(
                    models.IdempotencyRecord(
                        org_id=org_id,
                        procedure=procedure,
                        key=key,
                        request_hash=request_hash,
                        response={"sealed": self._kek.seal(json.dumps(out).encode(), aad).hex()},
                        created_at_ms=self._now(),
                    )
                )
        except IntegrityError:
            # A concurrent request with the same key committed first: replay it.
            replay = self._replay(org_id, procedure, key, request_hash, aad)
            if replay is None:
                raise
            return replay
        return out

    def _replay(
        self, org_id: str, procedure: str, key: str, request_hash: str, aad: str
    ) -> dict[str, Any] | None:
        with self.transaction() as session:
            row = session.scalars(
                select(models.IdempotencyRecord).where(
                    models.IdempotencyRecord.org_id == org_id,
                    models.IdempotencyRecord.procedure == procedure,
                    models.IdempotencyRecord.key == key,
                )
            ).first()
            if row is None:
                return None
            if self._now() - row.created_at_ms > IDEMPOTENCY_TTL_MS:
                session.delete(row)
                return None
            if row.request_hash != request_hash:
                msg = "this idempotency key was used with a different request"
                raise InvalidRequestError(msg)
            try:
                sealed = bytes.fromhex(str(row.response["sealed"]))
                out: dict[str, Any] = json.loads(self._kek.open(sealed, aad))
            except (InvalidKeyError, ValueError, KeyError) as exc:
                msg = "stored idempotent response cannot be read"
                raise InvalidRequestError(msg) from exc
            return out


class _AuditAppender:
    """Audit appends with group commit, on one long-lived DB-API connection.

    Every caller's row is durable before ``append`` returns, but concurrent
    callers share commits: whoever takes the write lock writes every row queued
    so far in one transaction (one fsync for the batch), and the callers whose
    rows it carried return at once. A failed batch fails every caller in it
    (nothing of it was committed), after one reconnect.
    """

    _COLUMNS: Final = "at_ms, org_id, actor, action, target, detail"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        mark = "?" if self._sqlite else "%s"
        self._sql = f"INSERT INTO audit_log ({self._COLUMNS}) VALUES ({', '.join([mark] * 6)})"  # noqa: S608 - constants only
        self._lock = threading.Lock()  # the writer's
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._scheduled = False  # a flush of the queue is on its way to the writer thread
        self._writer: threading.Thread | None = None
        self._wake: queue.SimpleQueue[str] = queue.SimpleQueue()  # "flush" or "stop"
        self._conn: Any = None

    def _pending(self, row: AuditRow) -> _Pending:
        *head, detail = row
        return _Pending((*head, json.dumps(detail) if self._sqlite else _pg_json(detail)))

    def append(self, row: AuditRow) -> None:
        """Write one row, durable on return (sharing a commit with concurrent callers)."""
        pending = self._pending(row)
        with self._queue_lock:
            self._queue.append(pending)
        with self._lock:
            if not pending.written:  # nobody carried it yet: write everything queued
                self._write_queued()
        if pending.error is not None:
            raise pending.error

    def submit(self, rows: list[AuditRow]) -> Future[None]:
        """Queue rows for the writer thread; the future is done once they are committed."""
        done: Future[None] = Future()
        if not rows:
            done.set_result(None)
            return done
        pendings = [self._pending(row) for row in rows]
        pendings[-1].future = done  # rows of one batch commit together
        with self._queue_lock:
            self._queue.extend(pendings)
            scheduled, self._scheduled = self._scheduled, True
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run_writer, args=(self._wake,), name="relaypass-audit", daemon=True
                )
                self._writer.start()
            if not scheduled:
                self._wake.put("flush")  # one cheap C call; the writer takes everything queued
        return done

    def _run_writer(self, wake: queue.SimpleQueue[str]) -> None:
        while wake.get() == "flush":
            self._flush()
        self._flush()  # closing: rows handed over are written first

    def _flush(self) -> None:
        with self._lock:
            self._write_queued()

    def _write_queued(self) -> None:
        """Write every row queued so far in one transaction (the caller holds the writer lock)."""
        with self._queue_lock:
            batch, self._queue, self._scheduled = self._queue, [], False
        if batch:
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = self._engine.raw_connection()
                cursor = self._conn.cursor()
                cursor.executemany(self._sql, [p.params for p in batch])
                self._conn.commit()
                cursor.close()
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                self._discard()
                if attempt == 2:  # noqa: PLR2004 - one reconnect
                    for p in batch:
                        p.error, p.written = exc, True
                        if p.future is not None:
                            p.future.set_exception(exc)
                    return
            else:
                for p in batch:
                    p.written = True
                    if p.future is not None:
                        p.future.set_result(None)
                return

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.rollback()
            with contextlib.suppress(Exception):
                conn.invalidate()

    def close(self) -> None:
        with self._queue_lock:
            writer, wake = self._writer, self._wake
            self._writer, self._wake = None, queue.SimpleQueue()  # a later submit starts anew
        if writer is not None:
            wake.put("stop")
            writer.join(timeout=30)  # rows handed over are written first
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()


@dataclass(slots=True)
class _Pending:
    params: tuple[Any, ...]
    written: bool = False
    error: Exception | None = None
    future: Future[None] | None = None


def _pg_json(detail: dict[str, Any]) -> object:
    from psycopg.types.json import Json  # noqa: PLC0415 - only with PostgreSQL

    return Json(detail)


def _record(row: models.ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        org_id=row.org_id,
        label=row.label,
        scopes=tuple(row.scopes),
        environment=row.environment,
    )
