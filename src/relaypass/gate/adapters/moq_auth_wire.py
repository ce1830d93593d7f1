"""The moq-relay auth contract's messages: a relay's request read strictly, the grant answered.

The request (``connect``, ``revalidate``, ``end`` of one session) is a JSON
object of at most 64 KiB: its ``id`` hex, its ``event`` one of the three, every
text bounded, unknown fields accepted unread (a newer relay may add some). The
credential is ``jwt=`` in the query or a SETUP token of kind 0, never both. The
answer is the grant's publish and subscribe patterns, its expiry and cadence,
and a tier; a refusal is 401 (the credential) or 403 (the rest).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from relaypass._grant import Grant
from relaypass._json import StrictJSONError, loads_object
from relaypass._scopes import split_path
from relaypass.errors import (
    ErrorCode,
    InvalidPermissionsError,
    InvalidRequestError,
    MalformedTokenError,
    RelaypassError,
    UnauthorizedPathError,
)

__all__ = [
    "MAX_REQUEST_BYTES",
    "AuthRequest",
    "CertificateRules",
    "answer_status",
    "credential_of",
    "grant_answer",
    "parse_request",
]

MAX_REQUEST_BYTES: Final = 64 * 1024
_EVENTS: Final = frozenset({"connect", "revalidate", "end"})
_ID: Final = re.compile(r"[0-9a-fA-F]{1,64}")
_MAX_TEXT: Final = 8 * 1024
_JWT_KIND: Final = 0


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """The fields of a relay's request this server decides on (the rest is accepted, unread)."""

    id: str
    event: str
    node: str
    transport: str
    path: str
    query: str | None
    token: tuple[int, str] | None
    role: str | None
    certificate: bool
    remote: str | None = None
    certificate_name: str | None = None
    certificate_expires: int | None = None
    #: ``end``: the session's bytes ``{sent, received}``, as the relay counted them.
    sent: int | None = None
    received: int | None = None


@dataclass(frozen=True, slots=True)
class CertificateRules:
    """What a session presenting a verified client certificate is granted, rooted at ``/``.

    As moq's own server: the patterns are authorized at the dialed path like a
    token with an empty root; the grant ends at the certificate's expiry.
    ``names`` (when given) admits only certificates of those names (``tls.name``).
    """

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    names: frozenset[str] | None = None


def _text(body: Mapping[str, object], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        msg = f"{name} must be a string of at most {_MAX_TEXT} characters"
        raise InvalidRequestError(msg)
    return value


def parse_request(raw: bytes) -> AuthRequest:
    """A relay's request, strictly where it matters; unknown fields and transports accepted."""
    if len(raw) > MAX_REQUEST_BYTES:
        msg = f"a request is at most {MAX_REQUEST_BYTES} bytes"
        raise InvalidRequestError(msg)
    try:
        body = loads_object(raw)
    except StrictJSONError:
        msg = "the request is not a JSON object"
        raise InvalidRequestError(msg) from None
    session_id = _text(body, "id", required=True) or ""
    if _ID.fullmatch(session_id) is None:
        msg = "id is 1-64 hex digits"
        raise InvalidRequestError(msg)
    event = _text(body, "event", required=True)
    if event not in _EVENTS:
        msg = f"event is one of {sorted(_EVENTS)}"
        raise InvalidRequestError(msg)
    tls = body.get("tls")
    counted = body.get("bytes")
    token = body.get("token")
    parsed_token: tuple[int, str] | None = None
    if token is not None:
        kind, value = (
            (token.get("kind"), token.get("value")) if isinstance(token, dict) else (None, None)
        )
        if type(kind) is not int or not isinstance(value, str) or len(value) > _MAX_TEXT:
            msg = "token is {kind: integer, value: base64url}"
            raise InvalidRequestError(msg)
        parsed_token = (kind, value)
    return AuthRequest(
        id=session_id.lower(),
        event=event,
        node=_text(body, "node") or "",
        transport=_text(body, "transport") or "",
        path=_text(body, "path", required=True) or "",
        query=_text(body, "query"),
        token=parsed_token,
        role=_text(body, "role"),
        certificate=isinstance(tls, dict),
        remote=_text(body, "remote"),
        certificate_name=_text(tls, "name") if isinstance(tls, dict) else None,
        certificate_expires=_seconds(tls.get("expires")) if isinstance(tls, dict) else None,
        sent=_seconds(counted.get("sent")) if isinstance(counted, dict) else None,
        received=_seconds(counted.get("received")) if isinstance(counted, dict) else None,
    )


def _seconds(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


def credential_of(request: AuthRequest) -> str | None:
    """The JWT the session presented: ``jwt=`` in the query or a SETUP token of kind 0."""
    found: list[str] = []
    if request.query:
        values = urllib.parse.parse_qs(request.query, keep_blank_values=True).get("jwt", [])
        if len(values) > 1:
            msg = "more than one jwt in the query"
            raise MalformedTokenError(msg)
        found.extend(values)
    if request.token is not None:
        kind, value = request.token
        if kind != _JWT_KIND:
            msg = "only SETUP tokens of kind 0 (a JWT) are understood"
            raise MalformedTokenError(msg)
        try:
            found.append(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            msg = "the SETUP token is not base64url"
            raise MalformedTokenError(msg) from None
    if len(found) > 1:  # as moq's own server: neither can safely win
        msg = "both a SETUP token and a jwt query were presented"
        raise MalformedTokenError(msg)
    return found[0] if found else None


def _overlaps(pattern: tuple[str, ...], fenced: tuple[str, ...]) -> bool:
    """Whether some path matches both patterns (``*`` one segment, ``**`` zero or more)."""
    for mine, theirs in zip(pattern, fenced, strict=False):
        if "**" in (mine, theirs):
            return True
        if "*" not in (mine, theirs) and mine != theirs:
            return False
    rest = pattern[len(fenced) :] or fenced[len(pattern) :]
    return rest in {(), ("**",)}  # a trailing ``**`` also matches nothing more


def grant_answer(grant: Grant, *, revalidate_seconds: int | None) -> dict[str, Any]:
    """The contract's grant for a session's gate grant (``expires`` never past the token's)."""
    fence = [tuple(split_path(p)) or ("**",) for p in grant.fence.patterns]
    for patterns in (grant.publish, grant.subscribe):
        for pattern in patterns.patterns:
            segments = tuple(pattern.split("/")) if pattern else ()
            if any(_overlaps(segments or ("**",), f) for f in fence):
                msg = "the grant reaches into another org's namespace"
                raise UnauthorizedPathError(msg)
    answer: dict[str, Any] = {}
    if grant.publish.patterns:
        answer["publish"] = list(grant.publish.patterns)
    if grant.subscribe.patterns:
        answer["subscribe"] = list(grant.subscribe.patterns)
    if not answer:
        msg = "the token grants nothing at this path"
        raise InvalidPermissionsError(msg)
    if grant.expires_at is not None:
        answer["expires"] = math.floor(grant.expires_at)
        if revalidate_seconds:
            answer["revalidate"] = revalidate_seconds
    answer["tier"] = grant.org or "default"
    return answer


def answer_status(exc: RelaypassError) -> int:
    """A refusal's status: 401 for a bad credential, 403 for the rest (both refuse)."""
    return 401 if exc.code in {ErrorCode.INVALID_TOKEN, ErrorCode.INVALID_API_KEY} else 403
