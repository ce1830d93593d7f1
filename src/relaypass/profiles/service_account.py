"""Service accounts (ClutchCall, TeleQuick): RSA keys registered per tenant.

SDK side: a credentials JSON file (``tenant_id``, ``private_key`` as a PKCS#8
PEM RSA key, ``private_key_id``) found through ``RELAYPASS_CREDENTIALS`` (the
TeleQuick's ``TELEQUICK_CREDENTIALS`` and ``CLUTCHCALL_CREDENTIALS`` are read as
aliases, in that order). It signs RS256 with ``kid`` = ``private_key_id``,
``iss`` configurable (default ``relaypass-sdk``), ``sub`` = tenant,
``exp`` = now + 1 h.

Verifier side: :class:`ServiceAccountRegistry` holds the public keys that
``PublishServiceAccount`` registered, each with its tenant, role (``sdk`` or
``admin``) and ``expires_at_ms`` (0 = never). Several keys may coexist for a
tenant during a rotation. The tenant of a verified token is the one its key
belongs to, and ``sub`` must equal it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final

from relaypass._alg import Algorithm
from relaypass._claims import ClaimsPolicy
from relaypass._clock import SYSTEM_CLOCK, Clock
from relaypass._grant import Grant, provenance
from relaypass._keys import Key, is_valid_kid
from relaypass._tokens import Minter, VerifiedToken, Verifier, decode_unverified
from relaypass.errors import (
    InvalidClaimError,
    InvalidKeyError,
    InvalidRequestError,
    KeyNotFoundError,
)
from relaypass.profiles._common import IDENTIFIER, IDENTIFIER_RULE

__all__ = [
    "CREDENTIALS_ENV",
    "ServiceAccountCredentials",
    "ServiceAccountRegistry",
    "ServiceIdentity",
]

CREDENTIALS_ENV: Final = (
    "RELAYPASS_CREDENTIALS",
    "TELEQUICK_CREDENTIALS",
    "CLUTCHCALL_CREDENTIALS",
)
ROLES: Final = frozenset({"sdk", "admin"})
DEFAULT_SDK_ISSUER: Final = "relaypass-sdk"
MAX_CREDENTIALS_BYTES: Final = 64 * 1024


@final
@dataclass(frozen=True, slots=True)
class ServiceAccountCredentials:
    """The credentials file, parsed. ``repr`` never shows the key."""

    tenant_id: str
    private_key_id: str
    key: Key

    @classmethod
    def parse(cls, text: str | bytes) -> ServiceAccountCredentials:
        """Parse the JSON document; the private key must be RSA, PKCS#8 PEM."""
        raw = text.encode("utf-8") if isinstance(text, str) else text
        if len(raw) > MAX_CREDENTIALS_BYTES:
            msg = "credentials file too large"
            raise InvalidKeyError(msg)
        try:
            doc = json.loads(raw)
        except ValueError:
            msg = "credentials file is not JSON"
            raise InvalidKeyError(msg) from None
        if not isinstance(doc, dict):
            msg = "credentials file must be a JSON object"
            raise InvalidKeyError(msg)
        tenant, kid, pem = doc.get("tenant_id"), doc.get("private_key_id"), doc.get("private_key")
        if not isinstance(tenant, str) or IDENTIFIER.fullmatch(tenant) is None:
            msg = f"tenant_id: {IDENTIFIER_RULE}"
            raise InvalidKeyError(msg)
        if not is_valid_kid(kid):
            msg = "private_key_id must be 1-128 characters of [A-Za-z0-9_-]"
            raise InvalidKeyError(msg)
        if not isinstance(pem, str) or "-----BEGIN PRIVATE KEY-----" not in pem:
            msg = "private_key must be a PKCS#8 PEM private key"
            raise InvalidKeyError(msg)
        key = Key.from_pem(pem, Algorithm.RS256, kid=str(kid))
        return cls(tenant_id=tenant, private_key_id=str(kid), key=key)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ServiceAccountCredentials:
        """Read a credentials file."""
        return cls.parse(Path(path).read_bytes())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceAccountCredentials:
        """Load from the first of ``CREDENTIALS_ENV`` that is set."""
        env = os.environ if environ is None else environ
        for name in CREDENTIALS_ENV:
            path = env.get(name)
            if path:
                return cls.load(path)
        msg = f"none of {', '.join(CREDENTIALS_ENV)} is set"
        raise InvalidKeyError(msg)

    def minter(self, *, issuer: str = DEFAULT_SDK_ISSUER, clock: Clock = SYSTEM_CLOCK) -> Minter:
        """A minter for this account's tokens (1 h by default)."""
        return Minter(
            self.key, issuer=issuer, default_ttl_seconds=3600, max_ttl_seconds=3600, clock=clock
        )

    def sign(self, *, issuer: str = DEFAULT_SDK_ISSUER, clock: Clock = SYSTEM_CLOCK) -> str:
        """An RS256 token: ``kid`` = ``private_key_id``, ``sub`` = tenant, ``exp`` = now + 1 h."""
        return self.minter(issuer=issuer, clock=clock).mint({"sub": self.tenant_id})

    def __repr__(self) -> str:
        return (
            f"ServiceAccountCredentials(tenant_id={self.tenant_id!r}, "
            f"private_key_id={self.private_key_id!r})"
        )


