"""Service-account keys carry their public key's thumbprint: one org per public key.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relaypass._alg import Algorithm
from relaypass._keys import Key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_account_keys") as batch:
        batch.add_column(sa.Column("public_key_thumbprint", sa.String(length=64), nullable=True))
        batch.create_index(
            "ix_service_account_keys_public_key_thumbprint", ["public_key_thumbprint"]
        )
    table = sa.table(
        "service_account_keys",
        sa.column("org_id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("private_key_id", sa.String),
        sa.column("public_key_pem", sa.String),
        sa.column("public_key_thumbprint", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(table.c.org_id, table.c.tenant_id, table.c.private_key_id, table.c.public_key_pem)
    ).all()
    for org_id, tenant_id, kid, pem in rows:
        thumbprint = Key.from_pem(pem, Algorithm.RS256).thumbprint()
        connection.execute(
            table.update()
            .where(
                table.c.org_id == org_id,
                table.c.tenant_id == tenant_id,
                table.c.private_key_id == kid,
            )
            .values(public_key_thumbprint=thumbprint)
        )


def downgrade() -> None:
    with op.batch_alter_table("service_account_keys") as batch:
        batch.drop_index("ix_service_account_keys_public_key_thumbprint")
        batch.drop_column("public_key_thumbprint")
