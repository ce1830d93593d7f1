"""What several benchmarks start: a free port, a private redis-server, `relaypass serve`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(port: int, workdir: str, *, timeout: float = 15.0) -> subprocess.Popen[bytes]:
    """A redis-server of our own on ``port`` (no persistence), once it answers PING."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.01)
    client.close()
    return proc


def ready(proc: subprocess.Popen[str], base: str) -> str:
    """The first line ``proc`` prints (a served process's API key), once ``base`` answers."""
    assert proc.stdout is not None
    key = proc.stdout.readline().strip()
    for _ in range(100):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return key


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate ``proc``; kill it if it has not ended 30 s later."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@dataclass(frozen=True)
class Served:
    """A running control plane: its address, the first org's API key, its data directory and
    its process id."""

    base: str
    key: str
    data: Path
    pid: int


@contextmanager
def control_plane(database_url: str | None = None) -> Iterator[Served]:
    """`relaypass serve` (one worker, no mint rate limit) on a free port, stopped on exit.

    SQLite in a temporary data directory unless ``database_url`` names another database.
    """
    data = Path(tempfile.mkdtemp(prefix="relaypass-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "RELAYPASS_DATA_DIR": str(data),
        "RELAYPASS_KEY_PROPAGATION_SECONDS": "0",
        "RELAYPASS_MINT_RATE_PER_MINUTE": "0",
    }
    env.pop("RELAYPASS_DATABASE_URL", None)
    env.pop("RELAYPASS_REDIS_URL", None)
    if database_url is not None:
        env["RELAYPASS_DATABASE_URL"] = database_url
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "relaypass.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        yield Served(base, ready(server, base), data, server.pid)
    finally:
        stop(server)
        shutil.rmtree(data, ignore_errors=True)
