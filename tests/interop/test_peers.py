"""Round trips with PyJWT and joserfc, both ways, for every algorithm."""

from __future__ import annotations

import json
from typing import Any, cast

import jwt as pyjwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet as JoseKeySet
from joserfc.jwk import import_key as jose_import_key
from joserfc.jws import JWSRegistry

from relaypass import Algorithm, ClaimsPolicy, Key, Verifier, sign_jwt
from relaypass.testing import FrozenClock
from tests.conftest import NOW

pytestmark = [
    pytest.mark.interop,
    # joserfc flags "EdDSA" in favour of RFC 9864's "Ed25519"; moq and PyJWT still use "EdDSA".
    pytest.mark.filterwarnings("ignore:EdDSA is deprecated"),
]
ALGS = list(Algorithm)
CLAIMS = {"sub": "tenant_abc", "ns": ["voice/sid_xyz/*"], "exp": int(NOW) + 600, "iat": int(NOW)}
_JOSE_REGISTRY = JWSRegistry(algorithms=[a.value for a in Algorithm])


def _verifier(key: Key) -> Verifier:
    public = key if key.is_symmetric else key.public()
    return Verifier(public, clock=FrozenClock(NOW), policy=ClaimsPolicy(leeway_seconds=0))


def _pyjwt_signing_key(key: Key) -> Any:
    if key.is_symmetric:
        return pyjwt.PyJWK(key.to_jwk(private=True), algorithm=key.alg.value).key
    return key.to_pem(private=True)


def _pyjwt_verifying_key(key: Key) -> Any:
    if key.is_symmetric:
        return pyjwt.PyJWK(key.to_jwk(private=True), algorithm=key.alg.value).key
    return key.to_pem()


@pytest.mark.parametrize("alg", ALGS)
def test_pyjwt_mints_relaypass_verifies(alg: Algorithm) -> None:
    key = Key.generate(alg, kid="k1")
    token = pyjwt.encode(
        CLAIMS, _pyjwt_signing_key(key), algorithm=alg.value, headers={"kid": "k1"}
    )
    assert dict(_verifier(key).verify(token).claims) == CLAIMS


@pytest.mark.parametrize("alg", ALGS)
def test_relaypass_mints_pyjwt_verifies(alg: Algorithm) -> None:
    key = Key.generate(alg, kid="k1")
    token = sign_jwt(CLAIMS, key)
    decoded = pyjwt.decode(
        token,
        _pyjwt_verifying_key(key),
        algorithms=[alg.value],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert decoded == CLAIMS
    assert pyjwt.get_unverified_header(token) == {"typ": "JWT", "alg": alg.value, "kid": "k1"}


@pytest.mark.parametrize("alg", ALGS)
def test_joserfc_mints_relaypass_verifies(alg: Algorithm) -> None:
    key = Key.generate(alg, kid="k1")
    jose_key = jose_import_key(cast("Any", key.to_jwk(private=True)))
    token = jose_jwt.encode(
        {"alg": alg.value, "kid": "k1"}, CLAIMS, jose_key, registry=_JOSE_REGISTRY
    )
    assert dict(_verifier(key).verify(token).claims) == CLAIMS


@pytest.mark.parametrize("alg", ALGS)
def test_relaypass_mints_joserfc_verifies(alg: Algorithm) -> None:
    key = Key.generate(alg, kid="k1")
    public_jwk = key.to_jwk(private=key.is_symmetric)
    keyset = JoseKeySet.import_key_set(cast("Any", {"keys": [public_jwk]}))
    token = sign_jwt(CLAIMS, key)
    decoded = jose_jwt.decode(token, keyset, algorithms=[alg.value], registry=_JOSE_REGISTRY)
    assert decoded.claims == CLAIMS
    assert decoded.header["kid"] == "k1"


def test_relaypass_jwks_imports_into_both_peers() -> None:
    keys = [Key.generate(a, kid=f"k{i}") for i, a in enumerate(["RS256", "ES256", "EdDSA"])]
    jwks = {"keys": [k.to_jwk() for k in keys]}
    JoseKeySet.import_key_set(json.loads(json.dumps(jwks)))
    pyjwt.PyJWKSet.from_dict(jwks)
