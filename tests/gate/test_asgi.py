"""The ASGI middleware in front of a small Python relay, served by uvicorn, driven by websockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from relaypass import InvalidTokenError, Key, KeySet, RelaypassError, decode_unverified, sign_jwt
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, Session, StaticKeySource
from relaypass.gate.adapters.asgi import (
    CLOSE_CODE_CUT,
    SUBPROTOCOL,
    SUBPROTOCOL_V2,
    GateMiddleware,
    credentials,
)
from tests._net import free_port, wait_port


def pinned(state: object) -> Session:
    session = getattr(state, "relaypass", None)
    assert isinstance(session, Session)
    return session


async def pubsub(websocket: WebSocket) -> None:
    """A toy relay: 'pub <path>' / 'sub <path>' are answered 'ok' or the refusal's code."""
    await websocket.accept()
    session = pinned(websocket.state)
    try:
        while True:
            verb, _, path = (await websocket.receive_text()).partition(" ")
            try:
                if verb == "refresh":
                    session.refresh(path)
                elif verb == "pub":
                    session.authorize_publish(path)
                else:
                    session.authorize_subscribe(path)
            except RelaypassError as exc:
                await websocket.send_text(exc.code.value)
            else:
                await websocket.send_text("ok")
    except WebSocketDisconnect:
        pass


async def playlist(request: Request) -> JSONResponse:
    path = request.path_params["path"]
    try:
        pinned(request.state).authorize_subscribe(path)
    except RelaypassError as exc:
        return JSONResponse({"code": exc.code.value}, status_code=403)
    return JSONResponse({"path": path})


@pytest.fixture
def key() -> Key:
    return Key.generate("EdDSA", kid="asgi_k1")


@pytest.fixture
def served(key: Key) -> Iterator[tuple[Gate, str]]:
    gate = Gate(StaticKeySource(KeySet([key.public()])), public_subscribe=["public"])
    with serving(gate) as host:
        yield gate, host


@contextlib.contextmanager
def serving(gate: Gate) -> Iterator[str]:
    """The toy relay behind the middleware on uvicorn, on a free port, for the block's length."""
    app = Starlette(routes=[WebSocketRoute("/ws", pubsub), Route("/http/{path:path}", playlist)])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(GateMiddleware(app, gate), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def token(key: Key, ns: list[str], **extra: object) -> str:
    claims: dict[str, object] = {"sub": "acme", "ns": ns, "exp": int(time.time()) + 600}
    return sign_jwt(claims | extra, key)


async def expect_cut(ws: ClientConnection) -> None:
    """The server closes ``ws`` with the gate's cut code."""
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_CODE_CUT


def test_credentials_are_read_strictly() -> None:
    def scope(headers: list[tuple[bytes, bytes]], query: bytes = b"") -> dict[str, object]:
        return {"headers": headers, "query_string": query}

    assert credentials(scope([])) == (None, None)
    assert credentials(scope([], b"jwt=abc")) == ("abc", None)
    assert credentials(scope([(b"authorization", b"Bearer abc")])) == ("abc", None)
    offered = [(b"sec-websocket-protocol", b"relaypass, relaypass.jwt.abc")]
    assert credentials(scope(offered)) == ("abc", SUBPROTOCOL)
    for bad in (
        scope([(b"authorization", b"Basic abc")]),
        scope([(b"authorization", b"Bearer a")], b"jwt=b"),
        scope([], b"jwt=a&jwt=b"),
        scope([(b"authorization", b"Bearer " + b"a" * 9000)]),
    ):
        with pytest.raises(InvalidTokenError):
            credentials(bad)


def test_websocket_sessions_are_pinned_and_authorized(key: Key, served: tuple[Gate, str]) -> None:
    gate, host = served
    good = token(key, ["live/alice/**"])

    async def body() -> None:
        protocols = [SUBPROTOCOL, f"relaypass.jwt.{good}"]
        async with connect(f"ws://{host}/ws", subprotocols=protocols) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol == SUBPROTOCOL
            await ws.send("pub live/alice/cam")
            assert await ws.recv() == "ok"
            await ws.send("sub live/bob/cam")
            assert await ws.recv() == "INVALID_PERMISSIONS"
            assert len(gate.sessions) == 1
        v2: Any = [SUBPROTOCOL, SUBPROTOCOL_V2, f"relaypass.jwt.{good}"]
        async with connect(f"ws://{host}/ws", subprotocols=v2) as ws:
            assert ws.subprotocol == SUBPROTOCOL_V2
            welcome = json.loads(await ws.recv())  # a page's client is told first
            assert welcome == {"type": "relaypass.welcome",
                               "exp": decode_unverified(good)[1]["exp"]}  # fmt: skip
            await ws.send("pub live/alice/cam")
            assert await ws.recv() == "ok"
        async with connect(f"ws://{host}/ws?jwt={good}") as ws:
            await ws.send("sub live/alice/x")
            assert await ws.recv() == "ok"
        headers = {"authorization": f"Bearer {good}"}
        async with connect(f"ws://{host}/ws", additional_headers=headers) as ws:
            await ws.send("sub live/alice/x")
            assert await ws.recv() == "ok"
        async with connect(f"ws://{host}/ws") as ws:  # anonymous: public prefixes only
            await ws.send("sub public/news")
            assert await ws.recv() == "ok"
            await ws.send("pub public/news")
            assert await ws.recv() == "INVALID_PERMISSIONS"
        for bad in ("garbage", token(Key.generate("EdDSA", kid="asgi_k1"), ["live/**"])):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://{host}/ws?jwt={bad}"):
                    pass
            assert refused.value.response.status_code == 403
            # A relaypass client (a page cannot read a refused handshake) is told the code,
            # the same for a malformed and a forged token.
            offered: Any = [SUBPROTOCOL_V2, f"relaypass.jwt.{bad}"]
            async with connect(f"ws://{host}/ws", subprotocols=offered) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "INVALID_TOKEN")
        await asyncio.sleep(0.1)
        assert gate.sessions == []

    asyncio.run(body())


