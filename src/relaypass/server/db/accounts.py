"""Service accounts: the RSA public keys an org's tenants register, and the JWTs they verify.

A service-account JWT names no org: the registered key that verifies it does.
So a public key is registered by one org only; every lookup but the verify of
a token (which finds the org) is keyed by the org first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select

from relaypass._alg import Algorithm
from relaypass._keys import Key
from relaypass._tokens import decode_unverified
from relaypass.errors import InvalidRequestError, InvalidTokenError, KeyNotFoundError
from relaypass.profiles.service_account import ServiceAccountRegistry, ServiceIdentity
from relaypass.server.db import models
from relaypass.server.db._part import StorePart

__all__ = ["ServiceAccountStore"]


class ServiceAccountStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`: service accounts, keyed by org."""

    require_tenant: Callable[[str, str], None]

    def publish_service_account(
        self,
        org_id: str,
        tenant_id: str,
        private_key_id: str,
        public_key_pem: str,
        *,
        role: str,
        expires_at_ms: int,
        actor: str,
    ) -> None:
        """``PublishServiceAccount``: register or replace a public key of an org's tenant."""
        self.require_tenant(org_id, tenant_id)
        ServiceAccountRegistry().publish(
            tenant_id, private_key_id, public_key_pem, role, expires_at_ms
        )
        thumbprint = Key.from_pem(public_key_pem, Algorithm.RS256).thumbprint()
        with self.transaction() as session:
            # A service-account JWT names no org: the key that verifies it does. So a
            # public key is registered by one org only, and is refused to any other.
            elsewhere = session.scalars(
                select(models.ServiceAccount.org_id).where(
                    models.ServiceAccount.public_key_thumbprint == thumbprint,
                    models.ServiceAccount.org_id != org_id,
                )
            ).first()
            if elsewhere is not None:
                msg = (
                    "this public key is already registered on the platform: "
                    "generate a new key pair for each service account"
                )
                raise InvalidRequestError(msg)
            row = session.get(models.ServiceAccount, (org_id, tenant_id, private_key_id))
            if row is None:
                row = models.ServiceAccount(
                    org_id=org_id,
                    tenant_id=tenant_id,
                    private_key_id=private_key_id,
                    created_at_ms=self._now(),
                )
                session.add(row)
            row.public_key_pem = public_key_pem
            row.public_key_thumbprint = thumbprint
            row.role = role
            row.expires_at_ms = expires_at_ms
            self._audit(
                session, org_id, actor, "service_account.publish", f"{tenant_id}/{private_key_id}",
                {"role": role, "expires_at_ms": expires_at_ms},
            )  # fmt: skip

    def revoke_service_account(
        self, org_id: str, tenant_id: str, private_key_id: str, *, actor: str
    ) -> bool:
        """``RevokeServiceAccount``: whether the key existed."""
        self.require_tenant(org_id, tenant_id)
        with self.transaction() as session:
            row = session.get(models.ServiceAccount, (org_id, tenant_id, private_key_id))
            if row is not None:
                session.delete(row)
            self._audit(
                session,
                org_id,
                actor,
                "service_account.revoke",
                f"{tenant_id}/{private_key_id}",
                {"existed": row is not None},
            )
            return row is not None

    def list_service_accounts(
        self, org_id: str, tenant_id: str | None = None
    ) -> list[dict[str, Any]]:
        """An org's registered service-account keys (public facts), optionally of one tenant."""
        where = [models.ServiceAccount.org_id == org_id]
        if tenant_id is not None:
            where.append(models.ServiceAccount.tenant_id == tenant_id)
        rows = sorted(self._service_accounts(*where), key=lambda r: (r.tenant_id, r.created_at_ms))
        return [
            {
                "tenantId": r.tenant_id,
                "privateKeyId": r.private_key_id,
                "role": r.role,
                "expiresAtMs": r.expires_at_ms,
                "createdAtMs": r.created_at_ms,
            }
            for r in rows
        ]

    def service_account_registry(self, org_id: str) -> ServiceAccountRegistry:
        """An org's registered service-account keys, ready to verify admin and SDK JWTs."""
        registry = ServiceAccountRegistry(clock=self.clock)
        for row in self._service_accounts(models.ServiceAccount.org_id == org_id):
            registry.publish(
                row.tenant_id, row.private_key_id, row.public_key_pem, row.role, row.expires_at_ms
            )
        return registry

    def verify_service_account(self, token: str) -> tuple[str, ServiceIdentity]:
        """The org and identity of a service-account JWT (``INVALID_TOKEN`` otherwise).

        Tenant ids and kids are unique within an org only, so the token's org is
        the one whose registered key verifies its signature. A public key is
        registered by one org only (:meth:`publish_service_account`); should two
        orgs' keys still verify the same token (rows older than that rule), the
        token is refused rather than given to either.
        """
        kid, claims = decode_unverified(token)
        tenant = claims.get("sub")
        if kid is None or not isinstance(tenant, str):
            msg = "a service-account token names its kid and its tenant (sub)"
            raise KeyNotFoundError(msg)
        rows = self._service_accounts(
            models.ServiceAccount.tenant_id == tenant,
            models.ServiceAccount.private_key_id == kid,
        )
        failure: InvalidTokenError = KeyNotFoundError("no such service account")
        verified: list[tuple[models.ServiceAccount, ServiceIdentity]] = []
        for row in rows:
            registry = ServiceAccountRegistry(clock=self.clock)
            registry.publish(
                row.tenant_id, row.private_key_id, row.public_key_pem, row.role, row.expires_at_ms
            )
            try:
                verified.append((row, registry.verify(token)))
            except InvalidTokenError as exc:
                failure = exc
        if len({row.org_id for row, _ in verified}) > 1:
            msg = "the token's key is registered by more than one org"
            raise KeyNotFoundError(msg)
        if not verified:
            raise failure
        row, identity = verified[0]
        self.require_tenant(row.org_id, row.tenant_id)
        return row.org_id, identity

    def _service_accounts(self, *where: Any) -> Iterator[models.ServiceAccount]:  # noqa: ANN401
        with self.transaction() as session:
            rows = session.scalars(
                select(models.ServiceAccount)
                .join(models.Org, models.Org.id == models.ServiceAccount.org_id)
                .where(models.Org.disabled_at_ms.is_(None), *where)
            ).all()
        return iter(rows)
