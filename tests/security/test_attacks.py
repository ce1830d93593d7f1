"""One test per known attack on JWT verifiers (RFC 8725, public advisories)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

import pytest

from relaypass import (
    AlgorithmMismatchError,
    ClaimsPolicy,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidClaimError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidTokenError,
    Key,
    KeyNotFoundError,
    KeySet,
    MalformedTokenError,
    UnsupportedHeaderError,
    Verifier,
    b64decode,
    b64encode,
    sign_jwt,
)
from relaypass.testing import FrozenClock
from tests.conftest import NOW

CLAIMS = {"sub": "tenant_abc", "exp": int(NOW) + 600}
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_L = 2**252 + 27742317777372353535851937790883648493


def seg(value: Mapping[str, object] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64encode(raw)


def forge(
    header: Mapping[str, object] | bytes, payload: Mapping[str, object] | bytes, sig: bytes
) -> str:
    return f"{seg(header)}.{seg(payload)}.{b64encode(sig)}"


def hs256(secret: bytes, header: Mapping[str, object], payload: Mapping[str, object]) -> str:
    signing_input = f"{seg(header)}.{seg(payload)}"
    tag = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64encode(tag)}"


@pytest.fixture
def ed_key() -> Key:
    return Key.generate("EdDSA", kid="ed")


def verifier_for(key: Key, clock: FrozenClock | None = None, **policy: object) -> Verifier:
    public = key if key.is_symmetric else key.public()
    return Verifier(
        public,
        clock=clock or FrozenClock(NOW),
        policy=ClaimsPolicy(**policy),  # type: ignore[arg-type]
    )


# --- alg none ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", [b"", b"x"])
def test_alg_none_in_any_spelling_is_refused(alg: str, signature: bytes, ed_key: Key) -> None:
    header = {"alg": alg, "kid": "ed"}
    for token in (
        forge(header, CLAIMS, signature),
        f"{seg(header)}.{seg(CLAIMS)}.",
        f"{seg(header)}.{seg(CLAIMS)}",
    ):
        with pytest.raises(InvalidTokenError):
            verifier_for(ed_key).verify(token)


def test_alg_none_reports_the_precise_reason_for_logs(ed_key: Key) -> None:
    token = forge({"alg": "none", "kid": "ed"}, CLAIMS, b"x")
    with pytest.raises(UnsupportedHeaderError, match="alg none"):
        verifier_for(ed_key).verify(token)


# --- key confusion -----------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "PS256"])
def test_public_key_used_as_hmac_secret_is_refused(alg: str) -> None:
    key = Key.generate(alg, kid="pub")
    public = key.public()
    for secret in (public.to_pem(), json.dumps(public.to_jwk()).encode()):
        token = hs256(secret, {"alg": "HS256", "kid": "pub"}, CLAIMS)
        with pytest.raises(AlgorithmMismatchError):
            Verifier(public, clock=FrozenClock(NOW)).verify(token)


def test_ed25519_raw_public_key_as_hmac_secret_is_refused(ed_key: Key) -> None:
    raw = b64decode(str(ed_key.public().to_jwk()["x"]))
    token = hs256(raw, {"alg": "HS256", "kid": "ed"}, CLAIMS)
    with pytest.raises(AlgorithmMismatchError):
        verifier_for(ed_key).verify(token)


def test_keyset_refuses_to_mix_secrets_and_public_keys(ed_key: Key) -> None:
    with pytest.raises(InvalidKeyError):
        KeySet([ed_key.public(), Key.generate("HS256", kid="h")])


# --- signatures --------------------------------------------------------------


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_stripped_truncated_and_extended_signatures_are_refused(alg: str) -> None:
    key = Key.generate(alg, kid="k")
    token = sign_jwt(CLAIMS, key)
    head, _, sig = token.rpartition(".")
    raw = b64decode(sig)
    variants = [
        head + ".",
        head,
        head + "." + b64encode(raw[:-1]),
        head + "." + b64encode(raw[: len(raw) // 2]),
        head + "." + b64encode(raw + b"\x00"),
        head + "." + b64encode(b"\x00" + raw),
        head + "." + b64encode(bytes([raw[0] ^ 1]) + raw[1:]),
    ]
    for bad in variants:
        with pytest.raises(InvalidTokenError):
            verifier_for(key).verify(bad)


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_signature_of_another_key_with_the_same_kid_is_refused(alg: str) -> None:
    real = Key.generate(alg, kid="same")
    impostor = Key.generate(alg, kid="same")
    with pytest.raises(InvalidSignatureError):
        verifier_for(real).verify(sign_jwt(CLAIMS, impostor))


def test_ecdsa_psychic_signature_r_s_zero_is_refused() -> None:
    """CVE-2022-21449: r = s = 0 verified on some JVMs."""
    key = Key.generate("ES256", kid="ec")
    for sig in (
        b"\x00" * 64,
        P256_ORDER.to_bytes(32, "big") * 2,
        (1).to_bytes(32, "big") + (0).to_bytes(32, "big"),
    ):
        with pytest.raises(InvalidSignatureError):
            verifier_for(key).verify(forge({"alg": "ES256", "kid": "ec"}, CLAIMS, sig))


def test_ecdsa_der_signature_is_refused() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = Key.generate("ES256", kid="ec")
    head = f"{seg({'alg': 'ES256', 'kid': 'ec'})}.{seg(CLAIMS)}"
    crypto = key._crypto
    assert isinstance(crypto, ec.EllipticCurvePrivateKey)
    der = crypto.sign(head.encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignatureError):
        verifier_for(key).verify(f"{head}.{b64encode(der)}")


def test_ed25519_malleable_s_is_refused(ed_key: Key) -> None:
    token = sign_jwt(CLAIMS, ed_key)
    head, _, sig = token.rpartition(".")
    raw = b64decode(sig)
    s = int.from_bytes(raw[32:], "little") + ED25519_L
    assert s < 2**256
    malleated = raw[:32] + s.to_bytes(32, "little")
    assert verifier_for(ed_key).verify(token)
    with pytest.raises(InvalidSignatureError):
        verifier_for(ed_key).verify(f"{head}.{b64encode(malleated)}")


def test_ecdsa_high_s_is_accepted_and_shares_the_token_id() -> None:
    """Peers emit either s or n - s, so both verify; identity ignores the signature."""
    key = Key.generate("ES256", kid="ec")
    token = sign_jwt(CLAIMS, key)
    head, _, sig = token.rpartition(".")
    raw = b64decode(sig)
    s = int.from_bytes(raw[32:], "big")
    flipped = f"{head}.{b64encode(raw[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"
    verifier = verifier_for(key)
    assert verifier.verify(flipped).token_id == verifier.verify(token).token_id


# --- kid and header injection -------------------------------------------------


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../dev/null",
        "/etc/passwd",
        "' OR '1'='1",
        "k; DROP TABLE keys--",
        "k|whoami",
        "",
        "a" * 129,
        "ed\u0000",
    ],
)
def test_malformed_kid_is_refused_before_lookup(kid: str, ed_key: Key) -> None:
    head = {"alg": "EdDSA", "kid": kid}
    signing_input = f"{seg(head)}.{seg(CLAIMS)}"
    token = f"{signing_input}.{b64encode(ed_key.sign(signing_input.encode()))}"
    with pytest.raises(MalformedTokenError, match="kid"):
        verifier_for(ed_key).verify(token)


def test_unknown_kid_is_refused(ed_key: Key) -> None:
    other = Key.generate("EdDSA", kid="other")
    with pytest.raises(KeyNotFoundError):
        verifier_for(ed_key).verify(sign_jwt(CLAIMS, other))


@pytest.mark.parametrize(
    "extra",
    [
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}},
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIB"]},
        {"crit": ["exp"]},
        {"crit": ["b64"], "b64": False},
        {"b64": False},
        {"cty": "JWT"},
        {"zip": "DEF"},
        {"enc": "A256GCM"},
    ],
)
def test_embedded_keys_urls_crit_and_b64_are_refused(extra: dict[str, object], ed_key: Key) -> None:
    head = {"alg": "EdDSA", "kid": "ed", **extra}
    signing_input = f"{seg(head)}.{seg(CLAIMS)}"
    token = f"{signing_input}.{b64encode(ed_key.sign(signing_input.encode()))}"
    with pytest.raises(UnsupportedHeaderError):
        verifier_for(ed_key).verify(token)


def test_wrong_typ_is_refused(ed_key: Key) -> None:
    head = {"typ": "JWE", "alg": "EdDSA", "kid": "ed"}
    signing_input = f"{seg(head)}.{seg(CLAIMS)}"
    token = f"{signing_input}.{b64encode(ed_key.sign(signing_input.encode()))}"
    with pytest.raises(UnsupportedHeaderError):
        verifier_for(ed_key).verify(token)


# --- claims -------------------------------------------------------------------


def test_expired_token_is_refused(ed_key: Key) -> None:
    token = sign_jwt({**CLAIMS, "exp": int(NOW) - 61}, ed_key)
    with pytest.raises(ExpiredTokenError):
        verifier_for(ed_key).verify(token)


def test_future_nbf_is_refused(ed_key: Key) -> None:
    token = sign_jwt({**CLAIMS, "nbf": int(NOW) + 3600}, ed_key)
    with pytest.raises(ImmatureTokenError):
        verifier_for(ed_key).verify(token)


def test_wrong_issuer_and_audience_are_refused(ed_key: Key) -> None:
    token = sign_jwt({**CLAIMS, "iss": "evil", "aud": "other-relay"}, ed_key)
    with pytest.raises(InvalidClaimError, match="issuer"):
        verifier_for(ed_key, issuer="relaypass", audience="relay").verify(token)
    good_iss = sign_jwt({**CLAIMS, "iss": "relaypass", "aud": "other-relay"}, ed_key)
    with pytest.raises(InvalidClaimError, match="audience"):
        verifier_for(ed_key, issuer="relaypass", audience="relay").verify(good_iss)


def test_string_exp_is_refused(ed_key: Key) -> None:
    with pytest.raises(InvalidClaimError):
        verifier_for(ed_key).verify(sign_jwt({**CLAIMS, "exp": "99999999999"}, ed_key))


# --- structure and encoding ------------------------------------------------------


def test_oversized_token_is_refused_before_any_parsing(ed_key: Key) -> None:
    token = sign_jwt({**CLAIMS, "pad": "x" * 9000}, ed_key)
    with pytest.raises(MalformedTokenError, match="size"):
        verifier_for(ed_key).verify(token)
    roomy = Verifier(ed_key.public(), clock=FrozenClock(NOW), max_token_bytes=16_384)
    assert roomy.verify(token)


@pytest.mark.parametrize("part", [0, 1, 2])
def test_non_canonical_base64_in_any_segment_is_refused(part: int, ed_key: Key) -> None:
    token = sign_jwt(CLAIMS, ed_key)
    parts = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = parts[part]
    if len(value) % 4 == 0:  # no spare bits: pad instead
        parts[part] = value + "="
    else:
        last = alphabet.index(value[-1])
        parts[part] = value[:-1] + alphabet[last ^ 1]
    with pytest.raises(InvalidTokenError):
        verifier_for(ed_key).verify(".".join(parts))


@pytest.mark.parametrize("transform", ["padding", "std-alphabet", "whitespace", "newline"])
def test_re_spelled_tokens_are_refused(transform: str, ed_key: Key) -> None:
    token = sign_jwt(CLAIMS, ed_key)
    head, payload, sig = token.split(".")
    variants = {
        "padding": f"{head}.{payload}.{sig}==",
        "std-alphabet": token.replace("-", "+").replace("_", "/"),
        "whitespace": f" {token}",
        "newline": f"{token}\n",
    }
    bad = variants[transform]
    if bad == token:  # nothing to substitute in this token
        bad = token + "="
    with pytest.raises(MalformedTokenError):
        verifier_for(ed_key).verify(bad)


def test_duplicate_claims_are_refused(ed_key: Key) -> None:
    payload = b'{"sub":"tenant_abc","exp":%d,"sub":"tenant_evil"}' % (int(NOW) + 60)
    signing_input = f"{seg({'alg': 'EdDSA', 'kid': 'ed'})}.{b64encode(payload)}"
    token = f"{signing_input}.{b64encode(ed_key.sign(signing_input.encode()))}"
    with pytest.raises(MalformedTokenError):
        verifier_for(ed_key).verify(token)


def test_duplicate_header_members_are_refused(ed_key: Key) -> None:
    header = b'{"alg":"EdDSA","kid":"ed","alg":"none"}'
    signing_input = f"{b64encode(header)}.{seg(CLAIMS)}"
    token = f"{signing_input}.{b64encode(ed_key.sign(signing_input.encode()))}"
    with pytest.raises(MalformedTokenError):
        verifier_for(ed_key).verify(token)


def test_deeply_nested_claims_are_refused(ed_key: Key) -> None:
    deep: dict[str, object] = {"v": 1}
    for _ in range(40):
        deep = {"n": deep}
    token = sign_jwt({**CLAIMS, "deep": deep}, ed_key)
    with pytest.raises(MalformedTokenError):
        verifier_for(ed_key).verify(token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a.b.c.d",
        "a.b.c.d.e",  # JWE compact
        '{"payload":"e30","signatures":[]}',  # JSON serialization
        "eyJhbGciOiJFZERTQSJ9.e30.AAAA\x00",
    ],
)
def test_structurally_invalid_tokens_are_refused(token: str, ed_key: Key) -> None:
    with pytest.raises(MalformedTokenError):
        verifier_for(ed_key).verify(token)


def test_non_string_token_is_refused(ed_key: Key) -> None:
    with pytest.raises(MalformedTokenError):
        verifier_for(ed_key).verify(b"a.b.c")  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [b"[]", b'"s"', b"null", b"\xff\xfe", b'{"exp":NaN}'])
def test_payload_that_is_not_a_json_object_is_refused(payload: bytes, ed_key: Key) -> None:
    signing_input = f"{seg({'alg': 'EdDSA', 'kid': 'ed'})}.{b64encode(payload)}"
    token = f"{signing_input}.{b64encode(ed_key.sign(signing_input.encode()))}"
    with pytest.raises(MalformedTokenError):
        verifier_for(ed_key).verify(token)


# --- weak keys ----------------------------------------------------------------


def test_roca_modulus_is_refused() -> None:
    from tests.conftest import load_vectors

    data = load_vectors("wycheproof/json_web_key_test.json")
    group = next(g for g in data["testGroups"] if g["comment"] == "jws_rsa_roca_key")
    jwk = group["private"]["keys"][0]
    with pytest.raises(InvalidKeyError, match="ROCA"):
        Key.from_jwk(jwk)


def test_secrets_never_appear_in_error_messages() -> None:
    key = Key.generate("HS256", kid="s")
    secret = str(key.to_jwk(private=True)["k"])
    jwk = {**key.to_jwk(private=True), "alg": "RS256"}
    with pytest.raises(InvalidKeyError) as info:
        Key.from_jwk(jwk)
    assert secret not in str(info.value)
    assert secret not in repr(info.value)
