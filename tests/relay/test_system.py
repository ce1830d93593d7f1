"""The whole system, as separate processes: control plane -> Redis -> relay -> moq clients.

`relaypass serve` mints moq tokens and publishes its keys to Redis; `relaypass relay`
follows that Redis; real moq clients exchange frames through the relay; revoking the
signing key at the control plane ends the live session at the relay.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import moq
import pytest

from tests._net import free_port, stop_process, wait_port

CLI = [sys.executable, "-m", "relaypass.cli"]


@contextmanager
def process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("w") as err:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [*CLI, *argv], env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
    try:
        yield proc
    finally:
        stop_process(proc, timeout=15)


def wait_log(log: Path, text: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while text not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_control_plane_mints_relay_admits_and_revocation_cuts(
    redis_server: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "RELAYPASS_DATA_DIR": str(tmp_path / "data"),
        "RELAYPASS_REDIS_URL": redis_server,
        "RELAYPASS_REDIS_PREFIX": redis_prefix,
        "RELAYPASS_KEY_PROPAGATION_SECONDS": "0",
    }
    env.pop("RELAYPASS_DATABASE_URL", None)
    api_port, relay_port = free_port(), free_port()
    serve = ["serve", "--port", str(api_port)]
    relay = ["relay", "--redis-url", redis_server, "--redis-prefix", redis_prefix]
    relay += ["--bind", f"127.0.0.1:{relay_port}"]
    with process(serve, env, tmp_path / "serve.log") as control_plane:
        assert control_plane.stdout is not None
        admin_key = control_plane.stdout.readline().strip()
        wait_port(api_port)
        base = f"http://127.0.0.1:{api_port}"
        auth = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(base_url=base, headers=auth, timeout=10) as api:
            org = api.post("/rpc/auth.whoami").json()["orgId"]
            kid = api.post(
                "/rpc/streams.signingKeys.create", json={"orgId": org, "label": "relay"}
            ).json()["id"]

            def mint(**claims: object) -> str:
                body = {"orgId": org, "root": "show", "ttlSeconds": 600, **claims}
                response = api.post("/rpc/tokens.moq.mint", json=body)
                assert response.status_code == 200, response.text
                return str(response.json()["token"])

            publisher_token = mint(publish=["alice"])
            viewer_token = mint(subscribe=[""])

            with process(relay, env, tmp_path / "relay.log") as relay_proc:
                wait_log(tmp_path / "relay.log", "listening", relay_proc)
                cut_after = asyncio.run(
                    exchange_then_revoke(
                        f"https://127.0.0.1:{relay_port}/show",
                        publisher_token,
                        viewer_token,
                        lambda: api.post(
                            "/rpc/streams.signingKeys.revoke", json={"orgId": org, "id": kid}
                        ).raise_for_status(),
                    )
                )
    assert cut_after < 1.0
    for log in ("serve.log", "relay.log"):
        text = (tmp_path / log).read_text()
        assert publisher_token not in text
        assert viewer_token not in text
        assert admin_key not in text


async def exchange_then_revoke(
    url: str, publisher_token: str, viewer_token: str, revoke: Callable[[], object]
) -> float:
    async with moq.Client(f"{url}?jwt={publisher_token}", tls_verify=False, reconnect=False) as pub:
        broadcast = pub.create_broadcast("alice")
        track = broadcast.publish_track("video")
        broadcast.announce()
        async with moq.Client(
            f"{url}?jwt={viewer_token}", tls_verify=False, reconnect=False
        ) as viewer:
            consumer = await asyncio.wait_for(viewer.announced_broadcast("alice"), 10)
            reader = await consumer.subscribe_track("video")
            received = None
            for n in range(100):
                track.write_frame(b"frame %d" % n, n)
                try:
                    received = await asyncio.wait_for(reader.read_frame(), 0.1)
                except TimeoutError:
                    continue
                break
            assert received is not None
            assert received.payload.startswith(b"frame ")
            assert viewer.session is not None
            closed = asyncio.ensure_future(viewer.session.closed())
            started = time.monotonic()
            await asyncio.to_thread(revoke)
            with pytest.raises(moq.Error) as cut:
                await asyncio.wait_for(closed, 10)
            assert moq.is_auth(cut.value)
            return time.monotonic() - started
