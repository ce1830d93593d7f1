from __future__ import annotations

from relaypass import Key, sign_jwt
from relaypass._apikeys import generate_api_key
from relaypass.server.logging import REDACTED, redact


def test_secret_named_fields_are_dropped_whole() -> None:
    event = redact(
        None, "info", {"event": "x", "authorization": "Bearer abc", "api_key": "k", "token": "t"}
    )
    assert event == {
        "event": "x",
        "authorization": REDACTED,
        "api_key": REDACTED,
        "token": REDACTED,
    }


def test_token_and_key_shaped_text_is_masked_anywhere() -> None:
    token = sign_jwt({"sub": "a"}, Key.generate("HS256"))
    key = generate_api_key("tqs").secret
    event = redact(
        None,
        "info",
        {"event": f"got {token} and {key}", "detail": {"nested": [token]}, "path": "/rpc/x"},
    )
    text = str(event)
    assert token not in text
    assert key not in text
    assert key[:20] not in text
    assert event["path"] == "/rpc/x"
    assert event["event"] == f"got {REDACTED} and {REDACTED}"
