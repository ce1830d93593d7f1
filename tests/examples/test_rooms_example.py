"""The room example end to end: a backend mint endpoint, two gates, Python WebSocket clients.

A host on gate 1 admits a joiner waiting on gate 2; the control plane narrows
the joiner's grant live, removes them (an old token cannot rejoin), and ends
the room.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from relaypass.client import AsyncClient
from tests.examples._rooms_stack import Stack, rooms_stack

ROOM = "team-standup"
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with rooms_stack(Path(tmp_path_factory.mktemp("rooms"))) as running:
        yield running


def meeting_token(gate: str, user: str, role: str, room: str = ROOM) -> str:
    answer = httpx.post(
        f"http://{gate}/api/meeting-token",
        json={"roomId": room},
        headers={"X-Demo-User": f"{user}:{role}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def join(gate: str, token: str, room: str = ROOM, *, v2: bool = False) -> Any:
    protocols: Any = ["relaypass.v2" if v2 else "relaypass", f"relaypass.jwt.{token}"]
    return connect(f"ws://{gate}/{room}", subprotocols=protocols)


#: Messages a socket received while the test waited for another, oldest first. Events
#: such as the coalesced count arrive on a timer, so one may come before the answer the
#: test was reading for; a later ``expect`` finds it here.
_passed_over: WeakKeyDictionary[ClientConnection, list[dict[str, Any]]] = WeakKeyDictionary()


async def expect(ws: ClientConnection, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first message, received or yet to come, that matches; others are kept for later."""
    kept = _passed_over.setdefault(ws, [])
    for i, message in enumerate(kept):
        if wanted(message):
            return kept.pop(i)

    async def read() -> dict[str, Any]:
        while True:
            message = dict(json.loads(await ws.recv()))
            if wanted(message):
                return message
            kept.append(message)

    return await asyncio.wait_for(read(), TIMEOUT)


async def drain(ws: ClientConnection) -> None:
    """Read until the socket closes."""
    while True:
        await asyncio.wait_for(ws.recv(), TIMEOUT)


