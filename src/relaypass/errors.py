"""The one exception tree of relaypass, with stable error codes.

Every refusal carries an :class:`ErrorCode`. Codes are part of the public
contract: they are added, never renamed. Subclasses add precision for logs and
``except`` clauses; clients only ever see the coarse code, so an
``INVALID_TOKEN`` never says whether the signature, the ``kid`` or the expiry
failed. The precise reason is :attr:`RelaypassError.reason`, meant for logs.

Messages never contain token, key or secret bytes.

::

    RelaypassError                      (base; code set per class)
    ├── InvalidTokenError               INVALID_TOKEN
    │   ├── MalformedTokenError         structure, base64url, JSON, size
    │   ├── UnsupportedHeaderError      alg none, crit, jku, jwk, x5u, x5c, b64 ...
    │   ├── KeyNotFoundError            unknown or malformed kid
    │   ├── AlgorithmMismatchError      header alg differs from the key's
    │   ├── InvalidSignatureError       signature does not verify
    │   └── ClaimsError                 registered claims
    │       ├── ExpiredTokenError       past exp (+ leeway)
    │       ├── ImmatureTokenError      before nbf / iat in the future
    │       ├── MissingClaimError       a required claim is absent
    │       ├── InvalidClaimError       wrong type or value (iss, aud, ...)
    │       └── RevokedTokenError       revoked jti / kid / subject
    ├── InvalidKeyError                 INVALID_KEY
    ├── InvalidApiKeyError              INVALID_API_KEY
    ├── InvalidPermissionsError         INVALID_PERMISSIONS
    ├── UnauthorizedRoomError           UNAUTHORIZED_ROOM
    ├── UnauthorizedParticipantError    UNAUTHORIZED_PARTICIPANT
    ├── InvalidEntryClaimError          INVALID_ENTRY_CLAIM
    ├── UnauthorizedPathError           UNAUTHORIZED_PATH (moq root vs connection path)
    ├── UnauthorizedOriginError         UNAUTHORIZED_ORIGIN (origin-pinned session tokens)
    ├── RateLimitedError                RATE_LIMITED (429, with retry_after_seconds)
    ├── RequestTooLargeError            REQUEST_TOO_LARGE (413, body over the limit)
    ├── UriTooLongError                 URI_TOO_LONG (414, path and query over the limit)
    ├── HeadersTooLargeError            HEADERS_TOO_LARGE (431, too many or too large headers)
    ├── QuotaExceededError              QUOTA_EXCEEDED (409, e.g. an org's published keys)
    ├── UnavailableError                UNAVAILABLE (503, a dependency is down; retry)
    │   └── UnreachableError            the client could not reach the service at all
    ├── UnknownProcedureError           UNKNOWN_PROCEDURE (404, no such procedure or path)
    ├── MethodNotAllowedError           METHOD_NOT_ALLOWED (405)
    ├── UnsupportedMediaTypeError       UNSUPPORTED_MEDIA_TYPE (415, a body that is not JSON)
    ├── TokenExpiredError               TOKEN_EXPIRED (a token provider could not refresh in time)
    ├── PendingAdmissionError           PENDING_ADMISSION (403, waiting in a room's lobby)
    ├── EntryDeniedError                ENTRY_DENIED (403, a moderator refused the joiner)
    ├── EntryTimeoutError               ENTRY_TIMEOUT (403, nobody admitted the joiner in time)
    ├── ParticipantRemovedError         PARTICIPANT_REMOVED (403, removed from the room)
    ├── RoomEndedError                  ROOM_ENDED (403, the room was ended)
    ├── DuplicateIdentityError          DUPLICATE_IDENTITY (409, replaced by a newer session)
    └── InvalidRequestError             INVALID_REQUEST (mint-time policy, bad input)
"""

from __future__ import annotations

import enum
from typing import ClassVar, final

