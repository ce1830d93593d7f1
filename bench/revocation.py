"""Revocation propagation: control-plane call -> every gate has ended the session.

8 gate processes follow one Redis (a redis-server this benchmark starts on a
free loopback port), each holding a live session for the trial's key.

1. Steady state: the control plane's publisher revokes the key; each gate
   reports when its session closed.
2. Redis restarts in the middle: Redis is SIGKILLed, the key is revoked through
   the control plane's store (the revocation waits in the outbox), and Redis
   is started again, empty. Measured from the moment Redis answers again to
   each gate's cut (the target is 2 s).

Prints median and p99 of both, side by side, in one run.

Run: .venv/bin/python bench/revocation.py [trials] [restarts]
"""

from __future__ import annotations

import multiprocessing as mp
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port, start_redis
from _timing import sized
from relaypass import Key, KeySet, decode_unverified
from relaypass._apikeys import ApiKeyHasher
from relaypass.gate import Gate, RedisKeySource
from relaypass.profiles.relay import RelayMinter
from relaypass.server.db.store import Store, make_engine
from relaypass.server.outbox import OutboxRelay
from relaypass.server.publish import RedisPublisher
from relaypass.server.secrets import KeyEncryptionKey

GATES = sized(8, 2)


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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def restart_phase(  # noqa: PLR0917 - the run's moving parts
    pipes: list[Connection],
    publisher: RedisPublisher,
    server: subprocess.Popen[bytes],
    port: int,
    workdir: str,
    restarts: int,
) -> tuple[list[float], subprocess.Popen[bytes]]:
    """Revocations made while Redis is down: ms from Redis back to each gate's cut."""
    store = Store(
        make_engine(f"sqlite:///{workdir}/relaypass.db"),
        kek=KeyEncryptionKey(secrets.token_bytes(32)),
        hasher=ApiKeyHasher(secrets.token_bytes(32)),
        key_propagation_seconds=0,
    )
    store.migrate()
    org = store.create_org("bench", namespaces=[""]).id
    relay = OutboxRelay(store, publisher, log=_Quiet())
    relay.start()
    restarted: list[float] = []
    for _ in range(restarts):
        kid = store.create_signing_key(org, "bench")["kid"]
        relay.flush()
        token = RelayMinter(store.active_signing_key(org)).mint("tenant_bench", ["a/*"])
        for pipe in pipes:
            pipe.send(token)
        for pipe in pipes:
            assert pipe.recv() == "connected"
        server.kill()
        server.wait()
        store.revoke_signing_key(org, kid)  # committed; waits in the outbox
        relay.notify()
        time.sleep(0.3)
        server = start_redis(port, workdir)
        back = time.time()
        restarted.extend((pipe.recv() - back) * 1000 for pipe in pipes)
    relay.close()
    store.close()
    return restarted, server


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    restarts = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    workdir = tempfile.mkdtemp(prefix="relaypass-bench-")
    port = free_port()
    server = start_redis(port, workdir)
    url = f"redis://127.0.0.1:{port}/0"
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
    steady = latencies
    restarted, server = restart_phase(pipes, publisher, server, port, workdir, restarts)
    for pipe in pipes:
        pipe.send(None)
    for proc in procs:
        proc.join(timeout=10)
    publisher.close()
    server.terminate()
    server.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"{GATES} gate processes; {trials} revocations steady, {restarts} across a Redis restart")
    print(f"{'':32}{'median':>10}{'p99':>10}{'max':>10}   target p99")
    print(
        f"{'steady state (ms)':32}{statistics.median(steady):10.1f}{pct(steady, 0.99):10.1f}"
        f"{max(steady):10.1f}   250"
    )
    print(
        f"{'after Redis returns, empty (ms)':32}{statistics.median(restarted):10.1f}"
        f"{pct(restarted, 0.99):10.1f}{max(restarted):10.1f}   2000"
        f"   (p99 ratio to target {pct(restarted, 0.99) / 2000:.2f})"
    )


class _Quiet:
    def info(self, *_: object, **__: object) -> None:
        return

    warning = info


if __name__ == "__main__":
    main()
