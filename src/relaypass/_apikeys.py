"""API keys: format, checksum, keyed hashing, constant-time comparison.

Format: ``<prefix>_<live|test>_<body><checksum>``

- ``prefix``: 2-12 lower-case letters (configurable, default ``rp``), so
  secret scanners can match the keys;
- ``body``: 256 random bits in base62, fixed width (43 characters);
- ``checksum``: CRC-32 of everything before it, base62, 6 characters. A typo or
  a look-alike fails the checksum and is refused before any lookup.

The service never stores a key: it stores ``HMAC-SHA256(pepper, key)`` (the
pepper is a server-side secret, so a leaked table cannot be brute-forced
offline) plus a display start and end. Lookups go by that hash; the final
comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass
from typing import Final, final

from relaypass.errors import InvalidApiKeyError, InvalidRequestError

__all__ = ["ApiKeyHasher", "NewApiKey", "ParsedApiKey", "generate_api_key", "parse_api_key"]

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_CHARS: Final = 43  # ceil(256 / log2(62))
_CHECK_CHARS: Final = 6
_PREFIX: Final = re.compile(r"[a-z]{2,12}")
_KEY: Final = re.compile(r"([a-z]{2,12})_(live|test)_([0-9A-Za-z]{49})")
MAX_API_KEY_CHARS: Final = 80
ENVIRONMENTS: Final = ("live", "test")


def _base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(_BASE62[digit])
    if value:
        msg = "value does not fit the width"
        raise ValueError(msg)
    return "".join(reversed(out))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), _CHECK_CHARS)


@final
@dataclass(frozen=True, slots=True)
class ParsedApiKey:
    """A well-formed key string, split into its parts. ``repr`` hides the secret."""

    prefix: str
    environment: str
    secret: str

    @property
    def display_start(self) -> str:
        """What the dashboard may show: the prefix, environment and 4 characters."""
        return self.secret[: len(self.prefix) + len(self.environment) + 2 + 4]

    @property
    def display_end(self) -> str:
        """The last 4 characters."""
        return self.secret[-4:]

    def __repr__(self) -> str:
        return f"ParsedApiKey({self.display_start}…{self.display_end})"


@final
@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly generated key: ``secret`` is shown once and never stored."""

    parsed: ParsedApiKey

    @property
    def secret(self) -> str:
        """The full key string."""
        return self.parsed.secret

    def __repr__(self) -> str:
        return f"NewApiKey({self.parsed!r})"


def generate_api_key(prefix: str = "rp", environment: str = "live") -> NewApiKey:
    """A new key with 256 random bits."""
    if _PREFIX.fullmatch(prefix) is None:
        msg = "an API key prefix is 2-12 lower-case letters"
        raise InvalidRequestError(msg)
    if environment not in ENVIRONMENTS:
        msg = "environment must be 'live' or 'test'"
        raise InvalidRequestError(msg)
    head = f"{prefix}_{environment}_{_base62(secrets.randbits(256), _BODY_CHARS)}"
    text = head + _checksum(head)
    return NewApiKey(ParsedApiKey(prefix, environment, text))


def parse_api_key(text: object, *, prefix: str | None = None) -> ParsedApiKey:
    """Check format and checksum; refuse anything else as ``INVALID_API_KEY``."""
    if type(text) is not str or len(text) > MAX_API_KEY_CHARS:
        msg = "malformed API key"
        raise InvalidApiKeyError(msg)
    match = _KEY.fullmatch(text)
    if match is None:
        msg = "malformed API key"
        raise InvalidApiKeyError(msg)
    head, check = text[:-_CHECK_CHARS], text[-_CHECK_CHARS:]
    if not hmac.compare_digest(_checksum(head), check):
        msg = "API key checksum does not match"
        raise InvalidApiKeyError(msg)
    if prefix is not None and match.group(1) != prefix:
        msg = "API key has another prefix"
        raise InvalidApiKeyError(msg)
    return ParsedApiKey(match.group(1), match.group(2), text)


@final
class ApiKeyHasher:
    """Keyed hashing of API keys under the server's pepper."""

    __slots__ = ("_pepper",)

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 32:  # noqa: PLR2004 - 256-bit pepper
            msg = "the API key pepper must be at least 32 bytes"
            raise InvalidRequestError(msg)
        self._pepper = pepper

    def digest(self, key: ParsedApiKey) -> str:
        """Hex HMAC-SHA256 of the key string: the lookup and storage form."""
        return hmac.new(self._pepper, key.secret.encode("ascii"), hashlib.sha256).hexdigest()

    def matches(self, key: ParsedApiKey, stored_digest: str) -> bool:
        """Constant-time comparison with a stored digest."""
        return hmac.compare_digest(self.digest(key), stored_digest)

    def __repr__(self) -> str:
        return "ApiKeyHasher(<pepper>)"
