"""The Python SDK of the control plane: typed clients and token providers.

``Client`` / ``AsyncClient`` expose every procedure of :mod:`relaypass.api` as
a method (``client.streams.signing_keys.create(org_id=…, label=…)``) returning
its output model; refusals raise the :mod:`relaypass.errors` class of their
stable code. Token providers cache a token and refresh it ahead of expiry.
Install with ``pip install 'relaypass[client]'``.
"""

from __future__ import annotations

try:
    import httpx  # noqa: F401
    import pydantic  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by tests/test_extras.py
    msg = "relaypass.client needs the 'client' extra: pip install 'relaypass[client]'"
    raise ImportError(msg) from exc

from relaypass.client._async import (
    AsyncClient,
    AsyncTokenProvider,
    AsyncTokenProviders,
    AsyncTransport,
    async_url_token_provider,
)
from relaypass.client._client import service_account_token_provider
from relaypass.client._providers import Token, is_terminal
from relaypass.client._sync import (
    Client,
    TokenProvider,
    TokenProviders,
    Transport,
    url_token_provider,
)
from relaypass.client._transport import API_KEY_ENV
from relaypass.errors import TokenExpiredError

__all__ = [
    "API_KEY_ENV",
    "AsyncClient",
    "AsyncTokenProvider",
    "AsyncTokenProviders",
    "AsyncTransport",
    "Client",
    "Token",
    "TokenExpiredError",
    "TokenProvider",
    "TokenProviders",
    "Transport",
    "async_url_token_provider",
    "is_terminal",
    "service_account_token_provider",
    "url_token_provider",
]
