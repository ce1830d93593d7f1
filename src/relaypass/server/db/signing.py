"""Signing keys: each org's, through their lifecycle, and the key set gates verify with."""

from __future__ import annotations

import json
import secrets
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from relaypass._alg import Algorithm
from relaypass._keys import Key
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass._keyset import KeySet, PublishedAccount, issuer_digest
from relaypass.errors import (
    InvalidRequestError,
    QuotaExceededError,
)
from relaypass.profiles.algorithms import PROFILE_ALGORITHMS, profiles_for
from relaypass.server.db import models
from relaypass.server.db._part import StorePart

__all__ = ["KeyState", "SigningKeyStore", "key_state"]


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


class SigningKeyStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`: every org's signing keys."""

    key_propagation_ms: int
    max_keys_per_org: int
    _signing_cache: dict[str, dict[str | None, tuple[Key, int]]]

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
            self._refresher.used(
                "signing", (org_id, profile), cached, cached[1], self._reload_signing
            )
            return cached[0]
        key, until = self._load_active_signing_key(org_id, now, profile)
        by_profile[profile] = (key, until)
        return key

    def _reload_signing(self, seen: Mapping[Hashable, object]) -> None:
        """Background reload of the due orgs' keys, read together.

        Each is written back only over the entry it replaces: a retirement or revocation
        through this worker that dropped it meanwhile stands. An org with no active key now
        loses its entry (the next mint reads and says so).
        """
        now = self._now()
        wanted = [key for key in seen if isinstance(key, tuple)]
        with self.transaction() as session:
            by_org = _keys_of(session, {str(org) for org, _ in wanted})
            # A key still chosen is the key already held: not unsealed and parsed again.
            opened: dict[str, dict[str, Key]] = {}
            for org, profile in wanted:
                held = seen[org, profile]
                if isinstance(held, tuple) and isinstance(held[0], Key) and held[0].kid:
                    opened.setdefault(str(org), {})[held[0].kid] = held[0]
            chosen = {
                (org, profile): self._active_among(
                    by_org.get(str(org), []), now, profile, opened.setdefault(str(org), {})
                )
                for org, profile in wanted
            }
            until = {org: self._until(rows, now) for org, rows in by_org.items()}
        for (org, profile), key in chosen.items():
            by_profile = self._signing_cache.get(org, {})
            if by_profile.get(profile) is not seen[org, profile]:
                continue
            if key is None:
                by_profile.pop(profile, None)
            else:
                by_profile[profile] = (key, until[str(org)])

    def _until(self, rows: Sequence[models.SigningKey], now: int) -> int:
        """Until when the active choice among ``rows``, read at ``now``, may be served.

        No later than a pending key's activation: the choice changes then with no write.
        """
        pending = (r.active_at_ms for r in rows if key_state(r, now) == KeyState.PENDING)
        return min([self._changes.until(now), *pending])

    def _load_active_signing_key(
        self, org_id: str, now: int, profile: str | None
    ) -> tuple[Key, int]:
        self.cache_misses["signing_key"] += 1
        with self.transaction() as session:
            rows = _keys_of(session, {org_id}).get(org_id, [])
            key = self._active_among(rows, now, profile)
        if key is not None:
            return key, self._until(rows, now)
        if profile is not None:
            names = ", ".join(str(a) for a in PROFILE_ALGORITHMS[profile])
            msg = (
                f"the org has no active signing key for {profile} tokens, which are signed "
                f"with {names} (a new key signs after the propagation delay)"
            )
            raise InvalidRequestError(msg)
        msg = "the org has no active signing key (a new key signs after the propagation delay)"
        raise InvalidRequestError(msg)

    def _active_among(
        self,
        rows: Sequence[models.SigningKey],
        now: int,
        profile: str | None,
        opened: dict[str, Key] | None = None,
    ) -> Key | None:
        """The newest active key of ``rows`` (newest first) that ``profile`` accepts.

        ``opened``: keys already unsealed by kid, shared by calls over the same rows.
        """
        accepted = PROFILE_ALGORITHMS[profile] if profile is not None else None
        for row in rows:
            if key_state(row, now) != KeyState.ACTIVE:
                continue
            if accepted is not None and row.alg not in accepted:
                continue
            if opened is not None and row.kid in opened:
                return opened[row.kid]
            jwk = json.loads(self._kek.open(row.sealed_private, f"{row.org_id}:{row.kid}"))
            key = Key.from_jwk(jwk)
            if opened is not None:
                opened[row.kid] = key
            return key
        return None

    def _warm_signing(self, session: Session, org_id: str, now: int) -> None:
        """Cache the org's signing key for each profile not cached, from one read."""
        by_profile = self._signing_cache.setdefault(org_id, {})
        wanted = [
            profile
            for profile in (None, *PROFILE_ALGORITHMS)
            if (cached := by_profile.get(profile)) is None or now >= cached[1]
        ]
        if not wanted:
            return
        rows = _keys_of(session, {org_id}).get(org_id, [])
        opened: dict[str, Key] = {}
        until = self._until(rows, now)
        for profile in wanted:
            key = self._active_among(rows, now, profile, opened)
            if key is not None:
                by_profile[profile] = (key, until)

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


def _keys_of(session: Session, orgs: set[str]) -> dict[str, list[models.SigningKey]]:
    """Each org's signing keys, newest activation first."""
    by_org: dict[str, list[models.SigningKey]] = {}
    for row in session.scalars(
        select(models.SigningKey)
        .where(models.SigningKey.org_id.in_(sorted(orgs)))
        .order_by(models.SigningKey.active_at_ms.desc())
    ):
        by_org.setdefault(row.org_id, []).append(row)
    return by_org
