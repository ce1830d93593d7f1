"""Signing and verifying keys: :class:`Key`, bound to one algorithm, and its kid.

A :class:`Key` is bound to exactly one algorithm (RFC 8725 section 3.1): the
algorithm comes from the key, never from a token header. Its parts live in two
modules: :mod:`relaypass._key_io` reads JWK strictly (an allow-list of members per
key type) and PEM, and writes PEM; :mod:`relaypass._key_families` holds each
algorithm family's rules. Every size and consistency rule is checked when the
key is built, so the hot path trusts it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final, final

from relaypass import _b64
from relaypass._alg import ALGORITHMS, Algorithm
from relaypass._key_families import Material, generate
from relaypass._key_io import MAX_JWK_BYTES, OPS, jwk_text, parse_alg, parse_jwk, parse_pem, pem_of
from relaypass._keyscope import NO_BINDING, KeyBinding
from relaypass.errors import InvalidKeyError

__all__ = ["KID_PATTERN", "MAX_JWK_BYTES", "Key", "is_valid_kid"]

#: What a key id may look like: 1-128 characters of ``[A-Za-z0-9_-]``.
KID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")


def is_valid_kid(kid: object) -> bool:
    """Whether ``kid`` is a string of 1-128 ``[A-Za-z0-9_-]`` characters."""
    return isinstance(kid, str) and KID_PATTERN.fullmatch(kid) is not None


def _fail(reason: str) -> InvalidKeyError:
    return InvalidKeyError(reason)


@final
class Key:
    """A key bound to one JWS algorithm.

    Build one with :meth:`generate`, :meth:`from_jwk`, :meth:`from_pem` or
    :meth:`load`. A key that holds private material (or a secret) can sign when
    its ``key_ops`` allow it; every key can verify unless ``key_ops`` forbid it.
    """

    __slots__ = (
        "_can_sign",
        "_can_verify",
        "_crypto",
        "_private_jwk",
        "_public_jwk",
        "_signer",
        "_verifier",
        "alg",
        "binding",
        "kid",
        "kty",
    )

    alg: Algorithm
    kid: str
    kty: str
    binding: KeyBinding

    def __init__(
        self, *, alg: Algorithm, kid: str | None, material: Material, ops: frozenset[str]
    ) -> None:
        """Internal: use the class methods."""
        self.alg = alg
        self.kty = ALGORITHMS[alg].kty
        self._public_jwk = material.public_jwk
        self._private_jwk = material.private_jwk
        self._verifier = material.verifier
        self._signer = material.signer
        self._can_sign = material.signer is not None and "sign" in ops
        self._can_verify = "verify" in ops
        self._crypto = material.crypto
        if kid is None:
            kid = self.thumbprint()
        elif not is_valid_kid(kid):
            msg = "kid must be 1-128 characters of [A-Za-z0-9_-]"
            raise _fail(msg)
        self.kid = kid
        self.binding = NO_BINDING

    def bound(self, binding: KeyBinding) -> Key:
        """A copy of the key, bound to an org, a namespace scope and an issuer."""
        key = copy.copy(self)
        key.binding = binding
        return key

    # ------------------------------------------------------------------ build

    @classmethod
    def generate(cls, alg: Algorithm | str, *, kid: str | None = None) -> Key:
        """A fresh key for ``alg`` (RSA keys are 2048-bit, exponent 65537)."""
        algorithm = parse_alg(alg)
        return cls(alg=algorithm, kid=kid, material=generate(algorithm), ops=OPS)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object] | str | bytes, *, alg: str | None = None) -> Key:
        """Parse a JWK object (or its JSON text) strictly.

        ``alg`` binds a JWK that carries no ``alg`` member; when both are given
        they must agree.
        """
        parsed = parse_jwk(jwk, alg)
        key = cls(alg=parsed.alg, kid=parsed.kid, material=parsed.material, ops=parsed.ops)
        key.binding = parsed.binding
        return key

    @classmethod
    def from_pem(cls, data: bytes | str, alg: Algorithm | str, *, kid: str | None = None) -> Key:
        """Import a PKCS#8 private key or SubjectPublicKeyInfo public key."""
        algorithm = parse_alg(alg)
        return cls(alg=algorithm, kid=kid, material=parse_pem(data, algorithm), ops=OPS)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Key:
        """Read a key file: JWK JSON, base64url-encoded JWK JSON, or PEM (with ``alg``)."""
        text = Path(path).read_text(encoding="utf-8")
        return cls.parse(text)

    @classmethod
    def parse(cls, text: str) -> Key:
        """Parse key file contents: JWK JSON or base64url-encoded JWK JSON."""
        return cls.from_jwk(jwk_text(text))

    # ---------------------------------------------------------------- facts

    @property
    def is_symmetric(self) -> bool:
        """An HMAC secret: the same key signs and verifies."""
        return self.kty == "oct"

    @property
    def has_private(self) -> bool:
        """Holds private material or a secret."""
        return self._private_jwk is not None

    @property
    def can_sign(self) -> bool:
        """Holds private material and ``key_ops`` allow signing."""
        return self._can_sign

    @property
    def can_verify(self) -> bool:
        """``key_ops`` allow verifying."""
        return self._can_verify

    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 JWK thumbprint, base64url."""
        required = {
            "oct": ("k", "kty"),
            "RSA": ("e", "kty", "n"),
            "EC": ("crv", "kty", "x", "y"),
            "OKP": ("crv", "kty", "x"),
        }[self.kty]
        members = {name: self._public_jwk[name] for name in required}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
        return _b64.b64encode(hashlib.sha256(canonical.encode("utf-8")).digest())

    # ---------------------------------------------------------- operations

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``; refuses a public or verify-only key."""
        if not self._can_sign or self._signer is None:
            msg = "this key cannot sign (public half, or key_ops forbid it)"
            raise _fail(msg)
        return self._signer.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``message``."""
        if not self._can_verify:
            msg = "key_ops forbid verifying with this key"
            raise _fail(msg)
        return self._verifier.verify(message, signature)

    def public(self) -> Key:
        """The public half (an HMAC key has none)."""
        if self.kty == "oct":
            msg = "an HMAC key has no public half"
            raise _fail(msg)
        return Key.from_jwk(self.to_jwk(private=False))

    def to_jwk(self, *, private: bool = False) -> dict[str, object]:
        """The JWK, in the members and order moq-token writes.

        ``private=True`` includes the secret or private members; for an HMAC
        key it is required.
        """
        if private or self.kty == "oct":
            if not private:
                msg = "an HMAC key is secret: export it with private=True"
                raise _fail(msg)
            if self._private_jwk is None:
                msg = "this key holds no private material"
                raise _fail(msg)
            body: dict[str, str] = self._private_jwk
        else:
            body = self._public_jwk
        ops = [op for op in ("sign", "verify") if op == "verify" and self._can_verify]
        if private and self._can_sign:
            ops.insert(0, "sign")
        out: dict[str, object] = {"alg": self.alg.value, "key_ops": ops}
        out.update(body)
        out["kid"] = self.kid
        out.update(self.binding.to_jwk_members())
        return out

    def to_pem(self, *, private: bool = False) -> bytes:
        """PKCS#8 (private) or SubjectPublicKeyInfo (public) PEM."""
        material = Material(self._public_jwk, self._private_jwk, self._verifier, self._signer,
                            self._crypto)  # fmt: skip
        return pem_of(self.kty, material, private=private)

    def save(self, path: str | os.PathLike[str], *, private: bool = True) -> None:
        """Write the JWK as JSON; files holding secrets get mode 0600."""
        text = json.dumps(self.to_jwk(private=private), indent=2) + "\n"
        secret = private or self.kty == "oct"
        mode = 0o600 if secret else 0o644
        fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        kind = "secret" if self.kty == "oct" else ("private" if self.has_private else "public")
        return f"Key(alg={self.alg.value!r}, kid={self.kid!r}, {kind})"
