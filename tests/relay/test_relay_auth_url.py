"""``relaypass relay --auth-url``: the relay as a client of moq-relay's auth contract.

Real moq-rs clients over QUIC through the relay; the relay asks an auth
server per session. Against ``relaypass moq-auth serve``'s own server (in
process): admitted, refused, and kicked by a revocation (push, revalidate,
401). Against a scripted server that answers what each test sets: narrowed
and widened in place by a pushed revalidate, ``end`` reported, the contract's
refusals of a bad grant, and the admission deadline.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import moq
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relaypass import Key, KeySet, sign_jwt
from relaypass.errors import UnavailableError
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.moq_auth import MoqAuthServer, create_moq_auth_app
from relaypass.gate.adapters.moq_auth_client import (
    AuthClient,
    AuthSession,
    create_listener_app,
    parse_grant,
)
from relaypass.gate.adapters.moq_relay import MoqRelay, RefreshChannel
from relaypass.server.publish import RedisPublisher
from tests._net import free_port, serve_in_thread, wait_port
from tests.gate.test_cli_serve import running
from tests.relay.test_moq_relay import Publisher, receive, refused

KEY = Key.generate("EdDSA", kid="auth-url-k1")
TIMEOUT = 10.0


def token(*, jti: str = "j1", ttl: int = 300) -> str:
    claims = {"root": "demo", "put": [""], "get": [""], "jti": jti, "exp": int(time.time()) + ttl}
    return sign_jwt(claims, KEY)


class Listener:
    """The relay's internal listener, served on a thread while a relay runs."""

    def __init__(self) -> None:
        self.relay: MoqRelay | None = None
        app = create_listener_app(self._sessions, self._now, node="relay-1")
        self._serving = serve_in_thread(app)
        self.url = f"http://{self._serving.__enter__()}"

    def _sessions(self) -> list[Any]:
        return self.relay.auth_sessions() if self.relay else []

    def _now(self, session: Any) -> None:
        if self.relay is not None:
            self.relay.revalidate_now(session)

    def close(self) -> None:
        self._serving.__exit__(None, None, None)


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    served = Listener()
    yield served
    served.close()


@asynccontextmanager
async def relay_asking(url: str, listener: Listener, **kw: Any) -> AsyncIterator[MoqRelay]:
    gate = Gate(StaticKeySource(KeySet([])), profile="moq")
    auth = AuthClient(url, node="relay-1", **kw)
    async with MoqRelay(gate, bind="127.0.0.1:0", auth=auth) as relay:  # it closes `auth`
        listener.relay = relay
        try:
            yield relay
        finally:
            listener.relay = None


def client(relay: MoqRelay, jwt: str | None, root: str = "demo") -> moq.Client:
    query = f"?jwt={jwt}" if jwt else ""
    return moq.Client(f"https://{relay.local_addr}/{root}{query}", tls_verify=False,
                      reconnect=False)  # fmt: skip


def run(body: Any) -> None:
    asyncio.run(asyncio.wait_for(body(), 60))


# Against relaypass's own auth server.


@pytest.fixture
def auth_server(listener: Listener) -> Iterator[tuple[MoqAuthServer, str]]:
    gate = Gate(StaticKeySource(KeySet([KEY.public()])), profile="moq")
    server = MoqAuthServer(gate, revalidate_seconds=30, nodes={"relay-1": listener.url})
    with serve_in_thread(create_moq_auth_app(server)) as address:
        yield server, f"http://{address}/"


def test_admitted_sessions_exchange_frames(
    auth_server: tuple[MoqAuthServer, str], listener: Listener
) -> None:
    _server, url = auth_server

    async def body() -> None:
        async with relay_asking(url, listener) as relay, client(relay, token()) as pub:
            cam = Publisher(pub, "live/cam")
            async with client(relay, token(jti="j2")) as sub:
                frames = await receive(sub, "live/cam")
            cam.stop()
        assert all(f.startswith(b"frame ") for f in frames)

    run(body)


@pytest.mark.parametrize(
    "jwt", [None, "not-a-jwt", sign_jwt({"root": "elsewhere", "get": [""]}, KEY)],
    ids=["no-token", "garbage", "other-root"],
)  # fmt: skip
def test_refused_sessions_never_start(
    auth_server: tuple[MoqAuthServer, str], listener: Listener, jwt: str | None
) -> None:
    _server, url = auth_server

    async def body() -> None:
        async with relay_asking(url, listener) as relay:
            assert await refused(client(relay, jwt))
            assert relay.connections == 0

    run(body)


