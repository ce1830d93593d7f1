"""Revocation across a fleet: revoke -> push -> revalidate -> the relay closes the session.

Two `relaypass moq-auth serve` replicas share one Redis (keys, revocations and
the session table); four relay doubles, in this process, play moq-relay's side of
the contract: each holds its sessions, runs the internal listener the auth
servers push to, and on a push (or its cadence) POSTs `revalidate` to a replica,
closing the session on 401. Every session has a token of its own (distinct
`jti`, root and tenant path), spread over the relays and replicas.

Measured, in one run:
- **pushed**: the time from publishing a revocation to Redis (as the control
  plane does) to the relay closing that session, for a sample of sessions among
  all the live ones;
- **cadence only** (the reference): the same when no push arrives, which is how
  moq's own auth server works (it keeps no fleet state and pushes nothing; a
  relay learns at its next `revalidate`): the push is dropped and the relay's
  cadence timer finds it;
- the session table's Redis memory per live session and Redis commands per
  `connect`.

Every relay double revalidates each of its sessions on the cadence, as
moq-relay does: that traffic runs throughout the measurement. The doubles run in
this one Python process; at 10,000 sessions and the auth server's default 30 s
cadence (333 revalidates a second) they saturate its core on a 2-core machine,
so the default here is 120 s; the script prints its own CPU share.

Run: .venv/bin/python bench/moq_auth_fleet.py [sessions] [samples] [cadence_seconds]
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import redis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port, start_redis, stop
from relaypass import Key, KeySet, sign_jwt
from relaypass.server.publish import RedisPublisher

RELAYS = 4
REPLICAS = 2


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def auth_server(redis_url: str, prefix: str, port: int, nodes: dict[str, int],
                cadence: int) -> Iterator[str]:  # fmt: skip
    argv = [sys.executable, "-m", "relaypass", "moq-auth", "serve", "--redis-url", redis_url,
            "--redis-prefix", prefix, "--listen", f"127.0.0.1:{port}",
            "--revalidate", str(cadence),
            *(a for name, p in nodes.items()
              for a in ("--node", f"{name}=http://127.0.0.1:{p}"))]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                msg = "moq-auth serve did not come up"
                raise RuntimeError(msg)
            time.sleep(0.05)
        yield url
    finally:
        stop(proc)


class RelayDouble:
    """One relay node: its sessions, its internal listener, revalidate on push or cadence."""

    def __init__(self, name: str, port: int, replicas: list[str], cadence: float) -> None:
        self.name, self.port, self.replicas, self.cadence = name, port, replicas, cadence
        self.sessions: dict[str, dict[str, object]] = {}  # id -> connect body
        self.closed: dict[str, float] = {}  # id -> when the relay closed it (perf_counter)
        self.revalidations: list[float] = []  # ms per cadence revalidate
        self.drop_pushes: set[str] = set()
        self.timers: list[asyncio.Future[None]] = []
        self.loop = asyncio.new_event_loop()
        self.client: httpx.AsyncClient | None = None
        self._turn = 0

        async def push(request: Request) -> JSONResponse:
            session_id = request.query_params.get("id", "")
            if session_id in self.sessions and session_id not in self.drop_pushes:
                asyncio.get_running_loop().create_task(self.revalidate(session_id))
                return JSONResponse({"ids": [session_id]}, status_code=202)
            return JSONResponse({"ids": []})

        app = Starlette(routes=[Route("/sessions/revalidate", push, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="error", lifespan="off"))  # fmt: skip
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        # No pool deadline: under load a revalidate waits its turn, as a relay's would.
        timeout = httpx.Timeout(60.0, pool=None)
        self.client = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=32))
        self.in_flight = asyncio.Semaphore(32)
        self.loop.run_until_complete(self.server.serve())

    def start(self) -> None:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        for timer in self.timers:
            self.loop.call_soon_threadsafe(timer.cancel)
        self.server.should_exit = True
        self.thread.join(10)

    def _replica(self) -> str:
        self._turn += 1
        return self.replicas[self._turn % len(self.replicas)]

    async def connect(self, body: dict[str, object]) -> None:
        assert self.client is not None
        answer = await self.client.post(self._replica(), json=body)
        if answer.status_code != 200:
            msg = f"connect refused: {answer.status_code} {answer.text[:200]}"
            raise RuntimeError(msg)
        session_id = str(body["id"])
        self.sessions[session_id] = body
        self.timers.append(asyncio.ensure_future(self.cadence_timer(session_id)))

    async def revalidate(self, session_id: str) -> None:
        assert self.client is not None
        body = self.sessions[session_id] | {"event": "revalidate"}
        # At most as many in flight as the pool holds: httpx's pool scans its waiters on
        # every request, so thousands of them would burn this process's core, not the servers'.
        async with self.in_flight:
            answer = await self.client.post(self._replica(), json=body)
        if answer.status_code in {401, 403}:
            self.closed.setdefault(session_id, time.perf_counter())
            self.sessions.pop(session_id, None)

    async def cadence_timer(self, session_id: str) -> None:
        """The relay's own timer for one session: every cadence, from its connect."""
        while session_id in self.sessions:
            await asyncio.sleep(self.cadence)
            if session_id in self.sessions:
                started = time.perf_counter()
                with contextlib.suppress(httpx.HTTPError):
                    await self.revalidate(session_id)
                self.revalidations.append((time.perf_counter() - started) * 1000)

    def call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(600)  # type: ignore[arg-type]


