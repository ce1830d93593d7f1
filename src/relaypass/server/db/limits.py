"""Quotas per org, set by the platform operator, carried to every gate through the outbox."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select

from relaypass.errors import InvalidRequestError
from relaypass.server.db import models
from relaypass.server.db._part import StorePart

__all__ = ["LIMIT_FIELDS", "LimitsStore"]

#: Every quota an org may have (``None``: unlimited).
LIMIT_FIELDS: Final = (
    "max_sessions", "connects_per_second", "mints_per_minute", "session_minutes_per_month",
)  # fmt: skip


def _limits(row: models.OrgLimits | None) -> dict[str, int | None]:
    return {f: (getattr(row, f) if row is not None else None) for f in LIMIT_FIELDS}


class LimitsStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`."""

    def set_org_limits(
        self, org_id: str, limits: dict[str, int | None], *, actor: str
    ) -> dict[str, int | None]:
        """Replace an org's quotas; every gate learns them through the outbox."""
        with self.transaction() as session:
            if session.get(models.Org, org_id) is None:
                msg = "no such org"
                raise InvalidRequestError(msg)
            row = session.get(models.OrgLimits, org_id)
            if row is None:
                row = models.OrgLimits(org_id=org_id, updated_at_ms=self._now())
                session.add(row)
            for name in LIMIT_FIELDS:
                setattr(row, name, limits.get(name))
            row.updated_at_ms = self._now()
            answer = _limits(row)
            self._audit(session, org_id, actor, "org.set_limits", org_id, {"limits": answer})
        return answer

    def org_limits(self, org_id: str) -> dict[str, int | None]:
        """An org's quotas (all ``None``: unlimited)."""
        with self.transaction() as session:
            return _limits(session.get(models.OrgLimits, org_id))

    def all_org_limits(self) -> dict[str, dict[str, Any]]:
        """Every org that has a quota, with its quotas."""
        with self.transaction() as session:
            rows = session.scalars(select(models.OrgLimits)).all()
            return {
                r.org_id: _limits(r)
                for r in rows
                if any(getattr(r, f) is not None for f in LIMIT_FIELDS)
            }
