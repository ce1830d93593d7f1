"""A fleet: revocation -> cut among 100,000 sessions, on a Redis Cluster and on one Redis.

For each topology, in one run (a Redis Cluster of 3 primaries and 3 replicas, then
one redis-server; both started here on loopback):

- 3 control-plane replicas (`relaypass serve`, one PostgreSQL database);
- 20 gate processes, each holding 5,000 sessions (100,000 in all);
- 2 `relaypass moq-auth serve` replicas with 2 relay doubles (moq-relay's side of
  the auth contract, as in `bench/moq_auth_fleet.py`) holding 1,000 sessions.

Measured: the time from the control-plane call (a replica answering it) to each
affected session's cut — one token (`jti`, 100 sessions on one gate), one
signing key (`kid`, 250 sessions on every gate), one org of 10,000 sessions
(disabled: 500 on every gate), one moq session (the relay double closing it) —
as p50/p99 over the sessions cut; Redis CPU (all nodes) and commands per second
while the fleet idles with every session live and while it connects; memory per
gate process. Then the same figures on one Redis, and the ratio.

The whole fleet shares this machine's cores with Redis and the control planes, so
absolute times are this machine's; the ratio is what carries. It takes about
three minutes on 2 cores.

Run: .venv/bin/python bench/fleet.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))
from _servers import free_port, start_redis, stop
from _timing import sized
from moq_auth_fleet import RelayDouble, auth_server, percentile
from relaypass import b64encode, decode_unverified
from relaypass.client import Client
from relaypass.gate.config import GateOptions, build_gate

GATES = sized(20, 2)
PER_GATE = sized(5_000, 60)
ORG_PER_GATE = sized(500, 10)  # one org of 10,000 sessions
KID_PER_GATE = sized(250, 5)
JTI_SESSIONS = sized(100, 5)
MOQ_SESSIONS = sized(1_000, 8)
MOQ_SAMPLES = sized(20, 2)
REPLICAS = sized(3, 1)
AUTH_SERVERS = sized(2, 1)
IDLE_SECONDS = sized(5.0, 0.5)
PG = os.environ.get("RELAYPASS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:  # noqa: PTH123 - a proc file
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def gate_process(url: str, prefix: str, node: str, conn: Connection) -> None:
    """One gate: opens the sessions it is given, then reports when groups of them are cut."""
    gate, stop_gate = build_gate(GateOptions(redis_url=url, redis_prefix=prefix, node=node))
    group_of: dict[int, str] = {}
    closed: dict[str, list[float]] = defaultdict(list)
    gate.on_close = lambda session, _reason: closed[group_of.get(id(session), "")].append(
        time.time()
    )
    conn.send(rss_bytes())
    plan: list[tuple[str, str, str, str, int]] = conn.recv()  # group, kid, token, ns, count
    before = rss_bytes()
    kept = []
    for group, kid, token, ns, count in plan:
        deadline = time.monotonic() + 30
        while not gate.keys.learn(kid):
            assert time.monotonic() < deadline, "the key set never arrived"
            time.sleep(0.05)
        for i in range(count):
            session = gate.connect(token, f"{ns}/s{i}")
            group_of[id(session)] = group
            kept.append(session)
    conn.send((rss_bytes() - before, rss_bytes(), len(kept)))
    while (ask := conn.recv()) is not None:
        group, expected, timeout = ask
        deadline = time.monotonic() + timeout
        while len(closed[group]) < expected and time.monotonic() < deadline:
            time.sleep(0.002)
        conn.send(list(closed[group]))
    stop_gate()


class RedisMeter:
    """CPU seconds and commands of every node of a Redis, between two readings."""

    def __init__(self, ports: list[int]) -> None:
        self.clients = [redis.Redis(port=p, socket_timeout=5) for p in ports]

    def read(self) -> tuple[float, int, float]:
        cpu, commands = 0.0, 0
        for client in self.clients:
            with contextlib.suppress(redis.RedisError):
                info = client.info("all")
                cpu += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
                commands += int(info["total_commands_processed"])
        return cpu, commands, time.monotonic()

    @staticmethod
    def rate(start: tuple[float, int, float], end: tuple[float, int, float]) -> tuple[float, float]:
        """Share of one core, commands per second."""
        wall = max(end[2] - start[2], 1e-9)
        return (end[0] - start[0]) / wall, (end[1] - start[1]) / wall

    def close(self) -> None:
        for client in self.clients:
            client.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"relaypass_fleet_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def control_planes(redis_url: str, prefix: str, work: Path) -> Iterator[tuple[list[str], str]]:
    """Three replicas on one database: their addresses and the first org's admin key."""
    with postgres_database() as database, ExitStack() as stack:
        env = {**os.environ, "RELAYPASS_DATABASE_URL": database, "RELAYPASS_REDIS_URL": redis_url,
               "RELAYPASS_REDIS_PREFIX": prefix,
               "RELAYPASS_KEK": b64encode(secrets.token_bytes(32)),
               "RELAYPASS_API_KEY_PEPPER": b64encode(secrets.token_bytes(32)),
               "RELAYPASS_KEY_PROPAGATION_SECONDS": "0", "RELAYPASS_MINT_RATE_PER_MINUTE": "0",
               "RELAYPASS_DATA_DIR": str(work / "boot")}  # fmt: skip
        boot = subprocess.run(
            [sys.executable, "-m", "relaypass", "admin", "bootstrap", "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        key = json.loads(boot.stdout)["apiKey"]
        bases = []
        for n in range(REPLICAS):
            port = free_port()
            proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "relaypass", "serve", "--port", str(port)],
                env={**env, "RELAYPASS_DATA_DIR": str(work / f"cp{n}")},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            stack.callback(stop, proc)
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            _wait(lambda b=base: _healthy(b))  # type: ignore[misc]
        yield bases, key


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            msg = "not in time"
            raise RuntimeError(msg)
        time.sleep(0.05)


@contextmanager
def topology(kind: str, work: Path) -> Iterator[tuple[str, list[int]]]:
    """A Redis of this kind: its URL and the ports of its nodes."""
    if kind == "cluster":
        # Imported here: the spawned gate processes import this module and need none of it.
        from tests._cluster import running_cluster  # noqa: PLC0415

        with running_cluster(work / "cluster") as cluster:
            yield cluster.url, list(cluster.ports)
        return
    port = free_port()
    proc = start_redis(port, str(work))
    try:
        yield f"redis://127.0.0.1:{port}/0", [port]
    finally:
        proc.terminate()
        proc.wait(10)


def run_fleet(kind: str) -> dict[str, float]:  # noqa: PLR0915 - one fleet's life, in order
    work = Path(tempfile.mkdtemp(prefix=f"relaypass-fleet-{kind}-"))
    prefix = "fleet"
    figures: dict[str, float] = {}
    ctx = mp.get_context("spawn")
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        url, ports = stack.enter_context(topology(kind, work))
        meter = RedisMeter(ports)
        stack.callback(meter.close)
        bases, key = stack.enter_context(control_planes(url, prefix, work))
        admins = [stack.enter_context(Client(b, api_key=key)) for b in bases]
        operator = admins[0]
        operator.streams.signing_keys.create(label="main")
        big = operator.orgs.create(name="Big", namespaces=["big"])
        other = operator.orgs.create(name="Other", namespaces=["oth"])
        big_client = stack.enter_context(Client(bases[1 % REPLICAS], api_key=big.admin_key.key))
        other_client = stack.enter_context(Client(bases[2 % REPLICAS],
                                                  api_key=other.admin_key.key))  # fmt: skip
        big_client.streams.signing_keys.create(label="main")
        other_kid = other_client.streams.signing_keys.create(label="main").id

        def mint(client: Client, ns: str) -> tuple[str, str]:
            minted = client.tokens.relay.mint(ns=[f"{ns}/**"])
            return minted.kid, minted.token

        plans: list[list[tuple[str, str, str, str, int]]] = []
        for g in range(GATES):
            plan = []
            rest = PER_GATE - ORG_PER_GATE - KID_PER_GATE
            if g == 0:
                plan.append(("jti", *mint(admins[g % REPLICAS], "live"), "live", JTI_SESSIONS))
                rest -= JTI_SESSIONS
            plan.append(("org", *mint(big_client, "big"), "big", ORG_PER_GATE))
            plan.append(("kid", *mint(other_client, "oth"), "oth", KID_PER_GATE))
            plan.append(("rest", *mint(admins[g % REPLICAS], "live"), "live", rest))
            plans.append(plan)
        jti = decode_unverified(plans[0][0][2])[1]["jti"]

        pipes, procs = [], []
        for g in range(GATES):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=gate_process, args=(url, prefix, f"gate-{g}", child),
                               daemon=True)  # fmt: skip
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        stack.callback(_end_gates, pipes, procs)
        base_rss = [pipe.recv() for pipe in pipes]
        before = meter.read()
        started = time.monotonic()
        for pipe, plan in zip(pipes, plans, strict=True):
            pipe.send(plan)
        connected = [pipe.recv() for pipe in pipes]
        connect_seconds = time.monotonic() - started
        cpu, ops = RedisMeter.rate(before, meter.read())
        live = sum(c[2] for c in connected)
        figures["sessions"] = live
        figures["connects/s (whole fleet)"] = live / connect_seconds
        figures["Redis CPU while connecting (% core)"] = cpu * 100
        figures["Redis commands/s while connecting"] = ops
        figures["gate RSS, MB (mean)"] = sum(c[1] for c in connected) / len(connected) / 2**20
        figures["gate RSS at start, MB (mean)"] = sum(base_rss) / len(base_rss) / 2**20
        figures["bytes per session (RSS growth)"] = sum(c[0] for c in connected) / live

        # moq auth servers and their relays, on the same Redis.
        relay_ports = {f"relay-{n}": free_port() for n in range(2)}
        auth_urls = [stack.enter_context(auth_server(url, prefix, free_port(), relay_ports, 120))
                     for _ in range(AUTH_SERVERS)]  # fmt: skip
        relays = [RelayDouble(name, port, auth_urls, 120) for name, port in relay_ports.items()]
        for relay in relays:
            relay.start()
            stack.callback(relay.stop)
        moq_tokens = [operator.tokens.moq.mint(root=f"m/u{i}", publish=[""], subscribe=[""]).token
                      for i in range(MOQ_SESSIONS)]  # fmt: skip
        _connect_moq(relays, moq_tokens)

        idle = meter.read()
        time.sleep(IDLE_SECONDS)
        cpu, ops = RedisMeter.rate(idle, meter.read())
        figures["Redis CPU, fleet idle (% core)"] = cpu * 100
        figures["Redis commands/s, fleet idle"] = ops

        cuts: dict[str, list[float]] = {}
        sent = time.time()
        admins[1 % REPLICAS].tokens.revoke(jti=str(jti))
        cuts["jti"] = _collect(pipes[:1], "jti", JTI_SESSIONS, sent)
        sent = time.time()
        other_client.streams.signing_keys.revoke(id=other_kid)
        cuts["kid"] = _collect(pipes, "kid", KID_PER_GATE, sent)
        sent = time.time()
        admins[2 % REPLICAS].orgs.disable(org_id=big.org_id)
        cuts["org"] = _collect(pipes, "org", ORG_PER_GATE, sent)
        cuts["moq"] = []
        for i in range(MOQ_SAMPLES):  # one at a time: each its own revocation
            relay, session_id = relays[i % len(relays)], f"{i:032x}"
            started_pc = time.perf_counter()
            admins[i % REPLICAS].tokens.revoke(jti=str(decode_unverified(moq_tokens[i])[1]["jti"]))
            _wait(lambda r=relay, s=session_id: s in r.closed, timeout=30)  # type: ignore[misc]
            cuts["moq"].append((relay.closed[session_id] - started_pc) * 1000)
        for name, values in cuts.items():
            figures[f"cut {name} p50 (ms)"] = percentile(values, 0.5)
            figures[f"cut {name} p99 (ms)"] = percentile(values, 0.99)
            figures[f"cut {name} sessions"] = len(values)
    return figures


