"""``relaypass usage``: an org's figures over time, as a chart in the terminal, and live sessions.

::

    relaypass usage --since 24h --metric connects --metric peak_sessions
    relaypass usage live
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.table import Table

from relaypass.cli._admin import InOrg
from relaypass.cli._groups import grouped
from relaypass.cli._login import run_with_client
from relaypass.cli._output import out as _out
from relaypass.errors import InvalidRequestError

if TYPE_CHECKING:
    from relaypass.api.usage import UsageLive, UsageSeries
    from relaypass.client import Client

__all__ = ["usage_app"]

usage_app = typer.Typer(
    help="An org's usage: connects, refusals, session time, bytes, peaks, mints (audit:read).",
    invoke_without_command=True,
    no_args_is_help=False,
)

_SPAN = re.compile(r"^(\d{1,6})([mhd])$")
_UNIT: Final = {"m": 60, "h": 3600, "d": 86_400}
_BAR_WIDTH: Final = 40
_BLOCKS: Final = " ▏▎▍▌▋▊▉█"
_DEFAULT_METRICS: Final = ("connects", "refused", "peak_sessions", "session_ms", "mints")


def parse_instant(text: str, now: float) -> int:
    """``24h``/``30m``/``7d`` ago, unix seconds, or an ISO date-time (UTC unless it says)."""
    span = _SPAN.fullmatch(text)
    if span is not None:
        return int(now) - int(span.group(1)) * _UNIT[span.group(2)]
    if text.isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r}: give 24h, 30m, 7d, unix seconds or an ISO date-time"
        raise InvalidRequestError(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def bar(value: int, largest: int, width: int = _BAR_WIDTH) -> str:
    """A horizontal bar of eighth-blocks, ``value`` of ``largest`` across ``width`` cells."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    return "█" * (eighths // 8) + (_BLOCKS[eighths % 8] if eighths % 8 else "")


def _label(at: int, granularity: str) -> str:
    moment = dt.datetime.fromtimestamp(at, dt.UTC).astimezone()
    return moment.strftime("%Y-%m-%d" if granularity == "day" else "%m-%d %H:%M")


def _chart(series: UsageSeries, metrics: list[str]) -> None:
    totals = Table(
        title=f"usage of {series.org_id}" + (f" / {series.tenant}" if series.tenant else "")
    )
    totals.add_column("figure")
    totals.add_column("total (peaks: highest)", justify="right")
    for metric in sorted(series.totals):
        totals.add_row(metric, f"{series.totals[metric]:,}")
    _out.print(totals if series.totals else "(no usage in this span)")
    for metric in metrics:
        values = [(p.at, p.values.get(metric, 0)) for p in series.points]
        if not any(v for _, v in values):
            continue
        largest = max(v for _, v in values)
        chart = Table(title=f"{metric} per {series.granularity}", show_header=False, box=None)
        chart.add_column(justify="right", style="dim")
        chart.add_column()
        chart.add_column(justify="right")
        for at, value in values:
            chart.add_row(_label(at, series.granularity), bar(value, largest), f"{value:,}")
        _out.print(chart)


@usage_app.callback()
@grouped
def usage(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="Start: 24h, 7d (ago), unix seconds or ISO.")] = "24h",
    until: Annotated[str | None, typer.Option(help="End (default: now).")] = None,
    granularity: Annotated[
        str, typer.Option(help="minute, hour or day.", metavar="minute|hour|day")
    ] = "hour",
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="A figure to chart (repeatable).")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="One tenant's figures.")] = None,
    at: InOrg = InOrg(),
) -> None:
    """An org's figures over time, charted per minute, hour or day."""
    if ctx.invoked_subcommand is not None:
        return
    now = time.time()

    def query(client: Client) -> UsageSeries:
        start = parse_instant(since, now)
        end = parse_instant(until, now) if until else int(now) + 1
        if granularity not in {"minute", "hour", "day"}:
            msg = "--granularity is minute, hour or day"
            raise InvalidRequestError(msg)
        return client.usage.query(
            org_id=at.org_id, tenant=tenant, since=start, until=end,
            granularity=granularity,  # type: ignore[arg-type]
            metrics=metric or None,
        )  # fmt: skip

    series = run_with_client(at.url, at.as_json, query)
    if at.as_json:
        sys.stdout.write(json.dumps(series.model_dump(mode="json", by_alias=True)) + "\n")
        return
    _chart(series, list(metric or _DEFAULT_METRICS))


@usage_app.command("live")
@grouped
def live(at: InOrg = InOrg()) -> None:
    """An org's live sessions on every gate, as the gates last reported them."""
    answer: UsageLive = run_with_client(
        at.url, at.as_json, lambda c: c.usage.live(org_id=at.org_id)
    )
    if at.as_json:
        sys.stdout.write(json.dumps(answer.model_dump(mode="json", by_alias=True)) + "\n")
        return
    table = Table(title=f"{answer.total:,} live sessions")
    for column in ("gate", "profile", "tenant", "sessions", "reported"):
        table.add_column(column, justify="right" if column == "sessions" else "left")
    for gate in answer.gates:
        seen = dt.datetime.fromtimestamp(gate.at, dt.UTC).astimezone().strftime("%H:%M:%S")
        for row in gate.sessions or []:
            table.add_row(gate.node, gate.profile, row.tenant or "-", f"{row.sessions:,}", seen)
    _out.print(table)
