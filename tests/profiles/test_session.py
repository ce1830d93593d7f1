from __future__ import annotations

import pytest

from relaypass import InvalidClaimError, Key, UnauthorizedOriginError, Verifier
from relaypass.profiles.session import SessionClaims, SessionMinter
from relaypass.testing import FrozenClock
from tests.conftest import NOW


@pytest.fixture
def key() -> Key:
    return Key.generate("EdDSA", kid="session-1")


def session(key: Key, **overrides: object) -> tuple[SessionMinter, dict[str, object]]:
    request: dict[str, object] = {
        "tenant_id": "tenant_a",
        "subject": "user-7c1",
        "ttl_seconds": 120,
        "scope": "call.dial call.barge",
        "origin": "https://app.tenant-a.example",
    }
    request.update(overrides)
    return SessionMinter(key, clock=FrozenClock(NOW)), request


def test_session_auth_mints_an_origin_pinned_scoped_token(key: Key) -> None:
    minter, request = session(key)
    response = minter.session_auth(**request)  # type: ignore[arg-type]
    assert response.error_message == ""
    assert response.expires_at_ms == (int(NOW) + 120) * 1000
    verified = Verifier(key.public(), clock=FrozenClock(NOW)).verify(response.token)
    grant = SessionClaims.grant(verified)
    assert grant.tenant == "tenant_a"
    assert grant.subject == "user-7c1"
    grant.authorize("call.dial")
    grant.check_origin("https://APP.tenant-a.example/")
    with pytest.raises(UnauthorizedOriginError):
        grant.check_origin("https://app.tenant-b.example")
    with pytest.raises(UnauthorizedOriginError):
        grant.check_origin(None)


def test_ttl_is_hard_capped_at_300(key: Key) -> None:
    minter, request = session(key, ttl_seconds=3600)
    response = minter.session_auth(**request)  # type: ignore[arg-type]
    assert response.expires_at_ms == (int(NOW) + 300) * 1000
    verified = Verifier(key.public(), clock=FrozenClock(NOW)).verify(response.token)
    assert verified.claims["exp"] == int(NOW) + 300


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": ""},
        {"scope": "CALL.DIAL"},
        {"scope": "call dial; rm"},
        {"origin": "ftp://x.example"},
        {"origin": "https://x.example/path"},
        {"origin": "not an origin"},
        {"tenant_id": ""},
        {"ttl_seconds": 0},
    ],
)
def test_bad_requests_answer_with_error_message_not_a_token(
    key: Key, overrides: dict[str, object]
) -> None:
    minter, request = session(key, **overrides)
    response = minter.session_auth(**request)  # type: ignore[arg-type]
    assert response.token == ""
    assert response.expires_at_ms == 0
    assert response.error_message


def test_scope_grants_only_its_names(key: Key) -> None:
    minter, request = session(key, scope="call.dial")
    response = minter.session_auth(**request)  # type: ignore[arg-type]
    grant = SessionClaims.grant(
        Verifier(key.public(), clock=FrozenClock(NOW)).verify(response.token)
    )
    from relaypass import InvalidPermissionsError

    with pytest.raises(InvalidPermissionsError):
        grant.authorize("call.barge")


def test_wire_round_trip() -> None:
    claims = SessionClaims("t", "u", frozenset({"b", "a"}), "https://x.example")
    wire = claims.to_wire()
    assert wire["scope"] == "a b"
    assert SessionClaims.from_wire(wire) == claims


def test_missing_origin_is_refused() -> None:
    with pytest.raises(InvalidClaimError):
        SessionClaims.from_wire({"tenant": "t", "sub": "u", "scope": "a"})
