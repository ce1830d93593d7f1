"""Redis by URL, and a Sentinel failover drill with real servers on loopback.

One primary, one replica and three sentinels, started from the installed
redis-server. A control plane and a gate follow them through a
``redis+sentinel://`` URL; under a steady mint and connect load the primary is
killed (SIGKILL) and a revocation is made while the sentinels promote the
replica. Counted: valid connects refused, mints not answered 2xx, and the time
from the new primary answering to the revoked session being cut.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from relaypass._redis import redacted, redis_client
from relaypass.errors import InvalidRequestError
from tests._drill import check, failover_drill, wait_for
from tests._net import free_port, stop_process
from tests.server.conftest import start_redis

SERVICE = "relaypass-primary"


def test_urls_are_read_strictly_and_never_repeat_a_password() -> None:
    assert redacted("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert redacted("redis://10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"
    for url, said in [
        ("memcached://x", "the scheme must be one of"),
        ("redis+sentinel://:pw@a:26379", "the path is /<service>"),
        ("redis+sentinel://a:notaport/svc", "is not host:port"),
        ("redis+sentinel://a:26379/svc/zero", "the database is a number"),
        ("redis+sentinel://:s3cret@/svc", "name the sentinels"),
    ]:
        with pytest.raises(InvalidRequestError, match=said) as refused:
            redis_client(url)
        assert "s3cret" not in refused.value.reason
    sentinel = redis_client("redis+sentinel://:pw@a:26379,b/svc/2?sentinel_password=x")
    pool = sentinel.connection_pool
    assert pool.service_name == "svc"  # type: ignore[attr-defined]
    assert pool.connection_kwargs["db"] == 2
    assert [s.connection_pool.connection_kwargs["port"]
            for s in pool.sentinel_manager.sentinels] == [26379, 26379]  # type: ignore[attr-defined]  # fmt: skip


@dataclass
class Topology:
    primary: int
    replica: int
    sentinels: list[int]
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}"

    def primary_port(self) -> int | None:
        for port in self.sentinels:
            with contextlib.suppress(redis.RedisError):
                client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
                address = client.sentinel_get_master_addr_by_name(SERVICE)
                client.close()
                if isinstance(address, tuple):
                    return int(address[1])
        return None


def _sentinel(port: int, primary: int, directory: Path) -> subprocess.Popen[bytes]:
    conf = directory / f"sentinel-{port}.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n"
        f"sentinel down-after-milliseconds {SERVICE} 1000\n"
        f"sentinel failover-timeout {SERVICE} 5000\n"
        f"sentinel parallel-syncs {SERVICE} 1\n"
    )
    return subprocess.Popen(  # noqa: S603 - the installed redis-server, in sentinel mode
        [shutil.which("redis-server") or "/usr/bin/redis-server", str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    primary, replica = free_port(), free_port()
    top = Topology(primary, replica, [free_port() for _ in range(3)])
    for port in (primary, replica):
        (tmp_path / str(port)).mkdir()
        top.procs[port] = start_redis(port, tmp_path / str(port))
    redis.Redis(port=replica).replicaof("127.0.0.1", primary)
    for port in top.sentinels:
        top.procs[port] = _sentinel(port, primary, tmp_path)
    try:
        wait_for(lambda: top.primary_port() == primary)

        def replica_known() -> bool:
            client = redis.Redis(port=top.sentinels[0], socket_timeout=1)
            try:
                return bool(client.sentinel_slaves(SERVICE))
            except redis.RedisError:
                return False
            finally:
                client.close()

        wait_for(replica_known)
        yield top
    finally:
        for proc in top.procs.values():
            if proc.poll() is None:
                stop_process(proc)


def test_a_sentinel_failover_loses_no_revocation_and_refuses_no_valid_token(
    topology: Topology, tmp_path: Path
) -> None:
    outcome = failover_drill(
        tmp_path, topology.url, "sentinel-drill",
        replicated=lambda: _replicated(topology),
        kill=lambda: topology.procs[topology.primary].send_signal(signal.SIGKILL),
        promoted=lambda: topology.primary_port() == topology.replica,
    )  # fmt: skip
    check(outcome, "sentinel drill")


def _replicated(topology: Topology) -> bool:
    client = redis.Redis(port=topology.replica, socket_timeout=1)
    try:
        return bool(client.keys("sentinel-drill:jwks"))
    finally:
        client.close()


def test_serve_and_gate_serve_refuse_a_malformed_url_in_one_line(tmp_path: Path) -> None:
    """The commands as a user runs them (a process each: the CLI sets up its own logging)."""
    env = {**os.environ, "RELAYPASS_DATA_DIR": str(tmp_path),
           "RELAYPASS_REDIS_URL": "redis+cluster://:s3cret@a:1/2"}  # fmt: skip
    relaypass = [sys.executable, "-m", "relaypass.cli"]
    served = subprocess.run(  # noqa: S603 - our own CLI
        [*relaypass, "serve", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    said = served.stdout + served.stderr
    assert served.returncode == 1
    assert "a cluster has one database" in said
    assert "s3cret" not in said
    assert "Traceback" not in said
    gate = subprocess.run(  # noqa: S603 - our own CLI
        [*relaypass, "gate", "serve", "--redis-url", "redis+sentinel://:s3cret@a:x/s"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    said = gate.stdout + gate.stderr
    assert gate.returncode != 0
    assert "is not host:port" in said
    assert "s3cret" not in said