def _connect_moq(relays: list[RelayDouble], tokens: list[str]) -> None:
    async def one(relay: RelayDouble, i: int, jwt: str) -> None:
        await relay.connect({"id": f"{i:032x}", "event": "connect", "node": relay.name,
                             "transport": "quic", "path": f"/m/u{i}", "query": f"jwt={jwt}",
                             "remote": f"198.51.100.{i % 250}:4433"})  # fmt: skip

    async def batch(relay: RelayDouble, items: list[tuple[int, str]]) -> None:
        for i, jwt in items:
            await one(relay, i, jwt)

    futures = [asyncio.run_coroutine_threadsafe(
        batch(relay, [(i, t) for i, t in enumerate(tokens) if i % len(relays) == n]), relay.loop)
        for n, relay in enumerate(relays)]  # fmt: skip
    for future in futures:
        future.result(600)


def _collect(pipes: list[Connection], group: str, expected: int, sent: float) -> list[float]:
    for pipe in pipes:
        pipe.send((group, expected, 30.0))
    cuts: list[float] = []
    for pipe in pipes:
        closed = pipe.recv()
        if len(closed) < expected:
            msg = f"{group}: a gate cut {len(closed)} of {expected} sessions in 30 s"
            raise RuntimeError(msg)
        cuts.extend((t - sent) * 1000 for t in closed)
    return cuts


def _end_gates(pipes: list[Connection], procs: Sequence[mp.process.BaseProcess]) -> None:
    for pipe in pipes:
        with contextlib.suppress(OSError, BrokenPipeError):
            pipe.send(None)
    for proc in procs:
        proc.join(timeout=20)
        if proc.is_alive():
            proc.kill()


def main() -> None:
    results = {}
    for kind in ("cluster", "single"):
        print(f"fleet on {kind} Redis ...", file=sys.stderr, flush=True)
        results[kind] = run_fleet(kind)
    cluster, single = results["cluster"], results["single"]
    print(f"{GATES} gate processes x {PER_GATE} sessions, {REPLICAS} control-plane replicas "
          f"(PostgreSQL), {AUTH_SERVERS} moq auth servers with {MOQ_SESSIONS} relay sessions; "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'':42}{'Redis Cluster':>15}{'one Redis':>12}{'ratio':>8}")
    for name in cluster:
        a, b = cluster[name], single[name]
        ratio = f"{a / b:.2f}" if b else "-"
        print(f"{name:42}{a:>15.1f}{b:>12.1f}{ratio:>8}")


if __name__ == "__main__":
    main()
