"""The store: every control-plane write is one transaction.

A crash or a half-done request therefore leaves either nothing or the whole
change. Create procedures take an idempotency key; their outcome is recorded
in the same transaction and replayed on retry (sealed under the KEK, since an
API key's creation response holds the key once).
"""

from __future__ import annotations

import collections
import hmac
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, create_engine, delete, event, select
from sqlalchemy.orm import Session, sessionmaker

from relaypass._apikeys import ApiKeyHasher
from relaypass.errors import (
    InvalidKeyError,
)
from relaypass.server.blocking import AuditRow, deferred_audit, forbid_blocking
from relaypass.server.db import models
from relaypass.server.db.accounts import ServiceAccountStore
from relaypass.server.db.apikeys import ApiKeyRecord, ApiKeyStore
from relaypass.server.db.audit import AuditAppender, LoopCommits
from relaypass.server.db.audit_index import AuditIndexer, org_page
from relaypass.server.db.changes import ChangeFeed
from relaypass.server.db.idempotency import IdempotencyStore
from relaypass.server.db.limits import LimitsStore
from relaypass.server.db.migrate import upgrade
from relaypass.server.db.outbox import OutboxStore, outbox_events
from relaypass.server.db.refresh import Refresher
from relaypass.server.db.rooms import RoomStore
from relaypass.server.db.signing import KeyState, SigningKeyStore, key_state
from relaypass.server.db.tenancy import TenancyStore
from relaypass.server.db.webhooks import AUDITED_EVENTS, WebhookStore, enqueue
from relaypass.server.secrets import KeyEncryptionKey, SecretsMismatchError, pepper_check

__all__ = ["ApiKeyRecord", "KeyState", "Store", "key_state", "make_engine", "outbox_events"]


def _now_ms() -> int:
    return int(time.time() * 1000)


#: The audited actions that change what the caches hold (API keys, signing keys, tenants, the
#: org): each names its org in the change feed (``changes.py``). A room decision or a webhook
#: edit does not, so a busy room never drops its org's entries.
_CACHED_OBJECTS: Final = ("api_key.", "signing_key.", "tenant.", "org.")


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


#: Clock skew a gate may allow past ``exp`` (its verifier's leeway is smaller).
_REVOCATION_LEEWAY_SECONDS: Final = 120


@dataclass(frozen=True, slots=True)
class _StoreClock:
    ms: Callable[[], int]

    def now(self) -> float:
        return self.ms() / 1000


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


