from __future__ import annotations

import pytest

from relaypass import (
    Algorithm,
    AlgorithmMismatchError,
    ClaimsPolicy,
    ErrorCode,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidClaimError,
    InvalidRequestError,
    InvalidTokenError,
    Key,
    KeyNotFoundError,
    KeySet,
    Minter,
    MissingClaimError,
    VerifiedToken,
    VerifiedTokenCache,
    Verifier,
    sign_jwt,
)
from relaypass.testing import FrozenClock
from tests.conftest import NOW


@pytest.mark.parametrize("alg", list(Algorithm))
def test_minted_token_verifies_with_the_public_half(alg: Algorithm, clock: FrozenClock) -> None:
    key = Key.generate(alg, kid="k1")
    token = Minter(key, clock=clock, issuer="relaypass").mint({"sub": "tenant_abc"})
    verifier_key = key if key.is_symmetric else key.public()
    verified = Verifier(verifier_key, clock=clock).verify(token)
    assert verified.claims["sub"] == "tenant_abc"
    assert verified.claims["iss"] == "relaypass"
    assert verified.claims["exp"] == int(NOW) + 3600
    assert verified.kid == "k1"
    assert verified.alg == alg.value


def test_minter_caps_ttl(clock: FrozenClock) -> None:
    minter = Minter(Key.generate("EdDSA"), clock=clock, max_ttl_seconds=300, default_ttl_seconds=60)
    with pytest.raises(InvalidRequestError):
        minter.mint({}, ttl_seconds=301)
    with pytest.raises(InvalidRequestError):
        minter.mint({}, ttl_seconds=0)
    assert minter.mint({}, ttl_seconds=300)


def test_minter_refuses_a_key_that_cannot_sign() -> None:
    with pytest.raises(InvalidRequestError):
        Minter(Key.generate("EdDSA").public())


