"""SQLite's org index of the audit log, written behind the log in batches sorted by org.

Every mint appends an audit row before its answer leaves, and the log is read per org,
newest first. An index of the log that starts with the org is written at a different
place for each org; SQLite writes every page a commit touches into its log whole, so
with a thousand orgs minting each row dirtied a page of its own, and an append cost 2.5
times what it costs for one org (``bench/audit.py``). On SQLite the log therefore keeps
no such index: :class:`AuditIndexer` adds the rows appended since its last batch to
``audit_org_index`` every :data:`EVERY_SECONDS`, sorted by org, so each org's page is
written once a batch (in transactions of a slice of the sorted batch each, so an append
waits for a short one at the most), then moves the mark (``meta.audit_indexed_id``) past them.

A read of an org's log (:func:`org_page`) takes the rows up to the mark from the index
and those after it from the log itself (a range of its newest ids), each part newest
first and cut at what the page needs, then merges them. The mark is read inside that
statement, so the two parts are disjoint and together whole whether or not a batch
commits meanwhile; nothing depends on the indexer having run but the read's speed.
PostgreSQL logs index entries, not pages: there the log keeps ``ix_audit_org_at``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

import structlog
from sqlalchemy import BigInteger, Select, cast, func, literal_column, select, update

from relaypass._background import Background
from relaypass.server.db import models

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["EVERY_SECONDS", "MARK", "AuditIndexer", "index_behind", "org_page"]

#: The name of the mark in ``meta``: every org row with an id up to it is indexed.
MARK: Final = "audit_indexed_id"
#: How often the indexer adds what was appended.
EVERY_SECONDS: Final = 2.0
#: The most ids one batch takes (a service that fell behind catches up batch by batch).
BATCH_MAX: Final = 50_000
#: How many entries one transaction of a batch adds (what an append may wait for).
CHUNK_ROWS: Final = 250

_log = structlog.get_logger("relaypass.server.db.audit_index")


def index_behind(engine: Engine, *, most: int = BATCH_MAX, chunk_rows: int = CHUNK_ROWS) -> int:
    """Index the org rows appended since the mark (``most`` ids at the most).

    Returns how many ids the mark moved over (``most``: there may be more to index).

    The batch's entries are read from the log once, sorted by org into a temporary table
    (the connection's own: no lock on the database), and added ``chunk_rows`` at a time,
    each chunk a transaction of its own: an append waits for one chunk at the most, and
    each org's page is still written about once a batch. The mark moves last, only
    forward: an entry past it is not read from the index (its row is read from the log),
    and one already there is skipped. Reading the last id needs no lock: SQLite has one
    writer at a time, so an id below a committed one is never committed later.
    """
    meta = models.Meta
    with engine.connect() as conn:
        mark = conn.execute(select(meta.value).where(meta.name == MARK)).scalar()
        if mark is None:  # not migrated for it (PostgreSQL, or an older schema)
            return 0
        after = int(mark)
        last = conn.execute(select(func.max(models.AuditEvent.id))).scalar() or 0
        upto = min(last, after + most)
        if upto <= after:
            return 0
        conn.exec_driver_sql("DROP TABLE IF EXISTS temp.audit_batch")
        conn.exec_driver_sql(
            "CREATE TEMP TABLE audit_batch AS SELECT org_id, at_ms, id FROM audit_log"
            " WHERE id > ? AND id <= ? AND org_id IS NOT NULL ORDER BY org_id, at_ms, id",
            (after, upto),
        )
        conn.commit()
        try:
            count = conn.exec_driver_sql("SELECT max(rowid) FROM temp.audit_batch").scalar() or 0
            for start in range(1, count + 1, chunk_rows):
                conn.exec_driver_sql(
                    "INSERT OR IGNORE INTO audit_org_index (org_id, at_ms, id)"
                    " SELECT org_id, at_ms, id FROM temp.audit_batch"
                    " WHERE rowid >= ? AND rowid < ? ORDER BY org_id, at_ms, id",
                    (start, start + chunk_rows),
                )
                conn.commit()
            conn.execute(
                update(meta)
                .where(meta.name == MARK, cast(meta.value, BigInteger) < upto)
                .values(value=str(upto))
            )
            conn.commit()
        finally:
            conn.rollback()
            conn.exec_driver_sql("DROP TABLE IF EXISTS temp.audit_batch")
            conn.commit()
    return upto - after


def org_page(
    org_id: str,
    *,
    action: str | None,
    actor: str | None,
    since_ms: int | None,
    until_ms: int | None,
    limit: int,
    offset: int,
) -> Select[models.AuditEvent]:
    """One org's events, newest first by time: ``limit`` of them after ``offset``.

    The indexed part walks the org's entries newest first and stops at what the page
    needs. The part after the mark is a range of the log's newest ids, all of it (a
    batch's worth): its conditions are written so that SQLite reads it by id, not by an
    index of the whole log's times or actions (``col || ''`` and ``col + 0`` keep an
    index from being chosen for them).
    """
    log, entry, meta = models.AuditEvent, models.AuditOrgEntry, models.Meta
    mark = func.coalesce(
        select(cast(meta.value, BigInteger)).where(meta.name == MARK).scalar_subquery(),
        literal_column("0"),
    )
    # Each part yields ids and times; the page's rows are read by id at the end.
    indexed = select(entry.id, entry.at_ms).where(entry.org_id == org_id, entry.id <= mark)
    recent = select(log.id, (log.at_ms + 0).label("at_ms")).where(
        log.id > mark, log.org_id == org_id
    )
    if action is not None or actor is not None:
        indexed = indexed.join(log, log.id == entry.id)
    if action is not None:
        indexed = indexed.where(log.action == action)
        recent = recent.where(log.action.concat("") == action)
    if actor is not None:
        indexed = indexed.where(log.actor == actor)
        recent = recent.where(log.actor.concat("") == actor)
    if since_ms is not None:
        indexed = indexed.where(entry.at_ms >= since_ms)
        recent = recent.where(log.at_ms + 0 >= since_ms)
    if until_ms is not None:
        indexed = indexed.where(entry.at_ms < until_ms)
        recent = recent.where(log.at_ms + 0 < until_ms)
    # The page lies within the first limit + offset of either part.
    indexed = indexed.order_by(entry.at_ms.desc(), entry.id.desc()).limit(limit + offset)
    both = select(indexed.subquery()).union_all(recent).subquery()
    page = (
        select(both.c.id, both.c.at_ms)
        .order_by(both.c.at_ms.desc(), both.c.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    return select(log).join(page, page.c.id == log.id).order_by(page.c.at_ms.desc(), log.id.desc())


@final
class AuditIndexer:
    """Runs :func:`index_behind` every :data:`EVERY_SECONDS` in the background (SQLite)."""

    def __init__(self, engine: Engine, *, every_seconds: float = EVERY_SECONDS) -> None:
        self._engine = engine
        self._every = every_seconds
        self._background = Background(self._run, "relaypass-audit-index")

    def start(self) -> None:
        """Index in the background (nothing if it already runs)."""
        self._background.start()

    def close(self) -> None:
        """Stop (what is not indexed yet is read from the log itself)."""
        self._background.stop(timeout=10)

    def _run(self) -> None:
        stopping = self._background.stopping
        while True:
            try:
                while index_behind(self._engine) >= BATCH_MAX:  # behind: catch up first
                    if stopping.is_set():
                        break
            except Exception as exc:  # noqa: BLE001 - locked or away: the next turn retries
                _log.warning("audit_index.failed", error=type(exc).__name__)
            if stopping.wait(self._every):
                return
