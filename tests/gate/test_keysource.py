"""Key sources against real files and a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from relaypass import Key, KeySet, sign_jwt
from relaypass.gate import DirectoryKeySource, FileKeySource, Gate, JwksUrlKeySource
from relaypass.testing import FrozenClock
from tests.conftest import NOW


class JwksServer:
    """A tiny JWKS endpoint whose document, status and Cache-Control the test controls."""

    def __init__(self) -> None:
        self.document: dict[str, object] = {"keys": []}
        self.status = 200
        self.cache_control = "public, max-age=30"
        self.hits = 0
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                time.sleep(outer.delay)
                body = json.dumps(outer.document).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", outer.cache_control)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.stop()


class MonoClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_jwks_url_learns_a_new_kid_once_per_cooldown(jwks_server: JwksServer) -> None:
    old, new = Key.generate("EdDSA", kid="old"), Key.generate("EdDSA", kid="new")
    jwks_server.document = KeySet([old.public()]).to_jwks()
    mono = MonoClock()
    source = JwksUrlKeySource(jwks_server.url, cooldown_seconds=10, clock=mono)
    assert jwks_server.hits == 1
    gate = Gate(source, clock=FrozenClock(NOW))
    claims = {"sub": "t", "ns": ["a/*"], "exp": NOW + 60}
    assert gate.connect(sign_jwt(claims, old)).open
    # Unknown kid right after a fetch: no refetch inside the cooldown (negative cache).
    jwks_server.document = KeySet([old.public(), new.public()]).to_jwks()
    with pytest.raises(Exception, match="unknown kid"):
        gate.connect(sign_jwt(claims, new))
    assert jwks_server.hits == 1
    mono.t += 10
    assert gate.connect(sign_jwt(claims, new)).open
    assert jwks_server.hits == 2
    # A kid nobody has: at most one fetch per cooldown, however often it is tried.
    ghost = Key.generate("EdDSA", kid="ghost")
    mono.t += 10
    for _ in range(5):
        with pytest.raises(Exception, match="unknown kid"):
            gate.connect(sign_jwt(claims, ghost))
    assert jwks_server.hits == 3
    source.close()


def test_jwks_url_honours_max_age_and_keeps_keys_when_a_fetch_fails(
    jwks_server: JwksServer,
) -> None:
    key = Key.generate("EdDSA", kid="k")
    jwks_server.document = KeySet([key.public()]).to_jwks()
    jwks_server.cache_control = "max-age=60"
    mono = MonoClock()
    source = JwksUrlKeySource(jwks_server.url, clock=mono)
    mono.t += 59
    source.keyset()
    assert source.wait_idle()
    assert jwks_server.hits == 1
    mono.t += 2
    jwks_server.status = 500
    assert "k" in source.keyset()  # served at once while the refresh runs in the background
    assert source.wait_idle()
    assert "k" in source.keyset()  # refetch failed: the known key stays
    assert jwks_server.hits == 2
    jwks_server.document = {"keys": "garbage"}
    jwks_server.status = 200
    mono.t += 61
    assert "k" in source.keyset()
    assert source.wait_idle()
    assert "k" in source.keyset()
    source.close()


def test_directory_source_loads_kid_files_on_demand(tmp_path: Path) -> None:
    first = Key.generate("HS256", kid="v1")
    first.save(tmp_path / "v1.jwk")
    source = DirectoryKeySource(tmp_path, cooldown_seconds=0)
    gate = Gate(source, clock=FrozenClock(NOW))
    claims = {"sub": "t", "ns": ["a/*"], "exp": NOW + 60}
    assert gate.connect(sign_jwt(claims, first)).open
    second = Key.generate("HS256", kid="v2")
    second.save(tmp_path / "v2.jwk")  # rotation: drop the new key file in
    assert gate.connect(sign_jwt(claims, second)).grant.kid == "v2"
    assert not source.learn("../v1")
    assert not source.learn("v3")


def test_file_source_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "public.jwk"
    one = Key.generate("EdDSA", kid="one")
    one.save(path, private=False)
    source = FileKeySource(path)
    assert "one" in source.keyset()
    two = Key.generate("EdDSA", kid="two")
    (tmp_path / "jwks.json").write_text(json.dumps(KeySet([one.public(), two.public()]).to_jwks()))
    (tmp_path / "jwks.json").replace(path)
    assert source.learn("two")
    assert "one" in source.keyset()


def test_private_key_file_is_reduced_to_its_public_half(tmp_path: Path) -> None:
    path = tmp_path / "private.jwk"
    Key.generate("EdDSA", kid="p").save(path)
    key = FileKeySource(path).keyset().get("p")
    assert key is not None
    assert not key.can_sign


def test_a_slow_jwks_endpoint_never_holds_up_the_gate_service(jwks_server: JwksServer) -> None:
    """The old set keeps serving, and the event loop keeps answering, while a fetch runs."""
    import asyncio

    import httpx

    from relaypass.gate.adapters.http import create_gate_app
    from relaypass.profiles.relay import RelayMinter

    key = Key.generate("EdDSA", kid="slow")
    jwks_server.document = KeySet([key.public()]).to_jwks()
    mono = MonoClock()
    source = JwksUrlKeySource(jwks_server.url, clock=mono)
    app = create_gate_app(Gate(source))
    token = RelayMinter(key).mint("t", ["live/**"])
    jwks_server.delay = 2.0
    mono.t += 3600  # the set's max-age ran out: the next use starts a refresh

    async def body() -> tuple[float, float, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gate") as client:
            started = time.monotonic()
            hls = await client.get(
                "/auth/hls", headers={"X-Original-URI": f"/hls/{token}/live/a/index.m3u8"}
            )
            checked = time.monotonic() - started
            started = time.monotonic()
            await client.get("/healthz")
            return checked, time.monotonic() - started, hls.status_code

    checked, health, status = asyncio.run(body())
    assert status == 204  # served from the old set
    assert checked < 0.5
    assert health < 0.5
    assert source.wait_idle(10)
    source.close()


def test_several_key_files_are_all_used(tmp_path: Path) -> None:
    """moq-relay's ``keys = [...]``: ``--key a --key b`` keeps both, not the last one."""
    from relaypass.gate.config import GateOptions, build_gate

    first, second = Key.generate("HS256", kid="v1"), Key.generate("HS256", kid="v2")
    first.save(tmp_path / "v1.jwk")
    second.save(tmp_path / "v2.jwk")
    gate, stop = build_gate(
        GateOptions(profile="moq", key_files=(tmp_path / "v1.jwk", tmp_path / "v2.jwk"))
    )
    claims = {"root": "demo", "get": [""]}
    assert gate.connect(sign_jwt(claims, first), "demo").grant.kid == "v1"
    assert gate.connect(sign_jwt(claims, second), "demo").grant.kid == "v2"
    third = Key.generate("HS256", kid="v3")
    third.save(tmp_path / "v2.jwk")  # rotation by replacing a file
    assert gate.connect(sign_jwt(claims, third), "demo").grant.kid == "v3"
    stop()


def test_a_jwks_gate_without_traffic_is_ready_again_when_its_source_answers(
    jwks_server: JwksServer,
) -> None:
    """Behind a balancer that only routes to ready gates, readiness cannot wait for a connect."""
    from relaypass.gate.adapters.http import create_gate_app

    jwks_server.document = KeySet([Key.generate("EdDSA", kid="k1").public()]).to_jwks()
    jwks_server.cache_control = "max-age=0"
    source = JwksUrlKeySource(
        jwks_server.url, min_age=0.1, max_age=0.2, cooldown_seconds=0.1, background=True
    )
    app = create_gate_app(Gate(source), max_keyset_age_seconds=0.5)

    def ready() -> int:
        async def go() -> int:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return (await client.get("/readyz")).status_code

        return asyncio.run(go())

    def within(seconds: float, status: int) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready() == status:
                return True
            time.sleep(0.05)
        return False

    try:
        assert ready() == 200
        jwks_server.status = 500  # the control plane goes away: the set ages
        assert within(3, 503)
        jwks_server.status = 200  # it comes back; no connect reaches this gate
        assert within(3, 200)
    finally:
        source.close()
