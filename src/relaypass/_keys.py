"""Signing and verifying keys: JWK (RFC 7517) and PEM in and out, kid, generate.

A :class:`Key` is bound to exactly one algorithm (RFC 8725 section 3.1): the
algorithm comes from the key, never from a token header. JWK input is parsed
strictly against an allow-list of members per key type; every size and
consistency rule is checked when the key is built, so the hot path trusts it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final, final

import nacl.bindings
from cryptography.hazmat.primitives import serialization
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
from relaypass._keyscope import NO_BINDING, KeyBinding
from relaypass.errors import InvalidKeyError

__all__ = ["KID_PATTERN", "Key", "is_valid_kid"]

#: What a key id may look like: 1-128 characters of ``[A-Za-z0-9_-]``.
KID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
MIN_RSA_BITS: Final = 2048
MAX_RSA_BITS: Final = 8192
MAX_JWK_BYTES: Final = 64 * 1024

_COMMON_MEMBERS = frozenset(
    {"kty", "alg", "kid", "use", "key_ops", "ext", "x5c", "x5t", "x5t#S256"}
)
#: ``org``, ``scope`` (moq-token's key scope) and ``iss``: see :mod:`relaypass._keyscope`.
_BINDING_MEMBERS = frozenset({"org", "scope", "iss"})
_MEMBERS = {
    "oct": frozenset({"k"}),
    "RSA": frozenset({"n", "e", "d", "p", "q", "dp", "dq", "qi"}),
    "EC": frozenset({"crv", "x", "y", "d"}),
    "OKP": frozenset({"crv", "x", "d"}),
}
_RSA_PRIVATE = ("d", "p", "q", "dp", "dq", "qi")
_OPS = frozenset({"sign", "verify"})

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


def is_valid_kid(kid: object) -> bool:
    """Whether ``kid`` is a string of 1-128 ``[A-Za-z0-9_-]`` characters."""
    return isinstance(kid, str) and KID_PATTERN.fullmatch(kid) is not None


def _fail(reason: str) -> InvalidKeyError:
    return InvalidKeyError(reason)


def _field(jwk: Mapping[str, object], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        msg = f"JWK member {name!r} must be a non-empty base64url string"
        raise _fail(msg)
    try:
        return _b64.b64decode(value)
    except ValueError:
        msg = f"JWK member {name!r} is not canonical base64url"
        raise _fail(msg) from None


def _uint(jwk: Mapping[str, object], name: str) -> int:
    return int.from_bytes(_field(jwk, name), "big")


def _int_to_b64(value: int, width: int | None = None) -> str:
    size = width if width is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64.b64encode(value.to_bytes(size, "big"))


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
        self,
        *,
        alg: Algorithm,
        kid: str | None,
        public_jwk: dict[str, str],
        private_jwk: dict[str, str] | None,
        verifier: Verifier,
        signer: Signer | None,
        ops: frozenset[str],
        crypto: object,
    ) -> None:
        """Internal: use the class methods."""
        self.alg = alg
        self.kty = ALGORITHMS[alg].kty
        self._public_jwk = public_jwk
        self._private_jwk = private_jwk
        self._verifier = verifier
        self._signer = signer
        self._can_sign = signer is not None and "sign" in ops
        self._can_verify = "verify" in ops
        self._crypto = crypto
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
        algorithm = _parse_alg(alg)
        info = ALGORITHMS[algorithm]
        if info.kty == "oct":
            secret = secrets.token_bytes(min_hmac_secret_bytes(algorithm))
            return cls._from_secret(algorithm, secret, kid, _OPS)
        if info.kty == "RSA":
            return cls._from_crypto(
                algorithm, rsa.generate_private_key(65537, MIN_RSA_BITS), kid, _OPS
            )
        if info.kty == "EC":
            return cls._from_crypto(
                algorithm, ec.generate_private_key(EC_CURVES[info.curve]), kid, _OPS
            )
        return cls._from_seed(algorithm, secrets.token_bytes(32), kid, _OPS)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object] | str | bytes, *, alg: str | None = None) -> Key:
        """Parse a JWK object (or its JSON text) strictly.

        ``alg`` binds a JWK that carries no ``alg`` member; when both are given
        they must agree.
        """
        obj = _jwk_object(jwk)
        kty = obj.get("kty")
        if not isinstance(kty, str) or kty not in _MEMBERS:
            msg = "JWK kty must be one of oct, RSA, EC, OKP"
            raise _fail(msg)
        unknown = set(obj) - _COMMON_MEMBERS - _BINDING_MEMBERS - _MEMBERS[kty]
        if unknown:
            msg = f"JWK has members not allowed for kty {kty}: {sorted(unknown)}"
            raise _fail(msg)
        algorithm = _jwk_alg(obj, alg)
        if ALGORITHMS[algorithm].kty != kty:
            msg = f"algorithm {algorithm} does not fit kty {kty}"
            raise _fail(msg)
        kid_value = obj.get("kid")
        if kid_value is not None and not isinstance(kid_value, str):
            msg = "JWK kid must be a string"
            raise _fail(msg)
        ops = _jwk_ops(obj)
        binding = KeyBinding.from_jwk(obj)
        if kty == "oct":
            key = cls._from_secret(algorithm, _field(obj, "k"), kid_value, ops)
        elif kty == "OKP":
            key = cls._okp_from_jwk(algorithm, obj, kid_value, ops)
        elif kty == "EC":
            key = cls._ec_from_jwk(algorithm, obj, kid_value, ops)
        else:
            key = cls._rsa_from_jwk(algorithm, obj, kid_value, ops)
        key.binding = binding
        return key

    @classmethod
    def from_pem(cls, data: bytes | str, alg: Algorithm | str, *, kid: str | None = None) -> Key:
        """Import a PKCS#8 private key or SubjectPublicKeyInfo public key."""
        algorithm = _parse_alg(alg)
        raw = data.encode("ascii") if isinstance(data, str) else data
        loaded: object
        try:
            if b"PRIVATE KEY" in raw:
                loaded = serialization.load_pem_private_key(raw, password=None)
            else:
                loaded = serialization.load_pem_public_key(raw)
        except (ValueError, TypeError):
            msg = "not a supported PEM key"
            raise _fail(msg) from None
        if isinstance(loaded, ed25519.Ed25519PrivateKey):
            seed = loaded.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            return cls._from_seed(_expect(algorithm, "OKP"), seed, kid, _OPS)
        if isinstance(loaded, ed25519.Ed25519PublicKey):
            public = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cls._from_ed_public(_expect(algorithm, "OKP"), public, kid, _OPS)
        if isinstance(loaded, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            return cls._from_crypto(_expect(algorithm, "RSA"), loaded, kid, _OPS)
        if isinstance(loaded, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            return cls._from_crypto(_expect(algorithm, "EC"), loaded, kid, _OPS)
        msg = "unsupported PEM key type"
        raise _fail(msg)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Key:
        """Read a key file: JWK JSON, base64url-encoded JWK JSON, or PEM (with ``alg``)."""
        text = Path(path).read_text(encoding="utf-8")
        return cls.parse(text)

    @classmethod
    def parse(cls, text: str) -> Key:
        """Parse key file contents: JWK JSON or base64url-encoded JWK JSON."""
        stripped = text.strip()
        if len(stripped) > MAX_JWK_BYTES:
            msg = "key file too large"
            raise _fail(msg)
        if stripped.startswith("{"):
            return cls.from_jwk(stripped)
        try:
            padded = stripped + "=" * (-len(stripped) % 4)
            decoded = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            msg = "key file is neither JWK JSON nor base64url-encoded JWK JSON"
            raise _fail(msg) from None
        return cls.from_jwk(decoded)

    # ------------------------------------------------------------- internals

    @classmethod
    def _from_secret(
        cls, alg: Algorithm, secret: bytes, kid: str | None, ops: frozenset[str]
    ) -> Key:
        if len(secret) < min_hmac_secret_bytes(alg):
            msg = f"{alg} secret must be at least {min_hmac_secret_bytes(alg)} bytes"
            raise _fail(msg)
        impl = HMACImpl(secret, ALGORITHMS[alg].hash_name)
        jwk = {"kty": "oct", "k": _b64.b64encode(secret)}
        return cls(
            alg=alg,
            kid=kid,
            public_jwk=jwk,
            private_jwk=jwk,
            verifier=impl,
            signer=impl,
            ops=ops,
            crypto=None,
        )

    @classmethod
    def _from_seed(cls, alg: Algorithm, seed: bytes, kid: str | None, ops: frozenset[str]) -> Key:
        public, secret64 = nacl.bindings.crypto_sign_seed_keypair(seed)
        public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64.b64encode(public)}
        return cls(
            alg=alg,
            kid=kid,
            public_jwk=public_jwk,
            private_jwk={**public_jwk, "d": _b64.b64encode(seed)},
            verifier=EdDSAVerifierImpl(public),
            signer=EdDSASignerImpl(secret64),
            ops=ops,
            crypto=None,
        )

    @classmethod
    def _from_ed_public(
        cls, alg: Algorithm, public: bytes, kid: str | None, ops: frozenset[str]
    ) -> Key:
        try:
            # Refuses encodings that are not points on the curve.
            ed25519.Ed25519PublicKey.from_public_bytes(public)
        except ValueError:
            msg = "Ed25519 public key is not a valid point"
            raise _fail(msg) from None
        return cls(
            alg=alg,
            kid=kid,
            public_jwk={"kty": "OKP", "crv": "Ed25519", "x": _b64.b64encode(public)},
            private_jwk=None,
            verifier=EdDSAVerifierImpl(public),
            signer=None,
            ops=ops - {"sign"},
            crypto=None,
        )

    @classmethod
    def _okp_from_jwk(
        cls, alg: Algorithm, obj: Mapping[str, object], kid: str | None, ops: frozenset[str]
    ) -> Key:
        if obj.get("crv") != "Ed25519":
            msg = "OKP keys must use crv Ed25519"
            raise _fail(msg)
        public = _field(obj, "x")
        if len(public) != 32:  # noqa: PLR2004 - Ed25519 key size
            msg = "Ed25519 x must be 32 bytes"
            raise _fail(msg)
        if "d" not in obj:
            return cls._from_ed_public(alg, public, kid, ops)
        seed = _field(obj, "d")
        if len(seed) != 32:  # noqa: PLR2004 - Ed25519 seed size
            msg = "Ed25519 d must be 32 bytes"
            raise _fail(msg)
        key = cls._from_seed(alg, seed, kid, ops)
        if key._public_jwk["x"] != obj["x"]:  # noqa: SLF001 - same class
            msg = "Ed25519 d does not match x"
            raise _fail(msg)
        return key

    @classmethod
    def _ec_from_jwk(
        cls, alg: Algorithm, obj: Mapping[str, object], kid: str | None, ops: frozenset[str]
    ) -> Key:
        info = ALGORITHMS[alg]
        if obj.get("crv") != info.curve:
            msg = f"{alg} requires crv {info.curve}"
            raise _fail(msg)
        width = info.coordinate_bytes
        x, y = _field(obj, "x"), _field(obj, "y")
        if len(x) != width or len(y) != width:
            msg = f"EC coordinates must be {width} bytes"
            raise _fail(msg)
        curve = EC_CURVES[info.curve]
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        )
        try:
            public = numbers.public_key()
        except ValueError:
            msg = "EC point is not on the curve"
            raise _fail(msg) from None
        if "d" not in obj:
            return cls._from_crypto(alg, public, kid, ops)
        d_bytes = _field(obj, "d")
        if len(d_bytes) != width:
            msg = f"EC d must be {width} bytes"
            raise _fail(msg)
        try:
            private = ec.derive_private_key(int.from_bytes(d_bytes, "big"), curve)
        except ValueError:
            msg = "EC d is out of range"
            raise _fail(msg) from None
        if private.public_key().public_numbers() != numbers:
            msg = "EC d does not match x, y"
            raise _fail(msg)
        return cls._from_crypto(alg, private, kid, ops)

    @classmethod
    def _rsa_from_jwk(
        cls, alg: Algorithm, obj: Mapping[str, object], kid: str | None, ops: frozenset[str]
    ) -> Key:
        public_numbers = rsa.RSAPublicNumbers(_uint(obj, "e"), _uint(obj, "n"))
        present = [name for name in _RSA_PRIVATE if name in obj]
        if not present:
            try:
                public = public_numbers.public_key()
            except ValueError:
                msg = "RSA public numbers are invalid"
                raise _fail(msg) from None
            return cls._from_crypto(alg, public, kid, ops)
        if len(present) != len(_RSA_PRIVATE):
            msg = "an RSA private JWK needs all of d, p, q, dp, dq, qi"
            raise _fail(msg)
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
            raise _fail(msg) from None
        return cls._from_crypto(alg, private, kid, ops)

    @classmethod
    def _from_crypto(
        cls,
        alg: Algorithm,
        key: rsa.RSAPrivateKey
        | rsa.RSAPublicKey
        | ec.EllipticCurvePrivateKey
        | ec.EllipticCurvePublicKey,
        kid: str | None,
        ops: frozenset[str],
    ) -> Key:
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
                raise _fail(msg)
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
        if signer is None:
            ops -= {"sign"}
        return cls(
            alg=alg,
            kid=kid,
            public_jwk=public_jwk,
            private_jwk=private_jwk,
            verifier=verifier,
            signer=signer,
            ops=ops,
            crypto=key,
        )

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
        if self.kty == "oct":
            msg = "an HMAC key has no PEM form"
            raise _fail(msg)
        crypto: object = self._crypto
        if self.kty == "OKP":
            if private:
                if self._private_jwk is None:
                    msg = "this key holds no private material"
                    raise _fail(msg)
                crypto = ed25519.Ed25519PrivateKey.from_private_bytes(
                    _b64.b64decode(self._private_jwk["d"])
                )
            else:
                crypto = ed25519.Ed25519PublicKey.from_public_bytes(
                    _b64.b64decode(self._public_jwk["x"])
                )
        if private:
            if not isinstance(
                crypto,
                rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
            ):
                msg = "this key holds no private material"
                raise _fail(msg)
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
            raise _fail(msg)
        return crypto.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

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