__all__ = [
    "HTTP_STATUS",
    "AlgorithmMismatchError",
    "ClaimsError",
    "DuplicateIdentityError",
    "EntryDeniedError",
    "EntryTimeoutError",
    "ErrorCode",
    "ExpiredTokenError",
    "HeadersTooLargeError",
    "ImmatureTokenError",
    "InvalidApiKeyError",
    "InvalidClaimError",
    "InvalidEntryClaimError",
    "InvalidKeyError",
    "InvalidPermissionsError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "KeyNotFoundError",
    "MalformedTokenError",
    "MethodNotAllowedError",
    "MissingClaimError",
    "ParticipantRemovedError",
    "PendingAdmissionError",
    "QuotaExceededError",
    "RateLimitedError",
    "RelaypassError",
    "RequestTooLargeError",
    "RevokedTokenError",
    "RoomEndedError",
    "TokenExpiredError",
    "UnauthorizedOriginError",
    "UnauthorizedParticipantError",
    "UnauthorizedPathError",
    "UnauthorizedRoomError",
    "UnavailableError",
    "UnknownProcedureError",
    "UnreachableError",
    "UnsupportedHeaderError",
    "UnsupportedMediaTypeError",
    "UriTooLongError",
]


class ErrorCode(enum.StrEnum):
    """Stable, client-visible error codes."""

    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - an error code, not a secret
    INVALID_API_KEY = "INVALID_API_KEY"
    INVALID_PERMISSIONS = "INVALID_PERMISSIONS"
    UNAUTHORIZED_ROOM = "UNAUTHORIZED_ROOM"
    UNAUTHORIZED_PARTICIPANT = "UNAUTHORIZED_PARTICIPANT"
    INVALID_ENTRY_CLAIM = "INVALID_ENTRY_CLAIM"
    INVALID_KEY = "INVALID_KEY"
    INVALID_REQUEST = "INVALID_REQUEST"
    UNAUTHORIZED_PATH = "UNAUTHORIZED_PATH"
    UNAUTHORIZED_ORIGIN = "UNAUTHORIZED_ORIGIN"
    RATE_LIMITED = "RATE_LIMITED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    UNAVAILABLE = "UNAVAILABLE"
    UNKNOWN_PROCEDURE = "UNKNOWN_PROCEDURE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 - an error code, not a secret
    PENDING_ADMISSION = "PENDING_ADMISSION"
    ENTRY_DENIED = "ENTRY_DENIED"
    ENTRY_TIMEOUT = "ENTRY_TIMEOUT"
    PARTICIPANT_REMOVED = "PARTICIPANT_REMOVED"
    ROOM_ENDED = "ROOM_ENDED"
    DUPLICATE_IDENTITY = "DUPLICATE_IDENTITY"
    URI_TOO_LONG = "URI_TOO_LONG"
    HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"


#: The one table from code to HTTP status.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.INVALID_API_KEY: 401,
    ErrorCode.INVALID_PERMISSIONS: 403,
    ErrorCode.UNAUTHORIZED_ROOM: 403,
    ErrorCode.UNAUTHORIZED_PARTICIPANT: 403,
    ErrorCode.INVALID_ENTRY_CLAIM: 400,
    ErrorCode.INVALID_KEY: 400,
    ErrorCode.INVALID_REQUEST: 400,
    ErrorCode.UNAUTHORIZED_PATH: 403,
    ErrorCode.UNAUTHORIZED_ORIGIN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.REQUEST_TOO_LARGE: 413,
    ErrorCode.QUOTA_EXCEEDED: 409,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.UNKNOWN_PROCEDURE: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.PENDING_ADMISSION: 403,
    ErrorCode.ENTRY_DENIED: 403,
    ErrorCode.ENTRY_TIMEOUT: 403,
    ErrorCode.PARTICIPANT_REMOVED: 403,
    ErrorCode.ROOM_ENDED: 403,
    ErrorCode.DUPLICATE_IDENTITY: 409,
    ErrorCode.URI_TOO_LONG: 414,
    ErrorCode.HEADERS_TOO_LARGE: 431,
}

