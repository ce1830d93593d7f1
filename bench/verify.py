"""Verify and mint cost per algorithm, beside PyJWT, joserfc and the raw primitive.

Run: .venv/bin/python bench/verify.py
"""

from __future__ import annotations

import hmac
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import jwt as pyjwt
import nacl.bindings
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt as jose_jwt
from joserfc.jwk import import_key
from joserfc.jws import JWSRegistry

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us
from relaypass import Key, Minter, VerifiedTokenCache, Verifier, b64decode, sign_jwt

ALGS = ("HS256", "RS256", "ES256", "EdDSA")


def raw_verify(key: Key, token: str) -> Callable[[], object]:
    """The bare primitive over the same signing input, key material prepared once."""
    signing_input, _, sig_b64 = token.rpartition(".")
    message, sig = signing_input.encode(), b64decode(sig_b64)
    jwk = key.to_jwk(private=True)
    if key.alg == "HS256":
        secret = b64decode(str(jwk["k"]))
        return lambda: hmac.compare_digest(hmac.digest(secret, message, "sha256"), sig)
    if key.alg == "EdDSA":
        public = b64decode(str(jwk["x"]))
        return lambda: nacl.bindings.crypto_sign_open(sig + message, public)
    pub = serialization.load_pem_public_key(key.to_pem())
    if isinstance(pub, rsa.RSAPublicKey):
        pad, alg = padding.PKCS1v15(), hashes.SHA256()
        return lambda: pub.verify(sig, message, pad, alg)
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    ecdsa = ec.ECDSA(hashes.SHA256())
    return lambda: pub.verify(der, message, ecdsa)


def raw_sign(key: Key, message: bytes) -> Callable[[], object]:
    jwk = key.to_jwk(private=True)
    if key.alg == "HS256":
        secret = b64decode(str(jwk["k"]))
        return lambda: hmac.digest(secret, message, "sha256")
    if key.alg == "EdDSA":
        _, secret64 = nacl.bindings.crypto_sign_seed_keypair(b64decode(str(jwk["d"])))
        return lambda: nacl.bindings.crypto_sign(message, secret64)
    priv = serialization.load_pem_private_key(key.to_pem(private=True), password=None)
    if isinstance(priv, rsa.RSAPrivateKey):
        pad, alg = padding.PKCS1v15(), hashes.SHA256()
        return lambda: priv.sign(message, pad, alg)
    assert isinstance(priv, ec.EllipticCurvePrivateKey)
    ecdsa = ec.ECDSA(hashes.SHA256())
    return lambda: priv.sign(message, ecdsa)


def pyjwt_key(key: Key, *, private: bool) -> object:
    if key.is_symmetric:
        return pyjwt.PyJWK(key.to_jwk(private=True)).key
    pem = key.to_pem(private=private)
    if private:
        return serialization.load_pem_private_key(pem, password=None)
    return serialization.load_pem_public_key(pem)


Row = tuple[str, float, float, float, float, float, float, float, float, float]


def measure(alg: str, claims: dict[str, object], registry: JWSRegistry) -> Row:
    key = Key.generate(alg, kid="bench-1")
    verify_key = key if key.is_symmetric else key.public()
    token = sign_jwt(claims, key)
    fresh = Verifier(verify_key)
    cached = Verifier(verify_key, cache=VerifiedTokenCache())
    cached.verify(token)
    pj_key: Any = pyjwt_key(key, private=False)
    pj_sign_key: Any = pyjwt_key(key, private=True)
    jose_key = import_key(cast("Any", verify_key.to_jwk(private=key.is_symmetric)))
    minter = Minter(key)
    message = token.rpartition(".")[0].encode()

    def ours() -> object:
        return fresh.verify(token)

    def hit() -> object:
        return cached.verify(token)

    def pj() -> object:
        return pyjwt.decode(token, pj_key, algorithms=[alg])

    def jo() -> object:
        return jose_jwt.decode(token, jose_key, algorithms=[alg], registry=registry)

    def mint() -> object:
        return minter.mint({"sub": "tenant_abc", "ns": ["voice/*"]})

    def sign() -> object:
        return sign_jwt(claims, key)

    def pj_sign() -> object:
        return pyjwt.encode(claims, pj_sign_key, algorithm=alg)

    return (
        alg,
        per_call_us(raw_verify(key, token)),
        per_call_us(ours),
        per_call_us(hit),
        per_call_us(pj),
        per_call_us(jo),
        per_call_us(raw_sign(key, message)),
        per_call_us(sign),
        per_call_us(mint),
        per_call_us(pj_sign),
    )


def main() -> None:
    registry = JWSRegistry(algorithms=list(ALGS))
    now = int(time.time())
    claims = {
        "iss": "clutchcall-bff",
        "sub": "tenant_abc",
        "ns": ["voice/sid_xyz/*", "playback/li_xyz"],
        "iat": now,
        "exp": now + 3600,
        "jti": "e8c1f0a27b3d4e6f9a012c3d4e5f6071",
    }
    rows = [measure(alg, claims, registry) for alg in ALGS]
    print("verify, µs per token (best of 5; lower is better)")
    print(
        f"{'alg':6} {'primitive':>10} {'relaypass':>10} {'x prim':>7} {'cached':>8} "
        f"{'PyJWT':>9} {'PyJWT/us':>9} {'joserfc':>9} {'jose/us':>8}"
    )
    for alg, raw, ours, hit, pj, jo, *_ in rows:
        print(
            f"{alg:6} {raw:10.2f} {ours:10.2f} {ours / raw:7.2f} {hit:8.3f} "
            f"{pj:9.2f} {pj / ours:9.2f} {jo:9.2f} {jo / ours:8.2f}"
        )
    print()
    print("sign, µs per token")
    print(
        f"{'alg':6} {'primitive':>10} {'sign_jwt':>10} {'x prim':>7} {'mint':>8} {'x prim':>7} "
        f"{'PyJWT':>9} {'PyJWT/us':>9}"
    )
    for alg, *_, sign_raw, sign, mint, pj_sign in rows:
        print(
            f"{alg:6} {sign_raw:10.2f} {sign:10.2f} {sign / sign_raw:7.2f} {mint:8.2f} "
            f"{mint / sign_raw:7.2f} {pj_sign:9.2f} {pj_sign / sign:9.2f}"
        )


if __name__ == "__main__":
    main()
