"""The moq auth server's live-session table: caps, ageing out, replicas sharing it in Redis.

Every table test runs on both tables (in process, and a real Redis); the
server tests drive ``MoqAuthServer`` with the contract's requests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from relaypass import Key, KeySet, sign_jwt
from relaypass.errors import QuotaExceededError
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.moq_auth import MoqAuthServer
from relaypass.gate.adapters.moq_sessions import (
    Limits,
    MemorySessionTable,
    RedisSessionTable,
    SessionRecord,
    SessionTable,
    remote_address,
    token_digest,
)
from tests._net import free_port

KEY = Key.generate("EdDSA", kid="moq-sessions-k1")


def record(
    session_id: str,
    *,
    token: str | None = "tok-a",  # noqa: S107 - a test value
    remote: str | None = "192.0.2.1",
    org: str | None = "org_a",
) -> SessionRecord:
    return SessionRecord(
        id=session_id, node="relay-1", org=org, tenant="t1", subject="alice", jti=None,
        kid="k1", profile="moq", room=None, path="/demo", remote=remote,
        token=token_digest(token), connected_at=time.time(),
    )  # fmt: skip


@pytest.fixture(params=["memory", "redis", "cluster"])
def make_table(
    request: pytest.FixtureRequest, redis_server: str, redis_prefix: str
) -> Iterator[Callable[[], SessionTable]]:
    """A factory: each call is one more replica's view of the same table (on one Redis node,
    or on a Redis Cluster: the table's keys share a hash tag)."""
    made: list[SessionTable] = []
    shared = MemorySessionTable()

    def make() -> SessionTable:
        if request.param == "memory":
            return shared
        url = (redis_server if request.param == "redis"
               else request.getfixturevalue("redis_cluster"))  # fmt: skip
        table = RedisSessionTable.from_url(url, prefix=redis_prefix)
        made.append(table)
        return table

    yield make
    for table in made:
        table.close()


def later(seconds: float = 60) -> float:
    return time.time() + seconds


def test_the_token_cap_counts_live_sessions_and_frees_on_end(
    make_table: Callable[[], SessionTable],
) -> None:
    table, limits = make_table(), Limits(token=2)
    table.connect(record("a1"), later(), limits)
    table.connect(record("a2", remote="192.0.2.2"), later(), limits)
    table.connect(record("a1"), later(), limits)  # a known id refreshes, is not counted again
    with pytest.raises(QuotaExceededError, match="token"):
        table.connect(record("a3", remote="192.0.2.3"), later(), limits)
    table.connect(record("b1", token="tok-b", remote="192.0.2.4"), later(), limits)  # another
    ended = table.end("a1")
    assert ended is not None
    assert ended.id == "a1"
    assert table.end("a1") is None
    table.connect(record("a3", remote="192.0.2.3"), later(), limits)


def test_the_remote_cap_counts_by_address(make_table: Callable[[], SessionTable]) -> None:
    table, limits = make_table(), Limits(remote=1)
    table.connect(record("r1", token="t1"), later(), limits)
    with pytest.raises(QuotaExceededError, match="address"):
        table.connect(record("r2", token="t2"), later(), limits)
    table.connect(record("r3", token="t3", remote="198.51.100.7"), later(), limits)
    table.connect(record("r4", token="t4", remote=None), later(), limits)  # no address, no cap


def test_a_session_not_heard_from_ages_out_and_frees_its_slot(
    make_table: Callable[[], SessionTable],
) -> None:
    table, limits = make_table(), Limits(token=1)
    assert table.get("old") is None  # connected (a cluster's client is built on first use)
    table.connect(record("old"), time.time() + 0.3, limits)
    with pytest.raises(QuotaExceededError):
        table.connect(record("new"), later(), limits)
    time.sleep(1.2)  # the in-process table sweeps at most once a second
    assert table.get("old") is None
    assert [r.id for r in table.live("org_a")] == []
    table.connect(record("new"), later(), limits)
    assert [r.id for r in table.live("org_a")] == ["new"]


def test_a_revalidate_never_enforces_a_cap_and_files_again(
    make_table: Callable[[], SessionTable],
) -> None:
    table, limits = make_table(), Limits(token=1)
    table.connect(record("s1"), later(), limits)
    table.revalidate(record("s2"), later(), limits)  # admitted elsewhere: not this event's cap
    assert {r.id for r in table.live()} == {"s1", "s2"}


def test_live_sessions_by_org(make_table: Callable[[], SessionTable]) -> None:
    table = make_table()
    table.connect(record("a", org="org_a"), later(), Limits())
    table.connect(record("b", org="org_b", token="tb"), later(), Limits())
    assert [r.id for r in table.live("org_b")] == ["b"]
    assert {r.id for r in table.live()} == {"a", "b"}
    stored = table.get("b")
    assert stored is not None
    assert (stored.org, stored.token) == ("org_b", token_digest("tb"))
    assert stored.token != "tb"  # a digest, never the credential


def test_replicas_count_one_cap(make_table: Callable[[], SessionTable]) -> None:
    first, second = make_table(), make_table()
    first.connect(record("x1"), later(), Limits(token=1))
    with pytest.raises(QuotaExceededError):
        second.connect(record("x2", remote="192.0.2.9"), later(), Limits(token=1))
    assert second.get("x1") is not None


