"""What is being served right now, for audit rows and logs."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["PROCEDURE"]

#: The procedure being served (``streams.apiKeys.create``).
PROCEDURE: ContextVar[str] = ContextVar("relaypass_procedure", default="")
