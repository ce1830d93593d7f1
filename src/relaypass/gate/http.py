"""Moved to :mod:`relaypass.gate.adapters.http`; this name keeps existing imports working."""

from relaypass.gate.adapters.http import (
    MAX_FORM_BYTES,
    MemoryStreamKeys,
    RedisStreamKeys,
    StreamKeys,
    create_gate_app,
    new_stream_key,
)

__all__ = [
    "MAX_FORM_BYTES",
    "MemoryStreamKeys",
    "RedisStreamKeys",
    "StreamKeys",
    "create_gate_app",
    "new_stream_key",
]