async def ask(ws: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    return await expect(ws, lambda m: m.get("of") == message["type"])


def test_the_room_example_end_to_end(stack: Stack) -> None:
    one, two = stack.gates

    async def go() -> None:
        ada_token = meeting_token(two, "ada", "speaker")
        async with (
            join(two, ada_token) as ada,
            AsyncClient(stack.control_plane, api_key=stack.key) as admin,
        ):
            refused = await ask(ada, {"type": "publish", "source": "camera"})
            assert refused == {"type": "refused", "of": "publish", "code": "PENDING_ADMISSION"}
            lobby = await admin.rooms.lobby.list(org_id=stack.org, room_id=ROOM)
            assert [e.participant_id for e in lobby.waiting] == ["ada"]
            listed = await admin.rooms.participants.list(org_id=stack.org, room_id=ROOM)
            assert [(p.participant_id, p.state) for p in listed.participants] == [
                ("ada", "waiting")
            ]

            async with join(one, meeting_token(one, "hal", "host")) as hal:
                assert await ask(hal, {"type": "admit", "participant": "ada"}) == {
                    "type": "ok", "of": "admit",
                }  # fmt: skip
                await expect(ada, lambda m: m["type"] == "relaypass.admitted")
                assert (await ask(ada, {"type": "publish", "source": "camera"}))["type"] == "ok"
                counts = await expect(
                    ada, lambda m: m["type"] == "relaypass.participant-count-changed"
                )
                assert counts["speaker"] >= 1
                # Across both gates, from the control plane and from a member's own session.
                listed = await admin.rooms.participants.list(org_id=stack.org, room_id=ROOM)
                assert [(p.participant_id, p.tier, p.state) for p in listed.participants] == [
                    ("ada", "speaker", "admitted"), ("hal", "speaker", "admitted"),
                ]  # fmt: skip
                assert listed.participants[1].grant["canModerate"] is True
                await ada.send(json.dumps({"type": "relaypass.participants", "id": 7}))
                seen = await expect(ada, lambda m: m["type"] == "relaypass.participants")
                assert seen["id"] == 7
                assert [p["participant"] for p in seen["participants"]] == ["ada", "hal"]
                assert "grant" not in seen["participants"][0]  # grants are for moderators

                await admin.rooms.participants.update(
                    org_id=stack.org, room_id=ROOM, participant_id="ada",
                    grant={"canSubscribe": True, "canPublishData": True},
                )  # fmt: skip
                changed = await expect(ada, lambda m: m["type"] == "relaypass.grant-changed")
                assert changed["stopSources"] == ["camera", "microphone"]
                again = await ask(ada, {"type": "publish", "source": "camera"})
                assert again["code"] == "INVALID_PERMISSIONS"

                await admin.rooms.participants.remove(
                    org_id=stack.org, room_id=ROOM, participant_id="ada"
                )
                with pytest.raises(ConnectionClosed) as removed:
                    await asyncio.wait_for(ada.recv(), TIMEOUT)
                assert removed.value.rcvd is not None
                assert (removed.value.rcvd.code, removed.value.rcvd.reason) == (
                    4410, "PARTICIPANT_REMOVED",
                )  # fmt: skip
                # A page cannot read a refused handshake: it is told the code at once.
                async with join(two, ada_token, v2=True) as again_ada:
                    with pytest.raises(ConnectionClosed) as refused_again:
                        await asyncio.wait_for(again_ada.recv(), TIMEOUT)
                assert refused_again.value.rcvd is not None
                assert (refused_again.value.rcvd.code, refused_again.value.rcvd.reason) == (
                    4410, "PARTICIPANT_REMOVED",
                )  # fmt: skip
                with pytest.raises(InvalidStatus):  # without the subprotocol: HTTP 403
                    async with connect(f"ws://{two}/{ROOM}?jwt={ada_token}"):
                        pass

                await admin.rooms.end(org_id=stack.org, room_id=ROOM)
                with pytest.raises(ConnectionClosed) as ended:
                    await drain(hal)
                assert ended.value.rcvd is not None
                assert (ended.value.rcvd.code, ended.value.rcvd.reason) == (4404, "ROOM_ENDED")

    asyncio.run(go())


def test_a_joiner_who_comes_first_waits_for_the_first_moderator(stack: Stack) -> None:
    one, two = stack.gates

    async def go() -> None:
        room = "second-room"
        async with join(one, meeting_token(one, "early", "viewer", room), room) as early:
            assert (await ask(early, {"type": "chat", "text": "hi"}))["code"] == "PENDING_ADMISSION"
            await asyncio.sleep(0.3)  # nobody to admit: still waiting, not closed
            async with join(two, meeting_token(two, "mod", "host", room), room) as mod:
                await ask(mod, {"type": "admitAll"})
                await expect(early, lambda m: m["type"] == "relaypass.admitted")

    asyncio.run(go())


async def in_band(ws: ClientConnection, kind: str, frame_id: str, **fields: Any) -> dict[str, Any]:
    """Send one of the gate's own frames; the answer with the same id."""
    await ws.send(json.dumps({"type": f"relaypass.{kind}", "id": frame_id, **fields}))
    return await expect(ws, lambda m: m.get("id") == frame_id)


def test_a_moderators_own_session_decides_in_band_across_gates(stack: Stack) -> None:
    """remove, update and end from a host's socket; a non-moderator is refused with the code."""
    one, two = stack.gates

    async def go() -> None:
        room = "in-band-room"
        host_token = meeting_token(one, "hal", "host", room)
        async with join(one, host_token, room, v2=True) as hal:
            welcome = await expect(hal, lambda m: m["type"] == "relaypass.welcome")
            assert welcome == {
                "type": "relaypass.welcome", "exp": welcome["exp"], "participant": "hal",
                "state": "admitted", "tier": "speaker",
            }  # fmt: skip
            sam_token = meeting_token(two, "sam", "speaker", room)
            async with (
                join(two, sam_token, room) as sam,
                join(two, meeting_token(two, "vic", "viewer", room), room) as vic,
            ):
                for joiner in ("sam", "vic"):
                    done = await in_band(hal, "moderate", joiner, action="admit",
                                         participant=joiner)  # fmt: skip
                    assert done["type"] == "relaypass.moderated"
                await expect(sam, lambda m: m["type"] == "relaypass.admitted")
                await expect(vic, lambda m: m["type"] == "relaypass.admitted")

                refused = await in_band(sam, "moderate", "x", action="remove", participant="vic")
                assert refused == {
                    "type": "relaypass.moderate_failed", "id": "x", "code": "INVALID_PERMISSIONS",
                }  # fmt: skip
                bad = await in_band(hal, "moderate", "bad", action="update", participant="sam",
                                    grant={"isViewer": True})  # fmt: skip
                assert bad["code"] == "INVALID_REQUEST"

                await in_band(hal, "moderate", "u", action="update", participant="sam",
                              grant={"canSubscribe": True})  # fmt: skip
                changed = await expect(sam, lambda m: m["type"] == "relaypass.grant-changed")
                assert changed["stopSources"] == ["camera", "microphone"]
                viewers = await in_band(hal, "participants", "v", tier="viewer")
                assert [p["participant"] for p in viewers["participants"]] == ["vic"]
                assert viewers["participants"][0]["grant"]["canPublish"] is False

                await in_band(hal, "moderate", "r", action="remove", participant="vic")
                with pytest.raises(ConnectionClosed) as removed:
                    await drain(vic)
                assert removed.value.rcvd is not None
                assert removed.value.rcvd.reason == "PARTICIPANT_REMOVED"

                await hal.send(json.dumps({"type": "relaypass.moderate", "action": "end"}))
                for member in (sam, hal):
                    with pytest.raises(ConnectionClosed) as ended:
                        await drain(member)
                    assert ended.value.rcvd is not None
                    assert ended.value.rcvd.reason == "ROOM_ENDED"

    asyncio.run(go())


def test_a_page_naming_another_identity_is_told_unauthorized_participant(stack: Stack) -> None:
    one, _ = stack.gates

    async def go() -> None:
        room = "pinned-room"
        ada_token = meeting_token(one, "ada", "host", room)
        async with connect(
            f"ws://{one}/{room}?participant=hal",
            subprotocols=["relaypass.v2", f"relaypass.jwt.{ada_token}"],  # type: ignore[list-item]
        ) as impostor:
            with pytest.raises(ConnectionClosed) as refused:
                await asyncio.wait_for(impostor.recv(), TIMEOUT)
        assert refused.value.rcvd is not None
        assert (refused.value.rcvd.code, refused.value.rcvd.reason) == (
            4401, "UNAUTHORIZED_PARTICIPANT",
        )  # fmt: skip
        async with connect(
            f"ws://{one}/{room}?participant=ada",
            subprotocols=["relaypass.v2", f"relaypass.jwt.{ada_token}"],  # type: ignore[list-item]
        ) as ada:
            welcome = await expect(ada, lambda m: m["type"] == "relaypass.welcome")
            assert welcome["participant"] == "ada"

    asyncio.run(go())
