from __future__ import annotations

import inspect

import relaypass
from relaypass import errors
from relaypass.errors import HTTP_STATUS, ErrorCode, RelaypassError


def test_all_is_sorted_and_complete() -> None:
    assert relaypass.__all__ == sorted(relaypass.__all__)
    for name in relaypass.__all__:
        assert hasattr(relaypass, name), name


def test_every_error_class_is_exported_and_every_code_has_a_class() -> None:
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, RelaypassError)
    ]
    for cls in classes:
        assert cls.__name__ in relaypass.__all__, cls.__name__
        assert cls.__name__ in errors.__all__, cls.__name__
        assert cls.__name__.endswith("Error")
    assert {cls.code for cls in classes} == set(ErrorCode)
    assert set(HTTP_STATUS) == set(ErrorCode)


def test_codes_are_stable_strings() -> None:
    # Codes are added, never renamed: the seeds' codes must stay exactly these.
    for code in (
        "INVALID_TOKEN",
        "INVALID_API_KEY",
        "INVALID_PERMISSIONS",
        "UNAUTHORIZED_ROOM",
        "UNAUTHORIZED_PARTICIPANT",
        "INVALID_ENTRY_CLAIM",
    ):
        assert ErrorCode(code).value == code


def test_public_message_is_fixed_per_code_and_hides_the_reason() -> None:
    exc = errors.ExpiredTokenError("token has expired", claim="exp")
    assert exc.public_message == errors.InvalidSignatureError("x").public_message
    assert "expired" not in exc.public_message.split("or")[0]
    assert exc.http_status == 401
    assert exc.reason == "token has expired"
