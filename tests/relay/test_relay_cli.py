"""``relaypass relay`` configured from the environment, answering its startup facts in JSON."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import moq

from relaypass import Key
from tests._net import free_port
from tests.relay.test_moq_relay import Publisher, receive
from tests.relay.test_system import process


def test_relay_takes_its_options_from_the_environment_and_prints_json(tmp_path: Path) -> None:
    key_file = tmp_path / "public.jwk"
    Key.generate("EdDSA", kid="env").save(key_file, private=False)
    port = free_port()
    env = {
        **os.environ,
        "RELAYPASS_KEY": str(key_file),
        "RELAYPASS_PUBLIC": "demo",
        "RELAYPASS_RELAY_BIND": f"127.0.0.1:{port}",
        "RELAYPASS_TLS_GENERATE": "localhost",
    }
    for name in ("RELAYPASS_REDIS_URL", "RELAYPASS_JWKS_URL", "RELAYPASS_KEY_DIR"):
        env.pop(name, None)
    with process(["relay", "--json"], env, tmp_path / "relay.log") as proc:
        assert proc.stdout is not None
        facts = json.loads(proc.stdout.readline())
        assert facts["listen"] == f"127.0.0.1:{port}"
        assert len(facts["fingerprints"]) == 1
        assert len(facts["fingerprints"][0].replace(":", "")) == 64
        assert facts["url"] == f"https://localhost:{port}/<root>?jwt=<token>"

        async def anonymous_on_the_public_prefix() -> list[bytes]:
            base = f"https://127.0.0.1:{port}/demo"
            async with (
                moq.Client(base, tls_verify=False, reconnect=False) as pub,
                moq.Client(base, tls_verify=False, reconnect=False) as sub,
            ):
                publisher = Publisher(pub, "cam")
                try:
                    return await receive(sub, "cam", count=2)
                finally:
                    publisher.stop()

        frames = asyncio.run(asyncio.wait_for(anonymous_on_the_public_prefix(), 30))
        assert frames[0].startswith(b"frame ")
