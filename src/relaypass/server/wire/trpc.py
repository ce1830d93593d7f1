"""``/trpc/<path>``: the HTTP wire of tRPC v11 (``@trpc/server`` 11.x), from the procedure table.

- Queries are ``GET ?input=<urlencoded JSON>`` (``POST`` is accepted too, as
  tRPC's method override does); mutations are ``POST`` with the bare input as
  the body; no input at all means none.
- Batches join paths with commas, add ``?batch=1`` and key inputs
  ``{"0": …, "1": …}``; the answer is an array in the same order, with the
  shared status or 207 when the calls' statuses differ.
- Success is ``{"result": {"data": …}}``; a refusal is ``{"error": {"message",
  "code": <JSON-RPC code>, "data": {"code", "httpStatus", "path",
  "relaypassCode"}}}`` — ``relaypassCode`` is the stable code of ``/rpc``.
- ``httpBatchStreamLink`` (the header ``trpc-accept: application/jsonl``): the
  batch is answered as tRPC's JSON Lines stream, always with status 200. The
  first line holds one pending value per call (``[[0], [null, 0, <chunk>]]``);
  each call's line ``[<chunk>, 0, [[<its result or error>]]]`` follows as soon as
  it is answered, in order.
- superjson: an input sent as ``{"json": …, "meta"?: …}`` is unwrapped and the
  answer wrapped the same way. A superjson client calling a procedure without
  input sends ``{}``, which cannot be told from plain JSON: such a client sends
  the header ``x-relaypass-transformer: superjson`` (or passes ``{}`` as input).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from relaypass.errors import ErrorCode
from relaypass.server.dispatch import Dispatcher, Failure, Success
from relaypass.server.wire._common import is_json_content_type, meta_of

__all__ = ["JSONRPC_CODE", "MAX_BATCH", "TRPC_KEY", "error_shape", "trpc_endpoint"]

MAX_BATCH: Final = 32

#: HTTP status -> tRPC's error key (``TRPC_ERROR_CODES_BY_KEY`` of @trpc/server 11).
TRPC_KEY: Final = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_SUPPORTED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}
#: tRPC's error key -> its JSON-RPC 2.0 code.
JSONRPC_CODE: Final = {
    "PARSE_ERROR": -32700,
    "BAD_REQUEST": -32600,
    "INTERNAL_SERVER_ERROR": -32603,
    "SERVICE_UNAVAILABLE": -32603,
    "UNAUTHORIZED": -32001,
    "FORBIDDEN": -32003,
    "NOT_FOUND": -32004,
    "METHOD_NOT_SUPPORTED": -32005,
    "CONFLICT": -32009,
    "PAYLOAD_TOO_LARGE": -32013,
    "UNSUPPORTED_MEDIA_TYPE": -32015,
    "TOO_MANY_REQUESTS": -32029,
}
_TRANSFORMER_HEADER: Final = "x-relaypass-transformer"


def error_shape(failure: Failure, path: str, *, parse_error: bool = False) -> dict[str, Any]:
    """TRPC's default error shape, with our stable code in ``data.relaypassCode``."""
    key = "PARSE_ERROR" if parse_error else TRPC_KEY.get(failure.status, "INTERNAL_SERVER_ERROR")
    data: dict[str, Any] = {
        "code": key,
        "httpStatus": failure.status,
        "path": path,
        "relaypassCode": failure.code.value,
    }
    if "fields" in failure.extra:
        data["fields"] = failure.extra["fields"]
    return {"message": failure.detail, "code": JSONRPC_CODE[key], "data": data}


def _is_envelope(value: object) -> bool:
    return isinstance(value, dict) and "json" in value and set(value) <= {"json", "meta"}


def _unwrap(value: object) -> object:
    """Unwrap superjson's ``{"json", "meta"}`` (our inputs are plain JSON: no meta to apply)."""
    if isinstance(value, dict):
        return value.get("json")
    return value  # pragma: no cover - only envelopes reach here


class _Request:
    """One HTTP request's calls: paths, raw inputs, and the transformer in use."""

    def __init__(self, paths: list[str], inputs: list[object], superjson: bool) -> None:
        self.paths = paths
        self.inputs = inputs
        self.superjson = superjson


def _parse(request: Request, paths: list[str], text: bytes | None, batch: bool) -> _Request:
    forced = request.headers.get(_TRANSFORMER_HEADER, "").lower() == "superjson"
    if text is None or not text.strip():
        return _Request(paths, [None] * len(paths), forced)
    parsed = orjson.loads(text)  # JSONDecodeError is the caller's parse error
    if batch:
        if not isinstance(parsed, dict):
            raise ValueError
        raw = [parsed.get(str(i)) for i in range(len(paths))]
    else:
        raw = [parsed]
    superjson = forced or any(_is_envelope(r) for r in raw)
    if superjson:
        raw = [_unwrap(r) if _is_envelope(r) else r for r in raw]
    return _Request(paths, raw, superjson)


