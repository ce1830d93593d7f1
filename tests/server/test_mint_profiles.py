"""Room and moq minting and tenant resources over HTTP, verified the way gates verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from relaypass import ClaimsPolicy, InvalidPermissionsError, KeySet, Verifier
from relaypass._tenancy import ResourceKind, authorize_ownership
from relaypass.profiles.moq import MoqClaims
from relaypass.profiles.room import RoomAction, RoomVerifier, authorize
from relaypass.server.app import create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from relaypass.testing import FrozenClock
from tests.server.conftest import MsClock, bootstrap_with_tenants
from tests.server.test_app import Http, rpc


@pytest.fixture
def ready(store: Store, tmp_path: Path, ms_clock: MsClock) -> tuple[Http, str, str]:
    first = bootstrap_with_tenants(store)
    org_id, key = first
    http = Http(create_app(Settings(data_dir=tmp_path), store))
    rpc(http, "streams.signingKeys.create", key, {"orgId": org_id, "label": "v1"})
    ms_clock.advance(60)
    return http, org_id, key


def test_room_token_from_a_role_joins_with_its_grant(
    ready: tuple[Http, str, str], store: Store, ms_clock: MsClock
) -> None:
    http, org_id, key = ready
    minted = rpc(
        http,
        "tokens.room.mint",
        key,
        {"orgId": org_id, "roomId": "team-standup", "participantId": "alice-42", "role": "host"},
    ).json()
    keys = KeySet.from_jwks(http.get("/.well-known/jwks.json").json())
    caller = rpc(http, "auth.whoami", key, {}).json()["keyId"]
    verifier = RoomVerifier({caller: keys}.get, clock=FrozenClock(ms_clock.now_ms / 1000))
    _, grant = verifier.join(minted["token"], "team-standup", "alice-42")
    authorize(grant, RoomAction.MODERATE)
    assert store.audit_log(org_id, action="token.mint")[0]["target"] == "room"


def test_room_guardrails_hold_over_http(ready: tuple[Http, str, str]) -> None:
    http, org_id, key = ready
    roomless_host = rpc(http, "tokens.room.mint", key, {"orgId": org_id, "role": "host"})
    assert roomless_host.status_code == 403
    assert roomless_host.json()["code"] == "INVALID_PERMISSIONS"
    ask_and_moderate = rpc(
        http,
        "tokens.room.mint",
        key,
        {"orgId": org_id, "roomId": "r", "role": "host", "joinPolicy": {"mode": "ask"}},
    )
    assert ask_and_moderate.status_code == 400
    assert ask_and_moderate.json()["code"] == "INVALID_ENTRY_CLAIM"
    too_long = rpc(
        http, "tokens.room.mint", key, {"orgId": org_id, "role": "viewer", "ttlSeconds": 7200}
    )
    assert too_long.json()["code"] == "INVALID_REQUEST"


def test_moq_token_has_moq_wire_claims(ready: tuple[Http, str, str], ms_clock: MsClock) -> None:
    http, org_id, key = ready
    minted = rpc(
        http,
        "tokens.moq.mint",
        key,
        {
            "orgId": org_id,
            "root": "demo",
            "publish": ["alice"],
            "subscribe": [""],
            "ttlSeconds": 600,
        },
    ).json()
    keys = KeySet.from_jwks(http.get("/.well-known/jwks.json").json())
    verified = Verifier(
        keys, clock=FrozenClock(ms_clock.now_ms / 1000), policy=ClaimsPolicy()
    ).verify(minted["token"])
    assert verified.claims["root"] == "demo"
    assert verified.claims["put"] == ["alice"]
    assert verified.claims["get"] == [""]
    assert "aud" not in verified.claims
    grant = MoqClaims.from_wire(verified.claims).grant("demo", verified)
    assert grant.can_publish("alice/cam")
    assert not grant.can_publish("bob")
    bad = rpc(http, "tokens.moq.mint", key, {"orgId": org_id, "root": "demo", "publish": ["a*"]})
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_REQUEST"


def test_tenant_resources_feed_the_isolation_check(
    ready: tuple[Http, str, str], store: Store
) -> None:
    http, org_id, key = ready
    body = {"orgId": org_id, "kind": "call", "resourceId": "CA123", "tenant": "acme"}
    assert rpc(http, "tenants.resources.assign", key, body).status_code == 200
    taken = rpc(http, "tenants.resources.assign", key, {**body, "tenant": "globex"})
    assert taken.json()["code"] == "INVALID_PERMISSIONS"
    authorize_ownership(store.ownership(org_id), "acme", ResourceKind.CALL, "CA123")
    with pytest.raises(InvalidPermissionsError):
        authorize_ownership(store.ownership(org_id), "globex", ResourceKind.CALL, "CA123")
