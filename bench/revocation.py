"""Revocation propagation: control-plane call -> every gate has ended the session.

8 gate processes follow one Redis (RELAYPASS_BENCH_REDIS_URL, default
redis://127.0.0.1:6379/0), each holding a live session for the trial's key.
The control plane's publisher revokes the key; each gate reports when its
session closed. Prints the median and p99 over all gates and trials.

Run: .venv/bin/python bench/revocation.py [trials]
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import statistics
import sys
import time
from multiprocessing.connection import Connection

from relaypass import Key, KeySet, decode_unverified
from relaypass.gate import Gate, RedisKeySource
from relaypass.profiles.relay import RelayMinter
from relaypass.server.publish import RedisPublisher

GATES = 8


def gate_process(url: str, prefix: str, conn: Connection) -> None:
    source = RedisKeySource(url, prefix=prefix, start=False)
    closed_at: list[float] = []
    gate = Gate(source, on_close=lambda _s, _r: closed_at.append(time.time()))
    source.on_revoke = gate.apply_revocation
    source.start()
    source.wait_ready()
    conn.send("ready")
    while True:
        token = conn.recv()
        if token is None:
            break
        closed_at.clear()
        kid, _ = decode_unverified(token)
        while not source.learn(str(kid)):
            time.sleep(0.001)
        session = gate.connect(token)
        conn.send("connected")
        while session.open:
            time.sleep(0.0005)
        conn.send(closed_at[0])
    source.close()


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    url = os.environ.get("RELAYPASS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"relaypass-bench-{secrets.token_hex(4)}"
    publisher = RedisPublisher(url, prefix=prefix)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(GATES):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=gate_process, args=(url, prefix, child), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        assert pipe.recv() == "ready"
    latencies: list[float] = []
    for trial in range(trials):
        key = Key.generate("EdDSA", kid=f"rk_bench_{trial}")
        publisher.publish_keyset(KeySet([key.public()]))
        token = RelayMinter(key).mint("tenant_bench", ["a/*"])
        for pipe in pipes:
            pipe.send(token)
        for pipe in pipes:
            assert pipe.recv() == "connected"
        sent = time.time()
        publisher.publish_revocation("kid", key.kid)
        latencies.extend((pipe.recv() - sent) * 1000 for pipe in pipes)
    for pipe in pipes:
        pipe.send(None)
    for proc in procs:
        proc.join(timeout=10)
    publisher.close()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{GATES} gate processes, {trials} revocations, {len(latencies)} session cutoffs")
    median = statistics.median(latencies)
    print(f"median {median:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms")
    print("worst case if the pub/sub message is lost: one refresh interval (30 s by default)")


if __name__ == "__main__":
    main()
