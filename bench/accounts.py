"""Service-account revocation (seed 001/003): RevokeServiceAccount -> closed on every gate.

4 gate processes (profile ``service_account``) follow one Redis that this benchmark
starts; each holds a live session authenticated with the tenant's key. The control
plane's store revokes (org, tenant, kid) and its outbox relay publishes; each gate
reports when its session closed. A second tenant with the same kid name is checked
to stay connected. Prints p50/p99 beside the 50 ms target.

Run: .venv/bin/python bench/accounts.py [trials]
"""

from __future__ import annotations

import json
import multiprocessing as mp
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port, start_redis
from _timing import sized
from relaypass import Key
from relaypass._apikeys import ApiKeyHasher
from relaypass.gate.config import GateOptions, build_gate
from relaypass.profiles.service_account import ServiceAccountCredentials
from relaypass.server.db.store import Store, make_engine
from relaypass.server.outbox import OutboxRelay
from relaypass.server.publish import RedisPublisher
from relaypass.server.secrets import KeyEncryptionKey
from revocation import pct

GATES = sized(4, 2)
TARGET_MS = 50.0


def gate_process(url: str, prefix: str, conn: Connection) -> None:
    gate, stop = build_gate(
        GateOptions(profile="service_account", redis_url=url, redis_prefix=prefix)
    )
    closed_at: list[float] = []
    gate.on_close = lambda _s, _r: closed_at.append(time.time())
    conn.send("ready")
    while True:
        tokens = conn.recv()
        if tokens is None:
            break
        closed_at.clear()
        target_token, bystander_token = tokens
        deadline = time.monotonic() + 10
        while True:
            try:
                target = gate.connect(target_token)
                bystander = gate.connect(bystander_token)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
        conn.send("connected")
        while target.open:
            time.sleep(0.0005)
        conn.send((closed_at[0], bystander.open))
        bystander.close()
    stop()


def credentials(tenant: str, key: Key) -> ServiceAccountCredentials:
    return ServiceAccountCredentials.parse(
        json.dumps(
            {"tenant_id": tenant, "private_key_id": key.kid,
             "private_key": key.to_pem(private=True).decode()}
        )
    )  # fmt: skip


def run_trials(
    store: Store, relay: OutboxRelay, org: str, pipes: list[Connection], trials: int
) -> tuple[list[float], int]:
    """Per trial: two tenants, one kid name; revoke one; ms to each gate's cut."""
    latencies: list[float] = []
    bystanders_kept = 0
    for trial in range(trials):
        kid = f"kid-{trial}"  # the same kid name in both tenants
        keys = {t: Key.generate("RS256", kid=kid) for t in ("acme", "globex")}
        for tenant, key in keys.items():
            store.publish_service_account(
                org, tenant, kid, key.to_pem().decode(), role="sdk", expires_at_ms=0,
                actor="bench",
            )  # fmt: skip
        relay.flush()
        tokens = tuple(credentials(t, keys[t]).sign() for t in ("acme", "globex"))
        for pipe in pipes:
            pipe.send(tokens)
        for pipe in pipes:
            assert pipe.recv() == "connected"
        sent = time.time()
        store.revoke_service_account(org, "acme", kid, actor="bench")
        relay.flush()
        for pipe in pipes:
            closed, kept = pipe.recv()
            latencies.append((closed - sent) * 1000)
            bystanders_kept += int(kept)
    return latencies, bystanders_kept


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    workdir = tempfile.mkdtemp(prefix="relaypass-bench-")
    port = free_port()
    server = start_redis(port, workdir)
    url, prefix = f"redis://127.0.0.1:{port}/0", f"bench-{secrets.token_hex(4)}"
    store = Store(
        make_engine(f"sqlite:///{workdir}/relaypass.db"),
        kek=KeyEncryptionKey(secrets.token_bytes(32)),
        hasher=ApiKeyHasher(secrets.token_bytes(32)),
    )
    store.migrate()
    org = store.create_org("bench", namespaces=[""]).id
    for tenant in ("acme", "globex"):
        store.create_tenant(org, tenant, tenant, actor="bench")
    publisher = RedisPublisher(url, prefix=prefix)
    relay = OutboxRelay(store, publisher, log=_Quiet())
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
    latencies, bystanders_kept = run_trials(store, relay, org, pipes, trials)
    for pipe in pipes:
        pipe.send(None)
    for proc in procs:
        proc.join(timeout=10)
    publisher.close()
    store.close()
    server.terminate()
    server.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)
    p50, p99 = statistics.median(latencies), pct(latencies, 0.99)
    print(f"{GATES} gate processes, {trials} RevokeServiceAccount calls, {len(latencies)} cuts")
    print(f"{'revoke -> closed (ms)':24}{'p50':>8}{'p99':>8}   target p99 {TARGET_MS:.0f}")
    print(f"{'':24}{p50:8.1f}{p99:8.1f}   ratio {p99 / TARGET_MS:.2f}")
    print(f"same kid name, other tenant: {bystanders_kept}/{len(latencies)} sessions kept")


class _Quiet:
    def info(self, *_: object, **__: object) -> None:
        return

    warning = info


if __name__ == "__main__":
    main()
