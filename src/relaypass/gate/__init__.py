"""The data-plane gate: what a relay embeds to verify, pin and cut sessions."""

from relaypass.gate.asgi import GateMiddleware
from relaypass.gate.keysource import (
    DirectoryKeySource,
    FileKeySource,
    JwksUrlKeySource,
    KeySource,
    StaticKeySource,
)
from relaypass.gate.redis_source import RedisKeySource
from relaypass.gate.session import Gate, Session

__all__ = [
    "DirectoryKeySource",
    "FileKeySource",
    "Gate",
    "GateMiddleware",
    "JwksUrlKeySource",
    "KeySource",
    "RedisKeySource",
    "Session",
    "StaticKeySource",
]
