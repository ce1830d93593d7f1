"""What is being served right now, for audit rows and logs."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

__all__ = ["PROCEDURE", "VERIFIED_KEY"]

#: The procedure being served (``streams.apiKeys.create``).
PROCEDURE: ContextVar[str] = ContextVar("relaypass_procedure", default="")

#: Where the request middleware leaves the API key it verified, in the ASGI scope's
#: ``state``: ``(authorization header, record)``. The dispatcher uses the record for
#: that same header instead of checking the key a second time.
VERIFIED_KEY: Final = "relaypass_verified_key"
