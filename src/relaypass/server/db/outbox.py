"""The outbox: what gates must learn of an audited change, written in the change's transaction.

An audited action implies its outbox rows (:func:`outbox_events`): a new key-set
version, a revocation, a resource's owner, an org's limits, a room decision.
They are written in the same transaction as the change and published to Redis
afterwards (:mod:`relaypass.server.outbox`), so a gate never misses a committed
change and never hears of one that rolled back.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select

from relaypass.server.db import models
from relaypass.server.db._part import StorePart

__all__ = ["OutboxStore", "outbox_events"]

#: Audited actions that change what gates must know: the key set (keys, orgs and
#: the live-issuer registry) and revocations, with the revocation each implies.
_KEYSET_ACTIONS: Final = frozenset(
    {
        "signing_key.create",
        "signing_key.retire",
        "signing_key.revoke",
        "org.create",
        "org.disable",
        "api_key.create",
        "api_key.revoke",
        "api_key.reroll",
        "service_account.publish",
        "service_account.revoke",
        "tenant.disable",
    }
)
_REVOCATIONS: Final = {
    "token.revoke": "jti",
    "signing_key.revoke": "kid",
    "api_key.revoke": "iss",
    "org.disable": "org",
    "tenant.disable": "tenant",
    "service_account.revoke": "kid",
}


def outbox_events(
    action: str, org_id: str, target: str | None, detail: dict[str, Any] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The outbox rows an audited action implies: key set, revocation, resource, room."""
    events: list[tuple[str, dict[str, Any]]] = []
    if action in {"resource.assign", "resource.release"} and target is not None:
        kind, _, resource_id = target.partition("/")
        tenant = (detail or {}).get("tenant")
        events.append(
            (
                "resource",
                {"op": action.removeprefix("resource."), "org": org_id, "kind": kind,
                 "id": resource_id, "tenant": tenant},
            )
        )  # fmt: skip
    revocation = _REVOCATIONS.get(action)
    if revocation is not None and target is not None:
        event: dict[str, Any] = {"kind": revocation, "value": target, "org": org_id}
        until = (detail or {}).get("until")
        if isinstance(until, int | float):
            event["until"] = until
        if action == "service_account.revoke":  # target is "<tenant>/<kid>"
            tenant, _, kid = target.partition("/")
            event = {"kind": "kid", "value": kid, "org": org_id, "tenant": tenant}
        events.append(("revoke", event))
    if action == "org.set_limits" and isinstance((detail or {}).get("limits"), dict):
        events.append(("limits", {"org": org_id, "limits": dict((detail or {})["limits"])}))
    if action.startswith("room.") and isinstance((detail or {}).get("event"), dict):
        events.append(("room", dict((detail or {})["event"])))
    if action in _KEYSET_ACTIONS:
        events.append(("keyset", {}))
    return events


class OutboxStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`: the outbox's reads and marks."""

    def pending_outbox(self, limit: int = 500) -> list[tuple[int, str, dict[str, Any]]]:
        """Unpublished outbox rows, oldest first: ``(id, kind, event)``."""
        with self.transaction() as session:
            rows = session.scalars(
                select(models.OutboxEvent)
                .where(models.OutboxEvent.published_at_ms.is_(None))
                .order_by(models.OutboxEvent.id)
                .limit(limit)
            ).all()
            return [(r.id, r.kind, dict(r.event)) for r in rows]

    def mark_published(self, ids: list[int]) -> None:
        """Mark outbox rows as accepted by Redis."""
        if not ids:
            return
        with self.transaction() as session:
            for row in session.scalars(
                select(models.OutboxEvent).where(models.OutboxEvent.id.in_(ids))
            ).all():
                row.published_at_ms = self._now()

    def keyset_version(self) -> int:
        """The current key-set version: the id of the newest key-set outbox row."""
        with self.transaction() as session:
            newest = session.scalars(
                select(models.OutboxEvent.id)
                .where(models.OutboxEvent.kind == "keyset")
                .order_by(models.OutboxEvent.id.desc())
                .limit(1)
            ).first()
        return int(newest or 0)

    def enqueue_keyset(self) -> None:
        """A new key-set version with no change behind it (time moved keys between states)."""
        with self.transaction() as session:
            session.add(models.OutboxEvent(at_ms=self._now(), kind="keyset", event={}))

    def all_resources(self) -> dict[str, str]:
        """Every resource's owner, as gates hold them: ``"org/kind/id" -> tenant``."""
        with self.transaction() as session:
            rows = session.scalars(select(models.TenantResource)).all()
            return {f"{r.org_id}/{r.kind}/{r.resource_id}": r.tenant_id for r in rows}

    def standing_revocations(self) -> list[dict[str, Any]]:
        """Revocations recent enough to matter: a token they cut may still be live."""
        since = self._now() - self.max_token_ttl_ms
        with self.transaction() as session:
            return models.OutboxEvent.since(session, "revoke", since)
