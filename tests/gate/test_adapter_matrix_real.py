"""The adapter matrix through the real peers: every adapter x every attack, over the wire.

The same cases as ``test_adapter_matrix`` (the org's own token admitted, so a
refusal means something; another org's token on this org's path, a token of
another profile, an expired and a revoked token refused), each driven through
the program that speaks the adapter's protocol:

- ``rtmp``: a real nginx with nginx-rtmp calling ``gate serve``'s app, ffmpeg publishing;
- ``hls``: the same nginx asking the gate through ``auth_request`` for a playlist;
- ``nats``: a real nats-server whose auth callout is relaypass, nats-py connecting;
- ``moq``: relaypass's MoQ relay with moq-rs clients over QUIC;
- ``moq-auth-url``: the same relay holding no keys, asking relaypass's moq-relay auth server;
- ``websocket``: the ASGI middleware behind uvicorn, a real WebSocket client.

Adapters that keep a session past its token (the WebSocket and MoQ in-band
refresh) also get the refresh cases: a refresh keeps the session's org,
tenant and profile, or is refused. Two orgs share every gate: org A owns the
root ``live``, org B the root ``bcorp``. A new adapter joins by one entry in
``ADAPTERS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
import moq
import orjson
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from relaypass import Key, KeySet, RelaypassError, sign_jwt
from relaypass._b64 import b64decode
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, Session, StaticKeySource
from relaypass.gate.adapters.asgi import GateMiddleware
from relaypass.gate.adapters.http import create_gate_app
from relaypass.gate.adapters.moq_auth import MoqAuthServer, create_moq_auth_app
from relaypass.gate.adapters.moq_auth_client import AuthClient
from relaypass.gate.adapters.moq_relay import MoqRelay, RefreshChannel
from relaypass.gate.quotas import Quotas
from relaypass.gate.usage import UsageEvents
from tests._net import free_port, serve_in_thread, stop_process, wait_port
from tests.gate._nats import broker
from tests.gate.test_nginx_rtmp import FFMPEG, NGINX, RTMP_MODULE, nginx_conf

KEY_A: Final = Key.generate("EdDSA", kid="real-a").bound(
    KeyBinding(org="org_a", scope=KeyScope.for_roots(["live"]))
)
KEY_B: Final = Key.generate("EdDSA", kid="real-b").bound(
    KeyBinding(org="org_b", scope=KeyScope.for_roots(["bcorp"]))
)
CASES: Final = ("own", "another-org", "another-profile", "expired", "revoked")
REFRESH_CASES: Final = ("own", "another-org", "another-tenant", "another-profile")
REVOKED_JTI: Final = "j-revoked"


def token(profile: str, key: Key, *, tenant: str = "t1", ttl: int = 300, jti: str = "j") -> str:
    """A token of ``profile`` for the root ``live`` (org A's), signed by ``key``."""
    claims: dict[str, Any] = {"sub": tenant, "exp": int(time.time()) + ttl, "jti": jti}
    if profile == "moq":
        claims |= {"root": "live", "get": [""], "put": [""]}
    else:
        claims["ns"] = ["live/**"]
    return sign_jwt(claims, key)


def attack(case: str, profile: str) -> str:
    """The credential of one matrix case, for an adapter serving ``profile``."""
    other = "relay" if profile == "moq" else "moq"
    return {
        "own": lambda: token(profile, KEY_A),
        "another-org": lambda: token(profile, KEY_B),  # B's key, A's namespace
        "another-profile": lambda: token(other, KEY_A),
        "expired": lambda: token(profile, KEY_A, ttl=-120),
        "revoked": lambda: token(profile, KEY_A, jti=REVOKED_JTI),
    }[case]()


def refresh_with(case: str, profile: str) -> str:
    """The token a session of org A's tenant ``t1`` offers in-band, per refresh case."""
    other = "relay" if profile == "moq" else "moq"
    return {
        "own": lambda: token(profile, KEY_A, jti="j-next"),
        "another-org": lambda: token(profile, KEY_B),
        "another-tenant": lambda: token(profile, KEY_A, tenant="t2"),
        "another-profile": lambda: token(other, KEY_A),
    }[case]()


#: Every gate the adapters run on, each recording usage and holding quotas (checked below).
GATES: Final[list[Gate]] = []
#: Orgs past a monthly quota, for the gates already running and those started per case.
BLOCKED: Final[dict[str, str]] = {}


def accounted(gate: Gate) -> Gate:
    """``gate`` recording usage events and holding quotas (without Redis: blocks only)."""
    gate.usage = UsageEvents()
    gate.quotas = Quotas(None, prefix="matrix", node="matrix")
    gate.quotas.replace({}, BLOCKED)
    GATES.append(gate)
    return gate


def two_org_gate(profile: str) -> Gate:
    gate = Gate(StaticKeySource(KeySet([KEY_A.public(), KEY_B.public()])), profile=profile)
    gate.revoke_jti(REVOKED_JTI, org="org_a")
    return accounted(gate)


class Adapter(Protocol):
    profile: str

    def admitted(self, credential: str) -> bool:
        """Whether the peer got through the adapter with ``credential``."""
        ...


class Refreshing(Adapter, Protocol):
    def refreshed(self, first: str, second: str) -> bool:
        """Whether a session opened with ``first`` took ``second`` as its refresh."""
        ...


# nginx-rtmp and its HLS location, with gate serve's app behind them.


@dataclass
class Nginx:
    rtmp: str
    http: str
    profile: str = "relay"


class Rtmp:
    profile = "relay"

    def __init__(self, nginx: Nginx) -> None:
        self._nginx = nginx

    def admitted(self, credential: str) -> bool:
        """ffmpeg publishes one second: exit 0 only when nginx-rtmp's on_publish said yes."""
        argv = [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an",
            "-f", "flv", f"{self._nginx.rtmp}/live/cam?jwt={credential}",
        ]  # fmt: skip
        proc = subprocess.run(argv, capture_output=True, timeout=30, check=False)  # noqa: S603
        return proc.returncode == 0


class Hls:
    profile = "relay"

    def __init__(self, nginx: Nginx) -> None:
        self._nginx = nginx

    def admitted(self, credential: str) -> bool:
        """nginx serves the playlist only when its auth_request to the gate answered 2xx."""
        url = f"{self._nginx.http}/hls/{credential}/live/cam/index.m3u8"
        return httpx.get(url, timeout=10).status_code == 200


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    if not (RTMP_MODULE.exists() and Path(NGINX).exists() and Path(FFMPEG).exists()):
        pytest.fail("nginx, libnginx-mod-rtmp and ffmpeg are needed; scripts/test installs them")
    tmp = tmp_path_factory.mktemp("matrix-nginx")
    playlist = tmp / "hls" / "live" / "cam" / "index.m3u8"
    playlist.parent.mkdir(parents=True)
    playlist.write_text("#EXTM3U\n")
    rtmp_port, http_port = free_port(), free_port()
    with serve_in_thread(create_gate_app(two_org_gate("relay"))) as gate_address:
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_conf(tmp, rtmp_port, http_port, int(gate_address.split(":")[1])))
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [NGINX, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(rtmp_port)
            wait_port(http_port)
            yield Nginx(f"rtmp://127.0.0.1:{rtmp_port}", f"http://127.0.0.1:{http_port}")
        finally:
            stop_process(proc, signal.SIGQUIT)


# A real nats-server whose auth callout is relaypass.


class Nats:
    profile = "relay"

    def __init__(self, url: str) -> None:
        self._url = url

    def admitted(self, credential: str) -> bool:
        async def go() -> bool:
            client = NatsClient()
            try:
                await client.connect(
                    self._url, token=credential, allow_reconnect=False,
                    max_reconnect_attempts=0, connect_timeout=3,
                )  # fmt: skip
            except NatsError as exc:
                if "authorization" not in str(exc).lower():
                    raise  # a failure of the harness, not a refusal
                return False
            finally:
                await client.close()
            return True

        return asyncio.run(go())


@pytest.fixture(scope="module")
def nats_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nats]:
    directory = Path(tmp_path_factory.mktemp("matrix-nats"))
    accounts = {"org_a/t1": "ACME", "org_b/t1": "ACME"}  # the two orgs share one account
    with broker(directory, keys=[KEY_A, KEY_B], accounts=accounts) as running:
        running.gate.revoke_jti(REVOKED_JTI, org="org_a")
        accounted(running.gate)
        yield Nats(running.urls[0])


