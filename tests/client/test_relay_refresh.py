"""A MoQ session kept alive across three 5 s token lifetimes through the relay's refresh channel.

The publisher's moq tokens come from the control plane through the SDK's
provider, which writes each fresh one on the session's refresh track. A
subscriber on another session keeps receiving the publisher's frames for more
than three lifetimes: the publisher was never cut and never reconnected.
"""

from __future__ import annotations

import asyncio
import time

import moq

from relaypass.client import AsyncClient
from relaypass.gate import Gate, JwksUrlKeySource
from relaypass.gate.adapters.moq_relay import MoqRelay, RefreshChannel
from tests.client.conftest import Served

LIFETIME = 5
TIMEOUT = 5.0


def test_moq_session_outlives_three_token_lifetimes(served: Served) -> None:
    async def go() -> tuple[int, float, int]:
        keys = JwksUrlKeySource(f"{served.url}/.well-known/jwks.json", min_age=0.0)
        try:
            return await session(Gate(keys, profile="moq"))
        finally:
            keys.close()

    async def session(gate: Gate) -> tuple[int, float, int]:
        async with (
            MoqRelay(gate, bind="127.0.0.1:0") as relay,
            AsyncClient(served.url, api_key=served.key) as client,
        ):
            provider = client.providers.moq(root="demo", publish=["alice"], ttl_seconds=LIFETIME)
            viewer = await client.tokens.moq.mint(
                org_id=served.org, root="demo", subscribe=["alice"], ttl_seconds=60
            )
            base = f"https://{relay.local_addr}/demo"
            publisher = moq.Client(
                f"{base}?jwt={await provider.token()}", tls_verify=False, reconnect=False
            )
            subscriber = moq.Client(f"{base}?jwt={viewer.token}", tls_verify=False, reconnect=False)
            async with publisher as pub, subscriber as sub:
                channel = RefreshChannel(pub)
                refresher = asyncio.create_task(provider.keep_fresh(channel.send))
                broadcast = pub.create_broadcast("alice")
                track = broadcast.publish_track("data")
                broadcast.announce()
                announced = await asyncio.wait_for(sub.announced_broadcast("alice"), TIMEOUT)
                reader = await announced.subscribe_track("data")
                started = time.monotonic()
                received = 0
                n = 0
                try:
                    while time.monotonic() - started < 3 * LIFETIME + 1:
                        n += 1
                        track.write_frame(b"frame %d" % n, n)
                        frame = await asyncio.wait_for(reader.read_frame(), TIMEOUT)
                        assert frame is not None
                        received += 1
                        await asyncio.sleep(0.05)
                finally:
                    refresher.cancel()
                    channel.close()
                return received, time.monotonic() - started, relay.connections

    received, elapsed, admitted = asyncio.run(asyncio.wait_for(go(), 60))
    assert elapsed > 3 * LIFETIME
    assert received > 100
    assert admitted == 2  # both sessions are the ones admitted at the start
