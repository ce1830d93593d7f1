"""Service accounts at the gate: service-account tokens, and the resources their tenants own.

A service-account token is an RS256 JWT the SDK signs with the tenant's key
(``kid`` = ``private_key_id``, ``sub`` = tenant, ``iss`` the SDK's name). The
control plane publishes every registered key with its org, tenant, role and
``expires_at_ms``; kids are the customers' own and repeat across tenants and
orgs, so keys are found by (tenant, kid) and the signature decides which org's
key it is. The session is pinned to that org and tenant, and ends when the
token or the key expires, whichever comes first.

Resources (trunks, call sids, event streams) are pushed by the control plane
on the same path as keys and revocations; a session may act on a resource only
when its own tenant, in its own org, owns it. A foreign and an unknown resource
are refused alike.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Final, final

from relaypass._claims import ClaimsPolicy
from relaypass._clock import Clock
from relaypass._grant import Grant, Tenancy, provenance
from relaypass._keyset import KeySet, PublishedAccount
from relaypass._tokens import VerifiedToken, Verifier, decode_unverified
from relaypass.errors import InvalidPermissionsError, InvalidTokenError, KeyNotFoundError

__all__ = ["SDK_ISSUERS", "AccountDirectory", "ResourceOwners", "account_grant"]

#: The issuer names customers' SDKs sign with, and relaypass's own.
SDK_ISSUERS: Final = frozenset({"relaypass-sdk", "telequick-sdk", "clutchcall-sdk"})
_NO_RESOURCE: Final = "the tenant may not act on this resource"


@final
class AccountDirectory:
    """A key set's service-account keys by (tenant, kid), built once per key set."""

    __slots__ = ("_by_name", "keyset")

    def __init__(self, keyset: KeySet) -> None:
        self.keyset = keyset
        by_name: dict[tuple[str, str], list[PublishedAccount]] = {}
        for account in keyset.accounts:
            by_name.setdefault((account.tenant, account.key.kid), []).append(account)
        self._by_name = by_name

    def verify(
        self, token: str, policy: ClaimsPolicy, clock: Clock
    ) -> tuple[VerifiedToken, PublishedAccount]:
        """The verified token and the key that signed it (``INVALID_TOKEN`` otherwise)."""
        kid, claims = decode_unverified(token)
        tenant = claims.get("sub")
        if kid is None or not isinstance(tenant, str):
            msg = "a service-account token names its kid and its tenant (sub)"
            raise KeyNotFoundError(msg)
        now_ms = clock.now() * 1000
        failure: InvalidTokenError = KeyNotFoundError("no such service account")
        for account in self._by_name.get((tenant, kid), ()):
            if account.expires_at_ms and now_ms >= account.expires_at_ms:
                failure = KeyNotFoundError("the service account's key has expired")
                continue
            try:
                verified = Verifier(KeySet([account.key]), policy=policy, clock=clock).verify(token)
            except InvalidTokenError as exc:
                failure = exc
                continue
            return verified, account
        raise failure


def account_grant(verified: VerifiedToken, account: PublishedAccount, tenancy: Tenancy) -> Grant:
    """The session's grant: the tenant and role, ending with the token or the key."""
    expires = verified.expires_at
    if account.expires_at_ms:
        key_end = account.expires_at_ms / 1000
        expires = key_end if expires is None else min(expires, key_end)
    return Grant(
        profile="service_account",
        tenant=account.tenant,
        subject=account.tenant,
        capabilities=frozenset({f"role:{account.role}"}),
        expires_at=expires,
        **provenance(verified, tenancy),
    )


@final
class ResourceOwners:
    """(org, kind, id) -> owning tenant, as the control plane last told this gate."""

    __slots__ = ("_lock", "_owners")

    def __init__(self) -> None:
        self._owners: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    def replace(self, owners: Mapping[tuple[str, str, str], str]) -> None:
        """Take a full snapshot (on (re)connect)."""
        with self._lock:
            self._owners = dict(owners)

    def apply(self, event: Mapping[str, object]) -> None:
        """One ``assign`` or ``release`` event."""
        op, org, kind, rid, tenant = (event.get(k) for k in ("op", "org", "kind", "id", "tenant"))
        if not all(isinstance(v, str) for v in (org, kind, rid)):
            return
        key = (str(org), str(kind), str(rid))
        with self._lock:
            if op == "assign" and isinstance(tenant, str):
                self._owners[key] = tenant
            elif op == "release":
                self._owners.pop(key, None)

    def authorize(self, grant: Grant, kind: str, resource_id: str) -> None:
        """Allow only the owning tenant of the same org; foreign and unknown look alike."""
        owner = (
            self._owners.get((grant.org, kind, resource_id))
            if grant.org is not None and grant.tenant is not None
            else None
        )
        if owner is None or owner != grant.tenant:
            raise InvalidPermissionsError(_NO_RESOURCE)

    def __len__(self) -> int:
        return len(self._owners)
