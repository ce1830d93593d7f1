"""Redis Cluster: every Redis use of relaypass on a real cluster, and a slot-failover drill.

A cluster of three primaries and three replicas, started from the installed
redis-server on loopback. A deployment's keys share one hash tag (one slot);
announcements go out on sharded pub/sub; rate-limit windows spread over slots.
The drill kills the primary serving the deployment's slot under a steady mint
and connect load, revokes a token while the replica takes over, and counts
valid connects refused, mints not answered 2xx, and the time from the new
primary serving the slot to the revoked session being cut.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from relaypass import decode_unverified
from relaypass._redis import clustered, keyspace, redis_client
from relaypass.client import Client
from relaypass.errors import InvalidRequestError, QuotaExceededError, RateLimitedError
from relaypass.gate.adapters.stream_keys import RedisStreamKeys
from relaypass.gate.config import GateOptions, build_gate
from relaypass.server.ratelimit import MintRateLimiter
from tests._cluster import Cluster, running_cluster
from tests._cp import served_plane
from tests._drill import check, failover_drill, wait_for
from tests._net import free_port


def test_cluster_urls_are_read_strictly_and_never_repeat_a_password() -> None:
    for url, said in [
        ("redis+cluster://a:7000,b:7001/3", "a cluster has one database"),
        ("redis+cluster://a:7000?ssl=1", "a cluster URL takes no query"),
        ("redis+cluster://:s3cret@a:x", "is not host:port"),
        ("rediss+cluster://:s3cret@,b:1", "name the nodes"),
    ]:
        with pytest.raises(InvalidRequestError, match=said) as refused:
            redis_client(url)
        assert "s3cret" not in refused.value.reason
    client = redis_client("redis+cluster://:pw@a:7000,b")
    assert clustered(client)
    assert keyspace(client, "rp") == "{rp}"
    assert keyspace(client, "{rp}") == "{rp}"
    assert keyspace(redis_client("redis://a:1/0"), "rp") == "rp"


def test_a_cluster_away_at_start_up_is_a_connection_error_on_use_not_at_start() -> None:
    client = redis_client(f"redis+cluster://127.0.0.1:{free_port()}", socket_timeout=0.5)
    script = client.register_script("return 1")  # known without the cluster
    with pytest.raises(redis.ConnectionError):
        client.get("x")
    with pytest.raises(redis.ConnectionError):
        script(keys=["x"])
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"cluster-{os.urandom(3).hex()}"


def test_every_redis_use_works_on_a_cluster(
    redis_cluster: str, prefix: str, tmp_path: Path
) -> None:
    settings = {"usage_sample_seconds": 0.2}
    with served_plane(tmp_path, redis_cluster, prefix, **settings) as (url, org, key):
        built = [build_gate(GateOptions(redis_url=redis_cluster, redis_prefix=prefix,
                                        node=f"g{i}")) for i in (1, 2)]  # fmt: skip
        one, two = (gate for gate, _ in built)
        try:
            with Client(url, api_key=key) as admin:
                # The key set (a script that sets and announces) and its rotation.
                minted = admin.tokens.relay.mint(tenant="acme", ns=["live/**"])
                for gate in (one, two):
                    wait_for(lambda g=gate: g.keys.learn(minted.kid))  # type: ignore[misc]
                rotated = admin.streams.signing_keys.create(label="next")
                for gate in (one, two):
                    wait_for(lambda g=gate: rotated.id in g.keys.keyset())  # type: ignore[misc]
                # Revocation fan-out on sharded pub/sub: a session on each gate is cut.
                sessions = [gate.connect(minted.token, "live/cam") for gate in (one, two)]
                kept = one.connect(admin.tokens.relay.mint(tenant="acme", ns=["live/**"]).token,
                                   "live/other")  # fmt: skip
                admin.tokens.revoke(jti=str(decode_unverified(minted.token)[1]["jti"]))
                wait_for(lambda: not any(s.open for s in sessions), timeout=10)
                assert kept.open
                # Quotas counted across gates by a script on the deployment's slot.
                admin.orgs.set_limits(org_id=org, max_sessions=2)
                for gate in (one, two):
                    wait_for(lambda g=gate: g.quotas is not None and g.quotas.limited(org))  # type: ignore[misc]
                fresh = admin.tokens.relay.mint(tenant="acme", ns=["live/**"]).token
                one.connect(fresh, "live/first")  # counted from here (`kept` at the next resync)
                two.connect(fresh, "live/second")
                with pytest.raises(QuotaExceededError):
                    two.connect(fresh, "live/third")
                # Usage: the gates' stream read by the control plane's consumer group.
                since = int(time.time()) - 600

                def refusals() -> bool:
                    totals = admin.usage.query(org_id=org, since=since,
                                               until=int(time.time()) + 60).totals  # fmt: skip
                    return int(totals.get("refused:QUOTA_EXCEEDED", 0)) > 0

                wait_for(refusals, timeout=15)
        finally:
            for _, stop in built:
                stop()
    ours = assert_one_slot(redis_cluster, prefix)
    assert {k.split(":")[1] for k in ours} >= {"jwks", "revoked", "usage", "limits"}


def test_stream_keys_and_rate_limits_on_a_cluster(redis_cluster: str, prefix: str) -> None:
    # Stream keys shared by gates.
    keys = RedisStreamKeys(redis_cluster, prefix=prefix)
    keys.put("d" * 64, "token", 60)
    assert keys.get("d" * 64) == "token"
    keys.close()
    # Rate limits shared by two replicas' limiters.
    limiters = [MintRateLimiter(3, redis_url=redis_cluster, prefix=prefix) for _ in range(2)]
    for n in range(3):
        limiters[n % 2].hit("key-1")
    with pytest.raises(RateLimitedError):
        limiters[1].hit("key-1")
    limiters[0].hit("key-2")  # another key's window
    ours = assert_one_slot(redis_cluster, prefix)
    limits = [k for k in ours if ":ratelimit:" in k]
    assert len(limits) >= 2
    assert all(not k.startswith(f"{{{prefix}}}") for k in limits)  # spread by key


def assert_one_slot(url: str, prefix: str) -> list[str]:
    """Every key of the deployment but the rate-limit windows is in its one slot."""
    nodes = [n.split(":") for n in url.removeprefix("redis+cluster://").split(",")]
    direct = RedisCluster(host=nodes[0][0], port=int(nodes[0][1]), decode_responses=True)
    try:
        ours = list(direct.scan_iter(match=f"*{prefix}*", count=1000, target_nodes="primaries"))
        deployment = [k for k in ours if ":ratelimit:" not in k]
        slots = {direct.keyslot(k) for k in [*deployment, f"{{{prefix}}}"]}  # type: ignore[no-untyped-call]
    finally:
        direct.close()
    assert len(slots) == 1, deployment
    return [str(k) for k in ours]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path / "cluster") as started:
        yield started


def test_a_slot_failover_loses_no_revocation_and_refuses_no_valid_token(
    cluster: Cluster, prefix: str, tmp_path: Path
) -> None:
    channel = f"{{{prefix}}}:events"
    killed = cluster.owner(channel)
    assert killed is not None
    outcome = failover_drill(
        tmp_path, cluster.url, prefix,
        replicated=cluster.replicas_synced,
        kill=lambda: cluster.procs[killed].send_signal(signal.SIGKILL),
        promoted=lambda: cluster.owner(channel) not in {None, killed} and cluster.healthy(),
    )  # fmt: skip
    check(outcome, "cluster drill")
