"""``Client`` and ``AsyncClient``: every procedure as a typed method, plus token providers.

>>> client = Client("https://cp.example", api_key="rp_live_…")        # doctest: +SKIP
>>> client.streams.signing_keys.create(org_id="org_1", label="2026-q4")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx

from relaypass.client._generated import AsyncProcedures, Procedures
from relaypass.client._providers import AsyncTokenProvider, TokenProvider
from relaypass.client._transport import AsyncTransport, Transport
from relaypass.profiles.service_account import ServiceAccountCredentials

__all__ = [
    "AsyncClient",
    "AsyncTokenProviders",
    "Client",
    "TokenProviders",
    "async_url_token_provider",
    "service_account_token_provider",
    "url_token_provider",
]


class Client(Procedures):
    """A blocking client of the control plane.

    ``api_key`` defaults to ``RELAYPASS_API_KEY``, then ``CLUTCHCALL_API_KEY``;
    ``base_url`` to ``RELAYPASS_URL``, then ``http://127.0.0.1:8700``.
    Refusals raise the :mod:`relaypass.errors` class of their stable code.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        backoff_seconds: float = 0.25,
        http: httpx.Client | None = None,
    ) -> None:
        self._transport = Transport(
            base_url,
            api_key,
            timeout_seconds=timeout_seconds,
            max_retries=max_retries,
            backoff_seconds=backoff_seconds,
            http=http,
        )
        super().__init__(self._transport)
        self.providers = TokenProviders(self)
        self._org_id: str | None = None

    def __repr__(self) -> str:
        return f"Client(base_url={self._transport.base_url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._transport.close()

    def org_id(self) -> str:
        """The calling key's org (asked once)."""
        if self._org_id is None:
            self._org_id = self.auth.whoami().org_id
        return self._org_id


class AsyncClient(AsyncProcedures):
    """An asyncio client of the control plane (same defaults as :class:`Client`)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        backoff_seconds: float = 0.25,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._transport = AsyncTransport(
            base_url,
            api_key,
            timeout_seconds=timeout_seconds,
            max_retries=max_retries,
            backoff_seconds=backoff_seconds,
            http=http,
        )
        super().__init__(self._transport)
        self.providers = AsyncTokenProviders(self)
        self._org_id: str | None = None

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self._transport.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._transport.aclose()

    async def org_id(self) -> str:
        """The calling key's org (asked once)."""
        if self._org_id is None:
            self._org_id = (await self.auth.whoami()).org_id
        return self._org_id


class TokenProviders:
    """ClutchCall's modality helpers: a provider per token kind, minting through the client.

    ``org_id`` defaults to the calling key's org.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def _org(self, org_id: str | None) -> str:
        return org_id or self._client.org_id()

    def relay(
        self,
        *,
        tenant: str,
        ns: list[str],
        org_id: str | None = None,
        ttl_seconds: int | None = None,
        service: bool = False,
        **options: Any,  # noqa: ANN401 - TokenProvider's options
    ) -> TokenProvider:
        """Relay tokens for a tenant and namespaces."""
        mint = self._client.tokens.relay.mint
        return TokenProvider(
            lambda: mint(org_id=self._org(org_id), tenant=tenant, ns=ns,
                         ttl_seconds=ttl_seconds, service=service).token,
            **options,
        )  # fmt: skip

    def moq(
        self,
        *,
        root: str,
        publish: list[str] | None = None,
        subscribe: list[str] | None = None,
        org_id: str | None = None,
        ttl_seconds: int = 3600,
        **options: Any,  # noqa: ANN401
    ) -> TokenProvider:
        """Tokens in moq-token's format (``root``, ``put``, ``get``)."""
        mint = self._client.tokens.moq.mint
        return TokenProvider(
            lambda: mint(org_id=self._org(org_id), root=root, publish=publish,
                         subscribe=subscribe, ttl_seconds=ttl_seconds).token,
            **options,
        )  # fmt: skip

    def room(
        self,
        *,
        room_id: str,
        participant_id: str,
        role: str | None = None,
        grant: dict[str, Any] | None = None,
        org_id: str | None = None,
        ttl_seconds: int | None = None,
        **options: Any,  # noqa: ANN401
    ) -> TokenProvider:
        """Room tokens (VideoSDK) for one participant."""
        mint = self._client.tokens.room.mint
        return TokenProvider(
            lambda: mint(org_id=self._org(org_id), room_id=room_id, participant_id=participant_id,
                         role=role, grant=grant, ttl_seconds=ttl_seconds).token,
            **options,
        )  # fmt: skip

    def playback(
        self,
        *,
        tenant: str,
        input_id: str,
        org_id: str | None = None,
        ttl_seconds: int = 3600,
        **options: Any,  # noqa: ANN401
    ) -> TokenProvider:
        """Playback tokens for one input (ClutchCall)."""
        mint = self._client.streams.signing_keys.mint_playback_token
        return TokenProvider(
            lambda: mint(org_id=self._org(org_id), tenant=tenant, input_id=input_id,
                         ttl_seconds=ttl_seconds).token,
            **options,
        )  # fmt: skip

    def browser(
        self,
        *,
        tenant: str,
        call_sid: str,
        org_id: str | None = None,
        ttl_seconds: int = 1800,
        **options: Any,  # noqa: ANN401
    ) -> TokenProvider:
        """Browser tokens for one call's audio bridge (ClutchCall)."""
        mint = self._client.voice.audio_bridge.mint_browser_token
        return TokenProvider(
            lambda: mint(org_id=self._org(org_id), tenant=tenant, call_sid=call_sid,
                         ttl_seconds=ttl_seconds).token,
            **options,
        )  # fmt: skip


