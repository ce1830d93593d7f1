"""The control plane: settings, storage and the HTTP service."""

import importlib.util as _importlib_util

_MISSING = [
    name
    for name in ("fastapi", "sqlalchemy", "alembic", "redis", "pydantic_settings", "structlog")
    if _importlib_util.find_spec(name) is None
]
if _MISSING:
    msg = (
        f"relaypass.server needs the server extra ({', '.join(_MISSING)} missing): "
        "pip install 'relaypass[server]'"
    )
    raise ImportError(msg)