@final
@dataclass(frozen=True, slots=True)
class ServiceIdentity:
    """A verified service-account token: who, with which key, in which role."""

    tenant_id: str
    private_key_id: str
    role: str
    grant: Grant


@dataclass(frozen=True, slots=True)
class _Registration:
    tenant_id: str
    private_key_id: str
    key: Key
    role: str
    expires_at_ms: int


@final
class ServiceAccountRegistry:
    """Registered service-account public keys, by ``(tenant, kid)``.

    In memory; the control plane persists registrations and feeds them in.
    """

    __slots__ = ("_clock", "_entries", "_issuers", "_leeway", "_lock")

    def __init__(
        self,
        *,
        issuers: frozenset[str] | None = None,
        leeway_seconds: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._entries: dict[tuple[str, str], _Registration] = {}
        self._issuers = issuers
        self._leeway = leeway_seconds
        self._clock = clock
        self._lock = threading.Lock()

    def publish(
        self,
        tenant_id: str,
        private_key_id: str,
        public_key_pem: str,
        role: str = "sdk",
        expires_at_ms: int = 0,
    ) -> None:
        """``PublishServiceAccount``: register (or replace) a public key."""
        if IDENTIFIER.fullmatch(tenant_id) is None:
            msg = f"tenant_id: {IDENTIFIER_RULE}"
            raise InvalidRequestError(msg)
        if not is_valid_kid(private_key_id):
            msg = "private_key_id must be 1-128 characters of [A-Za-z0-9_-]"
            raise InvalidRequestError(msg)
        if role not in ROLES:
            msg = "role must be 'sdk' or 'admin'"
            raise InvalidRequestError(msg)
        if type(expires_at_ms) is not int or expires_at_ms < 0:
            msg = "expires_at_ms must be a non-negative integer (0 = never)"
            raise InvalidRequestError(msg)
        if "PRIVATE KEY" in public_key_pem:
            msg = "public_key_pem must be the public half"
            raise InvalidRequestError(msg)
        key = Key.from_pem(public_key_pem, Algorithm.RS256, kid=private_key_id)
        with self._lock:
            self._entries[(tenant_id, private_key_id)] = _Registration(
                tenant_id, private_key_id, key, role, expires_at_ms
            )

    def revoke(self, tenant_id: str, private_key_id: str) -> bool:
        """``RevokeServiceAccount``: stop accepting the kid. Whether it existed."""
        with self._lock:
            return self._entries.pop((tenant_id, private_key_id), None) is not None

    def keys_for(self, tenant_id: str) -> list[str]:
        """The registered kids of a tenant."""
        return sorted(kid for (tenant, kid) in self._entries if tenant == tenant_id)

    def verify(self, token: str) -> ServiceIdentity:
        """Verify a service-account token; every refusal is ``INVALID_TOKEN``."""
        kid, unverified = decode_unverified(token)
        tenant = unverified.get("sub")
        if kid is None or not isinstance(tenant, str):
            msg = "a service-account token names its kid and its tenant (sub)"
            raise KeyNotFoundError(msg)
        entry = self._entries.get((tenant, kid))
        if entry is None:
            msg = "no such service account for this tenant"
            raise KeyNotFoundError(msg)
        if entry.expires_at_ms and self._clock.now() * 1000 >= entry.expires_at_ms:
            msg = "the service account's key has expired"
            raise KeyNotFoundError(msg)
        policy = ClaimsPolicy(issuer=self._issuers, leeway_seconds=self._leeway)
        verified = Verifier(entry.key, policy=policy, clock=self._clock).verify(token)
        if verified.subject != entry.tenant_id:
            msg = "sub is not the key's tenant"
            raise InvalidClaimError(msg, claim="sub")
        return ServiceIdentity(
            tenant_id=entry.tenant_id,
            private_key_id=kid,
            role=entry.role,
            grant=_grant(entry, verified),
        )


def _grant(entry: _Registration, verified: VerifiedToken) -> Grant:
    return Grant(
        profile="service",
        tenant=entry.tenant_id,
        subject=entry.tenant_id,
        capabilities=frozenset({f"role:{entry.role}"}),
        expires_at=verified.expires_at,
        **provenance(verified),
    )
