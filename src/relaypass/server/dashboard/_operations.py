"""The operator's and the org's view: Analytics, Live sessions, Webhooks, Rooms.

Like every page, these read and change through the procedures (``usage.query``,
``usage.live``, ``webhooks.*``, ``rooms.*``) with the signed-in key. The charts
are drawn by uPlot (vendored under ``static/vendor/uplot``, no CDN) from a JSON
block the page carries; each chart also has a table, so the figures are there
without script and for a screen reader.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from relaypass.server.dashboard._common import done, flash_of, integer, status_of
from relaypass.server.dashboard._sessions import DashboardSession
from relaypass.server.dispatch import Failure

__all__ = ["OperationsPages"]

#: The spans the Analytics page offers: label -> (seconds back, granularity).
RANGES: Final = {"1h": (3600, "minute"), "24h": (86_400, "hour"), "30d": (30 * 86_400, "day")}
_STEP: Final = {"minute": 60, "hour": 3600, "day": 86_400}
_CHARTS: Final = (
    ("Connects and refusals", ("connects", "refused")),
    ("Peak concurrent sessions", ("peak_sessions",)),
    ("Session minutes", ("session_minutes",)),
    ("Bytes", ("bytes_sent", "bytes_received")),
    ("Tokens minted", ("mints",)),
)


class OperationsPages:
    """Mixed into the dashboard's pages: needs ``call`` and ``render``."""

    call: Callable[..., Awaitable[tuple[dict[str, Any] | None, Failure | None]]]
    render: Callable[..., HTMLResponse]

    async def analytics(self, request: Request, s: DashboardSession) -> Response:
        span = request.query_params.get("range", "24h")
        back, granularity = RANGES.get(span, RANGES["24h"])
        now = int(time.time())
        body = {"orgId": s.org_id, "since": now - back, "until": now + 1,
                "granularity": granularity}  # fmt: skip
        data, failure = await self.call(s, "usage.query", body)
        step = _STEP[granularity]
        found = {p["at"]: p["values"] for p in (data or {}).get("points", [])}
        first = (now - back) - (now - back) % step
        points = [  # every bucket of the span, empty ones as zeros: the chart spans it all
            {"at": at, **found.get(at, {}),
             "session_minutes": round(found.get(at, {}).get("session_ms", 0) / 60_000, 1)}
            for at in range(first, now + 1, step)
        ]  # fmt: skip
        if request.query_params.get("format") == "csv" and failure is None:
            return _csv(points)
        totals = dict((data or {}).get("totals", {}))
        refusals = sorted(
            (
                (k.removeprefix("refused:"), v)
                for k, v in totals.items()
                if k.startswith("refused:")
            ),
            key=lambda kv: -kv[1],
        )
        minted, _ = await self.call(s, "audit.list", {
            "orgId": s.org_id, "action": "token.mint", "sinceMs": (now - back) * 1000,
            "limit": 1000,
        })  # fmt: skip
        by_key: dict[str, int] = {}
        for event in (minted or {}).get("events", []):
            by_key[event["actor"]] = by_key.get(event["actor"], 0) + 1
        charts = [
            {"title": title, "series": list(series),
             "rows": [[p["at"], *(p.get(m, 0) for m in series)] for p in points]}
            for title, series in _CHARTS
        ]  # fmt: skip
        return self.render(
            request, "analytics.html", s, span=span, ranges=list(RANGES), charts=charts,
            charts_json=json.dumps(charts), totals=totals, refusals=refusals,
            top_keys=sorted(by_key.items(), key=lambda kv: -kv[1])[:10], failure=failure,
            granularity=granularity, status=status_of(failure),
        )  # fmt: skip

    async def live(self, request: Request, s: DashboardSession) -> Response:
        data, failure = await self.call(s, "usage.live", {"orgId": s.org_id})
        return self.render(
            request, "live.html", s, gates=(data or {}).get("gates", []),
            total=(data or {}).get("total", 0), failure=failure, status=status_of(failure),
        )  # fmt: skip

    async def webhooks(self, request: Request, s: DashboardSession) -> Response:
        if request.method == "POST":
            return await self._webhook_action(request, s)
        flash = flash_of(s)
        listed, failure = await self.call(s, "webhooks.list", {"orgId": s.org_id})
        endpoints = (listed or {}).get("endpoints", [])
        chosen = request.query_params.get("endpoint") or (endpoints[0]["id"] if endpoints else "")
        deliveries: list[dict[str, Any]] = []
        if chosen:
            log, log_failure = await self.call(
                s, "webhooks.deliveries.list", {"orgId": s.org_id, "id": chosen, "limit": 50}
            )
            deliveries = (log or {}).get("deliveries", [])
            failure = failure or log_failure
        return self.render(
            request, "webhooks.html", s, endpoints=endpoints, chosen=chosen,
            deliveries=deliveries, created=flash.get("created"),
            failure=flash.get("failure") or failure, notice=flash.get("notice"),
        )  # fmt: skip

    async def _webhook_action(self, request: Request, s: DashboardSession) -> Response:
        form = await request.form()
        action, endpoint = str(form.get("action") or ""), str(form.get("id") or "")
        org = {"orgId": s.org_id}
        created = failure = None
        notice = ""
        if action == "create":
            types = [t.strip() for t in str(form.get("types") or "").split(",") if t.strip()]
            created, failure = await self.call(s, "webhooks.create", org | {
                "url": str(form.get("url") or ""), "eventTypes": types,
                "description": str(form.get("description") or ""),
            })  # fmt: skip
            notice = "Endpoint created: copy its signing secret now, it is shown once."
        elif action in {"enable", "disable"}:
            _, failure = await self.call(
                s, "webhooks.update", org | {"id": endpoint, "enabled": action == "enable"}
            )
            notice = f"Endpoint {action}d."
        elif action == "test":
            _, failure = await self.call(s, "webhooks.test", org | {"id": endpoint})
            notice = "A webhook.test message is on its way."
        elif action == "delete":
            _, failure = await self.call(s, "webhooks.delete", org | {"id": endpoint})
            notice = "Endpoint deleted."
        elif action == "replay":
            delivery = integer(form.get("delivery"), 0)
            _, failure = await self.call(s, "webhooks.deliveries.replay",
                                         org | {"deliveryId": delivery})  # fmt: skip
            notice = "Delivery queued again."
        to = f"?endpoint={endpoint}" if endpoint and action != "delete" else ""
        return done(request, s, to=to, created=created, failure=failure,
                    notice=None if failure else notice)  # fmt: skip

    async def rooms(self, request: Request, s: DashboardSession) -> Response:
        if request.method == "POST":
            form = await request.form()
            room, action = str(form.get("room") or ""), str(form.get("action") or "")
            who = str(form.get("participant") or "")
            ref = {"orgId": s.org_id, "roomId": room}
            calls = {
                "admit": ("rooms.lobby.admit", ref | {"participantId": who}),
                "deny": ("rooms.lobby.deny", ref | {"participantId": who}),
                "remove": ("rooms.participants.remove", ref | {"participantId": who}),
                "end": ("rooms.end", ref),
            }
            failure = None
            if action in calls:
                _, failure = await self.call(s, *calls[action])
            said = {"admit": f"{who} admitted.", "deny": f"{who} turned away.",
                    "remove": f"{who} removed.", "end": "Room ended."}  # fmt: skip
            return done(request, s, to=f"?room={room}", failure=failure,
                        notice=None if failure else said.get(action))  # fmt: skip
        flash = flash_of(s)
        room = request.query_params.get("room", "")
        waiting: list[dict[str, Any]] = []
        participants: list[dict[str, Any]] = []
        failure = None
        if room:
            ref = {"orgId": s.org_id, "roomId": room}
            lobby, failure = await self.call(s, "rooms.lobby.list", ref)
            listed, listed_failure = await self.call(s, "rooms.participants.list", ref)
            waiting = (lobby or {}).get("waiting", [])
            participants = (listed or {}).get("participants", [])
            failure = failure or listed_failure
        return self.render(
            request, "rooms.html", s, room=room, waiting=waiting, participants=participants,
            failure=flash.get("failure") or failure, notice=flash.get("notice"),
        )  # fmt: skip


def _csv(points: list[dict[str, Any]]) -> Response:
    columns = ["at", "connects", "refused", "ended", "peak_sessions", "session_minutes",
               "bytes_sent", "bytes_received", "mints"]  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for point in points:
        writer.writerow([point.get(c, 0) for c in columns])
    return Response(
        out.getvalue(), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
    )  # fmt: skip
