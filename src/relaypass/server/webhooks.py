"""Webhook delivery: Standard Webhooks signatures, retries for about a day, no private targets.

Each due delivery is POSTed with ``webhook-id`` (the message id, the same on
every retry, for the receiver's de-duplication), ``webhook-timestamp`` and
``webhook-signature`` (``v1,<base64 HMAC-SHA256>``, signed by the
``standardwebhooks`` library; during a secret rotation, one signature per
secret, space-separated). A 2xx is a delivery; anything else is retried after
5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (±10 % jitter), then given up; an
endpoint whose deliveries failed for a day is disabled.

Receivers are customers' servers: a URL whose host resolves to a loopback,
private, link-local, shared (CGNAT), multicast or reserved address is refused
at creation and at every connection (the check runs on the address actually
dialled, so a name that re-resolves elsewhere gains nothing), unless the
operator allows it (``RELAYPASS_WEBHOOK_ALLOW_PRIVATE=true``, for receivers on
its own network).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, final

import httpcore
import httpx
import orjson
import structlog
from standardwebhooks.webhooks import Webhook

from relaypass._background import Background
from relaypass.errors import InvalidRequestError

if TYPE_CHECKING:
    from relaypass.server.db.store import Store
    from relaypass.server.db.webhooks import Due

__all__ = ["RETRY_SECONDS", "Deliverer", "check_url"]

#: Waits between attempts (Standard Webhooks' schedule): about 27 hours in all.
RETRY_SECONDS: Final = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
_MAX_URL: Final = 2048
_USER_AGENT: Final = "relaypass-webhooks/1"
#: How often API keys about to expire are looked for (seconds).
_NOTICES_EVERY: Final = 600.0

_log = structlog.get_logger("relaypass.server.webhooks")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """The URL, if it may receive webhooks; ``INVALID_REQUEST`` naming why not."""
    if len(url) > _MAX_URL:
        msg = f"url is at most {_MAX_URL} characters"
        raise InvalidRequestError(msg)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        msg = "url must be https://host/... (or http://)"
        raise InvalidRequestError(msg)
    if parts.username is not None or parts.password is not None:
        msg = "url must not carry credentials"
        raise InvalidRequestError(msg)
    if allow_private or not resolve:
        return url
    try:
        addresses = _resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError:
        msg = "url's host does not resolve"
        raise InvalidRequestError(msg) from None
    if not all(_public(a) for a in addresses):
        msg = "url's host is a loopback, private or reserved address (the operator may allow them)"
        raise InvalidRequestError(msg)
    return url


@final
class _GuardedBackend(httpcore.SyncBackend):
    """Dials only public addresses: the check runs on the address connected to."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(host, port)
        allowed = [a for a in addresses if _public(a)]
        if not allowed or len(allowed) != len(addresses):
            msg = f"{host} resolves to a private or reserved address"
            raise httpcore.ConnectError(msg)
        return super().connect_tcp(allowed[0], port, timeout, local_address, socket_options)


def _client(*, allow_private: bool, timeout: float) -> httpx.Client:
    transport = httpx.HTTPTransport(retries=0)
    if not allow_private:
        transport._pool = httpcore.ConnectionPool(  # noqa: SLF001 - httpx has no public hook
            ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend()
        )
    return httpx.Client(
        transport=transport, timeout=timeout, follow_redirects=False,
        headers={"user-agent": _USER_AGENT},
    )  # fmt: skip


def sign(secrets: Sequence[str], message_id: str, at: dt.datetime, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,...`` per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


@final
class Deliverer:
    """Sends due deliveries in the background, a few at a time."""

    def __init__(
        self,
        store: Store,
        *,
        allow_private: bool = False,
        retry_seconds: Sequence[float] = RETRY_SECONDS,
        disable_after_seconds: float = 86_400,
        timeout_seconds: float = 10.0,
        workers: int = 8,
        poll_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.allow_private = allow_private
        self.retry_seconds = tuple(retry_seconds)
        self.disable_after_ms = int(disable_after_seconds * 1000)
        self.timeout_seconds = timeout_seconds
        self.workers = workers
        self.poll_seconds = poll_seconds
        self.delivered = self.failed = 0
        self._wake = threading.Event()
        self._background = Background(self._run, "relaypass-webhooks")

    def notify(self) -> None:
        """Something was queued: look now."""
        self._wake.set()

    def start(self) -> None:
        """Deliver in the background (again after :meth:`close`)."""
        self._background.start()

    def close(self) -> None:
        """Stop after the attempts in flight."""
        self._background.stop(timeout=self.timeout_seconds + 5, wake=self._wake)

    def run_once(self, client: httpx.Client, pool: ThreadPoolExecutor) -> int:
        """Attempt what is due now, with the deliverer's one client; how many were attempted."""
        # Leased for one attempt's time and some: a replica killed mid-attempt holds no more.
        lease_ms = int((self.timeout_seconds + 5) * 1000)
        due = self.store.due_webhook_deliveries(limit=50, lease_ms=lease_ms)
        list(pool.map(lambda item: self._attempt(client, item), due))
        return len(due)

    def _attempt(self, client: httpx.Client, due: Due) -> None:
        body = orjson.dumps(due.body)
        at = dt.datetime.now(dt.UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": due.message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": sign(due.secrets, due.message_id, at, body),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            # The status is the answer; the body is never read (a receiver cannot make the
            # deliverer hold a large answer in memory).
            with client.stream("POST", due.url, content=body, headers=headers) as response:
                status = response.status_code
            if not 200 <= status < 300:  # noqa: PLR2004 - HTTP success
                error = f"answered {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        latency = int((time.perf_counter() - started) * 1000)
        state = self.store.record_webhook_attempt(
            due.delivery_id, status=status, error=error, latency_ms=latency,
            retry_seconds=self.retry_seconds, disable_after_ms=self.disable_after_ms,
        )  # fmt: skip
        if state == "delivered":
            self.delivered += 1
        else:
            self.failed += 1
            _log.info("webhook.attempt_failed", endpoint=due.endpoint_id, message=due.message_id,
                      attempt=due.attempts + 1, state=state, error=error)  # fmt: skip

    def _run(self) -> None:
        next_notices = 0.0
        # One client for the deliverer's life: connections to a receiver are kept and reused.
        with (
            _client(allow_private=self.allow_private, timeout=self.timeout_seconds) as client,
            ThreadPoolExecutor(self.workers, thread_name_prefix="relaypass-webhook") as pool,
        ):
            while not self._background.stopping.is_set():
                try:
                    if time.monotonic() >= next_notices:
                        self.store.announce_expiring_keys()
                        next_notices = time.monotonic() + _NOTICES_EVERY
                    if self.store.announce_activated_keys():  # a key's moment is its own
                        self.notify()
                    attempted = self.run_once(client, pool)
                except Exception as exc:  # noqa: BLE001 - the deliverer outlives database outages
                    _log.warning("webhook.deliverer_failed", error=type(exc).__name__)
                    attempted = 0
                if not attempted:
                    self._wake.wait(self.poll_seconds)
                    self._wake.clear()
