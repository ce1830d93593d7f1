"""relaypass: token authority and gatekeeper for real-time media platforms."""

from relaypass._alg import Algorithm
from relaypass._b64 import b64decode, b64encode
from relaypass._cache import VerifiedTokenCache
from relaypass._claims import ClaimsPolicy
from relaypass._clock import Clock, SystemClock
from relaypass._grant import Grant
from relaypass._keys import Key, is_valid_kid
from relaypass._keyset import KeySet
from relaypass._scopes import PatternSet
from relaypass._tokens import Minter, VerifiedToken, Verifier, decode_unverified, sign_jwt
from relaypass.errors import (
    AlgorithmMismatchError,
    ClaimsError,
    ErrorCode,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidApiKeyError,
    InvalidClaimError,
    InvalidEntryClaimError,
    InvalidKeyError,
    InvalidPermissionsError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    KeyNotFoundError,
    MalformedTokenError,
    MethodNotAllowedError,
    MissingClaimError,
    QuotaExceededError,
    RateLimitedError,
    RelaypassError,
    RequestTooLargeError,
    RevokedTokenError,
    TokenExpiredError,
    UnauthorizedOriginError,
    UnauthorizedParticipantError,
    UnauthorizedPathError,
    UnauthorizedRoomError,
    UnavailableError,
    UnknownProcedureError,
    UnsupportedHeaderError,
    UnsupportedMediaTypeError,
)

__version__ = "0.2.0"

__all__ = [
    "Algorithm",
    "AlgorithmMismatchError",
    "ClaimsError",
    "ClaimsPolicy",
    "Clock",
    "ErrorCode",
    "ExpiredTokenError",
    "Grant",
    "ImmatureTokenError",
    "InvalidApiKeyError",
    "InvalidClaimError",
    "InvalidEntryClaimError",
    "InvalidKeyError",
    "InvalidPermissionsError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "Key",
    "KeyNotFoundError",
    "KeySet",
    "MalformedTokenError",
    "MethodNotAllowedError",
    "Minter",
    "MissingClaimError",
    "PatternSet",
    "QuotaExceededError",
    "RateLimitedError",
    "RelaypassError",
    "RequestTooLargeError",
    "RevokedTokenError",
    "SystemClock",
    "TokenExpiredError",
    "UnauthorizedOriginError",
    "UnauthorizedParticipantError",
    "UnauthorizedPathError",
    "UnauthorizedRoomError",
    "UnavailableError",
    "UnknownProcedureError",
    "UnsupportedHeaderError",
    "UnsupportedMediaTypeError",
    "VerifiedToken",
    "VerifiedTokenCache",
    "Verifier",
    "__version__",
    "b64decode",
    "b64encode",
    "decode_unverified",
    "is_valid_kid",
    "sign_jwt",
]