def connect_all(relays: list[RelayDouble], tokens: list[str]) -> float:
    """Open one session per token, spread over the relays; connects per second."""
    started = time.perf_counter()

    async def batch(relay: RelayDouble, items: list[tuple[int, str]]) -> None:
        queue = list(items)

        async def worker() -> None:
            while queue:
                i, jwt = queue.pop()
                body: dict[str, object] = {
                    "id": f"{i:032x}", "event": "connect", "node": relay.name,
                    "transport": "quic", "path": f"/org/u{i}", "query": f"jwt={jwt}",
                    "remote": f"198.51.100.{i % 250}:4433",
                }  # fmt: skip
                await relay.connect(body)

        await asyncio.gather(*(worker() for _ in range(8)))

    futures = [
        asyncio.run_coroutine_threadsafe(
            batch(relay, [(i, t) for i, t in enumerate(tokens) if i % len(relays) == n]),
            relay.loop,
        )
        for n, relay in enumerate(relays)
    ]
    for future in futures:
        future.result(3600)
    return len(tokens) / (time.perf_counter() - started)


def revoke_and_wait(publisher: RedisPublisher, relays: list[RelayDouble], index: int,
                    timeout: float) -> float:  # fmt: skip
    relay = relays[index % len(relays)]
    session_id = f"{index:032x}"
    started = time.perf_counter()
    publisher.publish_revocation("jti", f"j{index}")
    deadline = time.monotonic() + timeout
    while session_id not in relay.closed:
        if time.monotonic() > deadline:
            msg = f"session {session_id} was not closed within {timeout} s"
            raise RuntimeError(msg)
        time.sleep(0.001)
    return (relay.closed[session_id] - started) * 1000


def revoke_with_pushes_lost(publisher: RedisPublisher, relays: list[RelayDouble],
                            indexes: list[int], timeout: float) -> list[float]:  # fmt: skip
    """Revoke these sessions at once, their pushes dropped: each closes at its next tick."""
    for i in indexes:
        relays[i % len(relays)].drop_pushes.add(f"{i:032x}")
    started = time.perf_counter()
    for i in indexes:
        publisher.publish_revocation("jti", f"j{i}")
    deadline = time.monotonic() + timeout
    waiting = {(f"{i:032x}", relays[i % len(relays)]) for i in indexes}
    while any(sid not in relay.closed for sid, relay in waiting):
        if time.monotonic() > deadline:
            msg = "a session with its push lost was not closed within four cadences"
            raise RuntimeError(msg)
        time.sleep(0.01)
    return [(relay.closed[sid] - started) * 1000 for sid, relay in waiting]