def _parse_alg(alg: object) -> Algorithm:
    if isinstance(alg, Algorithm):
        return alg
    if isinstance(alg, str):
        try:
            return Algorithm(alg)
        except ValueError:
            pass
    msg = "unsupported algorithm"
    raise _fail(msg)


def _expect(alg: Algorithm, kty: str) -> Algorithm:
    if ALGORITHMS[alg].kty != kty:
        msg = f"algorithm {alg} does not fit a {kty} key"
        raise _fail(msg)
    return alg


def _jwk_object(jwk: Mapping[str, object] | str | bytes) -> Mapping[str, object]:
    if isinstance(jwk, Mapping):
        return jwk
    from relaypass import _json  # noqa: PLC0415 - avoid an import cycle at module load

    raw = jwk.encode("utf-8") if isinstance(jwk, str) else jwk
    if len(raw) > MAX_JWK_BYTES:
        msg = "JWK too large"
        raise _fail(msg)
    try:
        return _json.loads_object(raw)
    except ValueError:
        msg = "JWK is not a strict JSON object"
        raise _fail(msg) from None


#: Key types for which the curve names exactly one algorithm: a JWK of one of these may
#: omit ``alg`` (jose, joserfc and authlib export them so).
_ONLY_ALG: Final = {
    ("OKP", "Ed25519"): Algorithm.EdDSA,
    ("EC", "P-256"): Algorithm.ES256,
    ("EC", "P-384"): Algorithm.ES384,
}
#: RFC 9864's fully specified name for EdDSA over Ed25519.
_ALG_ALIASES: Final = {"Ed25519": Algorithm.EdDSA}


