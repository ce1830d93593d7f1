"""Tenancy: org namespaces and disabling, tenants, service accounts and resources per org.

Existing service accounts and resources belong to the first org (the one the
first run created); their tenants are created for it. The first org keeps the
unprefixed namespace, so tokens minted before the upgrade still verify; any
other org gets a root named after its id.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SYSTEM_ORG = "org_system"


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 and PostgreSQL): a batch copy of ``orgs``
    # would trip the foreign keys that api_keys and signing_keys hold on it.
    with op.batch_alter_table("orgs", recreate="never") as batch:
        batch.add_column(sa.Column("namespaces", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("disabled_at_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "tenants",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("orgs.id"), nullable=False),
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_table(
        "service_account_keys",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=256), nullable=False),
        sa.Column("private_key_id", sa.String(length=128), nullable=False),
        sa.Column("public_key_pem", sa.String(length=4096), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "tenant_id", "private_key_id"),
    )
    op.create_table(
        "resources",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=256), nullable=False),
        sa.Column("tenant_id", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "kind", "resource_id"),
    )
    _move_data()
    op.drop_table("service_accounts")
    op.drop_table("tenant_resources")


def _move_data() -> None:
    conn = op.get_bind()
    orgs = conn.execute(
        sa.text("SELECT id, created_at_ms FROM orgs WHERE id != :system ORDER BY created_at_ms"),
        {"system": _SYSTEM_ORG},
    ).all()
    first = orgs[0][0] if orgs else None
    for org_id, _ in orgs:
        namespaces = '[""]' if org_id == first else f'["{org_id}"]'
        conn.execute(
            sa.text("UPDATE orgs SET namespaces = :ns WHERE id = :id"),
            {"ns": namespaces, "id": org_id},
        )
    conn.execute(
        sa.text("UPDATE orgs SET namespaces = '[]' WHERE id = :system"), {"system": _SYSTEM_ORG}
    )
    # The system org's key signed SessionAuth tokens; the tenant's org key does now. It is
    # retired: published until the last token it signed (at most 24 h) has expired.
    now_ms = int(time.time() * 1000)
    conn.execute(
        sa.text(
            "UPDATE signing_keys SET retiring_at_ms = :now, retired_at_ms = :until "
            "WHERE org_id = :system AND retiring_at_ms IS NULL AND revoked_at_ms IS NULL"
        ),
        {"now": now_ms, "until": now_ms + 86_400_000, "system": _SYSTEM_ORG},
    )
    if first is None:
        return
    tenants: set[str] = set()
    accounts = conn.execute(
        sa.text(
            "SELECT tenant_id, private_key_id, public_key_pem, role, expires_at_ms, created_at_ms "
            "FROM service_accounts"
        )
    ).all()
    for tenant, kid, pem, role, expires, created in accounts:
        tenants.add(tenant)
        conn.execute(
            sa.text(
                "INSERT INTO service_account_keys (org_id, tenant_id, private_key_id, "
                "public_key_pem, role, expires_at_ms, created_at_ms) "
                "VALUES (:org, :tenant, :kid, :pem, :role, :expires, :created)"
            ),
            {"org": first, "tenant": tenant, "kid": kid, "pem": pem, "role": role,
             "expires": expires, "created": created},
        )  # fmt: skip
    for kind, resource, tenant in conn.execute(
        sa.text("SELECT kind, resource_id, tenant_id FROM tenant_resources")
    ).all():
        tenants.add(tenant)
        conn.execute(
            sa.text(
                "INSERT INTO resources (org_id, kind, resource_id, tenant_id) "
                "VALUES (:org, :kind, :resource, :tenant)"
            ),
            {"org": first, "kind": kind, "resource": resource, "tenant": tenant},
        )
    for tenant in sorted(tenants):
        conn.execute(
            sa.text(
                "INSERT INTO tenants (org_id, id, label, created_at_ms, disabled_at_ms) "
                "VALUES (:org, :id, :id, 0, NULL)"
            ),
            {"org": first, "id": tenant},
        )


def downgrade() -> None:
    op.create_table(
        "service_accounts",
        sa.Column("tenant_id", sa.String(length=256), nullable=False),
        sa.Column("private_key_id", sa.String(length=128), nullable=False),
        sa.Column("public_key_pem", sa.String(length=4096), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "private_key_id"),
    )
    op.create_table(
        "tenant_resources",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=256), nullable=False),
        sa.Column("tenant_id", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("kind", "resource_id"),
    )
    op.drop_table("resources")
    op.drop_table("service_account_keys")
    op.drop_table("tenants")
    with op.batch_alter_table("orgs", recreate="never") as batch:
        batch.drop_column("disabled_at_ms")
        batch.drop_column("namespaces")