def test_a_revocation_kicks_the_live_session(
    auth_server: tuple[MoqAuthServer, str], listener: Listener
) -> None:
    server, url = auth_server

    async def body() -> None:
        async with relay_asking(url, listener) as relay, client(relay, token(jti="kick")) as sub:
            assert sub.session is not None
            await asyncio.sleep(0.2)
            assert [s.path for s in relay.auth_sessions()] == ["demo"]
            started = time.monotonic()
            await asyncio.to_thread(server.gate.revoke_jti, "kick")
            with pytest.raises(moq.Error) as cut:
                await asyncio.wait_for(sub.session.closed(), TIMEOUT)
            assert moq.is_auth(cut.value)
            assert time.monotonic() - started < 2.0  # push, revalidate, 401, close
            await asyncio.sleep(0.2)
            assert relay.connections == 0

    run(body)


# Against a scripted auth server.


class Scripted:
    """An auth server whose answers the test sets; it records every request."""

    def __init__(self) -> None:
        self.grant: dict[str, Any] = {"publish": ["**"], "subscribe": ["**"]}
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self.ended = threading.Event()

        async def answer(request: Request) -> Response:
            body = json.loads(await request.body())
            self.requests.append(body)
            if body["event"] == "end":
                self.ended.set()
                return Response(status_code=204)
            await asyncio.sleep(self.delay)
            grant = {"expires": int(time.time()) + 300, **self.grant}
            return JSONResponse(grant if self.status == 200 else {}, status_code=self.status)

        self.app = Starlette(routes=[Route("/", answer, methods=["POST"])])

    def events(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["event"] == event]


@pytest.fixture
def scripted() -> Iterator[tuple[Scripted, str]]:
    server = Scripted()
    with serve_in_thread(server.app) as address:
        yield server, f"http://{address}/"


async def watch(conn: moq.Client, seen: list[tuple[str, bool]]) -> None:
    async for update in conn.announced(""):
        seen.append((update.prefix, update.active))  # noqa: PERF401 - read while it grows


