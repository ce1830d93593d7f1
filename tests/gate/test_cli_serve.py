"""``relaypass gate serve`` and ``relaypass relay`` as real processes.

The gate follows the control plane's Redis: keys published there verify,
and a revocation published there cuts a live stream at its next update.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import moq
import pytest

from relaypass import Key, KeySet, sign_jwt
from relaypass.server.publish import RedisPublisher
from tests._net import free_port, stop_process, wait_port

CLI = [sys.executable, "-m", "relaypass.cli"]


@contextmanager
def running(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [*CLI, *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=os.environ.copy()
        )
        try:
            yield proc
        finally:
            stop_process(proc, signal.SIGINT)


def form(**fields: str) -> dict[str, str]:
    base = {"call": "publish", "addr": "127.0.0.1", "clientid": "7", "app": "live", "name": "alice"}
    return base | fields


def test_gate_serve_follows_the_control_planes_redis(
    redis_server: str, redis_prefix: str, tmp_path: Path
) -> None:
    key = Key.generate("EdDSA", kid="cp_k1")
    publisher = RedisPublisher(redis_server, prefix=redis_prefix)
    publisher.publish_keyset(KeySet([key.public()]))
    port = free_port()
    argv = ["gate", "serve", "--redis-url", redis_server, "--redis-prefix", redis_prefix]
    log = tmp_path / "gate.log"
    token = sign_jwt(
        {"sub": "acme", "ns": ["live/alice"], "jti": "t-1", "exp": int(time.time()) + 600}, key
    )
    with running([*argv, "--port", str(port)], log), httpx.Client(timeout=5) as http:
        wait_port(port)
        url = f"http://127.0.0.1:{port}"
        assert http.post(f"{url}/rtmp/on_publish", data=form(jwt=token)).status_code == 200
        update = form(call="update_publish", jwt=token)
        assert http.post(f"{url}/rtmp/on_update", data=update).status_code == 200
        denied = http.post(f"{url}/rtmp/on_publish", data=form(name="bob", jwt=token))
        assert denied.status_code == 403
        assert denied.json() == {"code": "INVALID_PERMISSIONS"}

        publisher.publish_revocation("jti", "t-1")
        deadline = time.monotonic() + 5
        status = 200
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            status = http.post(f"{url}/rtmp/on_update", data=update).status_code
        assert status == 401

        # A key rotated in through Redis verifies without a restart.
        rotated = Key.generate("EdDSA", kid="cp_k2")
        publisher.publish_keyset(KeySet([key.public(), rotated.public()]))
        claims = {"sub": "acme", "ns": ["live/alice"], "exp": int(time.time()) + 60}
        fresh = sign_jwt(claims, rotated)
        ok = http.post(f"{url}/rtmp/on_publish", data=form(clientid="8", jwt=fresh))
        assert ok.status_code == 200
        assert http.get(f"{url}/healthz").json() == {"sessions": 1}
    publisher.close()
    assert token not in log.read_text()


def test_relay_command_admits_real_moq_clients(tmp_path: Path) -> None:
    key = Key.generate("EdDSA", kid="relay_cli")
    keys = tmp_path / "keys"
    keys.mkdir()
    key.public().save(keys / "relay_cli.jwk", private=False)
    port = free_port()
    argv = ["relay", "--key-dir", str(keys), "--bind", f"127.0.0.1:{port}"]
    token = sign_jwt({"root": "demo", "put": [""], "get": [""]}, key)

    async def exchange() -> bytes:
        base = f"https://127.0.0.1:{port}/demo"
        async with moq.Client(f"{base}?jwt={token}", tls_verify=False, reconnect=False) as pub:
            broadcast = pub.create_broadcast("clock")
            track = broadcast.publish_track("seconds")
            broadcast.announce()
            async with moq.Client(f"{base}?jwt={token}", tls_verify=False, reconnect=False) as sub:
                consumer = await asyncio.wait_for(sub.announced_broadcast("clock"), 5)
                reader = await consumer.subscribe_track("seconds")
                for n in range(20):
                    track.write_frame(b"tick %d" % n, n)
                    try:
                        frame = await asyncio.wait_for(reader.read_frame(), 0.2)
                    except TimeoutError:
                        continue
                    assert frame is not None
                    return bytes(frame.payload)
        pytest.fail("no frame came through the relay")

    with running(argv, tmp_path / "relay.log") as proc:
        deadline = time.monotonic() + 10
        while b"listening" not in (tmp_path / "relay.log").read_bytes():
            assert proc.poll() is None, (tmp_path / "relay.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        payload = asyncio.run(exchange())
    assert payload.startswith(b"tick ")
    assert token not in (tmp_path / "relay.log").read_text()


def test_relay_reads_moq_relays_config_file(tmp_path: Path) -> None:
    """``relay.toml`` as moq-relay writes it: [auth] keys/public, [server] listen and tls."""
    old, new = Key.generate("HS256", kid="v1"), Key.generate("HS256", kid="v2")
    old.save(tmp_path / "secret-v1.jwk")
    new.save(tmp_path / "secret-v2.jwk")
    port = free_port()
    (tmp_path / "relay.toml").write_text(
        '[log]\nlevel = "info"\n\n'  # moq-relay's own sections are ignored
        '[auth]\nkeys = ["secret-v1.jwk", "secret-v2.jwk"]\npublic = "demo"\n\n'
        f'[server]\nlisten = "127.0.0.1:{port}"\n\n'
        '[server.tls]\ngenerate = ["localhost"]\n'
    )
    log = tmp_path / "relay.log"
    private = sign_jwt({"root": "private", "get": [""]}, old)
    rotated = sign_jwt({"root": "private", "get": [""]}, new)

    async def admitted(url: str) -> bool:
        try:
            async with moq.Client(url, tls_verify=False, reconnect=False) as client:
                assert client.session is not None
                await asyncio.wait_for(client.session.closed(), 0.5)
        except TimeoutError:
            return True  # still open: admitted
        except moq.Error:
            return False
        return False

    with running(["relay", "--config", str(tmp_path / "relay.toml")], log) as proc:
        deadline = time.monotonic() + 10
        while b"ready: https://localhost" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert b"certificate sha256: " in log.read_bytes()
        base = f"https://127.0.0.1:{port}"
        assert asyncio.run(admitted(f"{base}/demo"))  # public: no token needed
        assert not asyncio.run(admitted(f"{base}/private"))  # refused without one
        assert asyncio.run(admitted(f"{base}/private?jwt={private}"))  # keys[0]
        assert asyncio.run(admitted(f"{base}/private?jwt={rotated}"))  # keys[1]
