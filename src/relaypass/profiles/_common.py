"""Small readers shared by the profiles: claims enter as ``object`` and are narrowed here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from relaypass.errors import InvalidClaimError, InvalidRequestError

IDENTIFIER: Final = re.compile(r"[A-Za-z0-9_.:@-]{1,256}")
#: What :data:`IDENTIFIER` accepts, in words, for refusals.
IDENTIFIER_RULE: Final = "1-256 characters of letters, digits and _ . : @ -"
MAX_LIST: Final = 1024


def require_identifier(value: str, name: str) -> None:
    """Refuse (``INVALID_REQUEST``) a request's ``name`` that is not an identifier."""
    if IDENTIFIER.fullmatch(value) is None:
        msg = f"{name} must be an identifier"
        raise InvalidRequestError(msg)


def opt_str(claims: Mapping[str, object], name: str) -> str | None:
    """An optional identifier-like string claim."""
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if type(value) is not str or IDENTIFIER.fullmatch(value) is None:
        msg = f"{name} must be an identifier string"
        raise InvalidClaimError(msg, claim=name)
    return value


def req_str(claims: Mapping[str, object], name: str) -> str:
    """A required identifier-like string claim."""
    value = opt_str(claims, name)
    if value is None:
        msg = f"{name} is required"
        raise InvalidClaimError(msg, claim=name)
    return value


def opt_bool(claims: Mapping[str, object], name: str, *, default: bool) -> bool:
    """An optional JSON boolean (1 and "true" are refused)."""
    value = claims.get(name, default)
    if type(value) is not bool:
        msg = f"{name} must be a boolean"
        raise InvalidClaimError(msg, claim=name)
    return value


_ONLY_STR: Final = frozenset({str})


def str_list(value: object, name: str, *, allow_scalar: bool = False) -> tuple[str, ...]:
    """A list of strings (or one string where the wire allows it)."""
    if allow_scalar and isinstance(value, str):
        return (value,)
    if (
        type(value) is not list
        or len(value) > MAX_LIST
        or not _ONLY_STR.issuperset(map(type, value))
    ):
        msg = f"{name} must be a list of strings"
        raise InvalidClaimError(msg, claim=name)
    return tuple(value)