def test_token_expires_after_leeway(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    token = sign_jwt({"exp": int(NOW) + 10}, key)
    verifier = Verifier(key, clock=clock, policy=ClaimsPolicy(leeway_seconds=5))
    assert verifier.verify(token)
    clock.advance(14)
    assert verifier.verify(token)
    clock.advance(1)
    with pytest.raises(ExpiredTokenError) as info:
        verifier.verify(token)
    assert info.value.code is ErrorCode.INVALID_TOKEN
    assert info.value.claim == "exp"


def test_nbf_and_future_iat_are_refused(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    verifier = Verifier(key, clock=clock)
    with pytest.raises(ImmatureTokenError):
        verifier.verify(sign_jwt({"exp": NOW + 999, "nbf": NOW + 61}, key))
    with pytest.raises(ImmatureTokenError):
        verifier.verify(sign_jwt({"exp": NOW + 999, "iat": NOW + 61}, key))
    assert verifier.verify(sign_jwt({"exp": NOW + 999, "nbf": NOW + 59, "iat": NOW + 59}, key))


def test_exp_is_required_by_default(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    token = sign_jwt({"sub": "x"}, key)
    with pytest.raises(MissingClaimError):
        Verifier(key, clock=clock).verify(token)
    assert Verifier(key, clock=clock, policy=ClaimsPolicy(require_exp=False)).verify(token)


@pytest.mark.parametrize("value", ["999999999999", True, None, [1], {"a": 1}, -5])
def test_numeric_dates_must_be_json_numbers(value: object, clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    with pytest.raises(InvalidClaimError):
        Verifier(key, clock=clock).verify(sign_jwt({"exp": value}, key))


def test_issuer_and_audience(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    ok = sign_jwt({"exp": NOW + 60, "iss": "a", "aud": ["relay-1", "relay-2"]}, key)
    policy = ClaimsPolicy(issuer=frozenset({"a", "b"}), audience="relay-2")
    assert Verifier(key, clock=clock, policy=policy).verify(ok)
    with pytest.raises(InvalidClaimError):
        Verifier(key, clock=clock, policy=ClaimsPolicy(issuer="b", audience="relay-2")).verify(ok)
    with pytest.raises(InvalidClaimError):
        Verifier(key, clock=clock, policy=ClaimsPolicy(issuer="a", audience="relay-3")).verify(ok)
    with pytest.raises(InvalidClaimError):  # aud present, verifier has none
        Verifier(key, clock=clock).verify(ok)
    no_aud = sign_jwt({"exp": NOW + 60}, key)
    with pytest.raises(MissingClaimError):
        Verifier(key, clock=clock, policy=ClaimsPolicy(audience="relay-1")).verify(no_aud)


def test_required_claims(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    policy = ClaimsPolicy(required=frozenset({"jti"}))
    with pytest.raises(MissingClaimError):
        Verifier(key, clock=clock, policy=policy).verify(sign_jwt({"exp": NOW + 9}, key))


def test_keyset_selects_by_kid_and_needs_kid_when_several(clock: FrozenClock) -> None:
    a, b = Key.generate("EdDSA", kid="a"), Key.generate("EdDSA", kid="b")
    verifier = Verifier(KeySet([a.public(), b.public()]), clock=clock)
    assert verifier.verify(sign_jwt({"exp": NOW + 9}, b)).kid == "b"
    lonely = Key.generate("EdDSA", kid="c")
    with pytest.raises(KeyNotFoundError):
        verifier.verify(sign_jwt({"exp": NOW + 9}, lonely))


def test_token_without_kid_accepted_only_for_a_single_key(clock: FrozenClock) -> None:
    from relaypass._jws import sign_compact

    key = Key.generate("HS256", kid="only")
    header = "eyJhbGciOiJIUzI1NiJ9"  # {"alg":"HS256"}
    token = sign_compact(b'{"exp":1900000000}', key, header)
    assert Verifier(key, clock=clock).verify(token).kid == "only"
    two = KeySet([key, Key.generate("HS256", kid="other")])
    with pytest.raises(KeyNotFoundError):
        Verifier(two, clock=clock).verify(token)


def test_header_alg_must_equal_key_alg(clock: FrozenClock) -> None:
    hs256 = Key.generate("HS256", kid="same")
    hs512 = Key.from_jwk({**Key.generate("HS512").to_jwk(private=True), "kid": "same"})
    token = sign_jwt({"exp": NOW + 9}, hs512)
    with pytest.raises(AlgorithmMismatchError):
        Verifier(hs256, clock=clock).verify(token)


def test_verified_token_cannot_be_forged() -> None:
    with pytest.raises(TypeError):
        VerifiedToken(object(), {"sub": "x"}, "kid", "EdDSA", b"")


def test_verified_claims_are_read_only(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    verified = Verifier(key, clock=clock).verify(sign_jwt({"exp": NOW + 9, "sub": "a"}, key))
    with pytest.raises(TypeError):
        verified.claims["sub"] = "b"  # type: ignore[index]


def test_token_id_ignores_signature_bytes(clock: FrozenClock) -> None:
    key = Key.generate("ES256")
    claims = {"exp": NOW + 9, "jti": "j"}
    first, second = sign_jwt(claims, key), sign_jwt(claims, key)
    assert first != second  # ECDSA signatures are randomised
    verifier = Verifier(key.public(), clock=clock)
    assert verifier.verify(first).token_id == verifier.verify(second).token_id


def test_repr_of_verified_token_hides_the_token(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    token = sign_jwt({"exp": NOW + 9, "sub": "a"}, key)
    verified = Verifier(key, clock=clock).verify(token)
    assert token not in repr(verified)
    assert token.split(".")[2] not in repr(verified)


def test_cache_returns_the_same_result_and_honours_expiry(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    cache = VerifiedTokenCache(max_entries=4)
    verifier = Verifier(key, clock=clock, cache=cache, policy=ClaimsPolicy(leeway_seconds=0))
    token = sign_jwt({"exp": NOW + 10}, key)
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    assert len(cache) == 1
    clock.advance(10)
    with pytest.raises(ExpiredTokenError):
        verifier.verify(token)
    assert len(cache) == 0


def test_cache_is_bounded_and_drops_by_kid_jti_subject(clock: FrozenClock) -> None:
    a, b = Key.generate("HS256", kid="a"), Key.generate("HS256", kid="b")
    cache = VerifiedTokenCache(max_entries=3)
    verifier = Verifier(KeySet([a, b]), clock=clock, cache=cache)
    tokens = [
        sign_jwt({"exp": NOW + 99, "jti": f"j{i}", "sub": "s", "iat": NOW - i}, a if i % 2 else b)
        for i in range(5)
    ]
    for token in tokens:
        verifier.verify(token)
    assert len(cache) == 3
    assert cache.drop_kid("a") == 1
    assert cache.drop_jti("j4") == 1
    assert cache.drop_subject("s", issued_before=NOW) == 1
    assert len(cache) == 0


def test_cache_never_outlives_max_age(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    cache = VerifiedTokenCache(max_age_seconds=5)
    verifier = Verifier(key, clock=clock, cache=cache)
    token = sign_jwt({"exp": NOW + 999}, key)
    first = verifier.verify(token)
    clock.advance(6)
    assert verifier.verify(token) is not first


def test_every_refusal_is_an_invalid_token_to_the_client(clock: FrozenClock) -> None:
    key = Key.generate("HS256")
    bad = [
        "",
        "a.b",
        sign_jwt({"exp": NOW - 999}, key),
        sign_jwt({"exp": NOW + 9}, Key.generate("HS256", kid=key.kid)),
    ]
    for token in bad:
        with pytest.raises(InvalidTokenError) as info:
            Verifier(key, clock=clock).verify(token)
        assert info.value.code is ErrorCode.INVALID_TOKEN
        assert info.value.public_message == (
            "The token is missing, malformed, badly signed or expired."
        )
