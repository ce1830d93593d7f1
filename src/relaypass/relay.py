"""Moved to :mod:`relaypass.gate.adapters.moq_relay`; this name keeps existing imports working."""

from relaypass.gate.adapters.moq_relay import (
    CLOSE_CODE_REVOKED,
    MAX_QUERY_BYTES,
    REFRESH_BROADCAST,
    REFRESH_TRACK,
    MoqRelay,
    RefreshChannel,
)

__all__ = [
    "CLOSE_CODE_REVOKED",
    "MAX_QUERY_BYTES",
    "REFRESH_BROADCAST",
    "REFRESH_TRACK",
    "MoqRelay",
    "RefreshChannel",
]
