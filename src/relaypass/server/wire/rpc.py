"""``POST /rpc/<name>``: the input as the JSON body, the answer as JSON, refusals as RFC 7807."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relaypass.errors import ErrorCode
from relaypass.server.dispatch import Dispatcher, Failure
from relaypass.server.wire._common import is_json_content_type, meta_of

__all__ = ["PROBLEM", "problem_response", "rpc_endpoint"]

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
