from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaypass._b64 import Base64Error, b64decode, b64encode


@given(st.binary(max_size=200))
def test_round_trip_matches_stdlib(data: bytes) -> None:
    text = b64encode(data)
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64decode(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "QQ==",  # padding
        "QQ=",
        "Q",  # 4n+1 length
        "QR",  # unused bits set (canonical is QQ)
        "QUF",  # unused bits set (canonical is QUE)
        "a+b/",  # standard alphabet
        "ab cd",
        "ab\ncd",
        "abç",
    ],
)
def test_non_canonical_or_foreign_text_is_refused(text: str) -> None:
    with pytest.raises(Base64Error):
        b64decode(text)


@given(st.binary(min_size=1, max_size=64))
def test_every_byte_string_has_exactly_one_accepted_spelling(data: bytes) -> None:
    text = b64encode(data)
    last = text[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for other in alphabet:
        if other == last:
            continue
        variant = text[:-1] + other
        try:
            decoded = b64decode(variant)
        except Base64Error:
            continue
        assert decoded != data
