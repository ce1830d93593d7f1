"""Compact JWS (RFC 7515), strict by construction (RFC 8725).

- Compact serialization only: three segments of canonical base64url (see
  :mod:`relaypass._b64`; the payload may be empty at this layer, a JWT's never
  is); the whole token is capped in size.
- The header is a strict JSON object with an allow-list of members: ``alg``,
  ``kid``, ``typ``. ``none`` in any spelling, ``crit``, ``b64``, ``jku``,
  ``jwk``, ``x5u``, ``x5c``, ``cty`` and everything else is refused.
- The algorithm comes from the key. The header's ``alg`` must equal it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from relaypass import _b64, _json
from relaypass._alg import Algorithm
from relaypass._keys import KID_PATTERN
from relaypass.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    MalformedTokenError,
    UnsupportedHeaderError,
)

if TYPE_CHECKING:
    from relaypass._keys import Key

__all__ = ["DEFAULT_MAX_TOKEN_BYTES", "Header", "parse_header", "sign_compact", "split"]

DEFAULT_MAX_TOKEN_BYTES: Final = 8 * 1024
MAX_HEADER_CHARS: Final = 1024
_ALLOWED_HEADER = frozenset({"alg", "kid", "typ"})
_ALGS = frozenset(a.value for a in Algorithm)
_HEADER_CACHE_MAX = 512


@dataclass(frozen=True, slots=True)
class Header:
    """The accepted members of a protected header."""

    alg: str
    kid: str | None
    typ: str | None


_header_cache: dict[str, Header] = {}


def split(token: object, max_bytes: int) -> tuple[str, str, str]:
    """Split a compact token into its three segments.

    Only structure and size are checked here; each segment's alphabet and
    canonical form are checked when it is decoded.
    """
    if type(token) is not str:
        msg = "token must be a string"
        raise MalformedTokenError(msg)
    if len(token) > max_bytes:
        msg = "token exceeds the size limit"
        raise MalformedTokenError(msg)
    parts = token.split(".")
    if not token.isascii() or len(parts) != 3:  # noqa: PLR2004 - three segments
        msg = "not a compact JWS of three base64url segments"
        raise MalformedTokenError(msg)
    header, payload, signature = parts
    if not header or not signature:
        msg = "not a compact JWS of three base64url segments"
        raise MalformedTokenError(msg)
    return header, payload, signature


def parse_header(segment: str) -> Header:
    """Decode and check a header segment (memoised: headers repeat per key)."""
    cached = _header_cache.get(segment)
    if cached is not None:
        return cached
    if not segment or len(segment) > MAX_HEADER_CHARS:
        msg = "header too large"
        raise MalformedTokenError(msg)
    try:
        obj = _json.loads_object(_b64.decode_segment(segment), max_depth=2)
    except ValueError:
        msg = "header is not canonical base64url of a strict JSON object"
        raise MalformedTokenError(msg) from None
    header = _check_header(obj)
    if len(_header_cache) >= _HEADER_CACHE_MAX:
        _header_cache.clear()
    _header_cache[segment] = header
    return header


def _check_header(obj: dict[str, object]) -> Header:
    alg = obj.get("alg")
    if not isinstance(alg, str):
        msg = "header alg missing or not a string"
        raise MalformedTokenError(msg)
    if alg.lower() == "none":
        msg = "alg none is refused"
        raise UnsupportedHeaderError(msg)
    if alg not in _ALGS:
        msg = "header alg is not supported"
        raise UnsupportedHeaderError(msg)
    extra = obj.keys() - _ALLOWED_HEADER
    if extra:
        # Names only, and only the ones we know: never echo attacker text.
        known = sorted(extra & {"crit", "b64", "jku", "jwk", "x5u", "x5c", "x5t", "cty", "zip"})
        msg = f"header members not allowed: {known or 'unrecognised'}"
        raise UnsupportedHeaderError(msg)
    kid = obj.get("kid")
    if kid is not None and (not isinstance(kid, str) or KID_PATTERN.fullmatch(kid) is None):
        msg = "header kid is malformed"
        raise MalformedTokenError(msg)
    typ = obj.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        msg = "header typ must be JWT"
        raise UnsupportedHeaderError(msg)
    return Header(alg=alg, kid=kid, typ=typ)


def decode_signature(segment: str) -> bytes:
    """Canonical base64url signature bytes."""
    try:
        return _b64.decode_segment(segment)
    except ValueError:
        msg = "signature is not canonical base64url"
        raise MalformedTokenError(msg) from None


def verify_compact(token: str, key: Key, max_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> bytes:
    """Check a compact JWS against one key; return the payload bytes.

    This is the JWS layer only: ``kid`` is not consulted (selection is a key
    set's job) and the payload is not parsed.
    """
    header_segment, payload_segment, signature_segment = split(token, max_bytes)
    header = parse_header(header_segment)
    if header.alg != key.alg:
        msg = "header alg differs from the key's algorithm"
        raise AlgorithmMismatchError(msg)
    signature = decode_signature(signature_segment)
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
    if not key.verify(signing_input, signature):
        msg = "signature does not verify"
        raise InvalidSignatureError(msg)
    try:
        return _b64.decode_segment(payload_segment)
    except ValueError:
        msg = "payload is not canonical base64url"
        raise MalformedTokenError(msg) from None


_encoded_headers: dict[tuple[str, str, str | None], str] = {}


def encode_header(key: Key, typ: str | None = "JWT") -> str:
    """The header segment for ``key``, in moq-token's member order (memoised)."""
    memo = (key.alg.value, key.kid, typ)
    cached = _encoded_headers.get(memo)
    if cached is not None:
        return cached
    header: dict[str, str] = {}
    if typ is not None:
        header["typ"] = typ
    header["alg"] = key.alg.value
    header["kid"] = key.kid
    segment = _b64.b64encode(_json.dumps(header))
    if len(_encoded_headers) >= _HEADER_CACHE_MAX:
        _encoded_headers.clear()
    _encoded_headers[memo] = segment
    return segment


def sign_compact(payload: bytes, key: Key, header_segment: str | None = None) -> str:
    """Sign ``payload`` into a compact JWS."""
    head = header_segment if header_segment is not None else encode_header(key)
    signing_input = head + "." + _b64.b64encode(payload)
    signature = key.sign(signing_input.encode("ascii"))
    return signing_input + "." + _b64.b64encode(signature)
