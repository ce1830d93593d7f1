"""Usage rollups per org, tenant and minute/hour/day, and the usage consumers' marks.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_rollups",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("granularity", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=256), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "granularity", "bucket", "tenant", "metric"),
    )
    op.create_table(
        "usage_consumers",
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column("last_id", sa.String(length=40), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer"),
    )


def downgrade() -> None:
    op.drop_table("usage_consumers")
    op.drop_table("usage_rollups")
