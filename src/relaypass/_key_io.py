"""A :class:`~relaypass.Key`'s serialization: JWK (RFC 7517) read strictly, PEM in and out.

JWK input is checked against an allow-list of members per key type, its
``alg`` (or the one the caller binds it to), ``use`` and ``key_ops``; the
family's own rules are :mod:`relaypass._key_families`'.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Final, NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from relaypass import _b64
from relaypass._alg import ALGORITHMS, Algorithm
from relaypass._key_families import (
    Material,
    from_crypto,
    from_ed_public,
    from_seed,
    material_from_jwk,
)
from relaypass._keyscope import KeyBinding
from relaypass.errors import InvalidKeyError

__all__ = [
    "MAX_JWK_BYTES",
    "OPS",
    "Parsed",
    "jwk_text",
    "parse_alg",
    "parse_jwk",
    "parse_pem",
    "pem_of",
]

MAX_JWK_BYTES: Final = 64 * 1024
#: What a key may be used for (``key_ops``); a key without the member may do both.
OPS: Final = frozenset({"sign", "verify"})

_COMMON_MEMBERS: Final = frozenset(
    {"kty", "alg", "kid", "use", "key_ops", "ext", "x5c", "x5t", "x5t#S256"}
)
#: ``org``, ``scope`` (moq-token's key scope) and ``iss``: see :mod:`relaypass._keyscope`.
_BINDING_MEMBERS: Final = frozenset({"org", "scope", "iss"})
_MEMBERS: Final = {
    "oct": frozenset({"k"}),
    "RSA": frozenset({"n", "e", "d", "p", "q", "dp", "dq", "qi"}),
    "EC": frozenset({"crv", "x", "y", "d"}),
    "OKP": frozenset({"crv", "x", "d"}),
}
#: Key types for which the curve names exactly one algorithm: a JWK of one of these may
#: omit ``alg`` (jose, joserfc and authlib export them so).
_ONLY_ALG: Final = {
    ("OKP", "Ed25519"): Algorithm.EdDSA,
    ("EC", "P-256"): Algorithm.ES256,
    ("EC", "P-384"): Algorithm.ES384,
}
#: RFC 9864's fully specified name for EdDSA over Ed25519.
_ALG_ALIASES: Final = {"Ed25519": Algorithm.EdDSA}


class Parsed(NamedTuple):
    """A JWK, read: its algorithm, kid, allowed operations and material."""

    alg: Algorithm
    kid: str | None
    ops: frozenset[str]
    binding: KeyBinding
    material: Material


def parse_jwk(jwk: Mapping[str, object] | str | bytes, alg: str | None) -> Parsed:
    """Read a JWK object (or its JSON text) strictly."""
    obj = jwk_object(jwk)
    kty = obj.get("kty")
    if not isinstance(kty, str) or kty not in _MEMBERS:
        msg = "JWK kty must be one of oct, RSA, EC, OKP"
        raise InvalidKeyError(msg)
    unknown = set(obj) - _COMMON_MEMBERS - _BINDING_MEMBERS - _MEMBERS[kty]
    if unknown:
        msg = f"JWK has members not allowed for kty {kty}: {sorted(unknown)}"
        raise InvalidKeyError(msg)
    algorithm = _jwk_alg(obj, alg)
    if ALGORITHMS[algorithm].kty != kty:
        msg = f"algorithm {algorithm} does not fit kty {kty}"
        raise InvalidKeyError(msg)
    kid = obj.get("kid")
    if kid is not None and not isinstance(kid, str):
        msg = "JWK kid must be a string"
        raise InvalidKeyError(msg)
    ops = _jwk_ops(obj)
    binding = KeyBinding.from_jwk(obj)
    return Parsed(algorithm, kid, ops, binding, material_from_jwk(algorithm, kty, obj))


def jwk_object(jwk: Mapping[str, object] | str | bytes) -> Mapping[str, object]:
    """A JWK as a mapping: given so, or parsed from strict JSON of bounded size."""
    if isinstance(jwk, Mapping):
        return jwk
    from relaypass import _json  # noqa: PLC0415 - avoid an import cycle at module load

    raw = jwk.encode("utf-8") if isinstance(jwk, str) else jwk
    if len(raw) > MAX_JWK_BYTES:
        msg = "JWK too large"
        raise InvalidKeyError(msg)
    try:
        return _json.loads_object(raw)
    except ValueError:
        msg = "JWK is not a strict JSON object"
        raise InvalidKeyError(msg) from None


def jwk_text(text: str) -> str | bytes:
    """A key file's JWK: JWK JSON, or base64url-encoded JWK JSON."""
    stripped = text.strip()
    if len(stripped) > MAX_JWK_BYTES:
        msg = "key file too large"
        raise InvalidKeyError(msg)
    if stripped.startswith("{"):
        return stripped
    try:
        padded = stripped + "=" * (-len(stripped) % 4)
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        msg = "key file is neither JWK JSON nor base64url-encoded JWK JSON"
        raise InvalidKeyError(msg) from None


