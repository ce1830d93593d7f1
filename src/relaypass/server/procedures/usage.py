"""Usage per org: figures over time and live sessions."""

from __future__ import annotations

from relaypass.api import usage as api
from relaypass.server.db.usage import GRANULARITIES, MAXED
from relaypass.server.procedures._context import Call, Handlers, Services
from relaypass.server.scopes import Scope

__all__ = ["handlers"]

handlers = Handlers()


def _readable(s: Services, call: Call, org_id: str) -> None:
    """An org's own figures; any org's for the platform operator's key."""
    if Scope.PLATFORM_ADMIN not in call.who.scopes:
        s.same_org(call.who, org_id)


@handlers.handles(api.USAGE_QUERY)
def usage_query(s: Services, call: Call, body: api.UsageQuery) -> api.UsageSeries:
    _readable(s, call, body.org_id)
    points = (
        s.usage.store.query(
            body.org_id,
            tenant=body.tenant,
            start=body.since,
            until=body.until,
            granularity=GRANULARITIES[body.granularity],
            metrics=body.metrics,
        )
        if s.usage is not None
        else []
    )
    totals: dict[str, int] = {}
    for _, values in points:
        for metric, value in values.items():
            totals[metric] = (
                max(totals.get(metric, 0), value)
                if metric in MAXED
                else totals.get(metric, 0) + value
            )
    return api.UsageSeries(
        org_id=body.org_id,
        tenant=body.tenant,
        granularity=body.granularity,
        points=[api.UsagePoint(at=at, values=values) for at, values in points],
        totals=totals,
    )


@handlers.handles(api.USAGE_LIVE)
def usage_live(s: Services, call: Call, body: api.UsageLiveQuery) -> api.UsageLive:
    _readable(s, call, body.org_id)
    gates = s.usage.live(body.org_id) if s.usage is not None else []
    listed = [
        api.GateLive(
            node=g["node"],
            profile=g["profile"],
            at=g["at"],
            sessions=[
                api.LiveSessions(tenant=r["tenant"], sessions=r["sessions"]) for r in g["sessions"]
            ],
        )
        for g in gates
    ]
    total = sum(r.sessions for g in listed for r in g.sessions)
    return api.UsageLive(gates=listed, total=total)
