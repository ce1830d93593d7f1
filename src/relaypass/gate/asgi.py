"""Moved to :mod:`relaypass.gate.adapters.asgi`; this name keeps existing imports working."""

from relaypass.gate.adapters.asgi import (
    CLOSE_CODE_CUT,
    ROOM_CLOSE_CODES,
    SUBPROTOCOL,
    GateMiddleware,
)

__all__ = ["CLOSE_CODE_CUT", "ROOM_CLOSE_CODES", "SUBPROTOCOL", "GateMiddleware"]
