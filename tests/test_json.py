from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaypass._json import StrictJSONError, loads_object


def test_compact_object_parses() -> None:
    assert loads_object(b'{"a":1,"b":[1,2],"c":{"d":"e"}}') == {
        "a": 1,
        "b": [1, 2],
        "c": {"d": "e"},
    }


def test_whitespace_is_allowed() -> None:
    assert loads_object(b'{ "a" : 1,\r\n "b": true }') == {"a": 1, "b": True}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":2}',
        b'{"a":1, "a":1}',
        b'{"x":{"a":1,"a":2}}',
        b'{"x":[{"a":1,"a":2}]}',
    ],
)
def test_duplicate_member_names_are_refused(raw: bytes) -> None:
    with pytest.raises(StrictJSONError):
        loads_object(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"[1,2]",
        b'"s"',
        b"1",
        b"null",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":1}x',
        b'{"a":"\xff"}',
        b'{"a":"\\ud800"}',
        b"",
    ],
)
def test_non_objects_and_bad_json_are_refused(raw: bytes) -> None:
    with pytest.raises(StrictJSONError):
        loads_object(raw)


def test_nesting_is_capped() -> None:
    deep = b'{"a":' * 20 + b"1" + b"}" * 20
    with pytest.raises(StrictJSONError):
        loads_object(deep, max_depth=16)
    ok = b'{"a":' * 5 + b"1" + b"}" * 5
    assert loads_object(ok, max_depth=16)


def test_brackets_inside_strings_do_not_trip_the_depth_bound() -> None:
    raw = json.dumps({"s": "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{"}).encode()
    assert loads_object(raw, max_depth=2) == {"s": "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_agrees_with_stdlib_on_valid_objects(obj: dict[str, object]) -> None:
    for raw in (json.dumps(obj).encode(), json.dumps(obj, separators=(",", ":")).encode()):
        assert loads_object(raw, max_depth=64) == json.loads(raw)
