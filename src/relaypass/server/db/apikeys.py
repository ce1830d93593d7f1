"""API keys: created and shown once, stored hashed, verified from a cache refreshed ahead."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from relaypass._apikeys import (
    ApiKeyHasher,
    NewApiKey,
    ParsedApiKey,
    generate_api_key,
    parse_api_key,
)
from relaypass.errors import (
    InvalidApiKeyError,
    InvalidRequestError,
)
from relaypass.server.db import models
from relaypass.server.db._part import StorePart
from relaypass.server.db.refresh import AHEAD_MS, CACHE_MAX

__all__ = ["ApiKeyRecord", "ApiKeyStore"]

LAST_USED_EVERY_MS: Final = 60_000


UNKNOWN_KEY: Final = "unknown API key"


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


class ApiKeyStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`: every org's API keys."""

    _hasher: ApiKeyHasher
    api_key_prefix: str
    _api_key_cache: dict[str, _CachedKey]
    _warm_org: Callable[[Session, models.Org, int], None]

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
        parsed = parse_api_key(text, prefix=self.api_key_prefix)
        digest = self._hasher.digest(parsed)
        cached = self._api_key_cache.get(digest)
        now = self._now()
        if cached is None or now >= cached.valid_until_ms:
            return None
        if now >= cached.dies_at_ms:
            msg = "revoked or expired API key"
            raise InvalidApiKeyError(msg)
        if now - cached.last_used_written_ms >= LAST_USED_EVERY_MS:
            # Written in the background (at most once a minute per key), not on this request,
            # with every other key due at the next tick: one transaction for them all.
            cached.last_used_written_ms = now
            self._refresher.used("touch", cached.record.id, now, now + AHEAD_MS, self._touch_keys)
        self._refresh_api_key(parsed, digest, cached)
        return cached.record

    def _refresh_api_key(self, parsed: ParsedApiKey, digest: str, cached: _CachedKey) -> None:
        """Note a hit on a key's entry: it is reloaded near its bound, with the other due keys."""
        self._refresher.used(
            "api_key", digest, (parsed, cached), cached.valid_until_ms, self._reload_api_keys
        )

    def _reload_api_keys(self, seen: Mapping[Hashable, object]) -> None:
        """Background reload of the due keys, read together; a key refused now leaves the cache.

        Each is written back only over the entry it replaces: a revocation through this worker
        that dropped the entry meanwhile is not undone by an older read. A reload is not a use:
        it writes nothing.
        """
        now = self._now()
        due = {
            digest: value
            for digest, value in seen.items()
            if isinstance(digest, str) and isinstance(value, tuple)
        }
        with self.transaction() as session:
            found = {
                row.key_hash: (row, org)
                for row, org in session.execute(
                    select(models.ApiKey, models.Org)
                    .join(models.Org, models.Org.id == models.ApiKey.org_id)
                    .where(models.ApiKey.key_hash.in_(list(due)))
                )
            }
            fresh: dict[str, tuple[ApiKeyRecord, int] | None] = {}
            for digest, (parsed, _) in due.items():
                row_org = found.get(digest)
                fresh[digest] = None
                if row_org is not None:
                    with contextlib.suppress(InvalidApiKeyError):
                        fresh[digest] = self._checked(parsed, *row_org, now)
        for digest, (_, was) in due.items():
            if self._api_key_cache.get(digest) is not was:
                continue  # changed meanwhile (dropped by a revocation here): leave it
            checked = fresh[digest]
            if checked is None or not isinstance(was, _CachedKey):
                self._api_key_cache.pop(digest, None)
                continue
            record, dies_at = checked
            self._api_key_cache[digest] = _CachedKey(
                record, self._changes.until(now), dies_at, was.last_used_written_ms
            )

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
            self._refresh_api_key(parsed, digest, cached)
            return cached.record
        return self._load_api_key(parsed, digest)

    def _load_api_key(self, parsed: ParsedApiKey, digest: str) -> ApiKeyRecord:
        """Read a key from the database and cache it (``INVALID_API_KEY`` when refused)."""
        self.cache_misses["api_key"] += 1
        now = self._now()
        with self.transaction() as session:
            row = session.scalars(
                select(models.ApiKey).where(models.ApiKey.key_hash == digest)
            ).first()
            if row is None:
                raise InvalidApiKeyError(UNKNOWN_KEY)
            org = session.get(models.Org, row.org_id)
            record, dies_at = self._checked(parsed, row, org, now)
            written = row.last_used_at_ms
            if written is None or now - written >= LAST_USED_EVERY_MS:
                # At most once a minute, as from the cache: a key read again after its entry
                # expired (an org minting now and then, many orgs) reads, and writes nothing.
                row.last_used_at_ms = written = now
            if org is not None:
                self._warm_org(session, org, now)
        if len(self._api_key_cache) >= CACHE_MAX:
            self._api_key_cache.clear()
        self._api_key_cache[digest] = _CachedKey(record, self._changes.until(now), dies_at, written)
        return record

    def _checked(
        self, parsed: ParsedApiKey, row: models.ApiKey, org: models.Org | None, now: int
    ) -> tuple[ApiKeyRecord, int]:
        """The record of a stored key and when it dies, or ``INVALID_API_KEY``."""
        if not self._hasher.matches(parsed, row.key_hash):
            raise InvalidApiKeyError(UNKNOWN_KEY)
        if row.revoked_at_ms is not None and now >= row.revoked_at_ms:
            msg = "revoked API key"
            raise InvalidApiKeyError(msg)
        if row.expires_at_ms is not None and now >= row.expires_at_ms:
            msg = "expired API key"
            raise InvalidApiKeyError(msg)
        if org is None or org.disabled_at_ms is not None:
            msg = "the API key's org is disabled"
            raise InvalidApiKeyError(msg)
        ends = [t for t in (row.revoked_at_ms, row.expires_at_ms) if t is not None]
        return _record(row), min(ends) if ends else 2**62

    def _touch_keys(self, due: Mapping[Hashable, object]) -> None:
        """Write ``last_used_at_ms`` of each due key (its id and time) in one transaction."""
        written = update(models.ApiKey).where(models.ApiKey.id == bindparam("key"))
        with self.transaction() as session:
            session.connection().execute(  # one statement, many rows (not the ORM's by-key path)
                written.values(last_used_at_ms=bindparam("at")),
                [{"key": key, "at": at} for key, at in due.items()],
            )

    def _touch(self, key_id: str, now: int) -> None:
        with self.transaction() as session:
            row = session.get(models.ApiKey, key_id)
            if row is not None:
                row.last_used_at_ms = now

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


def _record(row: models.ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        org_id=row.org_id,
        label=row.label,
        scopes=tuple(row.scopes),
        environment=row.environment,
    )