def test_revocation_on_another_thread_closes_the_socket(key: Key, served: tuple[Gate, str]) -> None:
    gate, host = served
    good = token(key, ["live/**"], jti="ws-1")

    async def body() -> None:
        async with connect(f"ws://{host}/ws?jwt={good}") as ws:
            await ws.send("sub live/a")
            assert await ws.recv() == "ok"
            started = time.monotonic()
            threading.Thread(target=gate.revoke_jti, args=("ws-1",)).start()
            await expect_cut(ws)
            assert time.monotonic() - started < 1
        with pytest.raises(InvalidStatus):
            async with connect(f"ws://{host}/ws?jwt={good}"):
                pass

    asyncio.run(body())


def test_socket_closes_at_exp(key: Key, served: tuple[Gate, str]) -> None:
    _, host = served
    exp = int(time.time()) + 2
    short = token(key, ["live/**"], exp=exp)

    async def body() -> None:
        async with connect(f"ws://{host}/ws?jwt={short}") as ws:
            await expect_cut(ws)
            assert time.time() >= exp

    asyncio.run(body())


def test_in_band_refresh_moves_the_cutoff(key: Key, served: tuple[Gate, str]) -> None:
    _, host = served
    first_exp = int(time.time()) + 2
    short = token(key, ["live/**"], exp=first_exp)

    async def body() -> None:
        async with connect(f"ws://{host}/ws?jwt={short}") as ws:
            later = token(key, ["live/**"], exp=first_exp + 2)
            await ws.send(f"refresh {later}")
            assert await ws.recv() == "ok"
            await asyncio.sleep(max(0.0, first_exp + 0.5 - time.time()))
            await ws.send("sub live/a")
            assert await ws.recv() == "ok"  # past the first exp, still live
            await expect_cut(ws)
            assert time.time() >= first_exp + 2
            other = token(key, ["live/**"], sub="someone-else")
        async with connect(f"ws://{host}/ws?jwt={token(key, ['live/**'])}") as ws:
            await ws.send(f"refresh {other}")
            assert await ws.recv() == "INVALID_PERMISSIONS"  # same subject and tenant only

    asyncio.run(body())