def _refusal(request: Request, paths: list[str], batch: bool) -> Failure | None:
    """What refuses the whole request before any input is read."""
    if (not batch and len(paths) != 1) or len(paths) > MAX_BATCH:
        return Failure(
            ErrorCode.INVALID_REQUEST, 400,
            f"several paths need ?batch=1, and a batch holds at most {MAX_BATCH} calls",
        )  # fmt: skip
    if request.method == "POST" and not is_json_content_type(request.headers.get("content-type")):
        return Failure(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, 415,
            "send the input as JSON with Content-Type: application/json",
        )  # fmt: skip
    return None


async def _input_text(request: Request) -> bytes | None:
    if request.method == "GET":
        query = request.query_params.get("input")
        return query.encode() if query is not None else None
    return await request.body()


def trpc_endpoint(dispatcher: Dispatcher) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint serving ``GET|POST /trpc/{path}``."""

    async def endpoint(request: Request) -> Response:
        paths = request.path_params["path"].split(",")
        request.state.dispatched = True
        batch = request.query_params.get("batch") == "1"
        # httpBatchStreamLink: every answer, refusals included, is the JSON Lines stream.
        streamed = batch and request.headers.get("trpc-accept", "").lower() == "application/jsonl"

        def refuse(failure: Failure, *, parse: bool = False) -> Response:
            failures = [failure] * len(paths[:MAX_BATCH])
            if streamed:
                return _stream(_each(failures), paths, superjson=False, parse=parse)
            return _answer(failures, paths, batch, superjson=False, parse=parse)

        refusal = _refusal(request, paths, batch)
        if refusal is not None:
            return refuse(refusal)
        try:
            calls = _parse(request, paths, await _input_text(request), batch)
        except (orjson.JSONDecodeError, ValueError):
            return refuse(
                Failure(ErrorCode.INVALID_REQUEST, 400, "the input is not valid JSON"), parse=True
            )
        meta = meta_of(request)

        async def answered() -> AsyncIterator[Success | Failure]:
            for path, raw in zip(calls.paths, calls.inputs, strict=True):
                procedure = dispatcher.procedure(path)
                if (
                    procedure is not None
                    and procedure.kind == "mutation"
                    and request.method != "POST"
                ):
                    yield Failure(
                        ErrorCode.METHOD_NOT_ALLOWED,
                        405,
                        f"{path} is a mutation: send it with POST",
                    )
                else:
                    yield await dispatcher.dispatch(path, raw, meta)

        if streamed:
            return _stream(answered(), paths, superjson=calls.superjson)
        outcomes = [outcome async for outcome in answered()]
        return _answer(outcomes, paths, batch, superjson=calls.superjson)

    return endpoint


def _item(
    outcome: Success | Failure, path: str, *, superjson: bool, parse: bool = False
) -> dict[str, Any]:
    def wrap(value: object) -> object:
        return {"json": value} if superjson else value

    if isinstance(outcome, Success):
        return {"result": {"data": wrap(outcome.data)}}
    return {"error": wrap(error_shape(outcome, path, parse_error=parse))}


def _stream(
    outcomes: AsyncIterator[Success | Failure],
    paths: list[str],
    *,
    superjson: bool,
    parse: bool = False,
) -> Response:
    """The JSON Lines batch: a head of pending values, then each call's line when answered."""

    def line(value: object) -> bytes:  # superjson wraps each whole line, not each value
        return orjson.dumps({"json": value} if superjson else value) + b"\n"

    async def lines() -> AsyncIterator[bytes]:
        yield line({str(i): [[0], [None, 0, i]] for i in range(len(paths))})
        i = 0
        async for outcome in outcomes:
            yield line([i, 0, [[_item(outcome, paths[i], superjson=False, parse=parse)]]])
            i += 1

    return StreamingResponse(
        lines(), media_type="application/json", headers={"vary": "trpc-accept, accept"}
    )


async def _each(outcomes: list[Failure]) -> AsyncIterator[Success | Failure]:
    for outcome in outcomes:
        yield outcome


def _answer(
    outcomes: list[Success] | list[Failure] | list[Success | Failure],
    paths: list[str],
    batch: bool,
    *,
    superjson: bool,
    parse: bool = False,
) -> Response:
    items = [
        _item(outcome, path, superjson=superjson, parse=parse)
        for path, outcome in zip(paths, outcomes, strict=False)
    ]
    statuses = {o.status for o in outcomes}
    status = statuses.pop() if len(statuses) == 1 else 207
    body = orjson.dumps(items if batch else items[0])
    response = Response(body, status_code=status, media_type="application/json")
    retry = [o.retry_after_seconds for o in outcomes if isinstance(o, Failure)]
    if status in {429, 503} and retry and retry[0] is not None:
        response.headers["Retry-After"] = str(retry[0])
    return response
