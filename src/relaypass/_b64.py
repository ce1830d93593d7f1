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
_TO_STD = str.maketrans("-_", "+/")
_FROM_STD = str.maketrans("+/", "-_")
_PAD = ("", "", "==", "=")
# len % 4 -> mask of the last character's bits that carry no data (-1: never valid)
_UNUSED_BITS = (0, -1, 0x0F, 0x03)  # indexed by len % 4; 1 is refused before use


class Base64Error(ValueError):
    """The text is not canonical base64url."""


def b64encode(data: bytes) -> str:
    """Encode without padding."""
    text = binascii.b2a_base64(data, newline=False).decode("ascii")
    return text.rstrip("=").translate(_FROM_STD)


def is_canonical(text: str) -> bool:
    """Whether ``text`` is made of the alphabet and is canonical.

    ``text`` must already be known to consist of alphabet characters only.
    """
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
    return b64decode_alphabet_checked(text)


def b64decode_alphabet_checked(text: str) -> bytes:
    """Decode ``text`` already known to hold only alphabet characters."""
    if not is_canonical(text):
        msg = "non-canonical base64url"
        raise Base64Error(msg)
    return binascii.a2b_base64((text + _PAD[len(text) % 4]).translate(_TO_STD), strict_mode=True)