def parse_alg(alg: object) -> Algorithm:
    """One of the supported algorithms, by value or name."""
    if isinstance(alg, Algorithm):
        return alg
    if isinstance(alg, str):
        try:
            return Algorithm(alg)
        except ValueError:
            pass
    msg = "unsupported algorithm"
    raise InvalidKeyError(msg)


def parse_pem(data: bytes | str, alg: Algorithm) -> Material:
    """A PKCS#8 private key or SubjectPublicKeyInfo public key, for ``alg``."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    loaded: object
    try:
        if b"PRIVATE KEY" in raw:
            loaded = serialization.load_pem_private_key(raw, password=None)
        else:
            loaded = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError):
        msg = "not a supported PEM key"
        raise InvalidKeyError(msg) from None
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        seed = loaded.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        _expect(alg, "OKP")
        return from_seed(seed)
    if isinstance(loaded, ed25519.Ed25519PublicKey):
        public = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        _expect(alg, "OKP")
        return from_ed_public(public)
    if isinstance(loaded, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return from_crypto(_expect(alg, "RSA"), loaded)
    if isinstance(loaded, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return from_crypto(_expect(alg, "EC"), loaded)
    msg = "unsupported PEM key type"
    raise InvalidKeyError(msg)


def pem_of(kty: str, material: Material, *, private: bool) -> bytes:
    """PKCS#8 (private) or SubjectPublicKeyInfo (public) PEM."""
    if kty == "oct":
        msg = "an HMAC key has no PEM form"
        raise InvalidKeyError(msg)
    crypto: object = material.crypto
    if kty == "OKP":
        if private:
            if material.private_jwk is None:
                msg = "this key holds no private material"
                raise InvalidKeyError(msg)
            crypto = ed25519.Ed25519PrivateKey.from_private_bytes(
                _b64.b64decode(material.private_jwk["d"])
            )
        else:
            crypto = ed25519.Ed25519PublicKey.from_public_bytes(
                _b64.b64decode(material.public_jwk["x"])
            )
    if private:
        if not isinstance(
            crypto,
            rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
        ):
            msg = "this key holds no private material"
            raise InvalidKeyError(msg)
        return crypto.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    if isinstance(
        crypto, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        crypto = crypto.public_key()
    if not isinstance(
        crypto, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    ):  # pragma: no cover - every asymmetric key has one of these
        msg = "unsupported key"
        raise InvalidKeyError(msg)
    return crypto.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _expect(alg: Algorithm, kty: str) -> Algorithm:
    if ALGORITHMS[alg].kty != kty:
        msg = f"algorithm {alg} does not fit a {kty} key"
        raise InvalidKeyError(msg)
    return alg


def _jwk_alg(obj: Mapping[str, object], alg: str | None) -> Algorithm:
    declared = obj.get("alg")
    if isinstance(declared, str) and declared in _ALG_ALIASES:
        declared = _ALG_ALIASES[declared]
    if declared is None and alg is None:
        only = _ONLY_ALG.get((str(obj.get("kty")), str(obj.get("crv"))))
        if only is not None:
            return only
        msg = "JWK has no alg; pass the algorithm the key is for"
        raise InvalidKeyError(msg)
    if declared is not None and alg is not None and declared != alg:
        msg = "JWK alg differs from the requested algorithm"
        raise InvalidKeyError(msg)
    return parse_alg(declared if declared is not None else alg)


def _jwk_ops(obj: Mapping[str, object]) -> frozenset[str]:
    use = obj.get("use")
    if use is not None and use != "sig":
        msg = "JWK use must be 'sig'"
        raise InvalidKeyError(msg)
    if "key_ops" not in obj:
        return OPS
    ops = obj["key_ops"]
    if (
        not isinstance(ops, list)
        or not ops
        or not all(isinstance(op, str) for op in ops)
        or len(set(ops)) != len(ops)
        or not set(ops) <= OPS
    ):
        msg = "JWK key_ops must be a non-empty list drawn from 'sign' and 'verify'"
        raise InvalidKeyError(msg)
    return frozenset(str(op) for op in ops)
