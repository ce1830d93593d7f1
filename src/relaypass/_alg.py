"""JWS algorithms (RFC 7518, RFC 8037): one signer/verifier object per key.

The implementation for a key is chosen once, when the key is built; the hot
path only calls :meth:`verify`. Each verifier checks the exact signature
length of its algorithm before any arithmetic.

- HMAC runs on precomputed inner/outer pad states (two SHA-2 state copies per
  tag instead of re-keying), compared in constant time.
- EdDSA verifies through libsodium (PyNaCl), which refuses non-canonical ``S``
  (``S >= L``) and small-order keys and ``R`` points.
- ECDSA takes the fixed-width ``r || s`` form (IEEE P1363) and refuses
  ``r`` or ``s`` outside ``[1, n-1]`` before OpenSSL sees them. Both ``s`` and
  ``n - s`` verify, as every peer implementation accepts both; see
  :mod:`relaypass._tokens` for why token identity never depends on signature
  bytes.
- RSA uses OpenSSL through ``cryptography``; PSS salt length equals the hash
  length, as RFC 7518 section 3.5 requires.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)


class Algorithm(enum.StrEnum):
    """The JWS algorithms relaypass signs and verifies. Nothing else is accepted."""

    HS256 = "HS256"
    HS384 = "HS384"
    HS512 = "HS512"
    RS256 = "RS256"
    RS384 = "RS384"
    RS512 = "RS512"
    PS256 = "PS256"
    PS384 = "PS384"
    PS512 = "PS512"
    ES256 = "ES256"
    ES384 = "ES384"
    EdDSA = "EdDSA"


@dataclass(frozen=True, slots=True)
class AlgorithmInfo:
    """Static facts about an algorithm."""

    kty: str
    hash_name: str  # "sha256" | "sha384" | "sha512"; "" for EdDSA
    curve: str = ""  # "P-256" | "P-384" | "Ed25519"
    coordinate_bytes: int = 0  # EC field element size


ALGORITHMS: dict[Algorithm, AlgorithmInfo] = {
    Algorithm.HS256: AlgorithmInfo("oct", "sha256"),
    Algorithm.HS384: AlgorithmInfo("oct", "sha384"),
    Algorithm.HS512: AlgorithmInfo("oct", "sha512"),
    Algorithm.RS256: AlgorithmInfo("RSA", "sha256"),
    Algorithm.RS384: AlgorithmInfo("RSA", "sha384"),
    Algorithm.RS512: AlgorithmInfo("RSA", "sha512"),
    Algorithm.PS256: AlgorithmInfo("RSA", "sha256"),
    Algorithm.PS384: AlgorithmInfo("RSA", "sha384"),
    Algorithm.PS512: AlgorithmInfo("RSA", "sha512"),
    Algorithm.ES256: AlgorithmInfo("EC", "sha256", "P-256", 32),
    Algorithm.ES384: AlgorithmInfo("EC", "sha384", "P-384", 48),
    Algorithm.EdDSA: AlgorithmInfo("OKP", "", "Ed25519"),
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_DIGEST_SIZE = {"sha256": 32, "sha384": 48, "sha512": 64}
EC_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
_EC_ORDER = {
    "P-256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "P-384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}


def min_hmac_secret_bytes(alg: Algorithm) -> int:
    """RFC 7518 section 3.2: a secret at least as long as the hash output."""
    return _DIGEST_SIZE[ALGORITHMS[alg].hash_name]


class Signer(Protocol):
    """Signs a JWS signing input."""

    def sign(self, message: bytes) -> bytes:
        """Return the JWS signature bytes."""
        ...


class Verifier(Protocol):
    """Verifies a JWS signature."""

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is valid for ``message``."""
        ...


