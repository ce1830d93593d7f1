"""The algorithm families of a :class:`~relaypass.Key`: HMAC, Ed25519, ECDSA, RSA.

Each builder checks its family's rules (sizes, points on the curve, private
halves that match their public ones, RSA bounds and the ROCA fingerprint) and
returns the key's :class:`Material`: its JWK members, its verifier and signer,
and the ``cryptography`` object where there is one. :class:`~relaypass.Key`
assembles a key from it; nothing here knows that class.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final, NamedTuple

import nacl.bindings
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from relaypass import _b64
from relaypass._alg import (
    ALGORITHMS,
    EC_CURVES,
    Algorithm,
    ECSignerImpl,
    ECVerifierImpl,
    EdDSASignerImpl,
    EdDSAVerifierImpl,
    HMACImpl,
    RSASignerImpl,
    RSAVerifierImpl,
    Signer,
    Verifier,
    min_hmac_secret_bytes,
)
from relaypass.errors import InvalidKeyError

__all__ = [
    "MAX_RSA_BITS",
    "MIN_RSA_BITS",
    "CryptoKey",
    "Material",
    "from_crypto",
    "from_ed_public",
    "from_secret",
    "from_seed",
    "generate",
    "jwk_field",
    "material_from_jwk",
]

MIN_RSA_BITS: Final = 2048
MAX_RSA_BITS: Final = 8192
_RSA_PRIVATE: Final = ("d", "p", "q", "dp", "dq", "qi")

CryptoKey = (
    rsa.RSAPrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey
)


class Material(NamedTuple):
    """What a key is made of, checked."""

    public_jwk: dict[str, str]
    private_jwk: dict[str, str] | None
    verifier: Verifier
    signer: Signer | None
    crypto: object


# ROCA (CVE-2017-15361) fingerprint: a vulnerable modulus is, modulo each of
# these primes, a power of 65537. A random modulus passes all of them with
# negligible probability.
_ROCA_PRIMES = (
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
    79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
)  # fmt: skip


def _powers_of_65537(p: int) -> frozenset[int]:
    out = {1}
    g = 65537 % p
    x = g
    while x != 1:
        out.add(x)
        x = (x * g) % p
    return frozenset(out)


_ROCA_SUBGROUPS = tuple((p, _powers_of_65537(p)) for p in _ROCA_PRIMES)


def _is_roca_modulus(n: int) -> bool:
    return all(n % p in group for p, group in _ROCA_SUBGROUPS)


def generate(alg: Algorithm) -> Material:
    """Fresh material for ``alg`` (RSA keys are 2048-bit, exponent 65537)."""
    info = ALGORITHMS[alg]
    if info.kty == "oct":
        return from_secret(alg, secrets.token_bytes(min_hmac_secret_bytes(alg)))
    if info.kty == "RSA":
        return from_crypto(alg, rsa.generate_private_key(65537, MIN_RSA_BITS))
    if info.kty == "EC":
        return from_crypto(alg, ec.generate_private_key(EC_CURVES[info.curve]))
    return from_seed(secrets.token_bytes(32))


def material_from_jwk(alg: Algorithm, kty: str, obj: Mapping[str, object]) -> Material:
    """The material a JWK's members describe, for its key type."""
    if kty == "oct":
        return from_secret(alg, jwk_field(obj, "k"))
    if kty == "OKP":
        return _okp_from_jwk(obj)
    if kty == "EC":
        return _ec_from_jwk(alg, obj)
    return _rsa_from_jwk(alg, obj)


def from_secret(alg: Algorithm, secret: bytes) -> Material:
    """An HMAC secret, at least as long as its hash."""
    if len(secret) < min_hmac_secret_bytes(alg):
        msg = f"{alg} secret must be at least {min_hmac_secret_bytes(alg)} bytes"
        raise InvalidKeyError(msg)
    impl = HMACImpl(secret, ALGORITHMS[alg].hash_name)
    jwk = {"kty": "oct", "k": _b64.b64encode(secret)}
    return Material(jwk, jwk, impl, impl, None)


