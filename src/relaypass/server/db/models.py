"""Tables. Times are integer Unix milliseconds, portable across SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def new_id(prefix: str) -> str:
    """A fresh random id with a type prefix (``org_…``, ``key_…``): every row's one id scheme."""
    return f"{prefix}_{secrets.token_hex(12)}"


class Base(DeclarativeBase):
    """Declarative base."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class Org(Base):
    """A tenant organisation."""

    __tablename__ = "orgs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    #: The namespace roots the org owns (``[""]``: the unprefixed space).
    namespaces: Mapped[list[str]] = mapped_column(JSON)
    disabled_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class Tenant(Base):
    """A tenant of one org (TeleQuick); its id is unique within the org only."""

    __tablename__ = "tenants"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    disabled_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class ApiKey(Base):
    """A long-lived API key: only its peppered hash and display parts are kept."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(8))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_start: Mapped[str] = mapped_column(String(32))
    display_end: Mapped[str] = mapped_column(String(8))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    replaced_by: Mapped[str | None] = mapped_column(String(64))


class SigningKey(Base):
    """A per-org signing key; the private JWK is sealed under the KEK."""

    __tablename__ = "signing_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    kid: Mapped[str] = mapped_column(String(128), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_private: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    active_at_ms: Mapped[int] = mapped_column(BigInteger)
    retiring_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    retired_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at_ms: Mapped[int | None] = mapped_column(BigInteger)


class ServiceAccount(Base):
    """A registered service-account public key (ClutchCall), keyed by (org, tenant, kid)."""

    __tablename__ = "service_account_keys"
    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    private_key_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    public_key_pem: Mapped[str] = mapped_column(String(4096))
    #: RFC 7638 thumbprint of the public key: a public key belongs to one org only.
    public_key_thumbprint: Mapped[str | None] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(8))
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class AuditEvent(Base):
    """Append-only record of admin actions and mints (never a token or secret)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    org_id: Mapped[str | None] = mapped_column(String(64))  # ix_audit_org_at starts with it
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str | None] = mapped_column(String(256))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotencyRecord(Base):
    """The stored outcome of a create procedure, replayed on retry."""

    __tablename__ = "idempotency"
    __table_args__ = (UniqueConstraint("org_id", "procedure", "key"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    org_id: Mapped[str] = mapped_column(String(64))
    procedure: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class TenantResource(Base):
    """Ownership of trunks, calls and event streams (TeleQuick), per org."""

    __tablename__ = "resources"
    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(256))


#: The log by org, newest first: on PostgreSQL an index of ``audit_log`` itself. SQLite
#: writes each page an append touches into its log whole, and this index is touched at a
#: different place for each org, so there the org index is :class:`AuditOrgEntry` instead.
Index("ix_audit_org_at", AuditEvent.org_id, AuditEvent.at_ms)


class AuditOrgEntry(Base):
    """SQLite's org index of the audit log, written behind it in batches sorted by org.

    Rows up to the mark in :class:`Meta` (``audit_indexed_id``) are here; a read of an
    org's log takes those from here and the few after the mark from the log itself
    (see :mod:`relaypass.server.db.audit_index`). PostgreSQL has no such table.
    """

    __tablename__ = "audit_org_index"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy's declaration
    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class OutboxEvent(Base):
    """A change gates must learn: a key-set change or a revocation.

    Written in the same transaction as the change, and drained to Redis until
    Redis accepts it.

    Its id is the key-set version: a database sequence every replica shares, so
    versions never collide and never go backwards.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at_ms: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at_ms: Mapped[int | None] = mapped_column(BigInteger, index=True)

    @classmethod
    def since(cls, session: Session, kind: str, since_ms: int) -> list[dict[str, Any]]:
        """The events of one kind written from ``since_ms`` on, oldest first."""
        rows = session.scalars(
            select(cls).where(cls.kind == kind, cls.at_ms >= since_ms).order_by(cls.id)
        ).all()
        return [dict(r.event) for r in rows]


class Change(Base):
    """An org whose objects changed (keys, tenants, quotas...): workers drop its cache entries.

    Written by every audited write, in its transaction; read by each worker's change feed
    (``server/db/changes.py``); deleted after an hour.
    """

    __tablename__ = "changes"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    org_id: Mapped[str] = mapped_column(String(64))
    at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class Meta(Base):
    """Facts about the database itself: check values of the secrets it was made with."""

    __tablename__ = "meta"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))


class UsageRollup(Base):
    """One usage figure of an org (and tenant) over one bucket: a minute, an hour or a day.

    ``tenant`` is ``""`` for sessions of no tenant and ``"*"`` for the org's own
    peak concurrency (a peak does not add up across tenants). ``bucket`` is the
    bucket's first second; ``granularity`` its length in seconds.
    """

    __tablename__ = "usage_rollups"
    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    granularity: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(256), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class UsageConsumer(Base):
    """The last usage-stream entry a control-plane consumer applied (its de-duplication mark)."""

    __tablename__ = "usage_consumers"
    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_id: Mapped[str] = mapped_column(String(40))
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class WebhookEndpoint(Base):
    """A customer's receiver of the org's events (Standard Webhooks); its secret sealed."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200))
    #: Event types delivered (``[]``: every type).
    event_types: Mapped[list[str]] = mapped_column(JSON)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    #: After a rotation, the previous secret also signs until this instant.
    sealed_previous: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_until_ms: Mapped[int | None] = mapped_column(BigInteger)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    disabled_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    #: The first failure since the last success (``None``: healthy).
    failing_since_ms: Mapped[int | None] = mapped_column(BigInteger)


class WebhookMessage(Base):
    """One event of an org, as sent to its endpoints (the id is the ``webhook-id``)."""

    __tablename__ = "webhook_messages"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class WebhookDelivery(Base):
    """One message to one endpoint: its attempts, and when it is tried next."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), index=True)
    org_id: Mapped[str] = mapped_column(String(64))
    #: ``pending`` (to try at ``next_attempt_ms``), ``delivered`` or ``failed`` (gave up).
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    delivered_at_ms: Mapped[int | None] = mapped_column(BigInteger)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


Index("ix_webhook_due", WebhookDelivery.state, WebhookDelivery.next_attempt_ms)


class WebhookNotice(Base):
    """A notice announced once (an API key's expiry, 7 days and 1 day before)."""

    __tablename__ = "webhook_notices"
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)


class OrgLimits(Base):
    """An org's quotas, set by the platform operator (``None``: no limit)."""

    __tablename__ = "org_limits"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    max_sessions: Mapped[int | None] = mapped_column(Integer)
    connects_per_second: Mapped[int | None] = mapped_column(Integer)
    mints_per_minute: Mapped[int | None] = mapped_column(Integer)
    session_minutes_per_month: Mapped[int | None] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