async def until(predicate: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


def test_a_pushed_revalidate_narrows_then_widens_in_place(
    scripted: tuple[Scripted, str], listener: Listener
) -> None:
    server, url = scripted

    async def body() -> None:
        async with (
            relay_asking(url, listener) as relay,
            client(relay, "t") as pub,
            httpx.AsyncClient(base_url=listener.url, timeout=5) as http,
        ):
            cams = [Publisher(pub, "a/cam"), Publisher(pub, "b/cam")]
            async with client(relay, "t") as sub:
                seen: list[tuple[str, bool]] = []
                watcher = asyncio.create_task(watch(sub, seen))
                assert await until(lambda: {("a/cam", True), ("b/cam", True)} <= set(seen))
                sessions = (await http.get("/sessions")).json()["sessions"]
                assert len(sessions) == 2
                # Narrow the subscriber: the auth server now answers a/** only.
                server.grant = {"publish": ["**"], "subscribe": ["a/**"]}
                pushed = await http.post("/sessions/revalidate")
                assert pushed.status_code == 202
                assert await until(lambda: ("b/cam", False) in seen)
                assert ("a/cam", False) not in seen  # the rest of the session is untouched
                assert len(await receive(sub, "a/cam")) == 3
                # Widen again: b/cam comes back without reconnecting.
                seen.clear()
                server.grant = {"publish": ["**"], "subscribe": ["**"]}
                ids = [s.id for s in relay.auth_sessions()]
                for session_id in ids:  # one push per session, by id
                    pushed = await http.post("/sessions/revalidate", params={"id": session_id})
                    assert pushed.json() == {"ids": [session_id]}
                assert await until(lambda: ("b/cam", True) in seen)
                assert len(await receive(sub, "b/cam")) == 3
                watcher.cancel()
            for cam in cams:
                cam.stop()
        assert server.ended.wait(5), [r["event"] for r in server.requests]
        ended = server.events("end")
        assert {e["reason"] for e in ended} <= {"disconnected", "shutdown"}
        assert all(e["bytes"]["sent"] > 0 and e["duration"] > 0 for e in ended)
        assert len(server.events("revalidate")) >= 4

    run(body)


def test_the_listener_filters_as_the_contract_says(
    scripted: tuple[Scripted, str], listener: Listener
) -> None:
    _server, url = scripted

    async def body() -> None:
        async with (
            relay_asking(url, listener) as relay,
            client(relay, "t", "demo/room"),
            httpx.AsyncClient(base_url=listener.url, timeout=5) as http,
        ):
            await asyncio.sleep(0.2)

            async def get(**query: str) -> httpx.Response:
                return await http.get("/sessions", params=query)

            assert len((await get()).json()["sessions"]) == 1
            assert len((await get(path="demo/**")).json()["sessions"]) == 1
            assert (await get(path="other/**")).json()["sessions"] == []
            assert len((await get(transport="quic", node="relay-1")).json()["sessions"]) == 1
            assert (await get(query="jwt=x")).status_code == 400  # never a filter
            assert (await get(colour="blue")).status_code == 400
            nothing = await http.post("/sessions/revalidate", params={"id": "ff"})
            assert (nothing.status_code, nothing.json()) == (200, {"ids": []})
            assert relay.connections == 1

    run(body)


@pytest.mark.parametrize(
    ("status", "grant"),
    [(401, {}), (403, {}), (500, {}), (200, {"publish": [], "subscribe": []}),
     (200, {"subscribe": ["**"], "revalidate": 0}), (200, {"subscribe": ["**"], "root": "x"})],
    ids=["401", "403", "500", "names-nothing", "zero-cadence", "root"],
)  # fmt: skip
def test_a_refusal_or_a_broken_grant_refuses_the_session(
    scripted: tuple[Scripted, str], listener: Listener, status: int, grant: dict[str, Any]
) -> None:
    server, url = scripted
    server.status, server.grant = status, grant

    async def body() -> None:
        async with relay_asking(url, listener) as relay:
            assert await refused(client(relay, "t"))
            assert relay.connections == 0

    run(body)


def test_an_unanswered_connect_is_refused_at_the_deadline(
    scripted: tuple[Scripted, str], listener: Listener
) -> None:
    server, url = scripted
    server.delay = 3.0

    async def body() -> None:
        async with relay_asking(url, listener, admission_seconds=0.5) as relay:
            started = time.monotonic()
            assert await refused(client(relay, "t"))
            assert time.monotonic() - started < 2.5

    run(body)


def test_the_contracts_grant_rules() -> None:
    now = time.time()
    answer = {"publish": ["alice/**"], "subscribe": ["**"], "expires": int(now) + 60,
              "revalidate": 30, "tier": "org_a"}  # fmt: skip
    grant, cadence, tier = parse_grant(json.dumps(answer).encode())
    assert (cadence, tier) == (30, "org_a")
    assert grant.can_publish("alice/cam")
    assert not grant.can_publish("bob/cam")
    assert grant.can_subscribe("anything/at/all")
    bad: dict[str, Any]
    for bad in (
        {"publish": [], "subscribe": []},
        {"subscribe": ["**"], "revalidate": 30},  # a cadence without a bound
        {"subscribe": ["**"], "expires": int(now) + 60, "revalidate": 0},
        {"subscribe": ["**"], "expires": int(now)},  # at now: no grace
        {"subscribe": ["a/../b"]},
        {"subscribe": "**"},
    ):
        with pytest.raises(UnavailableError):
            parse_grant(json.dumps(bad).encode(), now=now)


# The two commands, as an operator runs them, with the control plane's Redis.


def test_relay_and_moq_auth_serve_as_processes(
    redis_server: str, redis_prefix: str, tmp_path: Path
) -> None:
    """``relaypass relay --auth-url`` asks ``relaypass moq-auth serve``, which follows Redis.

    A revocation published to Redis reaches the auth server, which pushes the
    relay's internal listener; the relay revalidates, gets 401 and closes.
    """
    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    publisher.publish_keyset(KeySet([KEY.public()]))
    auth_port, listen_port, relay_port = free_port(), free_port(), free_port()
    auth_argv = ["moq-auth", "serve", "--redis-url", redis_server, "--redis-prefix", redis_prefix,
                 "--listen", f"127.0.0.1:{auth_port}",
                 "--node", f"edge-1=http://127.0.0.1:{listen_port}"]  # fmt: skip
    relay_argv = ["relay", "--auth-url", f"http://127.0.0.1:{auth_port}/", "--node", "edge-1",
                  "--auth-listen", f"127.0.0.1:{listen_port}",
                  "--bind", f"127.0.0.1:{relay_port}"]  # fmt: skip
    jwt = token(jti="cli-kick")

    async def session() -> float:
        url = f"https://127.0.0.1:{relay_port}/demo?jwt={jwt}"
        async with moq.Client(url, tls_verify=False, reconnect=False) as conn:
            assert conn.session is not None
            await asyncio.sleep(0.3)
            started = time.monotonic()
            await asyncio.to_thread(publisher.publish_revocation, "jti", "cli-kick")
            with pytest.raises(moq.Error) as cut:
                await asyncio.wait_for(conn.session.closed(), TIMEOUT)
            assert moq.is_auth(cut.value)
            return time.monotonic() - started

    with (
        running(auth_argv, tmp_path / "auth.log"),
        running(relay_argv, tmp_path / "relay.log"),
    ):
        wait_port(auth_port)
        wait_port(listen_port)
        took = asyncio.run(asyncio.wait_for(session(), 30))
        refused_again = asyncio.run(asyncio.wait_for(refused(
            moq.Client(f"https://127.0.0.1:{relay_port}/demo?jwt={jwt}", tls_verify=False,
                       reconnect=False)), 30))  # fmt: skip
    publisher.close()
    assert took < 2.0
    assert refused_again
    for log in ("auth.log", "relay.log"):
        assert jwt not in (tmp_path / log).read_text()


@pytest.mark.parametrize(
    ("extra", "says"),
    [(["--auth-url", "http://10.0.0.7:8702/"], "loopback"),
     (["--auth-url", "http://127.0.0.1:8702/", "--key", "k.jwk"], "decides every session"),
     (["--auth-url", "http://127.0.0.1:8702/", "--auth-listen", "0.0.0.0:4444"], "loopback")],
    ids=["remote-http", "keys-too", "remote-listener"],
)  # fmt: skip
def test_the_relay_refuses_unsafe_auth_settings(extra: list[str], says: str) -> None:
    done = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "relaypass", "relay", "--bind", f"127.0.0.1:{free_port()}",
         *extra],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert says in done.stderr