# relaypass's MoQ relay, moq-rs clients over QUIC. Each case runs its own relay
# (it lives on the case's event loop); starting one takes milliseconds.


class MoqRelayAdapter:
    profile = "moq"

    def _relay(self) -> MoqRelay:
        """A relay that verifies tokens itself, with the two orgs' keys."""
        return MoqRelay(two_org_gate("moq"), bind="127.0.0.1:0")

    @staticmethod
    def _client(relay: MoqRelay, credential: str) -> moq.Client:
        url = f"https://{relay.local_addr}/live?jwt={credential}"
        return moq.Client(url, tls_verify=False, reconnect=False)

    def admitted(self, credential: str) -> bool:
        async def go() -> bool:
            async with self._relay() as relay:
                try:
                    async with self._client(relay, credential) as conn:
                        assert conn.session is not None
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(conn.session.closed(), 1.0)
                            return False  # closed at once: not admitted
                        return True
                except moq.Error as exc:
                    if not moq.is_auth(exc):
                        raise
                    return False

        return asyncio.run(asyncio.wait_for(go(), 30))

    def refreshed(self, first: str, second: str) -> bool:
        """A session on a 2 s token offers ``second``: alive past the first token's exp?"""
        exp = int(time.time()) + 2
        first = sign_jwt({**_claims_of(first), "exp": exp}, KEY_A)

        async def go() -> bool:
            async with (
                self._relay() as relay,
                self._client(relay, first) as conn,
            ):
                assert conn.session is not None
                channel = RefreshChannel(conn)
                await channel.send(second)
                try:
                    await asyncio.wait_for(conn.session.closed(), exp + 1.5 - time.time())
                except TimeoutError:
                    return True  # outlived the first token
                except moq.Error as exc:
                    if not moq.is_auth(exc):
                        raise
                return False

        return asyncio.run(asyncio.wait_for(go(), 30))


