from __future__ import annotations

import pytest

from relaypass import (
    Grant,
    InvalidPermissionsError,
    PatternSet,
    UnauthorizedOriginError,
    UnauthorizedParticipantError,
    UnauthorizedRoomError,
)


def test_empty_grant_refuses_everything() -> None:
    grant = Grant(profile="relay")
    assert not grant.can_publish("a")
    with pytest.raises(InvalidPermissionsError):
        grant.authorize_publish("a")
    with pytest.raises(InvalidPermissionsError):
        grant.authorize_subscribe("a")
    with pytest.raises(InvalidPermissionsError):
        grant.authorize("room.record")


def test_publish_and_subscribe_are_separate() -> None:
    grant = Grant(profile="moq", publish=PatternSet(["me/**"]), subscribe=PatternSet(["**"]))
    grant.authorize_publish("me/cam")
    grant.authorize_subscribe("you/cam")
    with pytest.raises(InvalidPermissionsError):
        grant.authorize_publish("you/cam")


def test_sources() -> None:
    grant = Grant(profile="room", publish=PatternSet(["**"]), publish_sources=frozenset({"camera"}))
    grant.authorize_publish("x", source="camera")
    with pytest.raises(InvalidPermissionsError):
        grant.authorize_publish("x", source="screen")
    open_sources = Grant(profile="room", publish=PatternSet(["**"]))
    open_sources.authorize_publish("x", source="screen")
    with pytest.raises(InvalidPermissionsError):
        open_sources.authorize_publish("x", source="hologram")


def test_pins() -> None:
    grant = Grant(profile="room", room="r1", participant="p1", origin="https://a.example")
    grant.check_room("r1")
    grant.check_participant("p1")
    grant.check_participant(None)
    grant.check_origin("https://A.example/")
    with pytest.raises(UnauthorizedRoomError):
        grant.check_room("r2")
    with pytest.raises(UnauthorizedParticipantError):
        grant.check_participant("p2")
    with pytest.raises(UnauthorizedOriginError):
        grant.check_origin("https://b.example")
    unpinned = Grant(profile="room")
    unpinned.check_room("any")
    unpinned.check_participant("any")
    unpinned.check_origin(None)