def test_in_band_refresh_through_the_auth_server_keeps_the_session(
    auth_server: tuple[MoqAuthServer, str], listener: Listener
) -> None:
    """Fresh tokens on the reserved track become the session's credential; the server decides."""
    _server, url = auth_server

    async def body() -> float:
        async with relay_asking(url, listener) as relay, client(relay, token(ttl=2)) as conn:
            assert conn.session is not None
            channel = RefreshChannel(conn)
            started = time.monotonic()
            closed = asyncio.ensure_future(conn.session.closed())
            while time.monotonic() - started < 5:  # 2.5 lifetimes of a 2 s token
                await channel.send(token(jti=f"fresh-{time.monotonic()}", ttl=2))
                await asyncio.sleep(0.7)
                assert not closed.done(), "cut although refreshed"
            # Stop refreshing: cut at the last token's exp.
            with pytest.raises(moq.Error) as cut:
                await asyncio.wait_for(closed, TIMEOUT)
            assert moq.is_auth(cut.value)
            return time.monotonic() - started

    lived = asyncio.run(asyncio.wait_for(body(), 60))
    assert 5.0 <= lived < 9.0


def test_a_refresh_for_another_root_is_refused_and_the_old_grant_runs_out(
    auth_server: tuple[MoqAuthServer, str], listener: Listener
) -> None:
    _server, url = auth_server
    other = sign_jwt({"root": "demo", "put": [""], "get": [""], "sub": "someone-else",
                      "exp": int(time.time()) + 300}, KEY)  # fmt: skip

    async def body() -> float:
        async with relay_asking(url, listener) as relay, client(relay, token(ttl=2)) as conn:
            assert conn.session is not None
            started = time.monotonic()
            await RefreshChannel(conn).send(other)  # another subject: refused, logged
            with pytest.raises(moq.Error):
                await asyncio.wait_for(conn.session.closed(), TIMEOUT)
            return time.monotonic() - started

    assert asyncio.run(asyncio.wait_for(body(), 60)) < 3.5


def test_the_remote_filter_reads_addresses_as_the_auth_server_does() -> None:
    def session(remote: str | None) -> AuthSession:
        return AuthSession(id="ab", path="demo", query=None, remote=remote)

    assert session("203.0.113.9:4433").matches({"remote": "203.0.113.0/24"}, "n")
    assert session("[2001:db8::1]:443").matches({"remote": "2001:db8::/32"}, "n")
    assert session("[::ffff:192.0.2.5]:1").matches({"remote": "192.0.2.5"}, "n")
    assert not session("198.51.100.1:1").matches({"remote": "203.0.113.0/24"}, "n")
    assert not session(None).matches({"remote": "0.0.0.0/0"}, "n")
