"""Mint throughput and p99 on one worker, beside a trivial endpoint of the same app.

Starts `relaypass serve` (one uvicorn worker, SQLite in a temporary data
directory) and drives it with wrk from a second process on loopback:
GET /healthz (trivial) and POST /rpc/tokens.relay.mint (API-key auth, body
validation, EdDSA signing, audit insert). Needs wrk (apt-get install wrk).

Run: .venv/bin/python bench/mint.py [seconds]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CONNECTIONS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(url: str, seconds: int, script: Path | None) -> tuple[float, float]:
    """Requests per second and p99 latency in ms."""
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        argv[1:1] = ["-s", str(script)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99_text is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non2xx is None, out
    return rps, float(p99_text.group(1)) * scale


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    data = Path(tempfile.mkdtemp(prefix="relaypass-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "RELAYPASS_DATA_DIR": str(data),
        "RELAYPASS_KEY_PROPAGATION_SECONDS": "0",
        "RELAYPASS_MINT_RATE_PER_MINUTE": "0",
    }
    env.pop("RELAYPASS_DATABASE_URL", None)
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "relaypass.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        key = server.stdout.readline().strip()
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {key}"}
        org = httpx.post(f"{base}/rpc/auth.whoami", headers=auth).json()["orgId"]
        httpx.post(
            f"{base}/rpc/streams.signingKeys.create",
            json={"orgId": org, "label": "b"},
            headers=auth,
        ).raise_for_status()
        body = {"orgId": org, "tenant": "tenant_abc", "ns": ["voice/sid_xyz/*"], "ttlSeconds": 600}
        httpx.post(f"{base}/rpc/tokens.relay.mint", json=body, headers=auth).raise_for_status()
        script = data / "mint.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        )
        trivial = wrk(f"{base}/healthz", seconds, None)
        mint = wrk(f"{base}/rpc/tokens.relay.mint", seconds, script)
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)
    print(f"one uvicorn worker, wrk -t2 -c{CONNECTIONS} -d{seconds}s on loopback")
    print(f"{'endpoint':28} {'req/s':>9} {'p99 ms':>8}")
    print(f"{'GET /healthz (trivial)':28} {trivial[0]:9.0f} {trivial[1]:8.1f}")
    print(f"{'POST tokens.relay.mint':28} {mint[0]:9.0f} {mint[1]:8.1f}")
    print(f"mint / trivial throughput: {mint[0] / trivial[0]:.2f}")


if __name__ == "__main__":
    main()
