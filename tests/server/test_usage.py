"""Usage per org: rollups on SQLite and PostgreSQL, the gates' events through a real Redis
stream into a served control plane, and nothing lost or counted twice when a consumer dies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from relaypass.cli import app as cli
from relaypass.client import Client
from relaypass.errors import InvalidPermissionsError
from relaypass.gate.config import GateOptions, build_gate
from relaypass.server.db.store import Store
from relaypass.server.db.usage import DAY, HOUR, MINUTE, ORG_TOTAL, Figure, UsageStore
from relaypass.server.usage import GROUP, UsageRecorder, figures_of
from tests._cp import served_plane, sqlite_store

T0 = 1_800_000_000 - 1_800_000_000 % DAY  # a day's first second


def test_rollups_add_keep_peaks_fold_and_expire(store: Store) -> None:
    usage = UsageStore(store.engine)
    usage.apply([
        Figure("org_a", "acme", T0, "connects", 2),
        Figure("org_a", "acme", T0 + 30, "connects", 1),  # the same minute
        Figure("org_a", "globex", T0 + MINUTE, "connects", 4),
        Figure("org_a", "acme", T0, "peak_sessions", 5),
        Figure("org_a", "acme", T0, "peak_sessions", 3),  # a peak only rises
        Figure("org_a", ORG_TOTAL, T0, "peak_sessions", 7),
        Figure("org_b", "acme", T0, "connects", 100),  # another org, same tenant name
    ], consumer="c1", last_id="5-0")  # fmt: skip
    usage.apply([Figure("org_a", "acme", T0, "connects", 1)], consumer="c1", last_id="9-1")
    assert usage.marks() == {"c1": "9-1"}
    minutes = usage.query("org_a", tenant=None, start=T0, until=T0 + HOUR, granularity=MINUTE)
    assert minutes == [(T0, {"connects": 4, "peak_sessions": 7}), (T0 + MINUTE, {"connects": 4})]
    acme = usage.query("org_a", tenant="acme", start=T0, until=T0 + HOUR, granularity=HOUR)
    assert acme == [(T0, {"connects": 4, "peak_sessions": 5})]
    assert usage.query("org_b", tenant=None, start=T0, until=T0 + DAY, granularity=DAY) == [
        (T0, {"connects": 100})
    ]
    # Two days on, the minutes fold into hours, with the same answers.
    keep = {"minutes_for": 2 * DAY, "hours_for": 60 * DAY, "days_for": 400 * DAY}
    assert usage.compact(T0 + 3 * DAY, **keep)["minutes"] == 5  # rows folded
    assert usage.query("org_a", tenant=None, start=T0, until=T0 + DAY, granularity=HOUR) == [
        (T0, {"connects": 8, "peak_sessions": 7})
    ]
    assert usage.compact(T0 + 3 * DAY, **keep)["minutes"] == 0
    usage.compact(T0 + 500 * DAY, minutes_for=2 * DAY, hours_for=DAY, days_for=400 * DAY)
    assert usage.query("org_a", tenant=None, start=T0, until=T0 + DAY, granularity=DAY) == []


def test_a_mint_flush_over_many_orgs_commits_in_slices_and_loses_none(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each slice is a transaction of its own (the write lock is held briefly), and every
    org's count reaches the rollups."""
    usage = UsageStore(store.engine)
    recorder = UsageRecorder(usage)
    commits: list[int] = []
    real_apply = usage.apply
    monkeypatch.setattr(usage, "apply", lambda figures, **kw: commits.append(
        real_apply(list(figures), **kw)))  # fmt: skip
    for n in range(250):
        for _ in range(n % 3 + 1):
            recorder.mint(f"org_{n:03d}", "acme")
    assert recorder.flush_mints() == sum(n % 3 + 1 for n in range(250))
    assert commits == [100, 100, 50]  # rollup rows per transaction
    now = int(time.time())
    for n in (0, 1, 2, 249):
        buckets = usage.query(
            f"org_{n:03d}", tenant=None, start=now - DAY, until=now + DAY, granularity=HOUR
        )  # an hour's bucket or two, if the mints straddled one's end
        assert sum(figures.get("mints", 0) for _, figures in buckets) == n % 3 + 1


def test_events_become_figures_of_their_org_only() -> None:
    events: list[dict[str, Any]] = [
        {"k": "started", "o": "org_a", "t": "acme", "at": T0 + 1},
        {"k": "refused", "o": "org_a", "t": None, "at": T0 + 2, "d": {"code": "INVALID_TOKEN"}},
        {"k": "refused", "o": None, "t": None, "at": T0 + 2, "d": {"code": "INVALID_TOKEN"}},
        {"k": "ended", "o": "org_a", "t": "acme", "at": T0 + 61,
         "d": {"reason": "disconnected", "seconds": 60.25, "sent": 7, "received": 9}},
        {"k": "mystery", "o": "org_a", "at": T0},
        {"k": "started", "o": "org_a", "at": "soon"},
    ]  # fmt: skip
    got = {(f.org, f.tenant, f.minute, f.metric): f.value for f in figures_of(events)}
    assert got == {
        ("org_a", "acme", T0, "connects"): 1,
        ("org_a", "", T0, "refused"): 1,
        ("org_a", "", T0, "refused:INVALID_TOKEN"): 1,
        ("org_a", "acme", T0 + MINUTE, "ended"): 1,
        ("org_a", "acme", T0 + MINUTE, "session_ms"): 60_250,
        ("org_a", "acme", T0 + MINUTE, "bytes_sent"): 7,
        ("org_a", "acme", T0 + MINUTE, "bytes_received"): 9,
    }


