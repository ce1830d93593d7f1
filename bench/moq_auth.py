"""moq-relay's auth requests answered by `relaypass moq-auth serve`, beside `gate serve`'s HLS.

Starts both services from the CLI (one uvicorn worker each, keys from a JWK file)
and drives them from this process with 1, 16 and 64 requests in flight: every
request carries a token of its own (distinct `jti` and root), as relays of many
users send them. `moq-auth` is asked a contract `connect` on TCP loopback and on
a unix socket; `gate serve` is asked nginx's `auth_request` for an HLS segment
with a relay token. Each cell prints answers per second and p50/p99 latency, and
the ratio of moq-auth's answers per second to the HLS check's at the same
concurrency. The load generator shares the machine's two cores with the server:
the figures are of this machine, client included, not of a server alone.

Run: .venv/bin/python bench/moq_auth.py [seconds_per_cell]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port
from _timing import sized
from relaypass import Key, sign_jwt

CONCURRENCY = (1, 16, 64)
TOKENS = sized(4000, 50)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def service(argv: list[str], ready: Callable[[], bool]) -> Iterator[None]:
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "relaypass", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                msg = f"{argv[0]} did not come up"
                raise RuntimeError(msg)
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def answers(client_factory: Callable[[], httpx.AsyncClient], make: Callable[[int], httpx.Request],
            concurrency: int, seconds: float) -> tuple[float, list[float]]:  # fmt: skip
    """Requests per second and latencies (ms) with ``concurrency`` requests in flight."""

    async def run() -> tuple[float, list[float]]:
        latencies: list[float] = []
        counter = iter(range(10**9))
        stop = time.perf_counter() + seconds
        async with client_factory() as client:

            async def worker() -> None:
                while time.perf_counter() < stop:
                    request = make(next(counter))
                    started = time.perf_counter()
                    response = await client.send(request)
                    latencies.append((time.perf_counter() - started) * 1000)
                    if response.status_code not in {200, 204}:
                        msg = f"unexpected answer {response.status_code}: {response.text[:200]}"
                        raise RuntimeError(msg)

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return len(latencies) / (time.perf_counter() - began), latencies

    return asyncio.run(run())


def _up(url: str, transport: httpx.BaseTransport | None = None) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with httpx.Client(transport=transport) as client:
                return client.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


def _client(uds: Path | None = None) -> Callable[[], httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)

    def make() -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(uds=str(uds) if uds else None, limits=limits)
        return httpx.AsyncClient(transport=transport)

    return make


def _report(rows: list[tuple[str, int, float, float, float]]) -> None:
    print("answers/s and latency (ms), one uvicorn worker each; ratio: moq-auth / HLS check")
    print(f"{'':26} {'in flight':>9} {'answers/s':>10} {'p50':>7} {'p99':>7} {'ratio':>6}")
    hls_rate = {c: r for n, c, r, _, _ in rows if n.startswith("gate")}
    for name, concurrency, rate, p50, p99 in rows:
        ratio = "" if name.startswith("gate") else f"{rate / hls_rate[concurrency]:.2f}"
        print(f"{name:26} {concurrency:>9} {rate:>10.0f} {p50:>7.2f} {p99:>7.2f} {ratio:>6}")
    print("targets (the issue): p99 <= 1 ms at 1 and 16 in flight; >= 5,000 answers/s per worker")


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    work = Path(tempfile.mkdtemp(prefix="relaypass-bench-moq-auth-"))
    key = Key.generate("EdDSA", kid="bench-moq-auth")
    key.public().save(work / "public.jwk", private=False)
    exp = int(time.time()) + 3600
    moq = [
        sign_jwt({"root": f"demo/u{i}", "put": [""], "get": [""], "exp": exp, "jti": f"m{i}"}, key)
        for i in range(TOKENS)
    ]
    relay = [
        sign_jwt({"sub": "t", "ns": [f"live/u{i}/**"], "exp": exp, "jti": f"r{i}"}, key)
        for i in range(TOKENS)
    ]
    tcp_port, hls_port, sock = free_port(), free_port(), work / "moq-auth.sock"
    key_args = ["--key", str(work / "public.jwk")]

    def connect_to(base: str) -> Callable[[int], httpx.Request]:
        def make(i: int) -> httpx.Request:
            body = {"id": f"{i:032x}", "event": "connect", "node": "relay-1", "transport": "quic",
                    "path": f"/demo/u{i % TOKENS}", "query": f"jwt={moq[i % TOKENS]}"}  # fmt: skip
            return httpx.Request("POST", base, content=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})  # fmt: skip

        return make

    def hls(i: int) -> httpx.Request:
        uri = f"/hls/{relay[i % TOKENS]}/live/u{i % TOKENS}/cam/index.m3u8"
        return httpx.Request(
            "GET", f"http://127.0.0.1:{hls_port}/auth/hls", headers={"X-Original-URI": uri}
        )

    unix_ready = _up("http://moq-auth/healthz", httpx.HTTPTransport(uds=str(sock)))
    rows: list[tuple[str, int, float, float, float]] = []
    with (
        service(["moq-auth", "serve", *key_args, "--listen", f"127.0.0.1:{tcp_port}"],
                _up(f"http://127.0.0.1:{tcp_port}/healthz")),
        service(["moq-auth", "serve", *key_args, "--listen", f"unix:{sock}"],
                lambda: sock.exists() and unix_ready()),
        service(["gate", "serve", *key_args, "--port", str(hls_port),
                 "--stream-key-db", str(work / "keys.db")],
                _up(f"http://127.0.0.1:{hls_port}/healthz")),
    ):  # fmt: skip
        cells = [
            ("moq-auth, TCP loopback", _client(), connect_to(f"http://127.0.0.1:{tcp_port}/")),
            ("moq-auth, unix socket", _client(sock), connect_to("http://moq-auth/")),
            ("gate serve, HLS check", _client(), hls),
        ]
        for concurrency in CONCURRENCY:
            for name, client, make in cells:
                rate, latencies = answers(client, make, concurrency, seconds)
                rows.append((name, concurrency, rate, percentile(latencies, 0.5),
                             percentile(latencies, 0.99)))  # fmt: skip
    _report(rows)


if __name__ == "__main__":
    main()