@pytest.mark.parametrize(
    ("remote", "address"),
    [
        ("203.0.113.9:4433", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[::ffff:192.0.2.5]:1", "192.0.2.5"),
        ("2001:db8::2", "2001:db8::2"),
        ("not-an-address:1", None),
        (None, None),
        ("", None),
    ],
)
def test_remote_addresses_lose_their_port(remote: str | None, address: str | None) -> None:
    assert remote_address(remote) == address


# The server: caps and ageing through the contract's requests.


def moq_token(jti: str = "j1") -> str:
    claims = {"root": "demo", "put": [""], "get": [""], "jti": jti, "exp": int(time.time()) + 300}
    return sign_jwt(claims, KEY)


def ask(server: MoqAuthServer, event: str, session_id: str, **extra: Any) -> tuple[int, Any]:
    body = {"id": session_id, "event": event, "node": "relay-1", "transport": "quic",
            "path": "/demo", "remote": "203.0.113.9:4433", **extra}  # fmt: skip
    return asyncio.run(server.answer(json.dumps(body).encode()))


def gate() -> Gate:
    return Gate(StaticKeySource(KeySet([KEY.public()])), profile="moq")


def test_the_server_caps_sessions_per_token() -> None:
    server = MoqAuthServer(gate(), revalidate_seconds=30, limits=Limits(token=1))
    query = f"jwt={moq_token()}"
    assert ask(server, "connect", "aa01", query=query)[0] == 200
    status, body = ask(server, "connect", "aa02", query=query)
    assert (status, body["code"]) == (403, "QUOTA_EXCEEDED")
    assert ask(server, "revalidate", "aa01", query=query)[0] == 200
    assert ask(server, "end", "aa01", reason="closed", duration=1.0)[0] == 200
    assert ask(server, "connect", "aa02", query=query)[0] == 200
    assert len(server.gate.sessions) == 1  # the refused one holds no gate session


def test_caps_need_a_cadence() -> None:
    with pytest.raises(ValueError, match="cadence"):
        MoqAuthServer(gate(), revalidate_seconds=None, limits=Limits(remote=3))


def test_a_relay_that_dies_without_end_loses_its_sessions_after_two_cadences() -> None:
    server = MoqAuthServer(gate(), revalidate_seconds=1, limits=Limits(token=1))
    query = f"jwt={moq_token()}"
    assert ask(server, "connect", "dead01", query=query)[0] == 200
    assert ask(server, "connect", "beef01", query=query)[0] == 403
    time.sleep(2.2)  # two cadences without a word from the relay
    assert ask(server, "connect", "beef01", query=query)[0] == 200
    assert [s.grant.jti for s in server.gate.sessions] == ["j1"]  # the new one only
    assert [r.id for r in server.table.live()] == ["beef01"]


def test_two_replicas_share_the_table(redis_server: str, redis_prefix: str) -> None:
    """A session admitted by one replica is counted, and revalidated, by the other."""
    tables = [RedisSessionTable.from_url(redis_server, prefix=redis_prefix) for _ in range(2)]
    one, two = (
        MoqAuthServer(gate(), revalidate_seconds=30, limits=Limits(token=1), table=t)
        for t in tables
    )
    query = f"jwt={moq_token()}"
    assert ask(one, "connect", "cc01", query=query)[0] == 200
    assert ask(two, "connect", "cc02", query=query)[0] == 403
    assert ask(two, "revalidate", "cc01", query=query)[0] == 200  # never seen by this replica
    assert [r.id for r in tables[1].live()] == ["cc01"]
    assert ask(two, "end", "cc01")[0] == 200
    assert ask(one, "connect", "cc02", query=query)[0] == 200
    for table in tables:
        table.close()


def test_a_table_that_cannot_be_reached_never_refuses_a_valid_token() -> None:
    table = RedisSessionTable.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    server = MoqAuthServer(gate(), revalidate_seconds=30, limits=Limits(token=1), table=table)
    query = f"jwt={moq_token()}"
    assert ask(server, "connect", "dd01", query=query)[0] == 200
    assert ask(server, "connect", "dd02", query=query)[0] == 200  # the cap cannot be counted
    assert ask(server, "revalidate", "dd01", query=query)[0] == 200
    assert ask(server, "end", "dd01")[0] == 200
    assert ask(server, "connect", "dd03", query="jwt=garbage")[0] == 401  # still the gate's call
    table.close()


def test_a_cut_on_one_replica_is_a_401_on_another_that_has_not_heard_yet(
    redis_server: str, redis_prefix: str
) -> None:
    """The relay's revalidate after a push may reach a replica the revocation has not reached."""
    tables = [RedisSessionTable.from_url(redis_server, prefix=redis_prefix) for _ in range(2)]
    one, two = (MoqAuthServer(gate(), revalidate_seconds=30, table=t) for t in tables)
    query = f"jwt={moq_token(jti='cut-here')}"
    assert ask(one, "connect", "ee01", query=query)[0] == 200
    assert ask(two, "revalidate", "ee01", query=query)[0] == 200
    one.gate.revoke_jti("cut-here")  # only replica one's gate knows
    status, body = ask(two, "revalidate", "ee01", query=query)
    assert (status, body["code"]) == (401, "INVALID_TOKEN")
    assert ask(two, "connect", "ee02", query=query)[0] == 200  # its own gate: not revoked there
    for table in tables:
        table.close()
