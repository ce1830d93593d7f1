"""A database written by the schema before tenancy upgrades in place (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import text

from relaypass import Key
from relaypass._tenancy import ResourceKind
from relaypass.gate import Gate, StaticKeySource
from relaypass.profiles.relay import RelayMinter
from relaypass.server.db.migrate import downgrade, upgrade
from relaypass.server.db.store import Store
from tests.server.conftest import MsClock


def test_a_pre_tenancy_database_upgrades_and_its_tokens_still_verify(
    store: Store, ms_clock: MsClock
) -> None:
    org = store.create_org("acme")
    later = store.create_org("globex")
    kid = store.create_signing_key(org.id, "v1")["kid"]
    ms_clock.advance(61)
    token = RelayMinter(store.active_signing_key(org.id), clock=store.clock).mint(
        "acme_tenant", ["live/**"]
    )
    admin = Key.generate("RS256", kid="kid-2026-01")
    downgrade(store.engine, "0001")
    with store.engine.begin() as conn:  # rows as the 0001 schema kept them
        conn.execute(
            text(
                "INSERT INTO service_accounts (tenant_id, private_key_id, public_key_pem, role, "
                "expires_at_ms, created_at_ms) VALUES ('acme_tenant', 'kid-2026-01', :pem, "
                "'admin', 0, 1)"
            ),
            {"pem": admin.to_pem().decode()},
        )
        conn.execute(
            text(
                "INSERT INTO tenant_resources (kind, resource_id, tenant_id) "
                "VALUES ('trunk', 'TR1', 'acme_tenant')"
            )
        )
    upgrade(store.engine)
    store._scope_cache.clear()  # a fresh process after the upgrade
    # The first org keeps the unprefixed space; a later org gets a root of its own.
    assert store.get_org(org.id)["namespaces"] == [""]
    assert store.get_org(later.id)["namespaces"] == [later.id]
    published = store.published_keys()
    key = published.get(kid)
    assert key is not None
    assert key.binding.org == org.id
    assert key.binding.scope is not None
    assert key.binding.scope.roots == ((),)
    session = Gate(StaticKeySource(published), clock=store.clock).connect(token, "")
    session.authorize_publish("live/cam")
    assert session.grant.org == org.id
    # Service accounts and resources moved to the first org, with their tenants.
    assert store.service_account_registry(org.id).keys_for("acme_tenant") == ["kid-2026-01"]
    assert store.owner_of(org.id, ResourceKind.TRUNK, "TR1") == "acme_tenant"
    assert [t["id"] for t in store.list_tenants(org.id)] == ["acme_tenant", "default"]
    store.require_tenant(org.id, "acme_tenant")
