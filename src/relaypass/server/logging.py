"""Structured logs that never carry a secret, key or token.

Two layers: fields whose names say "secret" (token, key, authorization, ...)
are replaced whole, and any string that looks like a JWT or an API key is
masked wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

_SECRET_FIELDS: Final = re.compile(
    r"(token|secret|password|authorization|api_key|private|jwt|pepper|kek)", re.IGNORECASE
)
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_API_KEY: Final = re.compile(r"\b[a-z]{2,12}_(?:live|test)_[0-9A-Za-z]{20,}")
REDACTED: Final = "[redacted]"


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return _API_KEY.sub(REDACTED, _JWT.sub(REDACTED, value))
    if isinstance(value, dict):
        return {
            k: REDACTED if _SECRET_FIELDS.search(str(k)) else _scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Structlog processor: drop secret-named fields, mask token-shaped text."""
    for key in list(event):
        event[key] = REDACTED if _SECRET_FIELDS.search(key) else _scrub(event[key])
    return event


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger() -> Any:  # noqa: ANN401 - structlog's bound logger is dynamically typed
    """The service logger."""
    return structlog.get_logger("relaypass")
