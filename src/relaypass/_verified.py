"""A verified token: claims that passed verification, and the token's identity.

Token identity
    :attr:`VerifiedToken.token_id` is the SHA-256 of the JWS *signing input*
    (header and payload segments), not of the whole string. Our base64url and
    JSON are canonical, so a given header and claims set has exactly one
    signing input; ECDSA signatures, though, are malleable (``s`` and
    ``n - s`` both verify, and peers emit either), so an identity that
    included the signature could be dodged by re-signing nothing at all.
    Revocation by token therefore keys on ``token_id`` (or on ``jti``).

Only :class:`~relaypass.Verifier` creates one (it holds :data:`CONSTRUCT`); the
cache of verified tokens and the verifier both build on this module, which
imports neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, final

from relaypass._keyscope import NO_BINDING, KeyBinding

__all__ = ["CONSTRUCT", "VerifiedToken"]

#: The verifier's pass to construct a :class:`VerifiedToken` (nobody else holds it).
CONSTRUCT: Final = object()


@final
class VerifiedToken:
    """Claims that passed verification. Only a :class:`Verifier` creates one."""

    __slots__ = ("_id", "_signing_input", "alg", "binding", "claims", "kid")

    alg: str
    kid: str
    claims: Mapping[str, object]
    binding: KeyBinding

    def __init__(  # noqa: PLR0917 - internal, one caller
        self,
        guard: object,
        claims: dict[str, object],
        kid: str,
        alg: str,
        signing_input: bytes,
        binding: KeyBinding = NO_BINDING,
    ) -> None:
        """Internal: only the verifier may construct a verified token."""
        if guard is not CONSTRUCT:
            msg = "VerifiedToken is created by Verifier.verify only"
            raise TypeError(msg)
        self.claims: Mapping[str, object] = MappingProxyType(claims)
        self.kid = kid
        self.alg = alg
        self.binding = binding
        self._signing_input = signing_input
        self._id: str | None = None

    @property
    def token_id(self) -> str:
        """SHA-256 (hex) of the signing input: the token's stable identity."""
        if self._id is None:
            self._id = hashlib.sha256(self._signing_input).hexdigest()
        return self._id

    @property
    def subject(self) -> str | None:
        """``sub``, if present."""
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def expires_at(self) -> float | None:
        """``exp`` in Unix seconds, if present."""
        exp = self.claims.get("exp")
        return float(exp) if isinstance(exp, int | float) else None

    @property
    def issued_at(self) -> float | None:
        """``iat`` in Unix seconds, if present."""
        iat = self.claims.get("iat")
        return float(iat) if isinstance(iat, int | float) else None

    @property
    def jti(self) -> str | None:
        """``jti``, if present."""
        jti = self.claims.get("jti")
        return jti if isinstance(jti, str) else None

    def __repr__(self) -> str:
        return (
            f"VerifiedToken(kid={self.kid!r}, alg={self.alg!r}, sub={self.subject!r}, "
            f"jti={self.jti!r}, exp={self.expires_at!r})"
        )
