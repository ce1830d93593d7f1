"""Usage rollups: per org, tenant and minute, compacted to hours and days.

Figures are added (``connects``, ``bytes_sent`` ...) or kept at their maximum
(``peak_sessions``), in one upsert per batch, in the same transaction as the
consumer's mark (the last stream entry it applied), so a batch applied twice
after a crash is recognised and skipped: at least once on the stream, exactly
once in the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, final

from sqlalchemy import Engine, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from relaypass.server.db.models import UsageConsumer, UsageRollup

__all__ = [
    "DAY",
    "GRANULARITIES",
    "HOUR",
    "MAXED",
    "MINUTE",
    "ORG_TOTAL",
    "Figure",
    "UsageStore",
    "bucket_of",
]

MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86_400
GRANULARITIES: Final = {"minute": MINUTE, "hour": HOUR, "day": DAY}
#: Figures kept at their maximum over a bucket; every other one is a sum.
MAXED: Final = frozenset({"peak_sessions"})
#: The tenant under which an org-wide figure that does not add up (a peak) is kept.
ORG_TOTAL: Final = "*"


@final
@dataclass(frozen=True, slots=True)
class Figure:
    """One figure to add to (or raise) a minute's rollup."""

    org: str
    tenant: str
    minute: int
    metric: str
    value: int


def bucket_of(at: float, granularity: int) -> int:
    """The start of the bucket of ``granularity`` seconds that holds ``at`` (whole seconds)."""
    whole = int(at)
    return whole - whole % granularity