def report(pushed: list[float], lost: list[float], cadenced: list[float], what: str) -> None:
    print(f"\nrevoke -> relay closes, ms ({what})")
    print(f"{'':34} {'p50':>8} {'p99':>8} {'max':>8}")
    rows = [("pushed (relaypass)", pushed), ("cadence only (no push: reference)", lost),
            ("(a cadence revalidate itself)", cadenced)]  # fmt: skip
    for name, values in rows:
        if values:
            p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
            print(f"{name:34} {p50:>8.1f} {p99:>8.1f} {max(values):>8.1f}")
    ratio = percentile(lost, 0.99) / percentile(pushed, 0.99)
    print(
        f"p99 ratio, cadence only / pushed: {ratio:.1f}x; target (the issue): "
        "pushed p99 <= 250 ms at 10,000 sessions, lost push bounded by the cadence"
    )


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    cadence = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    lost_samples = max(10, samples // 5)
    work = Path(tempfile.mkdtemp(prefix="relaypass-bench-fleet-"))
    redis_port = free_port()
    redis_proc = start_redis(redis_port, str(work))
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    prefix = "bench"
    key = Key.generate("EdDSA", kid="fleet")
    publisher = RedisPublisher(redis_url, prefix=prefix)
    publisher.publish_keyset(KeySet([key.public()]))
    exp = int(time.time()) + 3600
    tokens = [sign_jwt({"root": f"org/u{i}", "put": [""], "get": [""], "exp": exp,
                        "jti": f"j{i}"}, key) for i in range(sessions)]  # fmt: skip
    node_ports = {f"relay-{n}": free_port() for n in range(RELAYS)}
    replica_ports = [free_port() for _ in range(REPLICAS)]
    raw = redis.Redis.from_url(redis_url)
    with ExitStack() as stack:
        stack.callback(redis_proc.wait, 10)
        stack.callback(redis_proc.terminate)
        replicas = [stack.enter_context(auth_server(redis_url, prefix, p, node_ports, cadence))
                    for p in replica_ports]  # fmt: skip
        relays = [RelayDouble(name, port, replicas, cadence) for name, port in node_ports.items()]
        for relay in relays:
            relay.start()
            stack.callback(relay.stop)
        memory_before = int(raw.info("memory")["used_memory"])
        commands_before = int(raw.info("stats")["total_commands_processed"])
        rate = connect_all(relays, tokens)
        commands = int(raw.info("stats")["total_commands_processed"]) - commands_before
        memory = int(raw.info("memory")["used_memory"]) - memory_before
        live = sum(len(r.sessions) for r in relays)
        print(f"{live} live sessions on {RELAYS} relays, {REPLICAS} auth-server replicas, "
              f"cadence {cadence} s; connects: {rate:.0f}/s")  # fmt: skip
        print(f"session table in Redis: {memory / live:.0f} bytes per live session, "
              f"{commands / live:.1f} Redis commands per connect")  # fmt: skip

        cpu_started, wall_started = time.process_time(), time.perf_counter()
        print(f"revoking {samples} sessions one by one (pushed) ...", file=sys.stderr, flush=True)
        picks = random.sample(range(sessions), samples + lost_samples)
        pushed = [revoke_and_wait(publisher, relays, i, 2 * cadence + 10) for i in picks[:samples]]
        print(f"revoking {lost_samples} at once, pushes dropped ...", file=sys.stderr, flush=True)
        lost = revoke_with_pushes_lost(publisher, relays, picks[samples:], 4 * cadence)
        cpu = (time.process_time() - cpu_started) / (time.perf_counter() - wall_started)
        print(f"this process (the relays and the load) used {cpu:.0%} of a core while measuring; "
              "near 100 % it, not the auth servers, sets the figures")  # fmt: skip
        report(pushed, lost, [ms for r in relays for ms in r.revalidations],
               f"{samples} pushed, {lost_samples} with the push lost; {live} live, "
               f"each revalidated every {cadence} s")  # fmt: skip
    publisher.close()
    raw.close()


if __name__ == "__main__":
    main()