def from_seed(seed: bytes) -> Material:
    """An Ed25519 private key from its 32-byte seed."""
    public, secret64 = nacl.bindings.crypto_sign_seed_keypair(seed)
    public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64.b64encode(public)}
    return Material(
        public_jwk,
        {**public_jwk, "d": _b64.b64encode(seed)},
        EdDSAVerifierImpl(public),
        EdDSASignerImpl(secret64),
        None,
    )


def from_ed_public(public: bytes) -> Material:
    """An Ed25519 public key; an encoding that is not a point on the curve is refused."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        msg = "Ed25519 public key is not a valid point"
        raise InvalidKeyError(msg) from None
    public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64.b64encode(public)}
    return Material(public_jwk, None, EdDSAVerifierImpl(public), None, None)


def _okp_from_jwk(obj: Mapping[str, object]) -> Material:
    if obj.get("crv") != "Ed25519":
        msg = "OKP keys must use crv Ed25519"
        raise InvalidKeyError(msg)
    public = jwk_field(obj, "x")
    if len(public) != 32:  # noqa: PLR2004 - Ed25519 key size
        msg = "Ed25519 x must be 32 bytes"
        raise InvalidKeyError(msg)
    if "d" not in obj:
        return from_ed_public(public)
    seed = jwk_field(obj, "d")
    if len(seed) != 32:  # noqa: PLR2004 - Ed25519 seed size
        msg = "Ed25519 d must be 32 bytes"
        raise InvalidKeyError(msg)
    material = from_seed(seed)
    if material.public_jwk["x"] != obj["x"]:
        msg = "Ed25519 d does not match x"
        raise InvalidKeyError(msg)
    return material


def _ec_from_jwk(alg: Algorithm, obj: Mapping[str, object]) -> Material:
    info = ALGORITHMS[alg]
    if obj.get("crv") != info.curve:
        msg = f"{alg} requires crv {info.curve}"
        raise InvalidKeyError(msg)
    width = info.coordinate_bytes
    x, y = jwk_field(obj, "x"), jwk_field(obj, "y")
    if len(x) != width or len(y) != width:
        msg = f"EC coordinates must be {width} bytes"
        raise InvalidKeyError(msg)
    curve = EC_CURVES[info.curve]
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
    )
    try:
        public = numbers.public_key()
    except ValueError:
        msg = "EC point is not on the curve"
        raise InvalidKeyError(msg) from None
    if "d" not in obj:
        return from_crypto(alg, public)
    d_bytes = jwk_field(obj, "d")
    if len(d_bytes) != width:
        msg = f"EC d must be {width} bytes"
        raise InvalidKeyError(msg)
    try:
        private = ec.derive_private_key(int.from_bytes(d_bytes, "big"), curve)
    except ValueError:
        msg = "EC d is out of range"
        raise InvalidKeyError(msg) from None
    if private.public_key().public_numbers() != numbers:
        msg = "EC d does not match x, y"
        raise InvalidKeyError(msg)
    return from_crypto(alg, private)


def _rsa_from_jwk(alg: Algorithm, obj: Mapping[str, object]) -> Material:
    public_numbers = rsa.RSAPublicNumbers(_uint(obj, "e"), _uint(obj, "n"))
    present = [name for name in _RSA_PRIVATE if name in obj]
    if not present:
        try:
            public = public_numbers.public_key()
        except ValueError:
            msg = "RSA public numbers are invalid"
            raise InvalidKeyError(msg) from None
        return from_crypto(alg, public)
    if len(present) != len(_RSA_PRIVATE):
        msg = "an RSA private JWK needs all of d, p, q, dp, dq, qi"
        raise InvalidKeyError(msg)
    private_numbers = rsa.RSAPrivateNumbers(
        p=_uint(obj, "p"),
        q=_uint(obj, "q"),
        d=_uint(obj, "d"),
        dmp1=_uint(obj, "dp"),
        dmq1=_uint(obj, "dq"),
        iqmp=_uint(obj, "qi"),
        public_numbers=public_numbers,
    )
    try:
        private = private_numbers.private_key()
    except ValueError:
        msg = "RSA private numbers are inconsistent"
        raise InvalidKeyError(msg) from None
    return from_crypto(alg, private)


def from_crypto(alg: Algorithm, key: CryptoKey) -> Material:
    """An RSA or EC key held by ``cryptography``, checked for ``alg``."""
    info = ALGORITHMS[alg]
    signer: Signer | None = None
    private_jwk: dict[str, str] | None = None
    verifier: Verifier
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        public_rsa = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
        pn = public_rsa.public_numbers()
        _check_rsa(pn.n, pn.e)
        pss = alg.startswith("PS")
        verifier = RSAVerifierImpl(public_rsa, info.hash_name, pss=pss)
        public_jwk = {"kty": "RSA", "n": _int_to_b64(pn.n), "e": _int_to_b64(pn.e)}
        if isinstance(key, rsa.RSAPrivateKey):
            signer = RSASignerImpl(key, info.hash_name, pss=pss)
            sn = key.private_numbers()
            private_jwk = {
                **public_jwk,
                "d": _int_to_b64(sn.d),
                "p": _int_to_b64(sn.p),
                "q": _int_to_b64(sn.q),
                "dp": _int_to_b64(sn.dmp1),
                "dq": _int_to_b64(sn.dmq1),
                "qi": _int_to_b64(sn.iqmp),
            }
    else:
        if key.curve.name != EC_CURVES[info.curve].name:
            msg = f"{alg} requires curve {info.curve}"
            raise InvalidKeyError(msg)
        public_ec = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
        en = public_ec.public_numbers()
        width = info.coordinate_bytes
        verifier = ECVerifierImpl(public_ec, info.curve, info.hash_name)
        public_jwk = {
            "kty": "EC",
            "crv": info.curve,
            "x": _int_to_b64(en.x, width),
            "y": _int_to_b64(en.y, width),
        }
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signer = ECSignerImpl(key, info.curve, info.hash_name)
            private_jwk = {
                **public_jwk,
                "d": _int_to_b64(key.private_numbers().private_value, width),
            }
    return Material(public_jwk, private_jwk, verifier, signer, key)


def jwk_field(jwk: Mapping[str, object], name: str) -> bytes:
    """A JWK member's bytes: a non-empty, canonical base64url string."""
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        msg = f"JWK member {name!r} must be a non-empty base64url string"
        raise InvalidKeyError(msg)
    try:
        return _b64.b64decode(value)
    except ValueError:
        msg = f"JWK member {name!r} is not canonical base64url"
        raise InvalidKeyError(msg) from None


def _uint(jwk: Mapping[str, object], name: str) -> int:
    return int.from_bytes(jwk_field(jwk, name), "big")


def _int_to_b64(value: int, width: int | None = None) -> str:
    size = width if width is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64.b64encode(value.to_bytes(size, "big"))


def _check_rsa(n: int, e: int) -> None:
    bits = n.bit_length()
    if bits < MIN_RSA_BITS or bits > MAX_RSA_BITS:
        msg = f"RSA modulus must be {MIN_RSA_BITS}-{MAX_RSA_BITS} bits"
        raise InvalidKeyError(msg)
    if e < 3 or e % 2 == 0 or e.bit_length() > 32:  # noqa: PLR2004 - RFC 8017 bounds
        msg = "RSA public exponent is not allowed"
        raise InvalidKeyError(msg)
    if _is_roca_modulus(n):
        msg = "RSA modulus has the ROCA fingerprint (CVE-2017-15361)"
        raise InvalidKeyError(msg)
