"""Quotas per org: set by the platform operator, held by every gate, counted across gates in a
real Redis, refused with QUOTA_EXCEEDED at connect and at mint; live sessions are never cut."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from relaypass.cli import app as cli
from relaypass.client import Client
from relaypass.errors import InvalidPermissionsError, QuotaExceededError
from relaypass.gate import Gate
from relaypass.gate.config import GateOptions, build_gate
from relaypass.gate.quotas import Quotas
from tests._cp import served_plane
from tests._net import free_port


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


@pytest.fixture
def plane(tmp_path: Path, redis_server: str, redis_prefix: str) -> Iterator[tuple[str, str, str]]:
    with served_plane(
        tmp_path, redis_server, redis_prefix, usage_sample_seconds=0.2, webhook_allow_private=True
    ) as plane:
        yield plane


@pytest.fixture
def gates(redis_server: str, redis_prefix: str) -> Iterator[list[Gate]]:
    built = [
        build_gate(GateOptions(redis_url=redis_server, redis_prefix=redis_prefix, node=f"g{i}"))
        for i in (1, 2)
    ]
    yield [gate for gate, _ in built]
    for _, stop in built:
        stop()


def refused(connect: Callable[[], object]) -> str:
    with pytest.raises(QuotaExceededError) as caught:
        connect()
    return caught.value.code.value


def test_session_and_connect_quotas_hold_across_gates_and_never_cut(
    plane: tuple[str, str, str], gates: list[Gate]
) -> None:
    url, org, key = plane
    one, two = gates
    with Client(url, api_key=key) as operator:
        globex = operator.orgs.create(name="Globex", namespaces=["globex"])
        with Client(url, api_key=globex.admin_key.key) as theirs:
            with pytest.raises(InvalidPermissionsError):  # an org cannot lift its own quota
                theirs.orgs.set_limits(org_id=globex.org_id, max_sessions=100)
            theirs.streams.signing_keys.create(label="main")
            token = theirs.tokens.relay.mint(ns=["globex/live/**"]).token
        for gate in gates:
            wait_for(lambda g=gate: len(g.keys.keyset()) >= 2)  # type: ignore[misc]
        set_to = operator.orgs.set_limits(org_id=globex.org_id, max_sessions=2)
        assert set_to.max_sessions == 2
        assert set_to.connects_per_second is None
        for gate in gates:
            wait_for(lambda g=gate: g.quotas is not None and g.quotas.limited(globex.org_id))  # type: ignore[misc]
        first = one.connect(token, "globex/live/a")
        one.connect(token, "globex/live/b")
        assert refused(lambda: two.connect(token, "globex/live/c")) == "QUOTA_EXCEEDED"
        assert refused(lambda: one.connect(token, "globex/live/c")) == "QUOTA_EXCEEDED"
        first.close()
        two.connect(token, "globex/live/c")  # one left: room for one on any gate
        # The first org has no quota: unaffected.
        mine = operator.tokens.relay.mint(tenant="acme", ns=["live/**"]).token
        for n in range(5):
            two.connect(mine, f"live/{n}")

        # Lowered below what is live: nothing is cut, the next connect is refused.
        operator.orgs.set_limits(org_id=globex.org_id, max_sessions=0, connects_per_second=50)
        wait_for(lambda: refused_or_none(lambda: one.connect(token, "globex/live/d")))
        assert len([s for s in one.sessions if s.grant.org == globex.org_id]) == 1
        assert len([s for s in two.sessions if s.grant.org == globex.org_id]) == 1

        # Connects per second, on its own.
        operator.orgs.set_limits(org_id=org, connects_per_second=3)
        wait_for(lambda: one.quotas is not None and one.quotas.limited(org))
        wait_for(lambda: two.quotas is not None and two.quotas.limited(org))
        while time.time() % 1 > 0.5:  # a second with room for four tries
            time.sleep(0.01)
        for n in range(3):
            (one if n % 2 else two).connect(mine, f"live/cps{n}")
        assert refused(lambda: one.connect(mine, "live/cps3")) == "QUOTA_EXCEEDED"
        assert operator.orgs.limits(org_id=globex.org_id).max_sessions == 0
        # Refusals count in the org's usage, by code.
        since = int(time.time()) - 600

        def refusals() -> int:
            return operator.usage.query(org_id=globex.org_id, since=since,
                                        until=int(time.time()) + 60).totals.get(
                "refused:QUOTA_EXCEEDED", 0)  # fmt: skip

        wait_for(lambda: refusals() >= 3)


def refused_or_none(connect: Callable[[], object]) -> bool:
    try:
        connect()
    except QuotaExceededError:
        return True
    return False


def test_mint_and_monthly_session_quotas(plane: tuple[str, str, str], gates: list[Gate]) -> None:
    url, org, key = plane
    one, _ = gates
    with Client(url, api_key=key) as operator:
        globex = operator.orgs.create(name="Globex", namespaces=["globex"])
        operator.orgs.set_limits(org_id=globex.org_id, mints_per_minute=2)
        with Client(url, api_key=globex.admin_key.key) as theirs:
            hook = theirs.webhooks.create(url="http://127.0.0.1:9/hooks",
                                          event_types=["quota.reached"]).endpoint.id  # fmt: skip
            theirs.streams.signing_keys.create(label="main")
            theirs.tokens.relay.mint(ns=["globex/a"])
            theirs.tokens.relay.mint(ns=["globex/a"])
            for _ in range(2):  # announced once a minute, however many refusals
                with pytest.raises(QuotaExceededError, match="mints per minute"):
                    theirs.tokens.relay.mint(ns=["globex/a"])
            told = theirs.webhooks.deliveries.list(id=hook).deliveries
            assert [d.event_type for d in told] == ["quota.reached"]
            assert operator.tokens.relay.mint(tenant="acme", ns=["live/**"]).token  # not ours
            # No session minutes left this month: connects and mints refused.
            token = operator.tokens.relay.mint(tenant="acme", ns=["live/**"]).token
            live = one.connect(token, "live/before")
            operator.orgs.set_limits(org_id=org, session_minutes_per_month=0)
            wait_for(lambda: refused_or_none(lambda: one.connect(token, "live/after")))
            with pytest.raises(QuotaExceededError, match="session minutes"):
                operator.tokens.relay.mint(tenant="acme", ns=["live/**"])
            assert live.open  # quotas gate admission
            operator.orgs.set_limits(org_id=org)  # every quota lifted
            wait_for(lambda: not refused_or_none(lambda: one.connect(token, "live/again")))


def test_a_gate_admits_while_redis_is_away() -> None:
    dead = redis.Redis(port=free_port(), socket_timeout=0.2, socket_connect_timeout=0.2)
    quotas = Quotas(dead, prefix="p", node="g")
    quotas.replace({"org_a": {"max_sessions": 1, "connects_per_second": 1}}, {})
    quotas.admit("org_a")
    quotas.admit("org_a")
    assert quotas.unchecked == 2
    quotas.replace({}, {"org_a": "session minutes"})  # a monthly block needs no Redis
    with pytest.raises(QuotaExceededError):
        quotas.admit("org_a")
    quotas.admit("org_b")


def test_the_cli_sets_and_shows_an_orgs_quotas(plane: tuple[str, str, str]) -> None:
    url, org, key = plane
    env = {"RELAYPASS_URL": url, "RELAYPASS_API_KEY": key}
    runner = CliRunner()
    set_to = runner.invoke(
        cli, ["orgs", "set-limits", org, "--max-sessions", "5", "--mints-per-minute", "60",
              "--json"], env=env,
    )  # fmt: skip
    assert set_to.exit_code == 0, set_to.output
    shown = json.loads(runner.invoke(cli, ["orgs", "limits", "--json"], env=env).output)
    assert (shown["maxSessions"], shown["mintsPerMinute"], shown["connectsPerSecond"]) == (
        5, 60, None,
    )  # fmt: skip
    refused = runner.invoke(cli, ["orgs", "set-limits", org, "--max-sessions", "-1"], env=env)
    assert refused.exit_code != 0