_PUBLIC_MESSAGE: dict[ErrorCode, str] = {
    ErrorCode.INVALID_TOKEN: "The token is missing, malformed, badly signed or expired.",
    ErrorCode.INVALID_API_KEY: "The API key is unknown, revoked or malformed.",
    ErrorCode.INVALID_PERMISSIONS: "The grant does not permit this action.",
    ErrorCode.UNAUTHORIZED_ROOM: "The token is not valid for this room.",
    ErrorCode.UNAUTHORIZED_PARTICIPANT: "The token is not valid for this participant.",
    ErrorCode.INVALID_ENTRY_CLAIM: "The entry policy conflicts with the grant.",
    ErrorCode.INVALID_KEY: "The key is malformed or not allowed.",
    ErrorCode.INVALID_REQUEST: "The request is not allowed.",
    ErrorCode.UNAUTHORIZED_PATH: "The token is not valid for this connection path.",
    ErrorCode.UNAUTHORIZED_ORIGIN: "The token is not valid for this origin.",
    ErrorCode.RATE_LIMITED: "Too many requests; retry after the indicated delay.",
    ErrorCode.REQUEST_TOO_LARGE: "The request body is larger than the service accepts.",
    ErrorCode.QUOTA_EXCEEDED: "A limit of the org was reached; nothing was changed.",
    ErrorCode.UNAVAILABLE: "A dependency of the service is unavailable; retry later.",
    ErrorCode.UNKNOWN_PROCEDURE: "There is no such procedure.",
    ErrorCode.METHOD_NOT_ALLOWED: "This method is not allowed here.",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "Send the body as JSON (Content-Type: application/json).",
    ErrorCode.TOKEN_EXPIRED: "The token expired and no fresh one could be fetched in time.",
    ErrorCode.PENDING_ADMISSION: "Waiting in the lobby for a moderator to admit you.",
    ErrorCode.ENTRY_DENIED: "A moderator did not admit you to the room.",
    ErrorCode.ENTRY_TIMEOUT: "Nobody admitted you to the room in time.",
    ErrorCode.PARTICIPANT_REMOVED: "You were removed from the room.",
    ErrorCode.ROOM_ENDED: "The room has ended.",
    ErrorCode.DUPLICATE_IDENTITY: "The same participant joined again elsewhere.",
    ErrorCode.URI_TOO_LONG: "The request's URL is longer than the service accepts.",
    ErrorCode.HEADERS_TOO_LARGE: "The request's headers are larger or more than accepted.",
}


class RelaypassError(Exception):
    """Base of every relaypass error.

    ``reason`` is the precise cause, for logs; ``public_message`` is what a
    client may be shown. ``claim`` names the offending claim, when there is one.
    """

    code: ClassVar[ErrorCode] = ErrorCode.INVALID_REQUEST
    #: The org a gate's refusal was of, once the token's signature checked out (for that
    #: org's usage figures; never shown to a client).
    org: str | None = None

    def __init__(self, reason: str, *, claim: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claim = claim

    @property
    def public_message(self) -> str:
        """The message a client may see: the code's fixed text only."""
        return _PUBLIC_MESSAGE[self.code]

    @property
    def http_status(self) -> int:
        """The HTTP status for this error's code."""
        return HTTP_STATUS[self.code]

    @property
    def auth_status(self) -> int:
        """401 (``INVALID_TOKEN``) or 403 (any other refusal).

        For callers that act on nothing else: nginx ``auth_request`` turns other
        statuses into a 500, and moq's ``reject`` maps only these two to
        *unauthorized*.
        """
        return 401 if self.code is ErrorCode.INVALID_TOKEN else 403

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, reason={self.reason!r})"


class InvalidTokenError(RelaypassError):
    """The token cannot be accepted. Clients see only ``INVALID_TOKEN``."""

    code = ErrorCode.INVALID_TOKEN


@final
class MalformedTokenError(InvalidTokenError):
    """Structure, encoding, JSON or size is wrong."""


@final
class UnsupportedHeaderError(InvalidTokenError):
    """The header asks for something refused: ``none``, ``crit``, ``jku`` ..."""


@final
class KeyNotFoundError(InvalidTokenError):
    """No usable key for the token's ``kid``."""


@final
class AlgorithmMismatchError(InvalidTokenError):
    """The header ``alg`` is not the key's algorithm."""


@final
class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify under the selected key."""


class ClaimsError(InvalidTokenError):
    """A registered claim is wrong."""


@final
class ExpiredTokenError(ClaimsError):
    """``exp`` has passed (beyond the leeway)."""


@final
class ImmatureTokenError(ClaimsError):
    """``nbf`` or ``iat`` lies in the future (beyond the leeway)."""


@final
class MissingClaimError(ClaimsError):
    """A required claim is absent."""


@final
class InvalidClaimError(ClaimsError):
    """A claim has the wrong type or value."""


@final
class RevokedTokenError(ClaimsError):
    """The token, its key, its subject or its tenant was revoked."""


@final
class InvalidKeyError(RelaypassError):
    """A key is malformed, too weak, or used for what it may not do."""

    code = ErrorCode.INVALID_KEY


@final
class InvalidApiKeyError(RelaypassError):
    """The API key is unknown, revoked, expired or malformed."""

    code = ErrorCode.INVALID_API_KEY


@final
class InvalidPermissionsError(RelaypassError):
    """The grant does not permit the attempted action."""

    code = ErrorCode.INVALID_PERMISSIONS


@final
class UnauthorizedRoomError(RelaypassError):
    """The token's room is not the room being joined."""

    code = ErrorCode.UNAUTHORIZED_ROOM