class HMACImpl:
    """HMAC-SHA-2 with precomputed pad states."""

    __slots__ = ("_inner", "_outer", "_size")

    def __init__(self, secret: bytes, hash_name: str) -> None:
        block = hashlib.new(hash_name).block_size
        if len(secret) > block:
            secret = hashlib.new(hash_name, secret).digest()
        secret = secret.ljust(block, b"\x00")
        self._inner = hashlib.new(hash_name, bytes(b ^ 0x36 for b in secret))
        self._outer = hashlib.new(hash_name, bytes(b ^ 0x5C for b in secret))
        self._size = self._inner.digest_size

    def sign(self, message: bytes) -> bytes:
        """The full-length tag."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Constant-time comparison with the full-length tag; no truncation."""
        if len(signature) != self._size:
            return False
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return hmac.compare_digest(outer.digest(), signature)


class RSAVerifierImpl:
    """RSASSA-PKCS1-v1_5 or RSASSA-PSS verification."""

    __slots__ = ("_hash", "_key", "_padding", "_size")

    def __init__(self, key: rsa.RSAPublicKey, hash_name: str, *, pss: bool) -> None:
        self._key = key
        self._hash = _HASHES[hash_name]()
        self._size = (key.key_size + 7) // 8
        self._padding: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(self._hash), salt_length=_DIGEST_SIZE[hash_name])
            if pss
            else padding.PKCS1v15()
        )

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Exact modulus-length signatures only."""
        if len(signature) != self._size:
            return False
        try:
            self._key.verify(signature, message, self._padding, self._hash)
        except InvalidSignature:
            return False
        return True


class RSASignerImpl:
    """RSASSA-PKCS1-v1_5 or RSASSA-PSS signing."""

    __slots__ = ("_hash", "_key", "_padding")

    def __init__(self, key: rsa.RSAPrivateKey, hash_name: str, *, pss: bool) -> None:
        self._key = key
        self._hash = _HASHES[hash_name]()
        self._padding: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(self._hash), salt_length=_DIGEST_SIZE[hash_name])
            if pss
            else padding.PKCS1v15()
        )

    def sign(self, message: bytes) -> bytes:
        """A modulus-length signature."""
        return self._key.sign(message, self._padding, self._hash)


class ECVerifierImpl:
    """ECDSA over P-256/P-384 with IEEE P1363 signatures."""

    __slots__ = ("_algorithm", "_key", "_n", "_width")

    def __init__(self, key: ec.EllipticCurvePublicKey, curve: str, hash_name: str) -> None:
        self._key = key
        self._algorithm = ec.ECDSA(_HASHES[hash_name]())
        self._width = 32 if curve == "P-256" else 48
        self._n = _EC_ORDER[curve]

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Refuses wrong length and ``r``/``s`` outside ``[1, n-1]``."""
        width = self._width
        if len(signature) != 2 * width:
            return False
        r = int.from_bytes(signature[:width], "big")
        s = int.from_bytes(signature[width:], "big")
        n = self._n
        if not (0 < r < n and 0 < s < n):
            return False
        try:
            self._key.verify(encode_dss_signature(r, s), message, self._algorithm)
        except InvalidSignature:
            return False
        return True


class ECSignerImpl:
    """ECDSA signing to IEEE P1363 form."""

    __slots__ = ("_algorithm", "_key", "_width")

    def __init__(self, key: ec.EllipticCurvePrivateKey, curve: str, hash_name: str) -> None:
        self._key = key
        self._algorithm = ec.ECDSA(_HASHES[hash_name]())
        self._width = 32 if curve == "P-256" else 48

    def sign(self, message: bytes) -> bytes:
        """Fixed-width ``r || s``."""
        r, s = decode_dss_signature(self._key.sign(message, self._algorithm))
        return r.to_bytes(self._width, "big") + s.to_bytes(self._width, "big")


class EdDSAVerifierImpl:
    """Ed25519 verification through libsodium."""

    __slots__ = ("_public",)

    def __init__(self, public: bytes) -> None:
        self._public = public

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Check with libsodium's ``crypto_sign_open``: strict on ``S`` and small-order points."""
        if len(signature) != 64:  # noqa: PLR2004 - Ed25519 signature size
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, self._public)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


class EdDSASignerImpl:
    """Ed25519 signing through libsodium."""

    __slots__ = ("_secret",)

    def __init__(self, secret64: bytes) -> None:
        self._secret = secret64

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature."""
        return nacl.bindings.crypto_sign(message, self._secret)[:64]