class Store(
    ApiKeyStore,
    SigningKeyStore,
    TenancyStore,
    ServiceAccountStore,
    RoomStore,
    WebhookStore,
    LimitsStore,
    OutboxStore,
    IdempotencyStore,
):
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
        self._appender = AuditAppender(engine)
        self._loop_commits = LoopCommits(self._appender)
        self._api_key_cache = {}
        self._signing_cache = {}
        #: Reads from the database on a cache miss, by cache (``/metrics``).
        self.cache_misses: collections.Counter[str] = collections.Counter()
        #: Reloads cache entries near their bound in the background (see ``refresh.py``).
        self._refresher = Refresher(clock_ms)
        #: Lets the caches keep entries long while it is read (``changes.py``): started by
        #: :meth:`follow_changes` (the service does); until then every entry gets the 5 s bound.
        self._changes = ChangeFeed(self._read_changes, self._forget, self._trim_changes, clock_ms)
        #: SQLite's org index of the audit log, written behind it (``audit_index.py``).
        self._audit_index = AuditIndexer(engine) if engine.dialect.name == "sqlite" else None
        self._init_tenancy()

    def close(self) -> None:
        """Release every connection."""
        self._changes.close()
        if self._audit_index is not None:
            self._audit_index.close()
        self._refresher.close()
        self._appender.close()
        self.engine.dispose()

    @property
    def clock(self) -> _StoreClock:
        """The store's time as a :class:`~relaypass.Clock`, so minting and lifecycle agree."""
        return _StoreClock(self._now)

    def follow_changes(self) -> None:
        """Read the change feed in the background (call it once migrated).

        Then an entry is kept long, and a change through another worker drops it here within
        a second.
        """
        self._changes.start()

    def index_audit(self) -> None:
        """On SQLite, index the audit log by org in the background (call it once migrated).

        Until a batch has run, an org's log is read from the log itself (slower, as whole).
        """
        if self._audit_index is not None:
            self._audit_index.start()

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

    # ------------------------------------------------------------ across aggregates

    def _warm_org(self, session: Session, org: models.Org, now: int) -> None:
        """With an API key read from the database, what its org's mints read next.

        A mint needs the org's scope and signing key as well: read in the key's transaction,
        an org idle past the caches' bound pays one database read on its next mint, not three.
        """
        self._warm_scope(org, now)
        self._warm_signing(session, org.id, now)

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

    def _read_changes(self, after_id: int) -> list[tuple[int, str]]:
        with self.transaction() as session:
            rows = session.execute(
                select(models.Change.id, models.Change.org_id)
                .where(models.Change.id > after_id)
                .order_by(models.Change.id)
            )
            return [(int(i), str(org)) for i, org in rows]

    def _trim_changes(self, before_ms: int) -> None:
        with self.transaction() as session:
            session.execute(delete(models.Change).where(models.Change.at_ms < before_ms))

    def _forget(self, org_id: str | None) -> None:
        """Drop an org's entries from every cache here (``None``: every entry)."""
        if org_id is None:
            self._api_key_cache.clear()
            self._signing_cache.clear()
            self._scope_cache.clear()
            with self._tenant_lock:
                self._tenant_cache.clear()
            return
        self.forget_org_keys(org_id)
        self._scope_cache.pop(org_id, None)
        with self._tenant_lock:
            for pair in [p for p in self._tenant_cache if p[0] == org_id]:
                self._tenant_cache.pop(pair, None)

    def forget_org_keys(self, org_id: str) -> None:
        """Drop an org's API keys from this process's cache (the org was disabled)."""
        for digest, entry in list(self._api_key_cache.items()):
            if entry.record.org_id == org_id:
                self._api_key_cache.pop(digest, None)
        self._signing_cache.pop(org_id, None)

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
        if action.startswith(_CACHED_OBJECTS):  # each worker's entries of the org may be stale
            session.add(models.Change(org_id=org_id, at_ms=now))
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

    async def commit_audit_on_loop(self, rows: list[AuditRow]) -> None:
        """Commit the audit rows of a call run on the event loop; returns once durable.

        With the other calls of the same turn of the loop, on the loop where that needs no
        wait (SQLite), else by the writer thread (:class:`LoopCommits`).
        """
        await self._loop_commits.commit(rows)

    def revoke_token(self, org_id: str, jti: str, *, actor: str) -> None:
        """Revoke one token of the org by its ``jti`` (gates confine it to the org's keys)."""
        # Every token this control plane minted expires within max_token_ttl of now: after
        # that, no token the revocation could match is left, and gates forget it (``until``).
        until = self._now() / 1000 + self.max_token_ttl_ms / 1000 + _REVOCATION_LEEWAY_SECONDS
        with self.transaction() as session:
            self._audit(session, org_id, actor, "token.revoke", jti, {"until": until})

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
        limit, offset = min(limit, 1000), max(offset, 0)
        if org_id is not None and self._audit_index is not None:  # the org index behind the log
            query = org_page(
                org_id, action=action, actor=actor, since_ms=since_ms, until_ms=until_ms,
                limit=limit, offset=offset,
            )  # fmt: skip
        else:
            filters = [
                (org_id is not None, table.org_id == org_id),
                (action is not None, table.action == action),
                (actor is not None, table.actor == actor),
                (since_ms is not None, table.at_ms >= (since_ms or 0)),
                (until_ms is not None, table.at_ms < (until_ms or 0)),
            ]
            # Newest first by time, as ix_audit_org_at and ix_audit_log_at_ms hold it: an
            # org's page is read from its index, not sorted from all its rows.
            query = (
                select(table)
                .where(*(clause for wanted, clause in filters if wanted))
                .order_by(table.at_ms.desc(), table.id.desc())
                .limit(limit)
                .offset(offset)
            )
        with self.transaction() as session:
            rows = session.scalars(query).all()
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