def _jwk_alg(obj: Mapping[str, object], alg: str | None) -> Algorithm:
    declared = obj.get("alg")
    if isinstance(declared, str) and declared in _ALG_ALIASES:
        declared = _ALG_ALIASES[declared]
    if declared is None and alg is None:
        only = _ONLY_ALG.get((str(obj.get("kty")), str(obj.get("crv"))))
        if only is not None:
            return only
        msg = "JWK has no alg; pass the algorithm the key is for"
        raise _fail(msg)
    if declared is not None and alg is not None and declared != alg:
        msg = "JWK alg differs from the requested algorithm"
        raise _fail(msg)
    return _parse_alg(declared if declared is not None else alg)


def _jwk_ops(obj: Mapping[str, object]) -> frozenset[str]:
    use = obj.get("use")
    if use is not None and use != "sig":
        msg = "JWK use must be 'sig'"
        raise _fail(msg)
    if "key_ops" not in obj:
        return _OPS
    ops = obj["key_ops"]
    if (
        not isinstance(ops, list)
        or not ops
        or not all(isinstance(op, str) for op in ops)
        or len(set(ops)) != len(ops)
        or not set(ops) <= _OPS
    ):
        msg = "JWK key_ops must be a non-empty list drawn from 'sign' and 'verify'"
        raise _fail(msg)
    return frozenset(str(op) for op in ops)


def _check_rsa(n: int, e: int) -> None:
    bits = n.bit_length()
    if bits < MIN_RSA_BITS or bits > MAX_RSA_BITS:
        msg = f"RSA modulus must be {MIN_RSA_BITS}-{MAX_RSA_BITS} bits"
        raise _fail(msg)
    if e < 3 or e % 2 == 0 or e.bit_length() > 32:  # noqa: PLR2004 - RFC 8017 bounds
        msg = "RSA public exponent is not allowed"
        raise _fail(msg)
    if _is_roca_modulus(n):
        msg = "RSA modulus has the ROCA fingerprint (CVE-2017-15361)"
        raise _fail(msg)
