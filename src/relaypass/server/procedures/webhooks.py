"""Webhook endpoints, their deliveries and replays."""

from __future__ import annotations

from relaypass.api import webhooks as api
from relaypass.server.procedures._context import Call, Handlers, Services
from relaypass.server.webhooks import check_url

__all__ = ["handlers"]

handlers = Handlers()

#: After a rotation, the previous secret also signs this long (receivers update meanwhile).
_ROTATION_GRACE_MS = 86_400_000


def _url(s: Services, url: str) -> str:
    return check_url(url, allow_private=s.settings.webhook_allow_private)


@handlers.handles(api.WEBHOOKS_CREATE)
def create(s: Services, call: Call, body: api.EndpointCreate) -> api.EndpointCreated:
    s.same_org(call.who, body.org_id)
    info, secret = s.store.create_webhook(
        body.org_id, _url(s, body.url), event_types=body.event_types or (),
        description=body.description, actor=call.who.id,
    )  # fmt: skip
    return api.EndpointCreated(endpoint=api.EndpointInfo(**info), secret=secret)


@handlers.handles(api.WEBHOOKS_LIST)
def list_endpoints(s: Services, call: Call, body: api.EndpointQuery) -> api.EndpointList:
    s.same_org(call.who, body.org_id)
    return api.EndpointList(
        endpoints=[api.EndpointInfo(**e) for e in s.store.list_webhooks(body.org_id)]
    )


@handlers.handles(api.WEBHOOKS_UPDATE)
def update(s: Services, call: Call, body: api.EndpointUpdate) -> api.EndpointInfo:
    s.same_org(call.who, body.org_id)
    info = s.store.update_webhook(
        body.org_id, body.id, url=_url(s, body.url) if body.url is not None else None,
        event_types=body.event_types, description=body.description, enabled=body.enabled,
        actor=call.who.id,
    )  # fmt: skip
    return api.EndpointInfo(**info)


@handlers.handles(api.WEBHOOKS_DELETE)
def delete(s: Services, call: Call, body: api.EndpointRef) -> api.WebhookDeleted:
    s.same_org(call.who, body.org_id)
    s.store.delete_webhook(body.org_id, body.id, actor=call.who.id)
    return api.WebhookDeleted(id=body.id)


@handlers.handles(api.WEBHOOKS_ROTATE)
def rotate(s: Services, call: Call, body: api.EndpointRef) -> api.SecretRotated:
    s.same_org(call.who, body.org_id)
    secret = s.store.rotate_webhook_secret(
        body.org_id, body.id, grace_ms=_ROTATION_GRACE_MS, actor=call.who.id
    )
    return api.SecretRotated(id=body.id, secret=secret)


@handlers.handles(api.WEBHOOKS_TEST)
def test(s: Services, call: Call, body: api.EndpointRef) -> api.TestQueued:
    s.same_org(call.who, body.org_id)
    message = s.store.test_webhook(body.org_id, body.id)
    if s.webhooks is not None:
        s.webhooks.notify()
    return api.TestQueued(message_id=message)


@handlers.handles(api.WEBHOOKS_DELIVERIES)
def deliveries(s: Services, call: Call, body: api.DeliveryQuery) -> api.DeliveryList:
    s.same_org(call.who, body.org_id)
    rows = s.store.webhook_deliveries(body.org_id, body.id, state=body.state, limit=body.limit)
    return api.DeliveryList(deliveries=[api.DeliveryInfo(**r) for r in rows])


@handlers.handles(api.WEBHOOKS_REPLAY)
def replay(s: Services, call: Call, body: api.DeliveryRef) -> api.Replayed:
    s.same_org(call.who, body.org_id)
    delivery = s.store.replay_webhook_delivery(body.org_id, body.delivery_id, actor=call.who.id)
    if s.webhooks is not None:
        s.webhooks.notify()
    return api.Replayed(delivery_id=delivery)