class AsyncTokenProviders:
    """:class:`TokenProviders` for :class:`AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def _org(self, org_id: str | None) -> str:
        return org_id or await self._client.org_id()

    def relay(
        self,
        *,
        tenant: str,
        ns: list[str],
        org_id: str | None = None,
        ttl_seconds: int | None = None,
        service: bool = False,
        **options: Any,  # noqa: ANN401
    ) -> AsyncTokenProvider:
        """Relay tokens for a tenant and namespaces."""

        async def fetch() -> str:
            minted = await self._client.tokens.relay.mint(
                org_id=await self._org(org_id), tenant=tenant, ns=ns,
                ttl_seconds=ttl_seconds, service=service,
            )  # fmt: skip
            return minted.token

        return AsyncTokenProvider(fetch, **options)

    def moq(
        self,
        *,
        root: str,
        publish: list[str] | None = None,
        subscribe: list[str] | None = None,
        org_id: str | None = None,
        ttl_seconds: int = 3600,
        **options: Any,  # noqa: ANN401
    ) -> AsyncTokenProvider:
        """Tokens in moq-token's format (``root``, ``put``, ``get``)."""

        async def fetch() -> str:
            minted = await self._client.tokens.moq.mint(
                org_id=await self._org(org_id), root=root, publish=publish,
                subscribe=subscribe, ttl_seconds=ttl_seconds,
            )  # fmt: skip
            return minted.token

        return AsyncTokenProvider(fetch, **options)

    def room(
        self,
        *,
        room_id: str,
        participant_id: str,
        role: str | None = None,
        grant: dict[str, Any] | None = None,
        org_id: str | None = None,
        ttl_seconds: int | None = None,
        **options: Any,  # noqa: ANN401
    ) -> AsyncTokenProvider:
        """Room tokens (VideoSDK) for one participant."""

        async def fetch() -> str:
            minted = await self._client.tokens.room.mint(
                org_id=await self._org(org_id), room_id=room_id, participant_id=participant_id,
                role=role, grant=grant, ttl_seconds=ttl_seconds,
            )  # fmt: skip
            return minted.token

        return AsyncTokenProvider(fetch, **options)


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


def _token_of(response: httpx.Response) -> str:
    response.raise_for_status()
    body = response.json()
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        msg = "the token endpoint answered without a token"
        raise ValueError(msg)
    return token


def url_token_provider(
    url: str,
    *,
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    http: httpx.Client | None = None,
    **options: Any,  # noqa: ANN401
) -> TokenProvider:
    """Tokens from your backend (VideoSDK): ``POST url`` answers ``{"token": …}``."""
    client = http or httpx.Client(timeout=10.0)
    fetch: Callable[[], str] = lambda: _token_of(client.post(url, json=json or {}, headers=headers))  # noqa: E731
    return TokenProvider(fetch, on_close=None if http else client.close, **options)


def async_url_token_provider(
    url: str,
    *,
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    http: httpx.AsyncClient | None = None,
    **options: Any,  # noqa: ANN401
) -> AsyncTokenProvider:
    """:func:`url_token_provider` for asyncio."""
    client = http or httpx.AsyncClient(timeout=10.0)

    async def fetch() -> str:
        return _token_of(await client.post(url, json=json or {}, headers=headers))

    return AsyncTokenProvider(fetch, on_close=None if http else client.aclose, **options)
