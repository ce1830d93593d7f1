"""The blocking SDK: transport, client, token providers.

Generated from ``_async.py`` by ``python src/relaypass/client/_unasync.py``: edit that
file, then run the command; a test fails when this one is not what it renders.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any, Self

import httpx

from relaypass.api import Procedure
from relaypass.api.tokens import MintedToken
from relaypass.client._generated import Procedures
from relaypass.client._pause import pause
from relaypass.client._providers import (
    JITTER,
    LIFETIME_FRACTION,
    REFRESH_MARGIN_SECONDS,
    RETRY_SECONDS,
    Schedule,
)
from relaypass.client._transport import RETRIED, OutT, TransportBase, token_of

__all__ = [
    "Client",
    "TokenProvider",
    "TokenProviders",
    "Transport",
    "url_token_provider",
]


class Transport(TransportBase):
    """Calls to the control plane (blocking)."""

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
        super().__init__(
            base_url, api_key, max_retries=max_retries, backoff_seconds=backoff_seconds
        )
        self._http = http or httpx.Client(timeout=timeout_seconds)

    def call(self, procedure: Procedure[Any, OutT], values: dict[str, Any]) -> OutT:
        """Run one procedure."""
        url, body, headers = self.request(procedure, values)
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                raise self.unreachable(exc) from None
            if response.status_code not in RETRIED or attempt == self.max_retries:
                break
            time.sleep(self.delay(attempt, response))
        return self.answer(procedure, response)

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()


class Client(Procedures):
    """A client of the control plane (blocking).

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
            whoami = self.auth.whoami()
            self._org_id = whoami.org_id
        return self._org_id


class TokenProvider:
    """A cached token from a ``fetch``, refreshed ahead of its expiry (blocking)."""

    def __init__(
        self,
        fetch: Callable[[], str],
        *,
        on_close: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        lifetime_fraction: float = LIFETIME_FRACTION,
        jitter: float = JITTER,
        retry_seconds: tuple[float, float] = RETRY_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._on_close = on_close
        self._lock = threading.Lock()
        self._s = Schedule(
            clock=clock,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not secrecy
            refresh_margin_seconds=refresh_margin_seconds,
            lifetime_fraction=lifetime_fraction,
            jitter=jitter,
            retry_seconds=retry_seconds,
        )

    def __repr__(self) -> str:
        return f"TokenProvider(token={self._s.token!r})"

    def token(self) -> str:
        """A valid token, fetching a fresh one when it is due (one fetch at a time)."""
        cached = self._s.cached()
        if cached is not None:
            return cached
        with self._lock:  # the other callers take its result
            cached = self._s.cached()
            if cached is not None:
                return cached
            try:
                return self._s.accept(self._fetch())
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                return self._s.failed(exc)

    @property
    def refresh_in_seconds(self) -> float:
        """Seconds until the next refresh (or retry) is due."""
        return self._s.next_check()

    def close(self) -> None:
        """Release what the fetch holds (an HTTP client the provider made)."""
        if self._on_close is not None:
            self._on_close()

    def keep_fresh(
        self, on_token: Callable[[str], None], stop: threading.Event | None = None
    ) -> None:
        """Hand every new token to ``on_token`` as soon as it is fetched, until ``stop``.

        For a session that refreshes in-band. Without ``stop`` it runs until
        cancelled. It raises when the token expired beyond recovery or the
        fetch was refused (401/403).
        """
        current = None
        while stop is None or not stop.is_set():
            value = self.token()
            if value != current:
                on_token(value)
                current = value
            pause(stop, min(self.refresh_in_seconds, 60.0) + 0.01)


class TokenProviders:
    """A provider per token kind, minting through the client (ClutchCall's modality helpers).

    ``org_id`` defaults to the calling key's org.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def _org(self, org_id: str | None) -> str:
        return org_id or self._client.org_id()

    def _provider(
        self,
        mint: Callable[..., MintedToken],
        org_id: str | None,
        options: dict[str, Any],
        **fields: Any,  # noqa: ANN401 - the mint's own
    ) -> TokenProvider:
        def fetch() -> str:
            minted = mint(org_id=self._org(org_id), **fields)
            return minted.token

        return TokenProvider(fetch, **options)

    def relay(
        self,
        *,
        tenant: str,
        ns: list[str],
        org_id: str | None = None,
        ttl_seconds: int | None = None,
        service: bool = False,
        **options: Any,  # noqa: ANN401 - the provider's options
    ) -> TokenProvider:
        """Relay tokens for a tenant and namespaces."""
        return self._provider(
            self._client.tokens.relay.mint,
            org_id,
            options,
            tenant=tenant,
            ns=ns,
            ttl_seconds=ttl_seconds,
            service=service,
        )

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
        return self._provider(
            self._client.tokens.moq.mint,
            org_id,
            options,
            root=root,
            publish=publish,
            subscribe=subscribe,
            ttl_seconds=ttl_seconds,
        )

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
        return self._provider(
            self._client.tokens.room.mint,
            org_id,
            options,
            room_id=room_id,
            participant_id=participant_id,
            role=role,
            grant=grant,
            ttl_seconds=ttl_seconds,
        )

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
        return self._provider(
            self._client.streams.signing_keys.mint_playback_token,
            org_id,
            options,
            tenant=tenant,
            input_id=input_id,
            ttl_seconds=ttl_seconds,
        )

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
        return self._provider(
            self._client.voice.audio_bridge.mint_browser_token,
            org_id,
            options,
            tenant=tenant,
            call_sid=call_sid,
            ttl_seconds=ttl_seconds,
        )


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

    def fetch() -> str:
        return token_of(client.post(url, json=json or {}, headers=headers))

    return TokenProvider(fetch, on_close=None if http else client.close, **options)
