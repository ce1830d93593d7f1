"""Webhooks: an org's endpoints, and its events queued for them in the change's transaction.

An event is queued (one message, one delivery per endpoint that wants its
type) in the same transaction as the change it reports, so a committed change
is never lost to a webhook; the deliverer (:mod:`relaypass.server.webhooks`)
sends, retries and records. Payloads follow Standard Webhooks:
``{"type", "timestamp", "data"}``. Secrets are ``whsec_`` + base64 of 24 random
bytes, shown once and kept sealed with the key-encryption key.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relaypass.errors import InvalidRequestError
from relaypass.server.db import models
from relaypass.server.db._part import StorePart

__all__ = [
    "AUDITED_EVENTS",
    "EVENT_TYPES",
    "Due",
    "WebhookStore",
    "enqueue",
    "new_secret",
]

#: Every event type an endpoint may ask for.
EVENT_TYPES: Final = frozenset({
    "session.started", "session.ended", "participant.waiting", "participant.joined",
    "participant.left", "participant.admitted", "participant.denied", "participant.removed",
    "room.ended", "signing_key.created", "signing_key.activated", "signing_key.retired",
    "signing_key.revoked",
    "api_key.created", "api_key.revoked", "api_key.expiring", "token.revoked",
    "access.denied", "quota.reached", "webhook.test",
})  # fmt: skip
#: Audited actions -> the event type they are announced as.
AUDITED_EVENTS: Final = {
    "signing_key.create": "signing_key.created",
    "signing_key.retire": "signing_key.retired",
    "signing_key.revoke": "signing_key.revoked",
    "api_key.create": "api_key.created",
    "api_key.revoke": "api_key.revoked",
    "token.revoke": "token.revoked",
    "room.end": "room.ended",
}
_LEASE_MS: Final = 60_000
#: API-key expiry notices, by how long before the expiry (the widest first).
_EXPIRY_NOTICES: Final = (("7 days", 7 * 86_400_000), ("1 day", 86_400_000))
_ENDPOINTS_TTL: Final = 2.0
MAX_ENDPOINTS_PER_ORG: Final = 20


def new_secret() -> str:
    """A fresh signing secret in Standard Webhooks' form."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _payload(event_type: str, data: dict[str, Any], now_ms: int) -> dict[str, Any]:
    stamp = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")
    return {"type": event_type, "timestamp": stamp, "data": data}


