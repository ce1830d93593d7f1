"""Strict JSON for token headers and claims.

UTF-8 only, top level must be an object, no duplicate member names, no NaN or
Infinity, integers within 64 bits, nesting capped.

The fast path parses with orjson and re-serialises the result: when that is
byte-identical to the input (as it is for every compact token that common
libraries mint), the input cannot hold a duplicate member, because the
re-serialisation of a dict never does. Any other input goes through the slow
path, which parses with the standard library and refuses duplicates while it
builds each object.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import orjson

DEFAULT_MAX_DEPTH = 16


class StrictJSONError(ValueError):
    """The bytes are not strict JSON of the expected shape."""


def _refuse_constant(name: str) -> NoReturn:
    msg = f"JSON constant {name} is not allowed"
    raise StrictJSONError(msg)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            msg = "duplicate member name"
            raise StrictJSONError(msg)
        out[key] = value
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_refuse_constant)


def _depth(value: object, limit: int, level: int = 1) -> None:
    if level > limit:
        msg = "JSON nesting too deep"
        raise StrictJSONError(msg)
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, dict | list):
                _depth(item, limit, level + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _depth(item, limit, level + 1)


def loads_object(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, object]:
    """Parse ``data`` as a strict JSON object."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # invalid UTF-8, syntax, NaN, big ints
        msg = "not valid JSON"
        raise StrictJSONError(msg) from exc
    if type(value) is not dict:
        msg = "JSON value is not an object"
        raise StrictJSONError(msg)
    if orjson.dumps(value) != data:
        # Not in canonical compact form: check for duplicate names the slow way.
        try:
            _DECODER.decode(data.decode("utf-8"))
        except ValueError as exc:
            msg = "not strict JSON"
            raise StrictJSONError(msg) from exc
    # Cheap bound first: depth can't exceed the number of opening brackets.
    if len(data) - len(data.translate(None, b"{[")) > max_depth:
        _depth(value, max_depth)
    return value


def dumps(value: object) -> bytes:
    """Compact, deterministic serialisation (insertion order kept)."""
    return orjson.dumps(value)
