"""The audit log."""

from __future__ import annotations

from relaypass.api import audit as api
from relaypass.server.procedures._context import Call, Handlers, Services

__all__ = ["handlers"]

handlers = Handlers()


@handlers.handles(api.AUDIT_LIST)
def audit_list(s: Services, call: Call, body: api.AuditQuery) -> api.AuditList:
    s.same_org(call.who, body.org_id)
    events = s.store.audit_log(
        body.org_id,
        action=body.action,
        actor=body.actor,
        since_ms=body.since_ms,
        until_ms=body.until_ms,
        limit=body.limit,
        offset=body.offset,
    )
    return api.AuditList.model_validate({"events": events})
