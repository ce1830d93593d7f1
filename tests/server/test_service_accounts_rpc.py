"""ClutchCall's service-account RPCs, field for field, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from relaypass import Key, KeySet, Verifier
from relaypass._tokens import Minter
from relaypass.profiles.session import SessionClaims
from relaypass.server.app import create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from relaypass.testing import FrozenClock
from tests.server.conftest import MsClock, bootstrap_with_tenants
from tests.server.test_app import Http


@pytest.fixture(scope="module")
def admin_key_pair() -> Key:
    return Key.generate("RS256", kid="admin-2026-01")


def test_publish_revoke_and_session_auth(
    store: Store, tmp_path: Path, ms_clock: MsClock, admin_key_pair: Key
) -> None:
    first = bootstrap_with_tenants(store)
    org_id, api_key = first
    store.create_signing_key(org_id, "session tokens")  # SessionAuth signs with the org's key
    http = Http(create_app(Settings(data_dir=tmp_path), store))
    bearer = {"Authorization": f"Bearer {api_key}"}
    # The operator registers the tenant's first admin account with its API key.
    published = http.post(
        "/rpc/PublishServiceAccount",
        json={
            "tenant_id": "acme",
            "private_key_id": "admin-2026-01",
            "public_key_pem": admin_key_pair.to_pem().decode(),
            "role": "admin",
            "expires_at_ms": 0,
        },
        headers=bearer,
    )
    assert published.status_code == 200, published.text
    assert published.json() == {}
    clock = FrozenClock(ms_clock.now_ms / 1000)
    admin_token = Minter(admin_key_pair, clock=clock, issuer="telequick-sdk").mint({"sub": "acme"})
    # From here on, the tenant's admin JWT is enough (no API key).
    sdk_key = Key.generate("RS256", kid="kid-2026-01")
    ok = http.post(
        "/rpc/PublishServiceAccount",
        json={
            "admin_token": admin_token,
            "tenant_id": "acme",
            "private_key_id": "kid-2026-01",
            "public_key_pem": sdk_key.to_pem().decode(),
            "role": "sdk",
            "expires_at_ms": 0,
        },
    )
    assert ok.status_code == 200, ok.text
    # An admin of acme cannot touch another tenant.
    other = http.post(
        "/rpc/PublishServiceAccount",
        json={
            "admin_token": admin_token,
            "tenant_id": "globex",
            "private_key_id": "k",
            "public_key_pem": sdk_key.to_pem().decode(),
            "role": "sdk",
        },
    )
    assert other.status_code == 403
    assert other.json()["code"] == "INVALID_PERMISSIONS"
    # An sdk account is not an admin.
    sdk_token = Minter(sdk_key, clock=clock).mint({"sub": "acme"})
    denied = http.post(
        "/rpc/RevokeServiceAccount",
        json={"admin_token": sdk_token, "tenant_id": "acme", "private_key_id": "admin-2026-01"},
    )
    assert denied.status_code == 403

    ms_clock.advance(60)  # the org's signing key becomes active
    session = http.post(
        "/rpc/SessionAuth",
        json={
            "admin_token": Minter(admin_key_pair, clock=FrozenClock(ms_clock.now_ms / 1000)).mint(
                {"sub": "acme"}
            ),
            "tenant_id": "acme",
            "subject": "user-7c1",
            "ttl_seconds": 3600,
            "scope": "call.dial call.barge",
        },
        headers={"Origin": "https://app.acme.example"},
    ).json()
    assert session["error_message"] == ""
    assert session["expires_at_ms"] == ms_clock.now_ms + 300_000  # hard cap
    jwks = KeySet.from_jwks(http.get("/.well-known/jwks.json").json())
    verified = Verifier(jwks, clock=FrozenClock(ms_clock.now_ms / 1000)).verify(session["token"])
    grant = SessionClaims.grant(verified)
    assert grant.tenant == "acme"
    assert grant.origin == "https://app.acme.example"
    assert grant.capabilities == frozenset({"call.dial", "call.barge"})

    bad_scope = http.post(
        "/rpc/SessionAuth",
        json={"tenant_id": "acme", "subject": "u", "ttl_seconds": 60, "scope": "BAD SCOPE!"},
        headers={**bearer, "Origin": "https://app.acme.example"},
    ).json()
    assert bad_scope["token"] == ""
    assert bad_scope["error_message"]

    revoked = http.post(
        "/rpc/RevokeServiceAccount",
        json={"tenant_id": "acme", "private_key_id": "kid-2026-01"},
        headers=bearer,
    )
    assert revoked.status_code == 200
    assert store.service_account_registry(org_id).keys_for("acme") == ["admin-2026-01"]


def test_missing_credentials_are_refused(store: Store, tmp_path: Path) -> None:
    http = Http(create_app(Settings(data_dir=tmp_path), store))
    response = http.post(
        "/rpc/RevokeServiceAccount", json={"tenant_id": "acme", "private_key_id": "k"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_API_KEY"
    forged = http.post(
        "/rpc/RevokeServiceAccount",
        json={
            "admin_token": "eyJhbGciOiJub25lIn0.e30.",
            "tenant_id": "acme",
            "private_key_id": "k",
        },
    )
    assert forged.status_code == 401
    assert forged.json()["code"] == "INVALID_TOKEN"