def _claims_of(jwt: str) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(b64decode(jwt.split(".")[1]))
    return result


@pytest.fixture(scope="module")
def moq_relay() -> MoqRelayAdapter:
    return MoqRelayAdapter()


class AuthUrlRelayAdapter(MoqRelayAdapter):
    """``relaypass relay --auth-url``: the relay holds no keys; relaypass's auth server decides."""

    def __init__(self, auth_url: str) -> None:
        self._auth_url = auth_url

    def _relay(self) -> MoqRelay:
        gate = Gate(StaticKeySource(KeySet([])), profile="moq")
        return MoqRelay(gate, bind="127.0.0.1:0", auth=AuthClient(self._auth_url, node="n1"))


@pytest.fixture(scope="module")
def moq_auth_relay() -> Iterator[AuthUrlRelayAdapter]:
    server = MoqAuthServer(two_org_gate("moq"))
    with serve_in_thread(create_moq_auth_app(server)) as address:
        yield AuthUrlRelayAdapter(f"http://{address}/")


# The ASGI middleware behind uvicorn, with a real WebSocket client.


async def _echo(websocket: WebSocket) -> None:
    """Answers each path with ``ok`` when the session's current grant may publish there."""
    await websocket.accept()
    session: Session = websocket.state.relaypass
    try:
        while True:
            path = await websocket.receive_text()
            try:
                session.authorize_publish(path)
            except RelaypassError as exc:
                await websocket.send_text(exc.code.value)
            else:
                await websocket.send_text("ok")
    except WebSocketDisconnect:
        pass


class WebSocketAdapter:
    profile = "relay"

    def __init__(self, url: str) -> None:
        self._url = url

    def admitted(self, credential: str) -> bool:
        async def go() -> bool:
            headers = {"Authorization": f"Bearer {credential}"}
            try:
                async with ws_connect(f"{self._url}/live/cam", additional_headers=headers) as ws:
                    await ws.send("live/cam")
                    return await asyncio.wait_for(ws.recv(), 5) == "ok"
            except InvalidStatus as exc:
                if exc.response.status_code not in {401, 403}:
                    raise
                return False

        return asyncio.run(go())

    def refreshed(self, first: str, second: str) -> bool:
        async def go() -> bool:
            headers = {"Authorization": f"Bearer {first}"}
            async with ws_connect(f"{self._url}/live/cam", additional_headers=headers) as ws:
                frame = {"type": "relaypass.refresh", "token": second}
                await ws.send(orjson.dumps(frame).decode())
                reply = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
                await ws.send("live/cam")  # the session goes on either way
                assert await asyncio.wait_for(ws.recv(), 5) == "ok"
                return bool(reply["type"] == "relaypass.refreshed")

        return asyncio.run(go())


