"""A Redis Cluster of the tests' own on loopback: three primaries, three replicas.

Started from the installed redis-server and joined with ``redis-cli --cluster
create``; each node's bus gets a free port of its own (a bus at port + 10000
would not fit above 55535). Nothing is kept on disk beyond the nodes' files in
the test's directory.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests._net import free_port, stop_process
from tests.server.conftest import start_redis

#: A node that stops answering is failed over after this long (ms): quick, for drills.
NODE_TIMEOUT_MS = 1000


@dataclass
class Cluster:
    """The nodes by port, and how to reach the cluster."""

    ports: list[int]
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Two nodes named: the client finds the rest."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]},127.0.0.1:{self.ports[1]}"

    def live_ports(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def owner(self, key: str) -> int | None:
        """The port of the primary serving ``key``'s slot, as a live node reports it."""
        for port in self.live_ports():
            with contextlib.suppress(redis.RedisError):
                client = redis.Redis(port=port, socket_timeout=1)
                try:
                    slot = int(client.cluster("keyslot", key))
                    for start, end, primary, *_ in client.cluster("slots"):
                        if int(start) <= slot <= int(end):
                            return int(primary[1])
                finally:
                    client.close()
        return None

    def healthy(self) -> bool:
        """Every slot served (``cluster_state:ok``) as every live node sees it."""
        for port in self.live_ports():
            try:
                client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
                info = str(client.execute_command("CLUSTER", "INFO"))  # type: ignore[no-untyped-call]
                client.close()
            except redis.RedisError:
                return False
            if "cluster_state:ok" not in info:
                return False
        return True

    def replicas_synced(self) -> bool:
        """Every replica linked to its primary (a failover then loses nothing written)."""
        for port in self.live_ports():
            client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
            try:
                info = client.info("replication")
            finally:
                client.close()
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                return False
        return True


def start_cluster(directory: Path) -> Cluster:
    """Six nodes, joined, every slot covered; the caller stops them (:func:`stop_cluster`)."""
    cluster = Cluster([free_port() for _ in range(6)])
    try:
        for port in cluster.ports:
            workdir = directory / str(port)
            workdir.mkdir(parents=True)
            cluster.procs[port] = start_redis(
                port, workdir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--cluster-port", str(free_port()),
            )  # fmt: skip
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        subprocess.run(  # noqa: S603 - the installed redis-cli, our own ports
            [cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in cluster.ports],
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        settle(cluster)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def settle(cluster: Cluster, timeout: float = 30.0) -> None:
    """Wait until every slot is served and every replica linked."""
    deadline = time.monotonic() + timeout
    while not (cluster.healthy() and cluster.replicas_synced()):
        if time.monotonic() > deadline:
            msg = "the Redis Cluster did not settle"
            raise RuntimeError(msg)
        time.sleep(0.1)


def stop_cluster(cluster: Cluster) -> None:
    for proc in cluster.procs.values():
        if proc.poll() is None:
            stop_process(proc)


@contextlib.contextmanager
def running_cluster(directory: Path) -> Iterator[Cluster]:
    cluster = start_cluster(directory)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
