"""Usage per org: figures over time (``usage.query``) and live sessions (``usage.live``).

Figures come from every gate's session events (connects, refusals by code,
session time, bytes, lobby events) and from the control plane's mints, rolled
up per org, tenant and minute and compacted to hours and days (see
:mod:`relaypass.server.usage`). Reading them needs ``audit:read``; a
``platform:admin`` key may name any org.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from pydantic import Field, field_validator, model_validator

from relaypass.api._base import OWN_ORG, Input, Output, Procedure

__all__ = [
    "METRICS",
    "USAGE_LIVE",
    "USAGE_QUERY",
    "GateLive",
    "LiveSessions",
    "UsageLive",
    "UsageLiveQuery",
    "UsagePoint",
    "UsageQuery",
    "UsageSeries",
]

#: The figures a query may ask for by name (``refused:<CODE>`` too, one per stable code).
METRICS: Final = (
    "connects", "refused", "ended", "session_ms", "bytes_sent", "bytes_received",
    "peak_sessions", "mints", "lobby_waiting", "lobby_admitted", "lobby_denied", "removed",
    "grant_changed",
)  # fmt: skip
_METRIC: Final = re.compile("|".join([*METRICS, "refused:[A-Z_]{1,40}"]))
_MAX_SPAN_SECONDS: Final = 400 * 86_400


class UsageQuery(Input):
    """Figures of one org (and tenant) between two instants, per minute, hour or day."""

    org_id: str = OWN_ORG
    tenant: str | None = Field(
        default=None, max_length=256, description="One tenant's figures; all when left out."
    )
    since: int = Field(ge=0, description="Unix seconds, the first bucket's start (rounded down).")
    until: int = Field(ge=0, description="Unix seconds, exclusive.")
    granularity: Literal["minute", "hour", "day"] = "hour"
    metrics: list[str] | None = Field(
        default=None, max_length=32, description="Figure names; every one when left out."
    )

    @field_validator("metrics")
    @classmethod
    def _known(cls, metrics: list[str] | None) -> list[str] | None:
        for metric in metrics or ():
            if _METRIC.fullmatch(metric) is None:
                msg = f"unknown metric (known: {', '.join(METRICS)}, refused:<CODE>)"
                raise ValueError(msg)
        return metrics

    @model_validator(mode="after")
    def _span(self) -> UsageQuery:
        if self.until <= self.since or self.until - self.since > _MAX_SPAN_SECONDS:
            msg = "until must be after since, at most 400 days later"
            raise ValueError(msg)
        return self


class UsagePoint(Output):
    """One bucket's figures (absent figures are zero)."""

    at: int = Field(description="The bucket's start, unix seconds.")
    values: dict[str, int]


class UsageSeries(Output):
    """Figures per bucket, oldest first, and their totals (peaks: the highest)."""

    org_id: str
    tenant: str | None
    granularity: str
    points: list[UsagePoint]
    totals: dict[str, int]


class UsageLiveQuery(Input):
    """Live sessions of an org on every gate."""

    org_id: str = OWN_ORG


class LiveSessions(Output):
    """Live sessions of one tenant on one gate."""

    tenant: str
    sessions: int


class GateLive(Output):
    """One gate (a process of ``gate serve``, a relay, an auth server ...) and its sessions."""

    node: str
    profile: str
    at: float = Field(description="When the gate reported (unix seconds).")
    sessions: list[LiveSessions]


class UsageLive(Output):
    """The org's live sessions per gate, as the gates last reported (empty without Redis)."""

    gates: list[GateLive]
    total: int


_READ: Final = "audit:read"
USAGE_QUERY: Final = Procedure(
    "usage.query", "query", _READ, UsageQuery, UsageSeries,
    "An org's usage over time: connects, refusals by code, session time, bytes, peaks, mints.",
    examples={"since": 1_800_000_000, "until": 1_800_086_400, "granularity": "hour",
              "metrics": ["connects", "peak_sessions"]},
)  # fmt: skip
USAGE_LIVE: Final = Procedure(
    "usage.live", "query", _READ, UsageLiveQuery, UsageLive,
    "An org's live sessions on every gate, as the gates last reported them.",
    examples={},
)  # fmt: skip