def test_a_refresh_never_moves_a_websocket_session_to_another_org() -> None:
    """B's session (tenant t_vict) must refuse A's token for A's tenant of the same name."""
    first = Key.generate("EdDSA", kid="asgi_first").bound(
        KeyBinding(org="org_a", scope=KeyScope.for_roots([""]))
    )
    second = Key.generate("EdDSA", kid="asgi_b").bound(
        KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
    )
    gate = Gate(StaticKeySource(KeySet([first.public(), second.public()])))
    victim = token(second, ["bcorp/**"], sub="t_vict")
    intruder = token(first, ["**"], sub="t_vict")

    async def body(host: str) -> None:
        async with connect(f"ws://{host}/ws?jwt={victim}") as ws:
            await ws.send(f"refresh {intruder}")
            assert await ws.recv() == "INVALID_PERMISSIONS"
            await ws.send("pub live/cam")  # A's space: still refused, the session is B's
            assert await ws.recv() == "INVALID_PERMISSIONS"
            await ws.send("pub bcorp/cam")
            assert await ws.recv() == "ok"
            gate.apply_revocation({"kind": "tenant", "value": "t_vict", "org": "org_b"})
            await expect_cut(ws)  # B's disabling of its tenant still reaches the session

    with serving(gate) as host:
        asyncio.run(body(host))


def test_http_requests_are_checked_one_by_one(key: Key, served: tuple[Gate, str]) -> None:
    gate, host = served
    good = token(key, ["live/alice/**"])
    with httpx.Client(base_url=f"http://{host}") as http:
        ok = http.get("/http/live/alice/index.m3u8", headers={"authorization": f"Bearer {good}"})
        assert ok.status_code == 200
        assert ok.json() == {"path": "live/alice/index.m3u8"}
        assert http.get(f"/http/live/bob/x?jwt={good}").status_code == 403
        anonymous = http.get("/http/live/alice/index.m3u8")  # admitted only to public paths
        assert anonymous.status_code == 403
        assert anonymous.json() == {"code": "INVALID_PERMISSIONS"}
        garbage = http.get("/http/live/alice/index.m3u8?jwt=garbage")
        assert garbage.status_code == 401
        assert garbage.json() == {"code": "INVALID_TOKEN"}
        assert "garbage" not in garbage.text
        assert http.get("/http/public/x").status_code == 200
    assert gate.sessions == []


def test_tenancy_over_a_real_websocket() -> None:
    """Org A (first org, unprefixed) and org B (root ``bcorp``) behind one middleware."""
    from relaypass._keyscope import KeyBinding, KeyScope

    key_a = Key.generate("EdDSA", kid="rk_a").bound(
        KeyBinding(org="org_a", scope=KeyScope.for_roots([""]))
    )
    key_b = Key.generate("EdDSA", kid="rk_b").bound(
        KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
    )
    gate = Gate(StaticKeySource(KeySet([key_a.public(), key_b.public()])))
    app = Starlette(routes=[WebSocketRoute("/ws", pubsub)])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(GateMiddleware(app, gate), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    a_everything = token(key_a, ["**"])
    b_outside = token(key_b, ["live/**"])

    async def body() -> None:
        async with connect(f"ws://127.0.0.1:{port}/ws?jwt={a_everything}") as ws:
            await ws.send("sub live/acam")
            assert await ws.recv() == "ok"
            for verb in ("sub", "pub"):
                await ws.send(f"{verb} bcorp/live/bcam")  # B's namespace is fenced off
                assert await ws.recv() == "INVALID_PERMISSIONS"
            assert gate.apply_revocation({"kind": "org", "value": "org_a"}) == 1
            await expect_cut(ws)  # disabling A cuts its live socket
        with pytest.raises(InvalidStatus) as refused:  # claims beyond B's scope: refused
            async with connect(f"ws://127.0.0.1:{port}/ws?jwt={b_outside}"):
                pass
        assert refused.value.response.status_code == 403

    try:
        asyncio.run(asyncio.wait_for(body(), 30))
    finally:
        server.should_exit = True
        thread.join(10)
