"""Key sets (JWKS): ``kid`` -> key, with the selection rules of the verifier."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import final

from relaypass import _json
from relaypass._keys import MAX_JWK_BYTES, Key, is_valid_kid
from relaypass._keyscope import KeyBinding
from relaypass.errors import AlgorithmMismatchError, InvalidKeyError, KeyNotFoundError

__all__ = ["KeySet", "PublishedAccount", "issuer_digest"]

MAX_KEYS = 20_000  # a combined set of many orgs; each org is capped by the control plane
MAX_ISSUERS = 100_000
_DIGEST_CHARS = 64


MAX_ACCOUNTS = 100_000
_ROLES = frozenset({"sdk", "admin"})


@final
@dataclass(frozen=True, slots=True)
class PublishedAccount:
    """A service-account public key as gates receive it (TeleQuick), keyed by (org, tenant, kid).

    ``key`` is the RS256 public key, bound to ``org``; ``expires_at_ms`` 0 means never.
    """

    org: str
    tenant: str
    role: str
    expires_at_ms: int
    key: Key

    def to_wire(self) -> dict[str, object]:
        """The member of a published key set."""
        jwk = self.key.to_jwk(private=False)
        jwk.pop("org", None)
        return {
            "org": self.org,
            "tenant": self.tenant,
            "role": self.role,
            "expires_at_ms": self.expires_at_ms,
            "jwk": jwk,
        }

    @classmethod
    def from_wire(cls, value: object) -> PublishedAccount:
        """Parse one entry strictly."""
        if not isinstance(value, Mapping) or set(value) != {
            "org", "tenant", "role", "expires_at_ms", "jwk"
        }:  # fmt: skip
            msg = "a published service account has org, tenant, role, expires_at_ms and jwk"
            raise InvalidKeyError(msg)
        org, tenant, role, expires = (value[m] for m in ("org", "tenant", "role", "expires_at_ms"))
        jwk = value["jwk"]
        if (
            not is_valid_kid(org)
            or not isinstance(tenant, str)
            or not 0 < len(tenant) <= 256  # noqa: PLR2004 - the store's column
            or role not in _ROLES
            or type(expires) is not int
            or expires < 0
            or not isinstance(jwk, Mapping)
        ):
            msg = "a published service account is malformed"
            raise InvalidKeyError(msg)
        key = Key.from_jwk(jwk)
        if key.alg != "RS256" or key.has_private:
            msg = "a service account's published key is an RS256 public key"
            raise InvalidKeyError(msg)
        return cls(str(org), tenant, str(role), expires, key.bound(KeyBinding(org=str(org))))


def issuer_digest(issuer: str) -> str:
    """How an issuer (an API key id) is named in a published key set: its SHA-256, hex."""
    return hashlib.sha256(issuer.encode("utf-8")).hexdigest()


def _parse_issuers(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) > MAX_ISSUERS:
        msg = f"JWKS issuers must be an object of at most {MAX_ISSUERS} entries"
        raise InvalidKeyError(msg)
    out: dict[str, str] = {}
    for digest, org in value.items():
        if (
            not isinstance(digest, str)
            or len(digest) != _DIGEST_CHARS
            or not all(c in "0123456789abcdef" for c in digest)
            or not is_valid_kid(org)
        ):
            msg = "JWKS issuers map SHA-256 hex digests to org ids"
            raise InvalidKeyError(msg)
        out[digest] = str(org)
    return out


@final
class KeySet:
    """An immutable set of keys, selected by exact ``kid``.

    Rules (refused at build time): no duplicate kids; either every key holds
    secret/private material or none does (RFC 8725 and Wycheproof's
    ``MixedKeySet``: a set mixing public keys with secrets invites key
    confusion). A token without ``kid`` is accepted only when the set holds
    exactly one key.

    ``issuers`` is the registry of live token issuers (the control plane's API
    key ids, as SHA-256 digests) and the org each belongs to: room tokens name
    their API key in ``iss``, and a gate refuses one whose issuer is unknown,
    revoked or of another org than the signing key.
    """

    __slots__ = ("_by_kid", "_only", "accounts", "issuers")

    def __init__(
        self,
        keys: Iterable[Key],
        *,
        issuers: Mapping[str, str] | None = None,
        accounts: Iterable[PublishedAccount] = (),
    ) -> None:
        by_kid: dict[str, Key] = {}
        for key in keys:
            if key.kid in by_kid:
                msg = "duplicate kid in key set"
                raise InvalidKeyError(msg)
            by_kid[key.kid] = key
        if len(by_kid) > MAX_KEYS:
            msg = f"a key set holds at most {MAX_KEYS} keys"
            raise InvalidKeyError(msg)
        if len({key.has_private for key in by_kid.values()}) > 1:
            msg = "a key set may not mix public keys with private keys or secrets"
            raise InvalidKeyError(msg)
        self._by_kid = by_kid
        self._only = next(iter(by_kid.values())) if len(by_kid) == 1 else None
        self.issuers: Mapping[str, str] | None = (
            MappingProxyType(dict(issuers)) if issuers is not None else None
        )
        #: Service-account keys (TeleQuick), a separate namespace: their kids are the
        #: customers' own and repeat across tenants, so they are found by (tenant, kid).
        self.accounts: tuple[PublishedAccount, ...] = tuple(accounts)
        if len(self.accounts) > MAX_ACCOUNTS:
            msg = f"a key set holds at most {MAX_ACCOUNTS} service accounts"
            raise InvalidKeyError(msg)

    def issuer_org(self, issuer: str) -> str | None:
        """The org of a live issuer, or ``None`` when it is unknown."""
        if self.issuers is None:
            return None
        return self.issuers.get(issuer_digest(issuer))

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, object] | str | bytes) -> KeySet:
        """Parse ``{"keys": [...]}`` strictly."""
        if isinstance(jwks, str | bytes):
            raw = jwks.encode("utf-8") if isinstance(jwks, str) else jwks
            if len(raw) > MAX_JWK_BYTES * 16:
                msg = "JWKS too large"
                raise InvalidKeyError(msg)
            try:
                obj: Mapping[str, object] = _json.loads_object(raw)
            except ValueError:
                msg = "JWKS is not a strict JSON object"
                raise InvalidKeyError(msg) from None
        else:
            obj = jwks
        keys = obj.get("keys")
        if not isinstance(keys, list):
            msg = "JWKS must hold a 'keys' list"
            raise InvalidKeyError(msg)
        parsed = []
        for item in keys:
            if not isinstance(item, dict):
                msg = "JWKS keys must be objects"
                raise InvalidKeyError(msg)
            parsed.append(Key.from_jwk(item))
        issuers = _parse_issuers(obj["issuers"]) if "issuers" in obj else None
        raw_accounts = obj.get("service_accounts", [])
        if not isinstance(raw_accounts, list):
            msg = "JWKS service_accounts must be a list"
            raise InvalidKeyError(msg)
        accounts = [PublishedAccount.from_wire(a) for a in raw_accounts]
        return cls(parsed, issuers=issuers, accounts=accounts)

    def to_jwks(self) -> dict[str, object]:
        """The public JWKS (refuses a set of HMAC secrets)."""
        out: dict[str, object] = {
            "keys": [key.to_jwk(private=False) for key in self._by_kid.values()]
        }
        if self.issuers is not None:
            out["issuers"] = dict(self.issuers)
        if self.accounts:
            out["service_accounts"] = [a.to_wire() for a in self.accounts]
        return out

    def select(self, kid: str | None, alg: str) -> Key:
        """The key for a token header's ``kid`` and ``alg``, or an error."""
        if kid is None:
            key = self._only
            if key is None:
                msg = "token has no kid and the key set holds more than one key"
                raise KeyNotFoundError(msg)
        else:
            found = self._by_kid.get(kid)
            if found is None:
                msg = "unknown kid" if is_valid_kid(kid) else "malformed kid"
                raise KeyNotFoundError(msg)
            key = found
        if key.alg != alg:
            msg = "header alg differs from the key's algorithm"
            raise AlgorithmMismatchError(msg)
        if not key.can_verify:
            msg = "key_ops forbid verifying with this key"
            raise KeyNotFoundError(msg)
        return key

    def get(self, kid: str) -> Key | None:
        """The key with ``kid``, if any."""
        return self._by_kid.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def __iter__(self) -> Iterator[Key]:
        return iter(self._by_kid.values())

    def __len__(self) -> int:
        return len(self._by_kid)

    def __repr__(self) -> str:
        return f"KeySet(kids={sorted(self._by_kid)!r})"
