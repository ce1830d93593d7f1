"""Token providers with no asyncio twin: TeleQuick's service-account tokens, signed locally.

``Client`` and ``AsyncClient`` (every procedure as a typed method, plus token
providers) are in ``_async`` and the ``_sync`` made from it:

>>> client = Client("https://cp.example", api_key="rp_live_…")        # doctest: +SKIP
>>> client.streams.signing_keys.create(org_id="org_1", label="2026-q4")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from relaypass.client._sync import TokenProvider
from relaypass.profiles.service_account import ServiceAccountCredentials

__all__ = ["service_account_token_provider"]


def service_account_token_provider(
    credentials: ServiceAccountCredentials | str | os.PathLike[str] | None = None,
    **options: Any,  # noqa: ANN401
) -> TokenProvider:
    """TeleQuick's RS256 tokens, signed locally from a credentials file.

    ``credentials`` defaults to the file named by ``RELAYPASS_CREDENTIALS``,
    ``TELEQUICK_CREDENTIALS`` or ``CLUTCHCALL_CREDENTIALS``.
    """
    if credentials is None:
        loaded = ServiceAccountCredentials.from_env()
    elif isinstance(credentials, ServiceAccountCredentials):
        loaded = credentials
    else:
        loaded = ServiceAccountCredentials.load(Path(credentials))
    return TokenProvider(loaded.sign, **options)
