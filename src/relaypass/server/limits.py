"""Request limits applied before any body is read: head and body size, the API key on procedures.

A head over :mod:`relaypass._head_limits`' limits is refused first (431, 414),
in the problem+json form (or tRPC's, on ``/trpc/``).

A pure ASGI middleware. A declared ``Content-Length`` above the limit is refused
at once; a body that grows past it while streaming is cut off. On ``/rpc/``,
a bearer API key is checked before the body is read, so an unauthenticated
client cannot make the service parse anything. The service-account procedures accept
an ``admin_token`` in the body instead of a key; for them alone the body is
read (still within the size limit) when no ``Authorization`` header is sent.

On ``/trpc/`` the key is checked per call by the dispatcher instead: a refusal
must be framed the way the client's transformer expects (plain or superjson),
which only the (size-limited) input tells. Refusals here take tRPC's shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import orjson
from sqlalchemy.exc import SQLAlchemyError

from relaypass._head_limits import head_refusal
from relaypass.api import BY_NAME
from relaypass.errors import ErrorCode, InvalidApiKeyError, RelaypassError
from relaypass.server import logging as rlog
from relaypass.server.current import PROCEDURE, VERIFIED_KEY
from relaypass.server.dispatch import Failure
from relaypass.server.wire.trpc import MAX_BATCH, error_shape

__all__ = ["RequestLimits"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Procedures that authenticate with a service-account JWT in the body (ClutchCall).
BODY_AUTHENTICATED: Final = frozenset(name for name, p in BY_NAME.items() if p.admin_token)


class _TooLargeError(Exception):
    pass


def _names(path: str) -> list[str] | None:
    """The procedures a path calls (``None``: not a procedure path)."""
    if path.startswith("/rpc/"):
        return [path.removeprefix("/rpc/")]
    if path.startswith("/trpc/"):
        return path.removeprefix("/trpc/").split(",")[:MAX_BATCH]
    return None


async def _problem(
    send: Send,
    code: ErrorCode,
    status: int,
    detail: str,
    *,
    retry: int | None = None,
    scope: Scope | None = None,
) -> None:
    path: str = scope.get("path", "") if scope is not None else ""
    if path.startswith("/trpc/"):
        failure = Failure(code, status, detail)
        names = _names(path) or [""]
        errors = [{"error": error_shape(failure, name)} for name in names]
        batch = b"batch=1" in (scope or {}).get("query_string", b"")
        body = orjson.dumps(errors if batch else errors[0])
        media = b"application/json"
    else:
        body = orjson.dumps(
            {
                "type": f"https://relaypass.dev/errors/{code.value.lower()}",
                "title": code.value,
                "status": status,
                "code": code.value,
                "detail": detail,
            }
        )
        media = b"application/problem+json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media),
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
        refused = head_refusal(scope)
        if refused is not None:
            await _problem(send, refused.code, refused.http_status, refused.reason, scope=scope)
            return
        raw_headers = scope.get("headers") or []
        headers = dict(raw_headers)
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._too_large(scope, send)
            return
        path: str = scope.get("path", "")
        names = _names(path)
        if names is not None:
            PROCEDURE.set(names[0][:100])
            if path.startswith("/rpc/") and not await self._authenticated(
                headers, names, scope, send
            ):
                return
        await self._forward(scope, receive, send)

    async def _authenticated(
        self, headers: dict[bytes, bytes], names: list[str], scope: Scope, send: Send
    ) -> bool:
        authorization = headers.get(b"authorization")
        if authorization is None and all(n in BODY_AUTHENTICATED for n in names):
            return True
        path: str = scope.get("path", "")
        try:
            text = (authorization or b"").decode("latin-1")
            if not text.startswith("Bearer "):
                msg = "missing bearer API key"
                raise InvalidApiKeyError(msg)
            verified = await self.check_api_key(text.removeprefix("Bearer ").strip())
            # The dispatcher uses it for this request instead of checking the key again.
            scope.setdefault("state", {})[VERIFIED_KEY] = (text, verified)
        except SQLAlchemyError as exc:
            rlog.get_logger().warning("unavailable", path=path, error=type(exc).__name__)
            await _problem(
                send,
                ErrorCode.UNAVAILABLE,
                503,
                "the database is unreachable; retry",
                retry=1,
                scope=scope,
            )
            return False
        except RelaypassError as exc:
            rlog.get_logger().info("refused", path=path, code=exc.code.value, reason=exc.reason)
            await _problem(send, exc.code, exc.http_status, exc.public_message, scope=scope)
            return False
        return True

    async def _too_large(self, scope: Scope, send: Send) -> None:
        """The refusal of a body over the limit, declared or found while reading it."""
        await _problem(
            send,
            ErrorCode.REQUEST_TOO_LARGE,
            413,
            f"request bodies are limited to {self.max_body_bytes} bytes",
            scope=scope,
        )

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
                await self._too_large(scope, send)
