from __future__ import annotations

import json
from pathlib import Path

import pytest

from relaypass import (
    InvalidClaimError,
    InvalidKeyError,
    InvalidRequestError,
    InvalidTokenError,
    Key,
    KeyNotFoundError,
    sign_jwt,
)
from relaypass._tokens import Minter
from relaypass.profiles.service_account import (
    ServiceAccountCredentials,
    ServiceAccountRegistry,
)
from relaypass.testing import FrozenClock
from tests.conftest import NOW


@pytest.fixture(scope="module")
def rsa_key() -> Key:
    return Key.generate("RS256", kid="kid-2026-01")


def credentials_file(tmp_path: Path, key: Key, tenant: str = "acme") -> Path:
    """TeleQuick's service-account file shape."""
    doc = {
        "tenant_id": tenant,
        "private_key": key.to_pem(private=True).decode(),
        "private_key_id": "kid-2026-01",
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(doc))
    return path


def test_sdk_signs_rs256_with_kid_sub_and_one_hour(tmp_path: Path, rsa_key: Key) -> None:
    creds = ServiceAccountCredentials.load(credentials_file(tmp_path, rsa_key))
    clock = FrozenClock(NOW)
    token = creds.sign(issuer="telequick-sdk", clock=clock)
    registry = ServiceAccountRegistry(clock=clock)
    registry.publish("acme", "kid-2026-01", rsa_key.to_pem().decode(), role="sdk")
    identity = registry.verify(token)
    assert identity.tenant_id == "acme"
    assert identity.role == "sdk"
    assert identity.grant.tenant == "acme"
    assert identity.grant.expires_at == NOW + 3600
    header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"typ": "JWT", "alg": "RS256", "kid": "kid-2026-01"}


@pytest.mark.parametrize(
    "name", ["RELAYPASS_CREDENTIALS", "TELEQUICK_CREDENTIALS", "CLUTCHCALL_CREDENTIALS"]
)
def test_credentials_are_found_through_each_environment_variable(
    name: str, tmp_path: Path, rsa_key: Key
) -> None:
    path = credentials_file(tmp_path, rsa_key)
    creds = ServiceAccountCredentials.from_env({name: str(path)})
    assert creds.tenant_id == "acme"
    assert "PRIVATE" not in repr(creds)


def test_missing_environment_is_a_clear_error() -> None:
    with pytest.raises(InvalidKeyError, match="RELAYPASS_CREDENTIALS"):
        ServiceAccountCredentials.from_env({})


@pytest.mark.parametrize(
    "patch",
    [
        {"tenant_id": ""},
        {"private_key_id": "../kid"},
        {"private_key": "not a pem"},
        {"private_key": Key.generate("ES256").to_pem(private=True).decode()},
    ],
)
def test_malformed_credentials_are_refused(patch: dict[str, str], rsa_key: Key) -> None:
    doc = {
        "tenant_id": "acme",
        "private_key": rsa_key.to_pem(private=True).decode(),
        "private_key_id": "kid-2026-01",
        **patch,
    }
    with pytest.raises(InvalidKeyError):
        ServiceAccountCredentials.parse(json.dumps(doc))


def test_rotation_keeps_both_keys_until_revoked(rsa_key: Key) -> None:
    clock = FrozenClock(NOW)
    new = Key.generate("RS256", kid="kid-2026-02")
    registry = ServiceAccountRegistry(clock=clock)
    registry.publish("acme", "kid-2026-01", rsa_key.to_pem().decode())
    registry.publish("acme", "kid-2026-02", new.to_pem().decode(), role="admin")
    old_token = Minter(rsa_key, clock=clock).mint({"sub": "acme"})
    new_token = Minter(new, clock=clock).mint({"sub": "acme"})
    assert registry.verify(old_token).role == "sdk"
    assert registry.verify(new_token).role == "admin"
    assert registry.keys_for("acme") == ["kid-2026-01", "kid-2026-02"]
    assert registry.revoke("acme", "kid-2026-01")
    with pytest.raises(KeyNotFoundError):
        registry.verify(old_token)
    assert registry.verify(new_token)
    assert not registry.revoke("acme", "kid-2026-01")


def test_a_tenant_cannot_borrow_another_tenants_key(rsa_key: Key) -> None:
    clock = FrozenClock(NOW)
    registry = ServiceAccountRegistry(clock=clock)
    registry.publish("acme", "kid-2026-01", rsa_key.to_pem().decode())
    forged = Minter(rsa_key, clock=clock).mint({"sub": "globex"})
    with pytest.raises(KeyNotFoundError):
        registry.verify(forged)


def test_same_kid_under_two_tenants_stays_apart(rsa_key: Key) -> None:
    clock = FrozenClock(NOW)
    other = Key.generate("RS256", kid="kid-2026-01")
    registry = ServiceAccountRegistry(clock=clock)
    registry.publish("acme", "kid-2026-01", rsa_key.to_pem().decode())
    registry.publish("globex", "kid-2026-01", other.to_pem().decode())
    token = Minter(other, clock=clock).mint({"sub": "acme"})
    with pytest.raises(InvalidTokenError):
        registry.verify(token)


def test_expired_registration_is_refused(rsa_key: Key) -> None:
    clock = FrozenClock(NOW)
    registry = ServiceAccountRegistry(clock=clock)
    registry.publish(
        "acme", "kid-2026-01", rsa_key.to_pem().decode(), expires_at_ms=int(NOW * 1000) + 1000
    )
    token = Minter(rsa_key, clock=clock).mint({"sub": "acme"})
    assert registry.verify(token)
    clock.advance(2)
    with pytest.raises(KeyNotFoundError):
        registry.verify(token)


def test_issuer_allow_list(rsa_key: Key) -> None:
    clock = FrozenClock(NOW)
    registry = ServiceAccountRegistry(clock=clock, issuers=frozenset({"clutchcall-sdk"}))
    registry.publish("acme", "kid-2026-01", rsa_key.to_pem().decode())
    bad = Minter(rsa_key, clock=clock, issuer="other").mint({"sub": "acme"})
    with pytest.raises(InvalidClaimError):
        registry.verify(bad)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("acme", "kid", "PEM"), {"role": "root"}),
        (("", "kid", "PEM"), {}),
        (("acme", "k/1", "PEM"), {}),
        (("acme", "kid", "PEM"), {"expires_at_ms": -1}),
    ],
)
def test_publish_validates_its_fields(
    args: tuple[str, str, str], kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidRequestError):
        ServiceAccountRegistry().publish(*args, **kwargs)  # type: ignore[arg-type]


def test_publish_refuses_a_private_key(rsa_key: Key) -> None:
    with pytest.raises(InvalidRequestError):
        ServiceAccountRegistry().publish("acme", "kid", rsa_key.to_pem(private=True).decode())


def test_publish_refuses_a_non_rsa_key() -> None:
    with pytest.raises(InvalidKeyError):
        ServiceAccountRegistry().publish("acme", "kid", Key.generate("EdDSA").to_pem().decode())


def test_token_without_kid_or_sub_is_refused(rsa_key: Key) -> None:
    registry = ServiceAccountRegistry(clock=FrozenClock(NOW))
    registry.publish("acme", "kid-2026-01", rsa_key.to_pem().decode())
    with pytest.raises(KeyNotFoundError):
        registry.verify(sign_jwt({"exp": int(NOW) + 60}, rsa_key))
