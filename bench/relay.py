"""What per-path scoping costs: the token-gated MoqRelay against moq-rs's own unscoped Server.

Same machine, same loop, real QUIC on loopback, one publisher and S subscribers.
* latency: one 1 KiB frame per group at 100 Hz, publisher write -> subscriber read (p50/p99);
* throughput: one group of 2,000 x 1 KiB frames written at once, until the last one is read.

Run: .venv/bin/python bench/relay.py
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import moq

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).parent))
from _timing import sized
from relaypass import Key, KeySet, sign_jwt
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.moq_relay import MoqRelay

FRAME = 1024
LATENCY_FRAMES = sized(300, 10)
BURST = sized(2000, 50)

Target = Callable[[], AbstractAsyncContextManager[str]]


@asynccontextmanager
async def plain_server() -> AsyncIterator[str]:
    async with moq.Server("127.0.0.1:0", tls_generate=["localhost"]) as server:
        task = asyncio.create_task(server.serve())
        yield f"https://{server.local_addr}/bench"
        task.cancel()


def gated(key: Key) -> Target:
    token = sign_jwt({"root": "bench", "put": [""], "get": [""]}, key)

    @asynccontextmanager
    async def run() -> AsyncIterator[str]:
        gate = Gate(StaticKeySource(KeySet([key.public()])), profile="moq")
        async with MoqRelay(gate, bind="127.0.0.1:0") as relay:
            yield f"https://{relay.local_addr}/bench?jwt={token}"

    return run


def client(url: str) -> moq.Client:
    return moq.Client(url, tls_verify=False, reconnect=False)


async def _subscribers(url: str, count: int) -> tuple[list[moq.Client], list[moq.TrackConsumer]]:
    clients, tracks = [], []
    for _ in range(count):
        sub = client(url)
        await sub.__aenter__()  # type: ignore[no-untyped-call]
        broadcast = await asyncio.wait_for(sub.announced_broadcast("feed"), 5)
        tracks.append(await broadcast.subscribe_track("data"))
        clients.append(sub)
    return clients, tracks


async def latency(url: str, subscribers: int) -> tuple[float, float]:
    samples: list[float] = []
    async with client(url) as pub:
        broadcast = pub.create_broadcast("feed")
        track = broadcast.publish_track("data")
        broadcast.announce()
        clients, tracks = await _subscribers(url, subscribers)
        track.write_frame(struct.pack(">q", 0) + bytes(FRAME - 8), 0)  # warm the path

        async def read(consumer: moq.TrackConsumer) -> None:
            while True:
                frame = await consumer.read_frame()
                if frame is None:
                    return
                (sent,) = struct.unpack(">q", frame.payload[:8])
                if sent:
                    samples.append((time.perf_counter_ns() - sent) / 1e3)

        readers = [asyncio.create_task(read(t)) for t in tracks]
        await asyncio.sleep(0.2)
        for _ in range(LATENCY_FRAMES):
            track.write_frame(struct.pack(">q", time.perf_counter_ns()) + bytes(FRAME - 8), 0)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        for r in readers:
            r.cancel()
        for c in clients:
            await c.__aexit__(None, None, None)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def throughput(url: str, subscribers: int) -> float:
    async with client(url) as pub:
        broadcast = pub.create_broadcast("feed")
        track = broadcast.publish_track("data")
        broadcast.announce()
        clients, tracks = await _subscribers(url, subscribers)
        payload = bytes(FRAME)

        async def read_all(consumer: moq.TrackConsumer) -> float:
            group = await consumer.next_group()
            assert group is not None
            n = 0
            while n < BURST and (await group.read_frame()) is not None:
                n += 1
            return time.perf_counter()

        readers = [asyncio.create_task(read_all(t)) for t in tracks]
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        group = track.append_group()
        for _ in range(BURST):
            group.write_frame(payload, 0)
        group.finish()
        ends = await asyncio.wait_for(asyncio.gather(*readers), 60)
        for c in clients:
            await c.__aexit__(None, None, None)
    return BURST / (max(ends) - start)


async def main() -> None:
    key = Key.generate("EdDSA", kid="bench_relay")
    targets: dict[str, Target] = {"moq.Server (unscoped)": plain_server, "MoqRelay": gated(key)}
    print(f"frames of {FRAME} B; latency at 100 Hz x {LATENCY_FRAMES}; burst of {BURST}")
    header = f"{'subs':>4}  {'target':<22} {'p50 us':>9} {'p99 us':>9} {'frames/s':>10}"
    for subscribers in (1, 4):
        print(header)
        figures: dict[str, tuple[float, float, float]] = {}
        for name, target in targets.items():
            async with target() as url:
                p50, p99 = await latency(url, subscribers)
            async with target() as url:
                rate = await throughput(url, subscribers)
            figures[name] = (p50, p99, rate)
            print(f"{subscribers:>4}  {name:<22} {p50:>9.0f} {p99:>9.0f} {rate:>10.0f}")
        base, ours = figures["moq.Server (unscoped)"], figures["MoqRelay"]
        print(
            f"{subscribers:>4}  {'ratio (ours/peer)':<22} {ours[0] / base[0]:>9.2f} "
            f"{ours[1] / base[1]:>9.2f} {ours[2] / base[2]:>10.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
