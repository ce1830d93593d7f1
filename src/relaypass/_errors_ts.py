"""Render the browser package's error codes from the one error tree: ``clients/js/src/codes.ts``.

``python -m relaypass._errors_ts > clients/js/src/codes.ts`` rewrites it; a test
fails when the committed file differs, so a page's ``err.code`` cannot drift
from the service's. Each code also has a *kind* (what a page branches on first:
``auth``, ``permission``, ``admission``, ``limit``, ``network``, ``request``),
declared here for every code: a code added without one fails the render.
"""

from __future__ import annotations

import json
from typing import Final

from relaypass.errors import _PUBLIC_MESSAGE, HTTP_STATUS, ErrorCode

__all__ = ["KINDS", "render"]

_C = ErrorCode
#: What a client does about a code, first: re-authenticate, give up on the action, wait in a
#: lobby, back off, retry later, or fix the request.
KINDS: Final[dict[ErrorCode, str]] = {
    _C.INVALID_TOKEN: "auth", _C.INVALID_API_KEY: "auth", _C.TOKEN_EXPIRED: "auth",
    _C.INVALID_PERMISSIONS: "permission", _C.UNAUTHORIZED_ROOM: "permission",
    _C.UNAUTHORIZED_PARTICIPANT: "permission", _C.UNAUTHORIZED_PATH: "permission",
    _C.UNAUTHORIZED_ORIGIN: "permission",
    _C.PENDING_ADMISSION: "admission", _C.ENTRY_DENIED: "admission",
    _C.ENTRY_TIMEOUT: "admission", _C.PARTICIPANT_REMOVED: "admission",
    _C.ROOM_ENDED: "admission", _C.DUPLICATE_IDENTITY: "admission",
    _C.RATE_LIMITED: "limit", _C.QUOTA_EXCEEDED: "limit", _C.REQUEST_TOO_LARGE: "limit",
    _C.URI_TOO_LONG: "limit", _C.HEADERS_TOO_LARGE: "limit",
    _C.UNAVAILABLE: "network",
    _C.INVALID_REQUEST: "request", _C.INVALID_KEY: "request", _C.INVALID_ENTRY_CLAIM: "request",
    _C.UNKNOWN_PROCEDURE: "request", _C.METHOD_NOT_ALLOWED: "request",
    _C.UNSUPPORTED_MEDIA_TYPE: "request",
}  # fmt: skip


def render() -> str:
    """The TypeScript module."""
    missing = [code.value for code in ErrorCode if code not in KINDS]
    if missing:
        msg = f"error codes without a kind: {missing}"
        raise ValueError(msg)
    kinds = sorted(set(KINDS.values()))
    lines = [
        "// Generated from relaypass.errors by `python -m relaypass._errors_ts`; do not edit.",
        "",
        "/** The stable error codes of every relaypass service. */",
        "export const ErrorCode = {",
        *(f"  {code.value}: {json.dumps(code.value)}," for code in ErrorCode),
        "} as const;",
        "export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];",
        "",
        "/** What a page branches on first (`err.kind === ErrorKind.Auth`). */",
        "export const ErrorKind = {",
        *(f"  {kind.capitalize()}: {json.dumps(kind)}," for kind in kinds),
        "} as const;",
        "export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];",
        "",
        "/** The kind of each code. */",
        "export const KIND_OF: Readonly<Record<ErrorCode, ErrorKind>> = {",
        *(f"  {code.value}: {json.dumps(KINDS[code])}," for code in ErrorCode),
        "};",
        "",
        "/** The HTTP status each code is answered with. */",
        "export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {",
        *(f"  {code.value}: {HTTP_STATUS[code]}," for code in ErrorCode),
        "};",
        "",
        "/** What a person may be shown for each code. */",
        "export const PUBLIC_MESSAGE: Readonly<Record<ErrorCode, string>> = {",
        *(f"  {code.value}: {json.dumps(_PUBLIC_MESSAGE[code])}," for code in ErrorCode),
        "};",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201 - the module's output is the file