def _batch(n: int, *, org: str = "org_a") -> dict[str, str]:
    events = [{"k": "started", "o": org, "t": "acme", "at": T0 + i} for i in range(n)]
    return {"id": f"test:{n}", "node": "test", "events": json.dumps(events)}


def test_a_dead_consumers_entries_are_applied_once(
    tmp_path: Path, redis_server: str, redis_prefix: str
) -> None:
    """Read but not applied: applied by the survivor. Applied but not acknowledged: only acked."""
    usage = UsageStore(sqlite_store(tmp_path).engine)
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    stream = f"{redis_prefix}:usage"
    client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    client.xadd(stream, _batch(3))  # type: ignore[arg-type]
    client.xadd(stream, _batch(5))  # type: ignore[arg-type]
    # Replica one applied its entry and died before XACK; replica two died before applying.
    first: list = client.xreadgroup(GROUP, "one", {stream: ">"}, count=1)  # type: ignore[type-arg, assignment]
    entry_id, fields = first[0][1][0]
    usage.apply(figures_of(json.loads(fields["events"])), consumer="one", last_id=entry_id)
    client.xreadgroup(GROUP, "two", {stream: ">"}, count=1)
    survivor = UsageRecorder(usage, redis_url=redis_server, prefix=redis_prefix)
    survivor.claim_idle_ms = 0
    try:
        assert survivor.claim_abandoned() == 5  # only replica two's entry was applied again
        assert client.xpending(stream, GROUP)["pending"] == 0
        day = usage.query("org_a", tenant="acme", start=T0, until=T0 + DAY, granularity=DAY)
        assert day == [(T0, {"connects": 8})]
        client.xadd(stream, _batch(2))  # type: ignore[arg-type]
        assert survivor.consume(block_ms=100) == 2
    finally:
        survivor.close()
        client.close()


@pytest.fixture
def plane(tmp_path: Path, redis_server: str, redis_prefix: str) -> Iterator[tuple[str, str, str]]:
    with served_plane(tmp_path, redis_server, redis_prefix, usage_sample_seconds=0.2) as plane:
        yield plane


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def test_a_gated_session_shows_up_in_its_orgs_usage_and_nowhere_else(
    plane: tuple[str, str, str], redis_server: str, redis_prefix: str
) -> None:
    url, org, key = plane
    gate, stop = build_gate(GateOptions(redis_url=redis_server, redis_prefix=redis_prefix,
                                        node="gate-1"))  # fmt: skip
    try:
        with Client(url, api_key=key) as admin:
            token = admin.tokens.relay.mint(tenant="acme", ns=["live/**"]).token
            revoked = admin.tokens.relay.mint(tenant="acme", ns=["live/**"])
            wait_for(lambda: gate.keys.learn(revoked.kid))
            session = gate.connect(token, "live/cam")
            live = admin.usage.live()
            wait_for(lambda: admin.usage.live().total == 1)
            live = admin.usage.live()
            assert [(g.node, g.profile, [(r.tenant, r.sessions) for r in g.sessions])
                    for g in live.gates] == [("gate-1", "relay", [("acme", 1)])]  # fmt: skip
            since = int(time.time()) - 3600
            until = int(time.time()) + 120

            def figures() -> dict[str, int]:
                return admin.usage.query(since=since, until=until, granularity="hour").totals

            wait_for(lambda: figures().get("peak_sessions") == 1)  # sampled while it is live
            session.close("disconnected")
            wait_for(lambda: figures().get("ended") == 1)
            totals = figures()
            assert totals["connects"] == 1
            assert totals["mints"] == 2
            assert totals["peak_sessions"] == 1
            assert totals["session_ms"] > 0
            acme = admin.usage.query(tenant="acme", since=since, until=until, granularity="minute")
            assert acme.totals["connects"] == 1
            assert all(p.at % 60 == 0 for p in acme.points)

            # The CLI charts the same figures.
            env = {"RELAYPASS_URL": url, "RELAYPASS_API_KEY": key}
            shown = CliRunner().invoke(
                cli, ["usage", "--since", "1h", "--granularity", "minute", "--metric", "connects"],
                env=env,
            )  # fmt: skip
            assert shown.exit_code == 0, shown.output
            assert "connects per minute" in shown.output
            assert "█" in shown.output
            as_json = CliRunner().invoke(cli, ["usage", "--since", "1h", "--json"], env=env)
            assert json.loads(as_json.output)["totals"]["connects"] == 1
            bad = CliRunner().invoke(cli, ["usage", "--since", "yesterday", "--json"], env=env)
            assert bad.exit_code == 1
            assert json.loads(bad.output)["error"]["code"] == "INVALID_REQUEST"

            # Another org sees nothing of it and cannot ask for it.
            other = admin.orgs.create(name="Globex")
        with Client(url, api_key=other.admin_key.key) as globex:
            with pytest.raises(InvalidPermissionsError):
                globex.usage.query(org_id=org, since=since, until=until)
            with pytest.raises(InvalidPermissionsError):
                globex.usage.live(org_id=org)
            assert globex.usage.query(since=since, until=until).points == []
            assert globex.usage.live().total == 0
    finally:
        stop()
