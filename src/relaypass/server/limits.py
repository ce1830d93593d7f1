"""Request limits applied before any body is read: size, and the API key on ``/rpc``.

A pure ASGI middleware. A declared ``Content-Length`` above the limit is refused
at once; a body that grows past it while streaming is cut off. On ``/rpc/``,
a bearer API key is checked before the body is read, so an unauthenticated
client cannot make the service parse anything. The seed-003 procedures accept
an ``admin_token`` in the body instead of a key; for them alone the body is
read (still within the size limit) when no ``Authorization`` header is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any, Final

import orjson
from sqlalchemy.exc import SQLAlchemyError

from relaypass.errors import ErrorCode, InvalidApiKeyError, RelaypassError
from relaypass.server import logging as rlog

__all__ = ["PROCEDURE", "RequestLimits"]

#: The procedure being served (``streams.apiKeys.create``), for audit rows.
PROCEDURE: ContextVar[str] = ContextVar("relaypass_procedure", default="")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Procedures that authenticate with a service-account JWT in the body (seed 003).
BODY_AUTHENTICATED: Final = frozenset(
    {"/rpc/PublishServiceAccount", "/rpc/RevokeServiceAccount", "/rpc/SessionAuth"}
)


class _TooLargeError(Exception):
    pass


async def _problem(
    send: Send, code: ErrorCode, status: int, detail: str, *, retry: int | None = None
) -> None:
    body = orjson.dumps(
        {
            "type": f"https://relaypass.dev/errors/{code.value.lower()}",
            "title": code.value,
            "status": status,
            "code": code.value,
            "detail": detail,
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *([(b"retry-after", str(retry).encode())] if retry is not None else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Refuse oversized bodies (413) and unauthenticated ``/rpc`` calls (401) up front."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        check_api_key: Callable[[str], Awaitable[object]],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.check_api_key = check_api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _problem(
                send,
                ErrorCode.REQUEST_TOO_LARGE,
                413,
                f"request bodies are limited to {self.max_body_bytes} bytes",
            )
            return
        path: str = scope.get("path", "")
        if path.startswith("/rpc/"):
            PROCEDURE.set(path.removeprefix("/rpc/")[:100])
            if not await self._authenticated(headers, path, send):
                return
        await self._forward(scope, receive, send)

    async def _authenticated(self, headers: dict[bytes, bytes], path: str, send: Send) -> bool:
        authorization = headers.get(b"authorization")
        if authorization is None and path in BODY_AUTHENTICATED:
            return True
        try:
            text = (authorization or b"").decode("latin-1")
            if not text.startswith("Bearer "):
                msg = "missing bearer API key"
                raise InvalidApiKeyError(msg)
            await self.check_api_key(text.removeprefix("Bearer ").strip())
        except SQLAlchemyError as exc:
            rlog.get_logger().warning("unavailable", path=path, error=type(exc).__name__)
            await _problem(
                send, ErrorCode.UNAVAILABLE, 503, "the database is unreachable; retry", retry=1
            )
            return False
        except RelaypassError as exc:
            rlog.get_logger().info("refused", path=path, code=exc.code.value, reason=exc.reason)
            await _problem(send, exc.code, exc.http_status, exc.public_message)
            return False
        return True

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _TooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLargeError:
            if not started:
                await _problem(
                    send,
                    ErrorCode.REQUEST_TOO_LARGE,
                    413,
                    f"request bodies are limited to {self.max_body_bytes} bytes",
                )
