"""Webhooks: an org's endpoints for its events, their deliveries, and replays.

Deliveries follow Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature`` headers; verify them with the ``standardwebhooks``
library of your language). An endpoint's secret is shown once, at creation
and at each rotation. Managing endpoints needs ``keys:admin``.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from relaypass.api._base import OWN_ORG, Input, Output, Procedure
from relaypass.errors import ErrorCode

__all__ = [
    "WEBHOOKS_CREATE",
    "WEBHOOKS_DELETE",
    "WEBHOOKS_DELIVERIES",
    "WEBHOOKS_LIST",
    "WEBHOOKS_REPLAY",
    "WEBHOOKS_ROTATE",
    "WEBHOOKS_TEST",
    "WEBHOOKS_UPDATE",
    "DeliveryInfo",
    "DeliveryList",
    "DeliveryQuery",
    "DeliveryRef",
    "EndpointCreate",
    "EndpointCreated",
    "EndpointInfo",
    "EndpointList",
    "EndpointQuery",
    "EndpointRef",
    "EndpointUpdate",
    "Replayed",
    "SecretRotated",
    "TestQueued",
    "WebhookDeleted",
]

_TYPES = Field(
    default=None, max_length=32,
    description="Event types to deliver (session.started, api_key.revoked, ...); all when empty.",
)  # fmt: skip


class EndpointCreate(Input):
    """A new endpoint: where, and which events."""

    org_id: str = OWN_ORG
    url: str = Field(min_length=8, max_length=2048)
    event_types: list[str] | None = _TYPES
    description: str = Field(default="", max_length=200)


class EndpointQuery(Input):
    """The org's endpoints."""

    org_id: str = OWN_ORG


class EndpointRef(Input):
    """One of the org's endpoints."""

    org_id: str = OWN_ORG
    id: str = Field(min_length=1, max_length=40)


class EndpointUpdate(EndpointRef):
    """What to change (enabled: true also clears a disabled endpoint's failure)."""

    url: str | None = Field(default=None, min_length=8, max_length=2048)
    event_types: list[str] | None = _TYPES
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class EndpointInfo(Output):
    """An endpoint (never its secret)."""

    id: str
    url: str
    description: str
    event_types: list[str]
    created_at_ms: int
    disabled_at_ms: int | None
    disabled_reason: str | None
    failing_since_ms: int | None


class EndpointCreated(Output):
    """The endpoint and its signing secret, shown this once."""

    endpoint: EndpointInfo
    secret: str


class EndpointList(Output):
    """The org's endpoints."""

    endpoints: list[EndpointInfo]


class WebhookDeleted(Output):
    """The endpoint is gone; its pending deliveries with it."""

    id: str


class SecretRotated(Output):
    """The new secret (shown once); the previous one also signs for 24 hours."""

    id: str
    secret: str


class TestQueued(Output):
    """A ``webhook.test`` message queued to the endpoint."""

    message_id: str


class DeliveryQuery(EndpointRef):
    """An endpoint's deliveries, newest first."""

    state: Literal["pending", "delivered", "failed"] | None = None
    limit: int = Field(default=50, ge=1, le=500)


class DeliveryInfo(Output):
    """One message to one endpoint: attempts, the last answer, its latency."""

    id: int
    message_id: str
    event_type: str
    state: str
    attempts: int
    next_attempt_ms: int | None
    last_status: int | None
    last_error: str | None
    last_latency_ms: int | None
    delivered_at_ms: int | None
    created_at_ms: int


class DeliveryList(Output):
    """Deliveries, newest first."""

    deliveries: list[DeliveryInfo]


class DeliveryRef(Input):
    """One delivery of the org's."""

    org_id: str = OWN_ORG
    delivery_id: int = Field(ge=1)


class Replayed(Output):
    """The new delivery of the same message."""

    delivery_id: int


_ADMIN: Final = "keys:admin"
_OWNS: Final = {"id": "webhook"}
_EX: Final[dict[str, object]] = {"id": "wh_1"}
WEBHOOKS_CREATE: Final = Procedure(
    "webhooks.create", "mutation", _ADMIN, EndpointCreate, EndpointCreated,
    "A webhook endpoint for the org's events, and its signing secret (shown once).",
    errors=(ErrorCode.INVALID_REQUEST,),
    examples={"url": "https://hooks.example.com/relaypass", "eventTypes": ["session.ended"]},
)  # fmt: skip
WEBHOOKS_LIST: Final = Procedure(
    "webhooks.list", "query", _ADMIN, EndpointQuery, EndpointList,
    "The org's webhook endpoints (failing and disabled ones say so).", examples={},
)  # fmt: skip
WEBHOOKS_UPDATE: Final = Procedure(
    "webhooks.update", "mutation", _ADMIN, EndpointUpdate, EndpointInfo,
    "Change an endpoint's URL, event types or description, or disable or enable it.",
    errors=(ErrorCode.INVALID_REQUEST,), owns=_OWNS, examples={**_EX, "enabled": True},
)  # fmt: skip
WEBHOOKS_DELETE: Final = Procedure(
    "webhooks.delete", "mutation", _ADMIN, EndpointRef, WebhookDeleted,
    "Remove an endpoint.", errors=(ErrorCode.INVALID_REQUEST,), owns=_OWNS, examples=_EX,
)  # fmt: skip
WEBHOOKS_ROTATE: Final = Procedure(
    "webhooks.rotateSecret", "mutation", _ADMIN, EndpointRef, SecretRotated,
    "A new signing secret (shown once); the previous one also signs for 24 hours.",
    errors=(ErrorCode.INVALID_REQUEST,), owns=_OWNS, examples=_EX,
)  # fmt: skip
WEBHOOKS_TEST: Final = Procedure(
    "webhooks.test", "mutation", _ADMIN, EndpointRef, TestQueued,
    "Send a webhook.test message to one endpoint.",
    errors=(ErrorCode.INVALID_REQUEST,), owns=_OWNS, examples=_EX,
)  # fmt: skip
WEBHOOKS_DELIVERIES: Final = Procedure(
    "webhooks.deliveries.list", "query", _ADMIN, DeliveryQuery, DeliveryList,
    "An endpoint's deliveries, newest first: state, attempts, last answer and latency.",
    errors=(ErrorCode.INVALID_REQUEST,), owns=_OWNS, examples={**_EX, "state": "failed"},
)  # fmt: skip
WEBHOOKS_REPLAY: Final = Procedure(
    "webhooks.deliveries.replay", "mutation", _ADMIN, DeliveryRef, Replayed,
    "Send a delivery's message again, now (the same webhook-id).",
    errors=(ErrorCode.INVALID_REQUEST,), owns={"delivery_id": "webhook_delivery"},
    examples={"deliveryId": 1},
)  # fmt: skip
