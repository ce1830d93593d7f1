"""uvicorn's HTTP/1.1 protocol, with a head its parser refuses answered as problem+json.

:mod:`relaypass._head_limits` answers 414 and 431 for what reaches the
application. A head larger than the parser itself takes (llhttp stops near
80 KiB, h11 at 16 KiB of an incomplete head) never gets there: uvicorn writes a
plain-text 400 and closes. These subclasses write the same refusal the
application would have written instead (414 ``URI_TOO_LONG`` for a long
request line, 431 ``HEADERS_TOO_LARGE`` for a long head, 400
``INVALID_REQUEST`` for anything else the parser refuses), and still close the
connection. Used by ``relaypass serve``, ``gate serve`` and ``moq-auth serve``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final

from uvicorn.protocols.http.h11_impl import H11Protocol

from relaypass._head_limits import MAX_HEADER_BYTES, MAX_URL_BYTES
from relaypass.errors import (
    HeadersTooLargeError,
    InvalidRequestError,
    RelaypassError,
    UriTooLongError,
)

__all__ = ["http_protocol", "refusal_bytes"]

_REASONS: Final = {
    400: b"Bad Request",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}


def _refusal(url_bytes: int, head_bytes: int) -> RelaypassError:
    if url_bytes > MAX_URL_BYTES:
        return UriTooLongError(f"the path and query are at most {MAX_URL_BYTES} bytes")
    if head_bytes > MAX_HEADER_BYTES:
        return HeadersTooLargeError(f"the request's head is at most {MAX_HEADER_BYTES} bytes")
    return InvalidRequestError("the request is not valid HTTP/1.1")


def refusal_bytes(url_bytes: int, head_bytes: int) -> bytes:
    """The whole HTTP response for a head the parser refused, by what was too long."""
    error = _refusal(url_bytes, head_bytes)
    status = error.http_status
    body = json.dumps(
        {"type": f"https://relaypass.dev/errors/{error.code.value.lower()}",
         "title": error.code.value, "status": status, "code": error.code.value,
         "detail": error.reason}
    ).encode()  # fmt: skip
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/problem+json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n"
    ) % (status, _REASONS[status], len(body))
    return head + body


#: How long a refused connection keeps reading (and dropping) what the client still sends.
LINGER_SECONDS: Final = 2.0


def _refuse(transport: asyncio.Transport, payload: bytes) -> None:
    """Answer, then close once the client has stopped sending (or after :data:`LINGER_SECONDS`).

    Closing a socket with unread bytes in it makes the kernel send a reset,
    and a client still writing its long head would lose the answer with it.
    """
    transport.write(payload)
    if transport.can_write_eof():
        transport.write_eof()
    asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)


class ProblemH11Protocol(H11Protocol):
    """h11 (no httptools installed): the refused head is what h11 still buffers."""

    _refused = False

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does; after a refusal, drop what still arrives."""
        if not self._refused:
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - uvicorn's text
        """Write the problem+json refusal and close."""
        self._refused = True
        buffered = bytes(self.conn.trailing_data[0])
        line, _, _ = buffered.partition(b"\r\n")
        _refuse(self.transport, refusal_bytes(len(line), len(buffered)))


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is in the server extra, not the gate's
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class ProblemHttpToolsProtocol(HttpToolsProtocol):
        """llhttp: the URL received so far and the bytes of the head so far."""

        _head_bytes = 0
        _in_head = True

        _refused = False

        def data_received(self, data: bytes) -> None:
            """Count the head's bytes, then parse as uvicorn does; drop all after a refusal."""
            if self._refused:
                return
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)

        def on_headers_complete(self) -> None:
            """The head is whole: its size no longer matters."""
            self._in_head, self._head_bytes = False, 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            """The next bytes are the next request's head."""
            self._in_head = True
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - uvicorn's text
            """Write the problem+json refusal and close."""
            self._refused = True
            url = getattr(self, "url", b"")
            _refuse(self.transport, refusal_bytes(len(url), self._head_bytes))


def http_protocol() -> type[H11Protocol | HttpToolsProtocol]:
    """The protocol class for uvicorn's ``http=``: httptools when installed, else h11."""
    if HttpToolsProtocol is None:  # pragma: no cover - see the import
        return ProblemH11Protocol
    return ProblemHttpToolsProtocol
