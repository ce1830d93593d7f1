"""Sign and verify JWTs: :class:`Verifier` -> :class:`~relaypass._verified.VerifiedToken`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, final

from relaypass import _json
from relaypass._b64 import decode_segment
from relaypass._claims import ClaimsPolicy, check_registered_claims
from relaypass._clock import SYSTEM_CLOCK, Clock
from relaypass._jws import (
    DEFAULT_MAX_TOKEN_BYTES,
    encode_header,
    parse_header,
    sign_compact,
    split,
)
from relaypass._keys import Key
from relaypass._keyset import KeySet
from relaypass._verified import CONSTRUCT, VerifiedToken
from relaypass.errors import (
    InvalidClaimError,
    InvalidRequestError,
    InvalidSignatureError,
    MalformedTokenError,
)

if TYPE_CHECKING:
    from relaypass._cache import VerifiedTokenCache

__all__ = ["Minter", "VerifiedToken", "Verifier", "decode_unverified", "sign_jwt"]

MAX_CLAIMS_DEPTH: Final = 8
_DEFAULT_POLICY = ClaimsPolicy()


@final
class Verifier:
    """Verifies compact JWTs against a key or key set.

    The order of checks: size and structure, header (allow-list), key by
    ``kid``, ``alg`` equal to the key's, signature, payload (canonical
    base64url, strict JSON object), registered claims against the clock.
    Every failure is an :class:`~relaypass.errors.InvalidTokenError`.
    """

    __slots__ = ("_cache", "_clock", "_keys", "_max_bytes", "_policy")

    def __init__(
        self,
        keys: Key | KeySet,
        *,
        policy: ClaimsPolicy = _DEFAULT_POLICY,
        clock: Clock = SYSTEM_CLOCK,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        cache: VerifiedTokenCache | None = None,
    ) -> None:
        self._keys = keys if isinstance(keys, KeySet) else KeySet([keys])
        self._policy = policy
        self._clock = clock
        self._max_bytes = max_token_bytes
        self._cache = cache

    @property
    def keys(self) -> KeySet:
        """The key set this verifier trusts."""
        return self._keys

    @property
    def policy(self) -> ClaimsPolicy:
        """The registered-claims policy."""
        return self._policy

    def verify(self, token: str) -> VerifiedToken:
        """Verify ``token`` or raise :class:`~relaypass.errors.InvalidTokenError`."""
        cache, now = self._cache, self._clock.now()
        if cache is not None:
            hit = cache.lookup(token, now)
            if hit is not None:
                return hit
        # Structure and size: _jws.split's checks, inlined because this is the hot path.
        if type(token) is not str or len(token) > self._max_bytes or not token.isascii():
            msg = "token is not an ASCII string within the size limit"
            raise MalformedTokenError(msg)
        parts = token.split(".")
        if len(parts) != 3:  # noqa: PLR2004 - header, payload, signature
            msg = "not a compact JWS of three base64url segments"
            raise MalformedTokenError(msg)
        header_segment, payload_segment, signature_segment = parts
        header = parse_header(header_segment)
        key = self._keys.select(header.kid, header.alg)
        try:
            signature = decode_segment(signature_segment)
            payload = decode_segment(payload_segment)
        except ValueError:
            msg = "payload or signature is not canonical base64url"
            raise MalformedTokenError(msg) from None
        signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
        if not key._verifier.verify(signing_input, signature):  # noqa: SLF001 - hot path
            msg = "signature does not verify"
            raise InvalidSignatureError(msg)
        try:
            claims = _json.loads_object(payload, MAX_CLAIMS_DEPTH)
        except ValueError:
            msg = "payload is not a strict JSON object"
            raise MalformedTokenError(msg) from None
        not_before, not_after = check_registered_claims(claims, self._policy, now)
        issuer = key.binding.issuer
        if issuer is not None and claims.get("iss") != issuer:
            msg = "iss is not the issuer the key is bound to"
            raise InvalidClaimError(msg, claim="iss")
        verified = VerifiedToken(CONSTRUCT, claims, key.kid, header.alg, signing_input, key.binding)
        if cache is not None:
            cache.store(token, verified, not_before, not_after, now)
        return verified


def sign_jwt(claims: Mapping[str, object], key: Key, *, typ: str | None = "JWT") -> str:
    """Sign ``claims`` exactly as given (no claim is added)."""
    return sign_compact(
        _json.dumps(claims if type(claims) is dict else dict(claims)), key, encode_header(key, typ)
    )


@final
class Minter:
    """Issues short-lived tokens: stamps ``iat``, ``exp`` and ``jti``, caps the TTL."""

    __slots__ = ("_clock", "_header", "_key", "default_ttl_seconds", "issuer", "max_ttl_seconds")

    def __init__(
        self,
        key: Key,
        *,
        default_ttl_seconds: int = 3600,
        max_ttl_seconds: int = 86_400,
        issuer: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not key.can_sign:
            msg = "the minting key cannot sign"
            raise InvalidRequestError(msg)
        if not 0 < default_ttl_seconds <= max_ttl_seconds:
            msg = "need 0 < default_ttl_seconds <= max_ttl_seconds"
            raise InvalidRequestError(msg)
        self._key = key
        self._header = encode_header(key)
        self._clock = clock
        self.default_ttl_seconds = default_ttl_seconds
        self.max_ttl_seconds = max_ttl_seconds
        self.issuer = issuer

    @property
    def key(self) -> Key:
        """The signing key."""
        return self._key

    def mint(self, claims: Mapping[str, object], *, ttl_seconds: int | None = None) -> str:
        """A signed token carrying ``claims`` plus ``iss``, ``iat``, ``exp``, ``jti``."""
        ttl = self.default_ttl_seconds if ttl_seconds is None else ttl_seconds
        if type(ttl) is not int or not 0 < ttl <= self.max_ttl_seconds:
            msg = f"ttl_seconds must be an integer in [1, {self.max_ttl_seconds}]"
            raise InvalidRequestError(msg)
        now = int(self._clock.now())
        body: dict[str, object] = {}
        if self.issuer is not None:
            body["iss"] = self.issuer
        body.update(claims)
        body["iat"] = now
        body["exp"] = now + ttl
        if "jti" not in body:
            body["jti"] = os.urandom(16).hex()
        return sign_compact(_json.dumps(body), self._key, self._header)


def decode_unverified(
    token: str, max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES
) -> tuple[str | None, dict[str, object]]:
    """UNSAFE: the header ``kid`` and the claims, with no signature check.

    Only for choosing which key to verify with (a room token's ``iss``, a
    service account's tenant); never for deciding anything else. Parsing is
    as strict as in :meth:`Verifier.verify`.
    """
    header_segment, payload_segment, _ = split(token, max_token_bytes)
    header = parse_header(header_segment)
    try:
        claims = _json.loads_object(decode_segment(payload_segment), MAX_CLAIMS_DEPTH)
    except ValueError:
        msg = "payload is not canonical base64url of a strict JSON object"
        raise MalformedTokenError(msg) from None
    return header.kid, claims
