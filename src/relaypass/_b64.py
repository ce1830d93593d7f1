"""Strict, canonical base64url (RFC 7515 section 2, no padding).

A string decodes only if it is the one canonical encoding of its bytes: no
padding, nothing outside ``[A-Za-z0-9_-]``, no length of the form 4n+1, and the
unused low bits of the last character are zero. So one byte string has exactly
one accepted text form, and a token cannot be re-spelled to dodge a revocation
list or a cache keyed by its text.
"""

from __future__ import annotations

import binascii
import re

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_TO_STD_BYTES = bytes.maketrans(b"-_+/=", b"+/!!!")
# Value of each byte *after* translation (so "+" and "/" stand for "-" and "_").
_BYTE_VALUE = [_VALUE.get(chr(b).translate(str.maketrans("+/", "-_")), 0) for b in range(256)]
_PAD_BYTES = (b"", b"", b"==", b"=")
_FROM_STD_BYTES = bytes.maketrans(b"+/", b"-_")
# len % 4 -> mask of the last character's bits that carry no data (-1: never valid)
_UNUSED_BITS = (0, -1, 0x0F, 0x03)  # indexed by len % 4; 1 is refused before use


class Base64Error(ValueError):
    """The text is not canonical base64url."""


def b64encode(data: bytes) -> str:
    """Encode without padding."""
    encoded = binascii.b2a_base64(data, newline=False).rstrip(b"=")
    return encoded.translate(_FROM_STD_BYTES).decode("ascii")


def is_canonical(text: str) -> bool:
    """Whether ``text`` (alphabet characters only) is a canonical length and ending."""
    rem = len(text) % 4
    if rem == 0:
        return True
    mask = _UNUSED_BITS[rem]
    return mask >= 0 and (_VALUE[text[-1]] & mask) == 0


def b64decode(text: str) -> bytes:
    """Decode canonical unpadded base64url, refusing anything else."""
    if _SEGMENT.fullmatch(text) is None:
        msg = "characters outside the base64url alphabet"
        raise Base64Error(msg)
    return decode_segment(text)


def decode_segment(text: str) -> bytes:
    """Decode one token segment: the hot-path form of :func:`b64decode`.

    One ``translate`` maps ``-_`` to ``+/`` and ``+/=`` to ``!``, so that
    ``binascii`` in strict mode refuses every character outside
    ``[A-Za-z0-9_-]``; padding is added after the translation. Raises a
    :class:`ValueError`.
    """
    raw = text.encode("ascii").translate(_TO_STD_BYTES)
    rem = len(raw) & 3
    if rem:
        mask = _UNUSED_BITS[rem]
        if mask < 0 or _BYTE_VALUE[raw[-1]] & mask:
            msg = "non-canonical base64url"
            raise Base64Error(msg)
        raw += _PAD_BYTES[rem]
    return binascii.a2b_base64(raw, strict_mode=True)
