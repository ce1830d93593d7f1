"""Handlers of the control plane's procedures, grouped by domain.

Each module binds one handler to each procedure its domain declares in
:mod:`relaypass.api`; :func:`handler_table` joins them and refuses a
procedure without a handler or a handler without a procedure.
"""

from __future__ import annotations

from typing import Any

from relaypass.api import BY_NAME, Procedure
from relaypass.server.procedures import (
    accounts,
    audit,
    keys,
    rooms,
    tenancy,
    tokens,
    usage,
    webhooks,
)
from relaypass.server.procedures._context import Call, Handler, Handlers, Services

__all__ = ["Call", "Handler", "Handlers", "Services", "handler_table"]

_DOMAINS = (tenancy, keys, tokens, accounts, rooms, audit, usage, webhooks)


def handler_table() -> dict[str, tuple[Procedure[Any, Any], Handler]]:
    """Every procedure with its handler, in the table's order."""
    merged: dict[str, tuple[Procedure[Any, Any], Handler]] = {}
    for domain in _DOMAINS:
        merged.update(domain.handlers.by_name)
    missing, unknown = set(BY_NAME) - set(merged), set(merged) - set(BY_NAME)
    if missing or unknown:
        msg = f"without handler: {sorted(missing)}; without procedure: {sorted(unknown)}"
        raise RuntimeError(msg)
    return {name: merged[name] for name in BY_NAME}