@final
class _Endpoints:
    """Which endpoints of an org want which types, cached briefly per process."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, list[tuple[str, frozenset[str]]]]] = {}

    def of(self, session: Session, org_id: str) -> list[tuple[str, frozenset[str]]]:
        hit = self._cache.get(org_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        rows = session.execute(
            select(models.WebhookEndpoint.id, models.WebhookEndpoint.event_types).where(
                models.WebhookEndpoint.org_id == org_id,
                models.WebhookEndpoint.disabled_at_ms.is_(None),
            )
        ).all()
        found = [(endpoint_id, frozenset(types or ())) for endpoint_id, types in rows]
        self._cache[org_id] = (time.monotonic() + _ENDPOINTS_TTL, found)
        return found

    def forget(self, org_id: str) -> None:
        self._cache.pop(org_id, None)


ENDPOINTS: Final = _Endpoints()


def enqueue(
    session: Session,
    org_id: str,
    event_type: str,
    data: dict[str, Any],
    now_ms: int,
    *,
    only: str | None = None,
) -> str | None:
    """Queue one event for the org's endpoints that want it, in ``session``'s transaction.

    ``only``: one endpoint (a test message). Nothing is written when none wants it.
    """
    targets = [
        endpoint_id
        for endpoint_id, types in ENDPOINTS.of(session, org_id)
        if (only is None and (not types or event_type in types)) or endpoint_id == only
    ]
    if not targets:
        return None
    message_id = f"msg_{secrets.token_urlsafe(18)}"
    session.add(
        models.WebhookMessage(
            id=message_id, org_id=org_id, event_type=event_type,
            payload=_payload(event_type, data, now_ms), created_at_ms=now_ms,
        )
    )  # fmt: skip
    for endpoint_id in targets:
        session.add(
            models.WebhookDelivery(
                message_id=message_id, endpoint_id=endpoint_id, org_id=org_id, state="pending",
                attempts=0, next_attempt_ms=now_ms, created_at_ms=now_ms,
            )
        )  # fmt: skip
    return message_id


@final
@dataclass(frozen=True, slots=True)
class Due:
    """A delivery to attempt now: where, with which secrets, what."""

    delivery_id: int
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]
    message_id: str
    body: dict[str, Any]
    attempts: int


def _info(row: models.WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": row.id, "url": row.url, "description": row.description,
        "event_types": list(row.event_types or []), "created_at_ms": row.created_at_ms,
        "disabled_at_ms": row.disabled_at_ms, "disabled_reason": row.disabled_reason,
        "failing_since_ms": row.failing_since_ms,
    }  # fmt: skip


def _check_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - EVENT_TYPES)
    if unknown:
        msg = f"unknown event types: {', '.join(unknown)[:200]}"
        raise InvalidRequestError(msg)
    return sorted(set(event_types))


class WebhookStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`."""

    # ------------------------------------------------------------ endpoints

    def _seal(self, org_id: str, endpoint_id: str, secret: str) -> bytes:
        return self._kek.seal(secret.encode(), f"{org_id}:{endpoint_id}:webhook")

    def _unseal(self, row: models.WebhookEndpoint, sealed: bytes) -> str:
        return self._kek.open(sealed, f"{row.org_id}:{row.id}:webhook").decode()

    def _endpoint(self, session: Session, org_id: str, endpoint_id: str) -> models.WebhookEndpoint:
        row = session.get(models.WebhookEndpoint, endpoint_id)
        if row is None or row.org_id != org_id:  # another org's answers as a missing one
            msg = "no such webhook endpoint"
            raise InvalidRequestError(msg)
        return row

    def create_webhook(
        self,
        org_id: str,
        url: str,
        *,
        event_types: Sequence[str] = (),
        description: str = "",
        actor: str,
    ) -> tuple[dict[str, Any], str]:
        """A new endpoint and its secret (shown once)."""
        types = _check_types(event_types)
        endpoint_id = f"wh_{secrets.token_urlsafe(12)}"
        secret = new_secret()
        with self.transaction() as session:
            count = len(session.scalars(
                select(models.WebhookEndpoint.id).where(models.WebhookEndpoint.org_id == org_id)
            ).all())  # fmt: skip
            if count >= MAX_ENDPOINTS_PER_ORG:
                msg = f"an org has at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints"
                raise InvalidRequestError(msg)
            row = models.WebhookEndpoint(
                id=endpoint_id, org_id=org_id, url=url, description=description,
                event_types=types, sealed_secret=self._seal(org_id, endpoint_id, secret),
                sealed_previous=None, previous_until_ms=None, created_at_ms=self._now(),
                disabled_at_ms=None, disabled_reason=None, failing_since_ms=None,
            )  # fmt: skip
            session.add(row)
            session.flush()
            self._audit(session, org_id, actor, "webhook.create", endpoint_id, {"url": url})
            info = _info(row)
        ENDPOINTS.forget(org_id)
        return info, secret

    def list_webhooks(self, org_id: str) -> list[dict[str, Any]]:
        """The org's endpoints, oldest first."""
        with self.transaction() as session:
            rows = session.scalars(
                select(models.WebhookEndpoint)
                .where(models.WebhookEndpoint.org_id == org_id)
                .order_by(models.WebhookEndpoint.created_at_ms)
            ).all()
            return [_info(r) for r in rows]

    def update_webhook(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        actor: str,
    ) -> dict[str, Any]:
        """Change an endpoint; ``enabled=True`` also clears a disabled one's failure."""
        with self.transaction() as session:
            row = self._endpoint(session, org_id, endpoint_id)
            if url is not None:
                row.url = url
            if event_types is not None:
                row.event_types = _check_types(event_types)
            if description is not None:
                row.description = description
            if enabled is True:
                row.disabled_at_ms = row.disabled_reason = row.failing_since_ms = None
            elif enabled is False and row.disabled_at_ms is None:
                row.disabled_at_ms, row.disabled_reason = self._now(), "disabled by a user"
            self._audit(session, org_id, actor, "webhook.update", endpoint_id, {})
            info = _info(row)
        ENDPOINTS.forget(org_id)
        return info

    def delete_webhook(self, org_id: str, endpoint_id: str, *, actor: str) -> None:
        """Remove an endpoint; its pending deliveries are dropped with it."""
        with self.transaction() as session:
            row = self._endpoint(session, org_id, endpoint_id)
            session.execute(
                update(models.WebhookDelivery)
                .where(models.WebhookDelivery.endpoint_id == endpoint_id,
                       models.WebhookDelivery.state == "pending")
                .values(state="failed", next_attempt_ms=None, last_error="endpoint deleted")
            )  # fmt: skip
            session.delete(row)
            self._audit(session, org_id, actor, "webhook.delete", endpoint_id, {})
        ENDPOINTS.forget(org_id)

    def rotate_webhook_secret(
        self, org_id: str, endpoint_id: str, *, grace_ms: int, actor: str
    ) -> str:
        """A new secret; the old one also signs for ``grace_ms`` (receivers accept either)."""
        secret = new_secret()
        with self.transaction() as session:
            row = self._endpoint(session, org_id, endpoint_id)
            row.sealed_previous = self._seal(
                org_id, endpoint_id, self._unseal(row, row.sealed_secret)
            )
            row.previous_until_ms = self._now() + grace_ms
            row.sealed_secret = self._seal(org_id, endpoint_id, secret)
            self._audit(session, org_id, actor, "webhook.rotate_secret", endpoint_id, {})
        return secret

    def test_webhook(self, org_id: str, endpoint_id: str) -> str:
        """Queue a ``webhook.test`` message to this endpoint alone."""
        with self.transaction() as session:
            row = self._endpoint(session, org_id, endpoint_id)
            if row.disabled_at_ms is not None:
                msg = "the endpoint is disabled: enable it first"
                raise InvalidRequestError(msg)
            ENDPOINTS.forget(org_id)
            message = enqueue(session, org_id, "webhook.test", {"endpointId": endpoint_id},
                              self._now(), only=endpoint_id)  # fmt: skip
        assert message is not None  # noqa: S101 - an enabled endpoint always takes its test
        return message

    def announce_expiring_keys(self) -> int:
        """Queue ``api_key.expiring`` 7 days and 1 day before each live key's expiry, once each."""
        now = self._now()
        queued = 0
        with self.transaction() as session:
            keys = session.scalars(
                select(models.ApiKey).where(
                    models.ApiKey.revoked_at_ms.is_(None),
                    models.ApiKey.expires_at_ms.is_not(None),
                    models.ApiKey.expires_at_ms > now,
                    models.ApiKey.expires_at_ms <= now + _EXPIRY_NOTICES[0][1],
                )
            ).all()
            for key in keys:
                left = (key.expires_at_ms or now) - now
                kind = next(k for k, within in reversed(_EXPIRY_NOTICES) if left <= within)
                if session.get(models.WebhookNotice, (key.id, kind)) is not None:
                    continue
                session.add(models.WebhookNotice(subject=key.id, kind=kind, at_ms=now))
                data = {"id": key.id, "label": key.label, "expiresAtMs": key.expires_at_ms}
                if enqueue(session, key.org_id, "api_key.expiring", data | {"notice": kind}, now):
                    queued += 1
        return queued

    def announce_activated_keys(self, *, horizon_ms: int = 7 * 86_400_000) -> int:
        """Queue ``signing_key.activated`` once for each key whose activation time has passed.

        Keys activate by time (after the propagation delay), not by an action, so this is
        looked for; keys that activated more than ``horizon_ms`` ago are not announced late.
        """
        now = self._now()
        queued = 0
        notice = models.WebhookNotice
        with self.transaction() as session:
            # Only the keys not announced yet: the deliverer asks twice a second, and a read
            # of every org's notices each time would grow with the orgs.
            keys = session.scalars(
                select(models.SigningKey)
                .outerjoin(
                    notice,
                    (notice.subject == models.SigningKey.kid) & (notice.kind == "activated"),
                )
                .where(
                    notice.subject.is_(None),
                    models.SigningKey.revoked_at_ms.is_(None),
                    models.SigningKey.active_at_ms <= now,
                    models.SigningKey.active_at_ms > now - horizon_ms,
                )
            ).all()
            for key in keys:
                session.add(models.WebhookNotice(subject=key.kid, kind="activated", at_ms=now))
                data = {"id": key.kid, "label": key.label, "activeAtMs": key.active_at_ms}
                if enqueue(session, key.org_id, "signing_key.activated", data, now):
                    queued += 1
        return queued

    def emit_webhook(self, org_id: str, event_type: str, data: dict[str, Any]) -> str | None:
        """Queue one event in a transaction of its own (for events that change nothing)."""
        with self.transaction() as session:
            return enqueue(session, org_id, event_type, data, self._now())

    # ------------------------------------------------------------ deliveries

    def webhook_deliveries(
        self, org_id: str, endpoint_id: str, *, state: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """An endpoint's deliveries, newest first."""
        with self.transaction() as session:
            self._endpoint(session, org_id, endpoint_id)
            stmt = (
                select(models.WebhookDelivery, models.WebhookMessage.event_type)
                .join(models.WebhookMessage,
                      models.WebhookMessage.id == models.WebhookDelivery.message_id)
                .where(models.WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(models.WebhookDelivery.id.desc())
                .limit(limit)
            )  # fmt: skip
            if state is not None:
                stmt = stmt.where(models.WebhookDelivery.state == state)
            return [
                {"id": d.id, "message_id": d.message_id, "event_type": event_type,
                 "state": d.state, "attempts": d.attempts, "next_attempt_ms": d.next_attempt_ms,
                 "last_status": d.last_status, "last_error": d.last_error,
                 "last_latency_ms": d.last_latency_ms, "delivered_at_ms": d.delivered_at_ms,
                 "created_at_ms": d.created_at_ms}
                for d, event_type in session.execute(stmt)
            ]  # fmt: skip

    def replay_webhook_delivery(self, org_id: str, delivery_id: int, *, actor: str) -> int:
        """Send a delivery's message again, now, as a new delivery."""
        with self.transaction() as session:
            old = session.get(models.WebhookDelivery, delivery_id)
            if old is None or old.org_id != org_id:
                msg = "no such delivery"
                raise InvalidRequestError(msg)
            endpoint = self._endpoint(session, org_id, old.endpoint_id)
            if endpoint.disabled_at_ms is not None:
                msg = "the endpoint is disabled: enable it first"
                raise InvalidRequestError(msg)
            now = self._now()
            again = models.WebhookDelivery(
                message_id=old.message_id, endpoint_id=old.endpoint_id, org_id=org_id,
                state="pending", attempts=0, next_attempt_ms=now, created_at_ms=now,
            )  # fmt: skip
            session.add(again)
            session.flush()
            self._audit(session, org_id, actor, "webhook.replay", str(delivery_id), {})
            return again.id

    def due_webhook_deliveries(self, limit: int = 50, *, lease_ms: int = _LEASE_MS) -> list[Due]:
        """Deliveries to attempt now, leased to this caller for ``lease_ms``.

        The lease is one attempt's time with room to spare: a replica that died in the
        middle of an attempt holds its deliveries no longer than that.
        """
        now = self._now()
        with self.transaction() as session:
            stmt = (
                select(models.WebhookDelivery)
                .where(models.WebhookDelivery.state == "pending",
                       models.WebhookDelivery.next_attempt_ms <= now)
                .order_by(models.WebhookDelivery.next_attempt_ms)
                .limit(limit)
            )  # fmt: skip
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            due: list[Due] = []
            for delivery in session.scalars(stmt).all():
                endpoint = session.get(models.WebhookEndpoint, delivery.endpoint_id)
                message = session.get(models.WebhookMessage, delivery.message_id)
                if endpoint is None or message is None or endpoint.disabled_at_ms is not None:
                    delivery.state, delivery.next_attempt_ms = "failed", None
                    delivery.last_error = "endpoint disabled or deleted"
                    continue
                delivery.next_attempt_ms = now + lease_ms  # another replica waits for the lease
                keys = [self._unseal(endpoint, endpoint.sealed_secret)]
                if endpoint.sealed_previous is not None and (endpoint.previous_until_ms or 0) > now:
                    keys.append(self._unseal(endpoint, endpoint.sealed_previous))
                due.append(Due(delivery.id, endpoint.id, endpoint.url, tuple(keys), message.id,
                               message.payload, delivery.attempts))  # fmt: skip
            return due

    def record_webhook_attempt(
        self,
        delivery_id: int,
        *,
        status: int | None,
        error: str | None,
        latency_ms: int,
        retry_seconds: Sequence[float],
        disable_after_ms: int,
    ) -> str:
        """Record an attempt; the delivery's new state (``delivered``, ``pending``, ``failed``).

        A failure is retried after ``retry_seconds[attempts - 1]`` (±10 % jitter); past the
        schedule the delivery fails, and an endpoint failing for ``disable_after_ms`` is
        disabled (its org sees why in the dashboard and in ``webhooks.list``).
        """
        now = self._now()
        with self.transaction() as session:
            delivery = session.get(models.WebhookDelivery, delivery_id)
            if delivery is None:
                return "failed"
            endpoint = session.get(models.WebhookEndpoint, delivery.endpoint_id)
            delivery.attempts += 1
            delivery.last_status, delivery.last_latency_ms = status, latency_ms
            delivery.last_error = error[:200] if error else None
            if status is not None and 200 <= status < 300:  # noqa: PLR2004 - HTTP success
                delivery.state, delivery.delivered_at_ms = "delivered", now
                delivery.next_attempt_ms = None
                if endpoint is not None:
                    endpoint.failing_since_ms = None
                return "delivered"
            if endpoint is not None and endpoint.failing_since_ms is None:
                endpoint.failing_since_ms = now
            if delivery.attempts <= len(retry_seconds):
                wait = retry_seconds[delivery.attempts - 1] * random.uniform(0.9, 1.1)  # noqa: S311
                delivery.next_attempt_ms = now + int(wait * 1000)
                return "pending"
            delivery.state, delivery.next_attempt_ms = "failed", None
            if (
                endpoint is not None
                and endpoint.disabled_at_ms is None
                and now - (endpoint.failing_since_ms or now) >= disable_after_ms
            ):
                endpoint.disabled_at_ms = now
                endpoint.disabled_reason = "every delivery failed for a day"
                self._audit(session, endpoint.org_id, "system", "webhook.disable", endpoint.id,
                            {"reason": endpoint.disabled_reason})  # fmt: skip
                ENDPOINTS.forget(endpoint.org_id)
            return "failed"
