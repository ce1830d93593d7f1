"""Limits on a request's head, checked before anything reads it: pure ASGI, no framework.

More than :data:`MAX_HEADERS` headers or :data:`MAX_HEADER_BYTES` bytes of them
answer 431 ``HEADERS_TOO_LARGE``; a path and query over :data:`MAX_URL_BYTES`
answer 414 ``URI_TOO_LONG``. The control plane and ``gate serve`` both apply
them, each in its own refusal form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from relaypass.errors import HeadersTooLargeError, RelaypassError, UriTooLongError

__all__ = ["MAX_HEADERS", "MAX_HEADER_BYTES", "MAX_URL_BYTES", "head_refusal"]

MAX_HEADERS: Final = 100
MAX_HEADER_BYTES: Final = 16 * 1024
MAX_URL_BYTES: Final = 8 * 1024


def head_refusal(scope: Mapping[str, object]) -> RelaypassError | None:
    """Why an HTTP request's head is refused, or ``None``."""
    headers = scope.get("headers") or ()
    assert isinstance(headers, Sequence)  # noqa: S101 - the ASGI spec's list of pairs
    if len(headers) > MAX_HEADERS or sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
        msg = f"at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes of them"
        return HeadersTooLargeError(msg)
    raw_path = scope.get("raw_path") or str(scope.get("path", "")).encode()
    query = scope.get("query_string") or b""
    assert isinstance(raw_path, bytes | str)  # noqa: S101
    assert isinstance(query, bytes)  # noqa: S101
    if len(raw_path) + len(query) > MAX_URL_BYTES:
        msg = f"the path and query are at most {MAX_URL_BYTES} bytes"
        return UriTooLongError(msg)
    return None
