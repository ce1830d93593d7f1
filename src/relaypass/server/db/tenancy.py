"""Orgs, their tenants and resources: the ownership half of the store.

Platform -> orgs -> tenants -> resources and credentials (service accounts are
in :mod:`.accounts`). Every lookup here is
keyed by the org first, so an id of another org answers exactly as a missing
one: the same error, code and text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Final

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from relaypass._keyscope import KeyScope, pattern_within
from relaypass._scopes import PathError, split_path
from relaypass._tenancy import OwnershipLookup, ResourceKind
from relaypass.api._base import DEFAULT_TENANT
from relaypass.errors import (
    InvalidPermissionsError,
    InvalidRequestError,
)
from relaypass.profiles._common import IDENTIFIER, IDENTIFIER_RULE
from relaypass.server.db import models
from relaypass.server.db._part import StorePart
from relaypass.server.db.refresh import CACHE_MAX

__all__ = ["MAX_NAMESPACES", "NO_SUCH_TENANT", "TenancyStore", "validate_namespaces"]

MAX_NAMESPACES: Final = 16
NO_SUCH_TENANT: Final = "no such tenant"
NO_SUCH_RESOURCE: Final = "the tenant may not act on this resource"

_ORG_NAME: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def validate_namespaces(namespaces: Iterable[str]) -> list[str]:
    """Normalised namespace roots (no wildcards, no overlaps among themselves)."""
    out: list[str] = []
    for ns in namespaces:
        try:
            segments = split_path(ns)
        except PathError:
            msg = "a namespace is a path of literal segments"
            raise InvalidRequestError(msg) from None
        if any("*" in s for s in segments):
            msg = "a namespace may not hold wildcards"
            raise InvalidRequestError(msg)
        out.append("/".join(segments))
    if not 0 < len(out) <= MAX_NAMESPACES:
        msg = f"an org owns 1-{MAX_NAMESPACES} namespaces"
        raise InvalidRequestError(msg)
    prefixes = [tuple(split_path(n)) for n in out]
    for i, a in enumerate(prefixes):
        for b in prefixes[i + 1 :]:
            if pattern_within(a, b) or pattern_within(b, a):
                msg = "an org's namespaces may not overlap each other"
                raise InvalidRequestError(msg)
    return out


def _overlaps(mine: list[str], theirs: list[str]) -> bool:
    """Whether two orgs' roots collide (the unprefixed root of the first org excepted)."""
    for a in mine:
        for b in theirs:
            pa, pb = tuple(split_path(a)), tuple(split_path(b))
            if not pa and not pb:
                return True
            if pa and pb and (pattern_within(pa, pb) or pattern_within(pb, pa)):
                return True
    return False


class TenancyStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`: ownership, keyed by org."""

    _tenant_cache: dict[tuple[str, str], int]
    _scope_cache: dict[str, tuple[KeyScope, int]]
    _tenant_lock: threading.Lock

    def _init_tenancy(self) -> None:
        self._tenant_cache = {}
        self._scope_cache = {}
        self._tenant_lock = threading.Lock()

    # --------------------------------------------------------------- orgs

    def create_org(
        self,
        name: str,
        *,
        org_id: str | None = None,
        namespaces: list[str] | None = None,
        actor: str = "system",
    ) -> models.Org:
        """A new org; by default it owns the namespace root named after its id."""
        with self.transaction() as session:
            return self._add_org(session, name, org_id, namespaces, actor)

    def _add_org(
        self,
        session: Session,
        name: str,
        org_id: str | None,
        namespaces: list[str] | None,
        actor: str,
    ) -> models.Org:
        if _ORG_NAME.fullmatch(name) is None:
            msg = "org name must be 1-200 printable characters"
            raise InvalidRequestError(msg)
        new_org_id = org_id or models.new_id("org")
        roots = validate_namespaces(namespaces if namespaces is not None else [new_org_id])
        for other in session.scalars(select(models.Org)).all():
            if _overlaps(roots, other.namespaces or []):
                msg = "the namespaces overlap another org's"
                raise InvalidRequestError(msg)
        org = models.Org(
            id=new_org_id,
            name=name,
            created_at_ms=self._now(),
            namespaces=roots,
            disabled_at_ms=None,
        )
        session.add(org)
        session.flush()  # rows that name the org (its tenant, its first key) follow
        session.add(
            models.Tenant(
                org_id=org.id,
                id=DEFAULT_TENANT,
                label=DEFAULT_TENANT,
                created_at_ms=self._now(),
                disabled_at_ms=None,
            )
        )
        self._audit(
            session, org.id, actor, "org.create", org.id, {"name": name, "namespaces": roots}
        )
        return org

    def list_orgs(self) -> list[dict[str, Any]]:
        """Every org (for the platform operator)."""
        with self.transaction() as session:
            rows = session.scalars(select(models.Org).order_by(models.Org.created_at_ms)).all()
            return [_org_view(r) for r in rows]

    def org_exists(self, org_id: str) -> bool:
        """Whether an org of that id was ever created (a disabled one included)."""
        with self.transaction() as session:
            return session.get(models.Org, org_id) is not None

    def get_org(self, org_id: str) -> dict[str, Any]:
        """One org's public facts."""
        with self.transaction() as session:
            row = session.get(models.Org, org_id)
            if row is None:
                msg = "no such org"
                raise InvalidRequestError(msg)
            return _org_view(row)

    def disable_org(self, org_id: str, *, actor: str) -> bool:
        """Disable an org: its keys and tokens are refused from now on. Whether it changed."""
        with self.transaction() as session:
            row = session.get(models.Org, org_id)
            if row is None:
                msg = "no such org"
                raise InvalidRequestError(msg)
            changed = row.disabled_at_ms is None
            if changed:
                row.disabled_at_ms = self._now()
            self._audit(session, org_id, actor, "org.disable", org_id, {})
        return changed

    def org_scope(self, org_id: str) -> KeyScope:
        """The namespace scope of an org's keys (cached 5 s: namespaces rarely change)."""
        now = self._now()
        cached = self._scope_cache.get(org_id)
        if cached is not None and now < cached[1]:
            self._refresher.used("scope", org_id, cached, cached[1], self._reload_scopes)
            return cached[0]
        return self._load_scope(org_id)

    def _reload_scopes(self, seen: Mapping[Hashable, object]) -> None:
        """Background reload of the due orgs' scopes, read together.

        Each is written back only over the entry it replaces (one dropped here meanwhile stays
        dropped).
        """
        now = self._now()
        with self.transaction() as session:
            rows = session.scalars(select(models.Org).where(models.Org.id.in_(list(seen))))
            roots = {row.id: row.namespaces for row in rows}
        for org_id, was in seen.items():
            if isinstance(org_id, str) and self._scope_cache.get(org_id) is was:
                self._cache_scope(org_id, roots.get(org_id, []), now)

    def _warm_scope(self, org: models.Org, now: int) -> None:
        """Cache an org's scope from its row, read for something else, unless cached."""
        cached = self._scope_cache.get(org.id)
        if cached is None or now >= cached[1]:
            self._cache_scope(org.id, org.namespaces, now)

    def _load_scope(self, org_id: str) -> KeyScope:
        """Read and cache an org's scope."""
        self.cache_misses["scope"] += 1
        now = self._now()
        with self.transaction() as session:
            row = session.get(models.Org, org_id)
            roots = row.namespaces if row is not None else []
        return self._cache_scope(org_id, roots, now)

    def _cache_scope(self, org_id: str, roots: list[str], now: int) -> KeyScope:
        """Cache the scope of an org's namespace roots, read at ``now``."""
        scope = KeyScope.for_roots(roots)
        if len(self._scope_cache) >= CACHE_MAX:
            self._scope_cache.clear()
        self._scope_cache[org_id] = (scope, self._changes.until(now))
        return scope

    def count_orgs(self, *, excluding: str | None = None) -> int:
        """How many organisations exist (optionally not counting one)."""
        with self.transaction() as session:
            ids = session.scalars(select(models.Org.id)).all()
            return len([i for i in ids if i != excluding])

    # ------------------------------------------------------------ tenants

    def create_tenant(
        self,
        org_id: str,
        tenant_id: str,
        label: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> None:
        """A tenant of ``org_id`` (ids are unique within an org).

        With ``idempotency_key``, the same request again answers as the first did,
        and another request under the same key is refused.
        """
        if IDENTIFIER.fullmatch(tenant_id) is None:
            msg = f"tenantId: {IDENTIFIER_RULE}"
            raise InvalidRequestError(msg)

        def create(session: Session) -> dict[str, Any]:
            if session.get(models.Tenant, (org_id, tenant_id)) is not None:
                msg = "the org already has this tenant"
                raise InvalidRequestError(msg)
            session.add(
                models.Tenant(
                    org_id=org_id,
                    id=tenant_id,
                    label=label or tenant_id,
                    created_at_ms=self._now(),
                    disabled_at_ms=None,
                )
            )
            self._audit(session, org_id, actor, "tenant.create", tenant_id, {"label": label})
            return {"tenant_id": tenant_id}

        request = {"tenant_id": tenant_id, "label": label}
        self._idempotent(org_id, "tenant.create", idempotency_key, request, create)

    def list_tenants(self, org_id: str) -> list[dict[str, Any]]:
        """An org's tenants."""
        with self.transaction() as session:
            rows = session.scalars(
                select(models.Tenant)
                .where(models.Tenant.org_id == org_id)
                .order_by(models.Tenant.created_at_ms, models.Tenant.id)
            ).all()
            return [
                {
                    "id": r.id,
                    "label": r.label,
                    "createdAtMs": r.created_at_ms,
                    "disabledAtMs": r.disabled_at_ms,
                }
                for r in rows
            ]

    def disable_tenant(self, org_id: str, tenant_id: str, *, actor: str) -> None:
        """Disable a tenant: its mints and service accounts are refused from now on."""
        with self.transaction() as session:
            row = session.get(models.Tenant, (org_id, tenant_id))
            if row is None:
                raise InvalidPermissionsError(NO_SUCH_TENANT)
            if row.disabled_at_ms is None:
                row.disabled_at_ms = self._now()
            self._audit(session, org_id, actor, "tenant.disable", tenant_id, {})
        with self._tenant_lock:
            self._tenant_cache.pop((org_id, tenant_id), None)

    def require_tenant(self, org_id: str, tenant_id: str) -> None:
        """Refuse (``INVALID_PERMISSIONS``) a tenant the org does not own, or a disabled one.

        Confirmations are cached for 5 s: a tenant disabled through another
        worker is refused here within that bound.
        """
        now = self._now()
        with self._tenant_lock:
            valid_until = self._tenant_cache.get((org_id, tenant_id))
        if valid_until is not None and now < valid_until:
            self._refresher.used(
                "tenant", (org_id, tenant_id), valid_until, valid_until, self._recheck_tenants
            )
            return
        self._load_tenant(org_id, tenant_id)

    def _recheck_tenants(self, seen: Mapping[Hashable, object]) -> None:
        """Background recheck of the due tenants, read together.

        One disabled meanwhile leaves the cache; nothing is written over an entry changed
        meanwhile (the next mint reads and says so).
        """
        now = self._now()
        pairs = [pair for pair in seen if isinstance(pair, tuple)]
        with self.transaction() as session:
            rows = session.scalars(
                select(models.Tenant).where(
                    tuple_(models.Tenant.org_id, models.Tenant.id).in_(pairs)
                )
            )
            active = {(row.org_id, row.id) for row in rows if row.disabled_at_ms is None}
        with self._tenant_lock:
            for pair in pairs:
                if self._tenant_cache.get(pair) != seen[pair]:
                    continue
                if pair in active:
                    self._tenant_cache[pair] = self._changes.until(now)
                else:
                    self._tenant_cache.pop(pair, None)

    def _load_tenant(self, org_id: str, tenant_id: str) -> None:
        self.cache_misses["tenant"] += 1
        now = self._now()
        with self.transaction() as session:
            row = session.get(models.Tenant, (org_id, tenant_id))
            if row is None or row.disabled_at_ms is not None:
                if tenant_id == DEFAULT_TENANT:  # the org's own choice: say what to do
                    msg = (
                        f"the org has no active '{DEFAULT_TENANT}' tenant (it was disabled): "
                        "name one of its tenants in 'tenant', or create one (tenants.create)"
                    )
                    raise InvalidPermissionsError(msg)
                raise InvalidPermissionsError(NO_SUCH_TENANT)
        with self._tenant_lock:
            if len(self._tenant_cache) >= CACHE_MAX:
                self._tenant_cache.clear()
            self._tenant_cache[org_id, tenant_id] = self._changes.until(now)

    # ---------------------------------------------------- tenant resources

    def assign_resource(
        self, org_id: str, kind: str, resource_id: str, tenant_id: str, *, actor: str
    ) -> None:
        """Record the owner of a trunk, call or event stream (the first owner keeps it)."""
        self.require_tenant(org_id, tenant_id)
        with self.transaction() as session:
            row = session.get(models.TenantResource, (org_id, kind, resource_id))
            if row is not None and row.tenant_id != tenant_id:
                msg = f"this {kind} already has an owner in the org"
                raise InvalidPermissionsError(msg)
            if row is None:
                session.add(
                    models.TenantResource(
                        org_id=org_id, kind=kind, resource_id=resource_id, tenant_id=tenant_id
                    )
                )
            self._audit(
                session,
                org_id,
                actor,
                "resource.assign",
                f"{kind}/{resource_id}",
                {"tenant": tenant_id},
            )

    def release_resource(
        self, org_id: str, kind: str, resource_id: str, tenant_id: str, *, actor: str
    ) -> None:
        """Forget a resource of the tenant; a foreign or missing one is refused alike."""
        with self.transaction() as session:
            row = session.get(models.TenantResource, (org_id, kind, resource_id))
            if row is None or row.tenant_id != tenant_id:
                raise InvalidPermissionsError(NO_SUCH_RESOURCE)
            session.delete(row)
            self._audit(
                session,
                org_id,
                actor,
                "resource.release",
                f"{kind}/{resource_id}",
                {"tenant": tenant_id},
            )

    def owner_of(self, org_id: str, kind: ResourceKind, resource_id: str) -> str | None:
        """The owning tenant within the org, if any."""
        with self.transaction() as session:
            row = session.get(models.TenantResource, (org_id, str(kind), resource_id))
            return row.tenant_id if row is not None else None

    def ownership(self, org_id: str) -> OwnershipLookup:
        """One org's resources as an :class:`~relaypass._tenancy.OwnershipLookup`."""
        return _OrgOwnership(self, org_id)


class _OrgOwnership:
    __slots__ = ("_org_id", "_store")

    def __init__(self, store: TenancyStore, org_id: str) -> None:
        self._store = store
        self._org_id = org_id

    def owner_of(self, kind: ResourceKind, resource_id: str) -> str | None:
        return self._store.owner_of(self._org_id, kind, resource_id)


def _org_view(row: models.Org) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "namespaces": list(row.namespaces or []),
        "createdAtMs": row.created_at_ms,
        "disabledAtMs": row.disabled_at_ms,
    }