@final
class UnauthorizedParticipantError(RelaypassError):
    """The token's participant is not the identity being joined."""

    code = ErrorCode.UNAUTHORIZED_PARTICIPANT


@final
class InvalidEntryClaimError(RelaypassError):
    """``joinPolicy`` conflicts with the grant (``ask`` with ``canModerate``)."""

    code = ErrorCode.INVALID_ENTRY_CLAIM


@final
class UnauthorizedPathError(RelaypassError):
    """The connection path is neither inside the token's root nor a parent of it."""

    code = ErrorCode.UNAUTHORIZED_PATH


@final
class UnauthorizedOriginError(RelaypassError):
    """The handshake's Origin is not the one the token is pinned to."""

    code = ErrorCode.UNAUTHORIZED_ORIGIN


@final
class RateLimitedError(RelaypassError):
    """Too many requests for this API key; ``retry_after_seconds`` says when to retry."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, reason: str, *, retry_after_seconds: int) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


@final
class RequestTooLargeError(RelaypassError):
    """A request body exceeds the service's size limit."""

    code = ErrorCode.REQUEST_TOO_LARGE


@final
class UriTooLongError(RelaypassError):
    """A request's path and query exceed the service's limit."""

    code = ErrorCode.URI_TOO_LONG


@final
class HeadersTooLargeError(RelaypassError):
    """A request carries more headers, or more header bytes, than the service accepts."""

    code = ErrorCode.HEADERS_TOO_LARGE


@final
class QuotaExceededError(RelaypassError):
    """A limit was reached (an org's published keys, live sessions per token or address).

    Refused before anything is written.
    """

    code = ErrorCode.QUOTA_EXCEEDED


class UnavailableError(RelaypassError):
    """A dependency (the database) is unreachable; the client should retry."""

    code = ErrorCode.UNAVAILABLE

    def __init__(self, reason: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


@final
class UnreachableError(UnavailableError):
    """The client could not reach the service (refused, timed out, no such host).

    ``url`` is the address it tried, which the message names too.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url


@final
class UnknownProcedureError(RelaypassError):
    """No procedure (or path) of that name."""

    code = ErrorCode.UNKNOWN_PROCEDURE


@final
class MethodNotAllowedError(RelaypassError):
    """The path exists, not for this method."""

    code = ErrorCode.METHOD_NOT_ALLOWED


@final
class UnsupportedMediaTypeError(RelaypassError):
    """The body was sent with a content type other than JSON."""

    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


@final
class TokenExpiredError(RelaypassError):
    """A token provider could not fetch a fresh token before the cached one expired.

    Raised on the client side (VideoSDK's ``DisconnectReason.TokenExpired``);
    ``__cause__`` holds the last failure of the fetch.
    """

    code = ErrorCode.TOKEN_EXPIRED


@final
class PendingAdmissionError(RelaypassError):
    """The session waits in the room's lobby: it may not publish, subscribe or send data yet."""

    code = ErrorCode.PENDING_ADMISSION


@final
class EntryDeniedError(RelaypassError):
    """A moderator (or the control plane) refused the joiner waiting in the lobby."""

    code = ErrorCode.ENTRY_DENIED


@final
class EntryTimeoutError(RelaypassError):
    """Nobody admitted the joiner within the join policy's ``ttl``."""

    code = ErrorCode.ENTRY_TIMEOUT


@final
class ParticipantRemovedError(RelaypassError):
    """The participant was removed; tokens issued before the removal are refused."""

    code = ErrorCode.PARTICIPANT_REMOVED


@final
class RoomEndedError(RelaypassError):
    """The room was ended; tokens issued before the end are refused."""

    code = ErrorCode.ROOM_ENDED


@final
class DuplicateIdentityError(RelaypassError):
    """A newer session of the same participant replaced this one."""

    code = ErrorCode.DUPLICATE_IDENTITY


@final
class InvalidRequestError(RelaypassError):
    """A request breaks a mint-time policy or carries bad input."""

    code = ErrorCode.INVALID_REQUEST
