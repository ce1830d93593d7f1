"""``POST /rpc/<name>``: the input as the JSON body, the answer as JSON, refusals as RFC 7807."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from relaypass.errors import ErrorCode
from relaypass.server.dispatch import Dispatcher, Failure
from relaypass.server.wire._common import is_json_content_type, meta_of

__all__ = ["PROBLEM", "RpcLane", "problem_response", "rpc_endpoint"]

PROBLEM: Final = "application/problem+json"


def problem_response(failure: Failure) -> Response:
    """An RFC 7807 body with the stable code."""
    body: dict[str, object] = {
        "type": f"https://relaypass.dev/errors/{failure.code.value.lower()}",
        "title": failure.code.value,
        "status": failure.status,
        "code": failure.code.value,
        "detail": failure.detail,
        **failure.extra,
    }
    response = JSONResponse(body, status_code=failure.status, media_type=PROBLEM)
    if failure.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(failure.retry_after_seconds)
    return response


def rpc_endpoint(dispatcher: Dispatcher) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint serving ``POST /rpc/{name}``."""

    async def endpoint(request: Request) -> Response:
        name: str = request.path_params["name"]
        request.state.dispatched = True
        if not is_json_content_type(request.headers.get("content-type")):
            return problem_response(
                Failure(
                    ErrorCode.UNSUPPORTED_MEDIA_TYPE, 415,
                    "send the input as JSON with Content-Type: application/json",
                )
            )  # fmt: skip
        body = await request.body()
        raw: object = None
        if body.strip():
            try:
                raw = orjson.loads(body)
            except orjson.JSONDecodeError:
                return problem_response(
                    Failure(ErrorCode.INVALID_REQUEST, 400, "the body is not valid JSON")
                )
        outcome = await dispatcher.dispatch(name, raw, meta_of(request))
        if isinstance(outcome, Failure):
            return problem_response(outcome)
        return Response(orjson.dumps(outcome.data), media_type="application/json")

    return endpoint


Endpoint = Callable[[Request], Awaitable[Response]]
#: What ``app.exception_handlers`` holds: an exception type's handler, async or not.
ExceptionHandler = Callable[[Request, Any], "Response | Awaitable[Response]"]


class RpcLane:
    """``POST /rpc/<name>`` handed to its endpoint directly, every other request passed on.

    The procedures' own wire, inside the service's middleware (limits, metrics, the
    server-error answer) but not the framework's router and its layers, which a
    mint otherwise crosses on the way to the same endpoint (measured: ``bench/mint.py``).
    An exception the endpoint raises gets the handler the app registered for it, as the
    router's path would give it; any other request takes the router's path unchanged.
    """

    def __init__(
        self, app: ASGIApp, *, endpoint: Endpoint, handlers: Mapping[Any, ExceptionHandler]
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        self.handlers = handlers  # the app's own mapping: handlers added later count too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        name = _procedure_path(scope)
        if name is None:
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {"name": name}
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = next(
                (self.handlers[c] for c in type(exc).__mro__ if c in self.handlers), None
            )
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)


def _procedure_path(scope: Scope) -> str | None:
    """The procedure a ``POST /rpc/<name>`` names (one path segment), else ``None``."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    name = path[5:] if path.startswith("/rpc/") else ""
    return name if name and "/" not in name else None