@pytest.fixture(scope="module")
def websocket() -> Iterator[WebSocketAdapter]:
    app = Starlette(routes=[WebSocketRoute("/{path:path}", _echo)])
    with serve_in_thread(GateMiddleware(app, two_org_gate("relay"))) as address:
        yield WebSocketAdapter(f"ws://{address}")


#: adapter name -> the fixture that starts its peer (once per module).
ADAPTERS: Final[dict[str, str]] = {
    "rtmp": "nginx",
    "hls": "nginx",
    "nats": "nats_broker",
    "moq": "moq_relay",
    "moq-auth-url": "moq_auth_relay",
    "websocket": "websocket",
}
REFRESHING: Final = ("moq", "moq-auth-url", "websocket")
#: Adapters that check each request on its own (no session, so no session events).
STATELESS: Final = ("hls",)


def _adapter(request: pytest.FixtureRequest, name: str) -> Any:
    peer = request.getfixturevalue(ADAPTERS[name])
    wrap: dict[str, Callable[[Any], Any]] = {"rtmp": Rtmp, "hls": Hls}
    return wrap[name](peer) if name in wrap else peer


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", list(ADAPTERS))
def test_every_real_adapter_refuses_every_attack(
    request: pytest.FixtureRequest, name: str, case: str
) -> None:
    adapter: Adapter = _adapter(request, name)
    assert adapter.admitted(attack(case, adapter.profile)) is (case == "own"), (name, case)


@pytest.mark.parametrize("case", REFRESH_CASES)
@pytest.mark.parametrize("name", REFRESHING)
def test_a_refresh_keeps_the_sessions_identity(
    request: pytest.FixtureRequest, name: str, case: str
) -> None:
    adapter: Refreshing = _adapter(request, name)
    first = token(adapter.profile, KEY_A)
    assert adapter.refreshed(first, refresh_with(case, adapter.profile)) is (case == "own"), (
        name,
        case,
    )


def _events() -> list[tuple[str, str | None, dict[str, Any] | None]]:
    return [(kind, org, detail) for g in GATES for kind, org, _, _, detail in g.usage.take()]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_every_real_adapter_records_usage_and_holds_quotas(
    request: pytest.FixtureRequest, name: str
) -> None:
    """Sessions and refusals in the org's usage, from every adapter; an org past a quota is
    refused QUOTA_EXCEEDED by every adapter, and another org is not."""
    adapter: Adapter = _adapter(request, name)
    _events()  # what earlier cases left
    assert adapter.admitted(attack("own", adapter.profile))
    assert not adapter.admitted(attack("revoked", adapter.profile))
    deadline = time.monotonic() + 5
    seen: list[tuple[str, str | None, dict[str, Any] | None]] = []
    while not any(k == "refused" for k, _, _ in seen) and time.monotonic() < deadline:
        seen += _events()
        time.sleep(0.05)
    started = ("started", "org_a") in {(k, o) for k, o, _ in seen}
    assert started is (name not in STATELESS), (name, seen)  # an HLS request is no session
    assert ("refused", "org_a", {"code": "INVALID_TOKEN"}) in seen, (name, seen)
    BLOCKED["org_a"] = "session minutes"
    for gate in GATES:
        assert gate.quotas is not None
        gate.quotas.replace({}, BLOCKED)
    try:
        assert not adapter.admitted(attack("own", adapter.profile)), name
        after = _events()
        refusals = [d for k, o, d in after if k == "refused" and o == "org_a"]
        assert {"code": "QUOTA_EXCEEDED"} in refusals, (name, after)
    finally:
        BLOCKED.clear()
        for gate in GATES:
            assert gate.quotas is not None
            gate.quotas.replace({}, {})
