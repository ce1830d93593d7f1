"""The procedures' wires served straight from the service's own middleware.

``POST /rpc/<name>`` and ``GET|POST /trpc/<path>`` go to their endpoints from
inside the service's limits, metrics and server-error answer, not through the
web framework's router and the layers in front of it, which a mint otherwise
crosses on the way to the same endpoint (``bench/mint.py`` measures it). An
exception an endpoint raises gets the handler the app registered for its type,
as on the router's path; every other request takes that path unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Endpoint", "ProcedureLane"]

#: An endpoint of a wire: the request in, the response out.
Endpoint = Callable[[Request], Awaitable[Response]]
#: What ``app.exception_handlers`` holds: an exception type's handler, async or not.
ExceptionHandler = Callable[[Request, Any], "Response | Awaitable[Response]"]

_RPC: Final = "/rpc/"
_TRPC: Final = "/trpc/"


class ProcedureLane:
    """``/rpc`` and ``/trpc`` calls handed to their endpoints; every other request passed on."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rpc: Endpoint,
        trpc: Endpoint,
        handlers: Mapping[Any, ExceptionHandler],
    ) -> None:
        self.app = app
        self.rpc = rpc
        self.trpc = trpc
        self.handlers = handlers  # the app's own mapping: handlers added later count too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        taken = self._route(scope)
        if taken is None:
            await self.app(scope, receive, send)
            return
        endpoint, params = taken
        scope["path_params"] = params
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> ExceptionHandler | None:
        """The app's handler for ``exc``'s type, as the router's path finds it.

        A handler of ``Exception`` itself is the server-error answer's, which stays outside
        this lane (the framework gives it the same place), so it is not looked up here.
        """
        for kind in type(exc).__mro__:
            if kind is not Exception and kind in self.handlers:
                return self.handlers[kind]
        return None

    def _route(self, scope: Scope) -> tuple[Endpoint, dict[str, str]] | None:
        """The endpoint and path parameters the router would give this request, if a wire's.

        ``POST /rpc/<name>`` (one segment) and ``GET|POST /trpc/<path>`` (not empty), read
        below the root path; anything else (``HEAD``, other methods, other paths) is ``None``.
        """
        if scope["type"] != "http":
            return None
        method: str = scope["method"]
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if method == "POST" and path.startswith(_RPC):
            name = path[len(_RPC) :]
            return (self.rpc, {"name": name}) if name and "/" not in name else None
        if method in {"GET", "POST"} and path.startswith(_TRPC) and len(path) > len(_TRPC):
            return self.trpc, {"path": path[len(_TRPC) :]}
        return None