@final
class UsageStore:
    """The usage tables of one database."""

    def __init__(self, engine: Engine, now_ms: Callable[[], int] | None = None) -> None:
        self._engine = engine
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._insert: Any = (
            postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        )

    def apply(
        self,
        figures: Iterable[Figure],
        *,
        consumer: str | None = None,
        last_id: str | None = None,
        granularity: int = MINUTE,
        also: Callable[[Session], object] | None = None,
    ) -> int:
        """Add the figures (a sum, or a maximum for :data:`MAXED`) and move the mark, at once.

        ``also`` runs in the same transaction (the batch's webhooks are queued with it).
        """
        merged: dict[tuple[str, str, int, str], int] = {}
        for f in figures:
            key = (f.org, f.tenant, bucket_of(f.minute, granularity), f.metric)
            if f.metric in MAXED:
                merged[key] = max(merged.get(key, f.value), f.value)
            else:
                merged[key] = merged.get(key, 0) + f.value
        with Session(self._engine) as session, session.begin():
            self._upsert(session, merged, granularity)
            if also is not None:
                also(session)
            if consumer is not None and last_id is not None:
                mark = self._insert(UsageConsumer).values(
                    consumer=consumer, last_id=last_id, updated_at_ms=self._now_ms()
                )
                session.execute(
                    mark.on_conflict_do_update(
                        index_elements=[UsageConsumer.consumer],
                        set_={
                            "last_id": mark.excluded.last_id,
                            "updated_at_ms": mark.excluded.updated_at_ms,
                        },
                    )
                )
        return len(merged)

    def _upsert(
        self, session: Session, merged: dict[tuple[str, str, int, str], int], granularity: int
    ) -> None:
        summed = [k for k in merged if k[3] not in MAXED]
        maxed = [k for k in merged if k[3] in MAXED]
        for keys, maximum in ((summed, False), (maxed, True)):
            if not keys:
                continue
            rows = [
                {"org_id": o, "tenant": t, "bucket": b, "granularity": granularity, "metric": m,
                 "value": merged[(o, t, b, m)]}
                for o, t, b, m in keys
            ]  # fmt: skip
            stmt = self._insert(UsageRollup)
            value = (
                case(
                    (stmt.excluded.value > UsageRollup.value, stmt.excluded.value),
                    else_=UsageRollup.value,
                )
                if maximum
                else UsageRollup.value + stmt.excluded.value
            )
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[
                        UsageRollup.org_id,
                        UsageRollup.granularity,
                        UsageRollup.bucket,
                        UsageRollup.tenant,
                        UsageRollup.metric,
                    ],
                    set_={"value": value},
                ),
                rows,
            )

    def marks(self) -> dict[str, str]:
        """Every consumer's last applied stream entry."""
        with Session(self._engine) as session:
            return {r.consumer: r.last_id for r in session.scalars(select(UsageConsumer))}

    def query(
        self,
        org: str,
        *,
        tenant: str | None,
        start: int,
        until: int,
        granularity: int,
        metrics: Sequence[str] | None = None,
    ) -> list[tuple[int, dict[str, int]]]:
        """Figures per bucket of ``granularity`` in ``[start, until)``, oldest first.

        Finer rows not compacted yet are folded into the requested buckets. Without
        a tenant, sums cover every tenant and peaks are the org's own.
        """
        finer = [g for g in (MINUTE, HOUR, DAY) if g <= granularity]
        stmt = select(
            UsageRollup.bucket, UsageRollup.tenant, UsageRollup.metric, UsageRollup.value
        ).where(
            UsageRollup.org_id == org,
            UsageRollup.granularity.in_(finer),
            UsageRollup.bucket >= bucket_of(start, granularity),
            UsageRollup.bucket < until,
        )
        if tenant is not None:
            stmt = stmt.where(UsageRollup.tenant == tenant)
        if metrics:
            stmt = stmt.where(UsageRollup.metric.in_(list(metrics)))
        out: dict[int, dict[str, int]] = {}
        with Session(self._engine) as session:
            for bucket, row_tenant, metric, value in session.execute(stmt):
                if metric in MAXED and (tenant is None) != (row_tenant == ORG_TOTAL):
                    continue  # an org's peak from its own row; a tenant's from the tenant's
                figures = out.setdefault(bucket_of(bucket, granularity), {})
                if metric in MAXED:
                    figures[metric] = max(figures.get(metric, 0), value)
                else:
                    figures[metric] = figures.get(metric, 0) + value
        return sorted(out.items())

    def compact(
        self, now: int, *, minutes_for: int, hours_for: int, days_for: int
    ) -> dict[str, int]:
        """Fold old minutes into hours and old hours into days; drop the oldest days.

        Each fold deletes what it folded in the same transaction, so it runs again safely.
        """
        folded = {
            "minutes": self._fold(MINUTE, HOUR, bucket_of(now - minutes_for, HOUR)),
            "hours": self._fold(HOUR, DAY, bucket_of(now - hours_for, DAY)),
        }
        with Session(self._engine) as session, session.begin():
            gone = session.execute(
                delete(UsageRollup).where(
                    UsageRollup.granularity == DAY, UsageRollup.bucket < now - days_for
                )
            )
        folded["days_dropped"] = int(getattr(gone, "rowcount", 0) or 0)
        return folded

    def _fold(self, finer: int, coarser: int, before: int) -> int:
        where = (UsageRollup.granularity == finer, UsageRollup.bucket < before)
        with Session(self._engine) as session, session.begin():
            rows = session.execute(
                select(
                    UsageRollup.org_id, UsageRollup.tenant, UsageRollup.bucket,
                    UsageRollup.metric, UsageRollup.value,
                ).where(*where)
            ).all()  # fmt: skip
            if not rows:
                return 0
            merged: dict[tuple[str, str, int, str], int] = {}
            for org, tenant, bucket, metric, value in rows:
                key = (org, tenant, bucket_of(bucket, coarser), metric)
                if metric in MAXED:
                    merged[key] = max(merged.get(key, value), value)
                else:
                    merged[key] = merged.get(key, 0) + value
            self._upsert(session, merged, coarser)
            session.execute(delete(UsageRollup).where(*where))
        return len(rows)
