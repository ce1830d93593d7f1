"""What per-path scoping costs: the token-gated MoqRelay against moq-rs's own unscoped Server.

Same machine, same loop, real QUIC on loopback, one publisher and S subscribers, three
targets: moq-rs's ``moq.Server`` (no tokens, no scopes: the reference), MoqRelay with a
scoped grant (the token may publish and read its own paths only: the case users run) and
MoqRelay with a grant of everything.
* latency: one 1 KiB frame per group at 100 Hz, publisher write -> subscriber read (p50/p99);
* throughput: bursts of 2,000 x 1 KiB frames, each written at once as one group, until the
  last frame is read (the median of the bursts).
Rounds alternate the targets (each round starts with the next one), and every figure is
the median of the rounds with its min..max; the ratio to the reference is taken per round.

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
BURSTS = sized(3, 1)
ROUNDS = sized(5, 1)
REFERENCE = "moq.Server (unscoped)"

Target = Callable[[], AbstractAsyncContextManager[str]]


@asynccontextmanager
async def plain_server() -> AsyncIterator[str]:
    async with moq.Server("127.0.0.1:0", tls_generate=["localhost"]) as server:
        task = asyncio.create_task(server.serve())
        yield f"https://{server.local_addr}/bench"
        task.cancel()


def gated(key: Key, *, scoped: bool) -> Target:
    own = ["feed", "feed-backup", "chat/room-1", "chat/room-2"]  # its own paths, not the tree
    paths = own if scoped else [""]
    token = sign_jwt({"root": "bench", "put": paths, "get": paths}, key)

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
    rates = []
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

        for _ in range(BURSTS):
            readers = [asyncio.create_task(read_all(t)) for t in tracks]
            await asyncio.sleep(0.2)
            start = time.perf_counter()
            group = track.append_group()
            for _ in range(BURST):
                group.write_frame(payload, 0)
            group.finish()
            ends = await asyncio.wait_for(asyncio.gather(*readers), 60)
            rates.append(BURST / (max(ends) - start))
        for c in clients:
            await c.__aexit__(None, None, None)
    return statistics.median(rates)


def spread(values: list[float], digits: int = 0) -> str:
    ordered = sorted(values)
    return (f"{ordered[len(ordered) // 2]:.{digits}f} "
            f"({ordered[0]:.{digits}f}..{ordered[-1]:.{digits}f})")  # fmt: skip


async def main() -> None:
    key = Key.generate("EdDSA", kid="bench_relay")
    targets: dict[str, Target] = {
        REFERENCE: plain_server,
        "MoqRelay, scoped grant": gated(key, scoped=True),
        "MoqRelay, grant of all": gated(key, scoped=False),
    }
    print(f"frames of {FRAME} B; latency at 100 Hz x {LATENCY_FRAMES}; {BURSTS} bursts of {BURST}; "
          f"{ROUNDS} rounds, targets alternated; median (min..max) of the rounds")  # fmt: skip
    names = list(targets)
    for subscribers in (1, 4):
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in names}
        for r in range(ROUNDS):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                async with targets[name]() as url:
                    p50, p99 = await latency(url, subscribers)
                async with targets[name]() as url:
                    rate = await throughput(url, subscribers)
                runs[name].append((p50, p99, rate))
        print(f"{subscribers} subscriber(s)")
        print(f"  {'target':<24} {'p50 us':>22} {'p99 us':>22} {'frames/s':>24}")
        for name in names:
            p50s, p99s, rates = ([g[k] for g in runs[name]] for k in range(3))
            print(f"  {name:<24} {spread(p50s):>22} {spread(p99s):>22} {spread(rates):>24}")
        base = runs[REFERENCE]
        for name in names[1:]:
            ours = runs[name]
            ratios = [[o[k] / b[k] for o, b in zip(ours, base, strict=True)] for k in range(3)]
            print(f"  {'ratio ' + name.removeprefix('MoqRelay, '):<24} "
                  f"{spread(ratios[0], 2):>22} {spread(ratios[1], 2):>22} "
                  f"{spread(ratios[2], 2):>24}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
