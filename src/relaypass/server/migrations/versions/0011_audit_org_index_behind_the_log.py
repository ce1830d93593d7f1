"""On SQLite, the audit log's org index is a table written behind the log, sorted by org.

An index of the log that starts with the org is written at a different place for each
org, and SQLite writes every page a commit touches into its log whole: with a thousand
orgs minting, each mint's audit row cost 2.5 times what it costs with one
(``bench/audit.py``). ``audit_org_index`` holds the same entries, added in batches
sorted by org (:mod:`relaypass.server.db.audit_index`), up to the id kept in ``meta``
as ``audit_indexed_id``. PostgreSQL keeps ``ix_audit_org_at``.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"

MARK = "audit_indexed_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "audit_org_index",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "at_ms", "id"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO audit_org_index (org_id, at_ms, id) SELECT org_id, at_ms, id"
        " FROM audit_log WHERE org_id IS NOT NULL ORDER BY org_id, at_ms, id"
    )
    op.execute(
        f"INSERT INTO meta (name, value) SELECT '{MARK}', CAST(COALESCE(MAX(id), 0) AS TEXT)"  # noqa: S608 - constants only
        " FROM audit_log"
    )
    op.drop_index("ix_audit_org_at", table_name="audit_log")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_audit_org_at", "audit_log", ["org_id", "at_ms"], unique=False)
    op.execute(f"DELETE FROM meta WHERE name = '{MARK}'")  # noqa: S608 - constants only
    op.drop_table("audit_org_index")
