from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaypass._apikeys import ApiKeyHasher, generate_api_key, parse_api_key
from relaypass.errors import InvalidApiKeyError, InvalidRequestError


def test_generated_key_has_the_documented_shape() -> None:
    key = generate_api_key("tqs", "live")
    assert key.secret.startswith("tqs_live_")
    assert len(key.secret) == len("tqs_live_") + 43 + 6
    assert parse_api_key(key.secret) == key.parsed
    assert key.secret not in repr(key)
    assert key.parsed.display_start == key.secret[:13]
    assert key.parsed.display_end == key.secret[-4:]


def test_keys_are_unique() -> None:
    assert len({generate_api_key().secret for _ in range(200)}) == 200


@given(st.integers(min_value=9, max_value=57), st.sampled_from("0123456789ABCabcxyzXYZ"))
def test_any_single_character_typo_is_refused(position: int, replacement: str) -> None:
    key = generate_api_key().secret
    typo = key[:position] + replacement + key[position + 1 :]
    if typo == key:
        return
    with pytest.raises(InvalidApiKeyError):
        parse_api_key(typo)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "rp_live_",
        "rp_prod_" + "a" * 49,
        "RP_live_" + "a" * 49,
        "rp_live_" + "a" * 48,
        "rp_live_" + "a" * 50,
        "rp_live_" + "-" * 49,
        "x" * 500,
        None,
        5,
    ],
)
def test_malformed_keys_are_refused_before_any_lookup(text: object) -> None:
    with pytest.raises(InvalidApiKeyError):
        parse_api_key(text)


def test_prefix_can_be_enforced() -> None:
    key = generate_api_key("tqs").secret
    assert parse_api_key(key, prefix="tqs")
    with pytest.raises(InvalidApiKeyError):
        parse_api_key(key, prefix="rp")


@pytest.mark.parametrize(("prefix", "env"), [("r", "live"), ("RP", "live"), ("rp", "prod")])
def test_bad_generation_parameters(prefix: str, env: str) -> None:
    with pytest.raises(InvalidRequestError):
        generate_api_key(prefix, env)


def test_hasher_is_keyed_and_constant_time_comparable() -> None:
    key = generate_api_key().parsed
    a, b = ApiKeyHasher(secrets.token_bytes(32)), ApiKeyHasher(secrets.token_bytes(32))
    assert a.digest(key) != b.digest(key)
    assert a.matches(key, a.digest(key))
    assert not a.matches(key, b.digest(key))
    assert key.secret not in a.digest(key)
    with pytest.raises(InvalidRequestError):
        ApiKeyHasher(b"short")
