"""Quotas per org: concurrent sessions, connects per second, mints per minute, session minutes.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_limits",
        sa.Column("org_id", sa.String(length=64), sa.ForeignKey("orgs.id"), nullable=False),
        sa.Column("max_sessions", sa.Integer(), nullable=True),
        sa.Column("connects_per_second", sa.Integer(), nullable=True),
        sa.Column("mints_per_minute", sa.Integer(), nullable=True),
        sa.Column("session_minutes_per_month", sa.BigInteger(), nullable=True),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id"),
    )


def downgrade() -> None:
    op.drop_table("org_limits")
