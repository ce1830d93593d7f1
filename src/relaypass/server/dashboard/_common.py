"""What every dashboard page shares: times, answers, post/redirect/get."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from relaypass.server.dashboard._sessions import DashboardSession
from relaypass.server.dispatch import Failure

__all__ = ["done", "flash_of", "integer", "status_of", "utc"]


def utc(ms: object) -> str:
    """A time in ms as UTC text: what a page shows before its script shows local time."""
    if not isinstance(ms, int):
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def status_of(failure: Failure | None) -> int:
    return failure.status if failure is not None else 200


def done(
    request: Request,
    session: DashboardSession,
    *,
    to: str = "",
    **flash: Any,  # noqa: ANN401 - what the page shows
) -> Response:
    """Post/redirect/get: keep what the POST did for the page, shown once, and redirect."""
    session.flash = {k: v for k, v in flash.items() if v is not None}
    return RedirectResponse(request.url.path + to, status_code=303)


def flash_of(session: DashboardSession) -> dict[str, Any]:
    flash, session.flash = session.flash, {}
    return flash


def integer(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default
