"""The data-plane gate: what a relay embeds to verify, pin and cut sessions."""

import importlib.util as _importlib_util

_MISSING = [
    name
    for name in ("starlette", "httpx", "redis", "structlog", "prometheus_client")
    if _importlib_util.find_spec(name) is None
]
if _MISSING:
    msg = (
        f"relaypass.gate needs the gate extra ({', '.join(_MISSING)} missing): "
        "pip install 'relaypass[gate]'"
    )
    raise ImportError(msg)

from relaypass.gate.adapters.asgi import GateMiddleware
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
