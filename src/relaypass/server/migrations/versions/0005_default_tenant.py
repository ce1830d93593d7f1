"""Every org has a 'default' tenant, which mints use when they name none.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TENANTS = sa.table(
    "tenants",
    sa.column("org_id", sa.String),
    sa.column("id", sa.String),
    sa.column("label", sa.String),
    sa.column("created_at_ms", sa.BigInteger),
    sa.column("disabled_at_ms", sa.BigInteger),
)
_ORGS = sa.table("orgs", sa.column("id", sa.String))


def upgrade() -> None:
    connection = op.get_bind()
    having = {
        row[0]
        for row in connection.execute(
            sa.select(_TENANTS.c.org_id).where(_TENANTS.c.id == "default")
        )
    }
    now = int(time.time() * 1000)
    missing = [
        {"org_id": org, "id": "default", "label": "default", "created_at_ms": now,
         "disabled_at_ms": None}
        for (org,) in connection.execute(sa.select(_ORGS.c.id))
        if org not in having
    ]  # fmt: skip
    if missing:
        connection.execute(_TENANTS.insert(), missing)


def downgrade() -> None:
    """Nothing to undo: a tenant named 'default' is an ordinary tenant."""
