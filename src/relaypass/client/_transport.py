"""Calls to ``/rpc`` over httpx: the API key, idempotency keys, retries, and errors by stable code.

The key comes from the argument, ``RELAYPASS_API_KEY`` or ClutchCall's
``CLUTCHCALL_API_KEY``; it lives in the ``Authorization`` header only and never
in a repr, a log line or an exception. Creates carry an ``Idempotency-Key``
(one per logical call, the same on every retry). 429 and 503 are retried with
exponential backoff, honouring ``Retry-After``.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any, Final, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from relaypass import errors
from relaypass.api import Procedure
from relaypass.errors import ErrorCode, RelaypassError

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_URL",
    "RETRIED",
    "AsyncCaller",
    "Caller",
    "TransportBase",
    "error_from_problem",
    "resolve_api_key",
    "token_of",
]

OutT = TypeVar("OutT", bound=BaseModel)

#: Where the API key is looked up, in order.
API_KEY_ENV: Final = ("RELAYPASS_API_KEY", "CLUTCHCALL_API_KEY")
DEFAULT_URL: Final = "http://127.0.0.1:8700"
#: Answers retried with backoff.
RETRIED: Final = frozenset({429, 503})
_MAX_RETRY_AFTER: Final = 30.0


class Caller(Protocol):
    """What the generated procedures call: :class:`~relaypass.client.Transport` is one."""

    def call(self, procedure: Procedure[Any, OutT], values: dict[str, Any]) -> OutT:
        """Run one procedure."""
        ...


class AsyncCaller(Protocol):
    """What the generated procedures await: :class:`~relaypass.client.AsyncTransport` is one."""

    async def call(self, procedure: Procedure[Any, OutT], values: dict[str, Any]) -> OutT:
        """Run one procedure."""
        ...


def resolve_api_key(api_key: str | None) -> str:
    """The argument, or the first of :data:`API_KEY_ENV` that is set."""
    if api_key:
        return api_key
    for name in API_KEY_ENV:
        value = os.environ.get(name)
        if value:
            return value
    msg = f"no API key: pass api_key= or set {' or '.join(API_KEY_ENV)}"
    raise errors.InvalidApiKeyError(msg)


def _classes() -> dict[ErrorCode, type[RelaypassError]]:
    """The broadest class of each code (``INVALID_TOKEN`` -> ``InvalidTokenError``)."""
    found: dict[ErrorCode, type[RelaypassError]] = {}
    for value in vars(errors).values():
        # The base class carries INVALID_REQUEST as a default, not as its own code.
        if (
            isinstance(value, type)
            and issubclass(value, RelaypassError)
            and value is not RelaypassError
        ):
            current = found.get(value.code)
            if current is None or issubclass(current, value):
                found[value.code] = value
    return found


_CLASSES: Final = _classes()


def error_from_problem(response: httpx.Response) -> RelaypassError:
    """The exception for a refusal: the class of its stable code, with status and detail."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    try:
        code = ErrorCode(str(body.get("code")))
    except ValueError:
        code = ErrorCode.UNAVAILABLE if response.status_code >= 500 else ErrorCode.INVALID_REQUEST  # noqa: PLR2004
    cls = _CLASSES[code]
    exc = cls.__new__(cls)
    detail = str(body.get("detail") or f"HTTP {response.status_code}")
    RelaypassError.__init__(exc, detail)
    # What the service said, for callers: the HTTP status, the refused fields, when to retry.
    extra: dict[str, object] = {
        "status_code": response.status_code,
        "fields": list(body.get("fields") or []),
    }
    retry_after = _retry_after(response)
    if retry_after is not None:
        extra["retry_after_seconds"] = int(retry_after)
    vars(exc).update(extra)
    return exc


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return None


class TransportBase:
    """What both transports share: the URL, the key, the request, the retry delay, errors."""

    def __init__(
        self, base_url: str | None, api_key: str | None, *, max_retries: int, backoff_seconds: float
    ) -> None:
        self.base_url = (base_url or os.environ.get("RELAYPASS_URL") or DEFAULT_URL).rstrip("/")
        self._api_key = resolve_api_key(api_key)
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def request(
        self, procedure: Procedure[Any, Any], values: dict[str, Any]
    ) -> tuple[str, bytes, dict[str, str]]:
        fields = procedure.input.model_fields
        given = {
            k: v
            for k, v in values.items()
            if not (v is None and fields[k].default_factory is not None)
        }
        try:
            model = procedure.input.model_validate(given)
        except ValidationError as exc:  # refused before sending, as the service would
            fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False)]
            error = errors.InvalidRequestError(f"the input is not valid: {', '.join(fields)}")
            vars(error).update(status_code=None, fields=fields)
            raise error from None
        # Defaults left out: the service applies the same ones, and an SDK newer than its
        # service can still call a procedure that gained a field, as long as it is unused.
        body = model.model_dump_json(by_alias=True, exclude_none=True, exclude_defaults=True)
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
        }
        if procedure.idempotent:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        return f"{self.base_url}/rpc/{procedure.name}", body.encode(), headers

    def unreachable(self, exc: httpx.TransportError) -> errors.UnreachableError:
        """No answer at all: one line naming the URL (never the request's headers)."""
        if isinstance(exc, httpx.TimeoutException):
            reason = "timed out"
        elif isinstance(exc, httpx.ConnectError):
            reason = "nothing answers there (is relaypass serve running?)"
        else:
            reason = type(exc).__name__
        error = errors.UnreachableError(self.base_url, reason)
        vars(error).update(status_code=None, fields=[])
        return error

    def delay(self, attempt: int, response: httpx.Response) -> float:
        hinted = _retry_after(response)
        backoff: float = self.backoff_seconds * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
        return max(hinted or 0.0, min(backoff, _MAX_RETRY_AFTER))

    @staticmethod
    def answer(procedure: Procedure[Any, OutT], response: httpx.Response) -> OutT:
        if response.status_code != 200:  # noqa: PLR2004
            raise error_from_problem(response)
        return procedure.output.model_validate_json(response.content)


def token_of(response: httpx.Response) -> str:
    """The token a backend's token endpoint answered (``{"token": …}``)."""
    response.raise_for_status()
    body = response.json()
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        msg = "the token endpoint answered without a token"
        raise ValueError(msg)
    return token
