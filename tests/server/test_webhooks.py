"""Webhooks end to end: a served control plane delivers to a real receiver process that
verifies every signature with the ``standardwebhooks`` library; retries, disabling, replay,
rotation, private addresses refused, and another org's endpoints out of reach."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpcore
import pytest

from relaypass.client import Client
from relaypass.errors import InvalidRequestError
from relaypass.gate.config import GateOptions, build_gate
from relaypass.server.db.store import Store
from relaypass.server.webhooks import _GuardedBackend, check_url
from tests._cp import served_plane
from tests._net import free_port, stop_process, wait_port
from tests.server.conftest import MsClock, bootstrap_with_tenants

ROOT = Path(__file__).parents[2]


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


class Receiver:
    """The receiver process, its port, what it verified, and a switch that makes it fail."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.out = directory / f"received-{self.port}.jsonl"
        self.fail = directory / f"fail-{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *secrets: str) -> None:
        self.stop()
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "tests.server._webhook_receiver", str(self.port),
             ",".join(secrets), str(self.out), str(self.fail)],
            cwd=ROOT,
        )  # fmt: skip
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def received(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def types(self) -> list[str]:
        return [r["payload"]["type"] for r in self.received()]


@pytest.fixture
def plane(tmp_path: Path, redis_server: str, redis_prefix: str) -> Iterator[tuple[str, str, str]]:
    with served_plane(
        tmp_path, redis_server, redis_prefix, webhook_allow_private=True,
        webhook_retry_seconds=(0.2, 0.4, 0.8), webhook_disable_after_seconds=1,
    ) as plane:  # fmt: skip
        yield plane


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(tmp_path)
    yield running
    running.stop()


def test_events_reach_a_receiver_that_verifies_every_signature(
    plane: tuple[str, str, str], receiver: Receiver, redis_server: str, redis_prefix: str
) -> None:
    url, _org, key = plane
    with Client(url, api_key=key) as admin:
        created = admin.webhooks.create(url=receiver.url, description="billing")
        assert created.secret.startswith("whsec_")
        receiver.start(created.secret)
        endpoint = created.endpoint.id
        admin.webhooks.test(id=endpoint)
        made = admin.streams.signing_keys.create(label="second")
        spare = admin.streams.api_keys.create(label="spare", scopes=["tokens:mint"])
        admin.streams.api_keys.revoke(id=spare.id)
        # A session through a gate: started and ended, from the gate's own events.
        gate, stop = build_gate(GateOptions(redis_url=redis_server, redis_prefix=redis_prefix))
        try:
            token = admin.tokens.relay.mint(tenant="acme", ns=["live/**"]).token
            wait_for(lambda: gate.keys.keyset() is not None and len(gate.keys.keyset()) > 0)
            gate.connect(token, "live/cam").close("disconnected")
        finally:
            stop()
        wanted = {
            "webhook.test", "signing_key.created", "signing_key.activated", "api_key.created",
            "api_key.revoked", "session.started", "session.ended",
        }  # fmt: skip
        wait_for(lambda: wanted <= set(receiver.types()))
        by_type = {r["payload"]["type"]: r for r in receiver.received()}
        assert by_type["signing_key.created"]["payload"]["data"]["label"] == "second"
        assert by_type["signing_key.activated"]["payload"]["data"]["id"] == made.id
        assert by_type["signing_key.created"]["payload"]["data"]["alg"] == made.algorithm
        assert by_type["session.ended"]["payload"]["data"]["tenant"] == "acme"
        assert by_type["session.ended"]["payload"]["data"]["reason"] == "disconnected"
        ids = [r["id"] for r in receiver.received()]
        assert len(ids) == len(set(ids))  # one webhook-id per message
        # The receiver has each before the deliverer has recorded its answer.
        wait_for(lambda: {d.state for d in admin.webhooks.deliveries.list(id=endpoint).deliveries}
                 == {"delivered"})  # fmt: skip
        log = admin.webhooks.deliveries.list(id=endpoint)
        assert all(d.last_status == 204 and d.last_latency_ms is not None for d in log.deliveries)


def test_a_failing_receiver_gets_everything_once_it_recovers_and_a_dead_one_is_disabled(
    plane: tuple[str, str, str], receiver: Receiver
) -> None:
    url, _org, key = plane
    with Client(url, api_key=key) as admin:
        created = admin.webhooks.create(url=receiver.url, event_types=["webhook.test"])
        endpoint = created.endpoint.id
        receiver.fail.touch()  # answers 500 for a while
        receiver.start(created.secret)
        first = admin.webhooks.test(id=endpoint).message_id
        wait_for(lambda: admin.webhooks.deliveries.list(id=endpoint).deliveries[0].attempts >= 2)
        receiver.fail.unlink()
        wait_for(lambda: first in {r["id"] for r in receiver.received()})
        # The receiver has it before the deliverer has recorded its answer.
        wait_for(lambda: admin.webhooks.deliveries.list(id=endpoint).deliveries[0].state
                 == "delivered")  # fmt: skip
        delivery = admin.webhooks.deliveries.list(id=endpoint).deliveries[0]
        assert delivery.attempts >= 3  # 500, 500, ..., then 204: the same webhook-id each time
        assert admin.webhooks.list().endpoints[0].failing_since_ms is None

        # Down for good: past the schedule and a failing day (a second here), disabled.
        receiver.stop()
        second = admin.webhooks.test(id=endpoint).message_id
        wait_for(lambda: admin.webhooks.list().endpoints[0].disabled_at_ms is not None)
        shown = admin.webhooks.list().endpoints[0]
        assert shown.disabled_reason == "every delivery failed for a day"
        failed = admin.webhooks.deliveries.list(id=endpoint, state="failed").deliveries[0]
        assert failed.message_id == second
        assert failed.attempts == 4
        with pytest.raises(InvalidRequestError):
            admin.webhooks.deliveries.replay(delivery_id=failed.id)
        # Back up, enabled again, the failed delivery replayed: it arrives, same webhook-id.
        receiver.start(created.secret)
        admin.webhooks.update(id=endpoint, enabled=True)
        admin.webhooks.deliveries.replay(delivery_id=failed.id)
        wait_for(lambda: second in {r["id"] for r in receiver.received()})


def test_a_rotated_secret_and_the_previous_one_both_verify(
    plane: tuple[str, str, str], receiver: Receiver
) -> None:
    url, _org, key = plane
    with Client(url, api_key=key) as admin:
        created = admin.webhooks.create(url=receiver.url, event_types=["webhook.test"])
        endpoint = created.endpoint.id
        rotated = admin.webhooks.rotate_secret(id=endpoint)
        assert rotated.secret != created.secret
        receiver.start(created.secret)  # a receiver not updated yet
        admin.webhooks.test(id=endpoint)
        wait_for(lambda: len(receiver.received()) == 1)
        assert len(receiver.received()[0]["signatures"].split(" ")) == 2
        receiver.start(rotated.secret)  # updated
        admin.webhooks.test(id=endpoint)
        wait_for(lambda: len(receiver.received()) == 2)


def test_another_orgs_endpoints_are_out_of_reach(plane: tuple[str, str, str]) -> None:
    url, _org, key = plane
    with Client(url, api_key=key) as admin:
        mine = admin.webhooks.create(url="http://127.0.0.1:9/nowhere").endpoint.id
        other = admin.orgs.create(name="Globex")
    with Client(url, api_key=other.admin_key.key) as globex:
        assert globex.webhooks.list().endpoints == []
        for act in (
            lambda: globex.webhooks.update(id=mine, url="http://127.0.0.1:9/mine-now"),
            lambda: globex.webhooks.delete(id=mine),
            lambda: globex.webhooks.rotate_secret(id=mine),
            lambda: globex.webhooks.test(id=mine),
            lambda: globex.webhooks.deliveries.list(id=mine),
        ):
            with pytest.raises(InvalidRequestError, match="no such webhook endpoint"):
                act()
    with Client(url, api_key=key) as admin:
        assert [e.id for e in admin.webhooks.list().endpoints] == [mine]
        with pytest.raises(InvalidRequestError, match="unknown event types"):
            admin.webhooks.create(url="http://127.0.0.1:9/x", event_types=["everything"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/h", "http://localhost/h", "http://10.1.2.3/h",
        "http://169.254.169.254/latest", "http://[::1]/h", "http://100.64.0.1/h",
        "http://[::ffff:127.0.0.1]/h", "http://0.0.0.0/h", "ftp://example.com/h",
        "https://user:pw@example.com/h",
    ],
)  # fmt: skip
def test_private_and_odd_targets_are_refused_unless_the_operator_allows(url: str) -> None:
    with pytest.raises(InvalidRequestError):
        check_url(url, allow_private=False)
    if url.startswith("http://") and "@" not in url:
        assert check_url(url, allow_private=True) == url


def test_the_address_dialled_is_checked_not_only_the_name() -> None:
    """A name that resolves to loopback by the time of the delivery gets no connection."""
    with pytest.raises(httpcore.ConnectError, match="private or reserved"):
        _GuardedBackend().connect_tcp("localhost", 9)


def test_an_expiring_api_key_is_announced_a_week_and_a_day_before(
    store: Store, ms_clock: MsClock
) -> None:
    org, _ = bootstrap_with_tenants(store)
    hook = store.create_webhook(
        org, "https://hooks.example.com/x", event_types=["api_key.expiring"], actor="test"
    )[0]["id"]
    day = 86_400_000
    expiring, _ = store.create_api_key(org, "ci", ["tokens:mint"],
                                       expires_at_ms=ms_clock.now_ms + 6 * day)  # fmt: skip
    store.create_api_key(org, "later", ["tokens:mint"], expires_at_ms=ms_clock.now_ms + 30 * day)
    assert store.announce_expiring_keys() == 1
    assert store.announce_expiring_keys() == 0  # once per notice
    ms_clock.advance(5.5 * 86_400)
    assert store.announce_expiring_keys() == 1
    ms_clock.advance(86_400)  # expired: nothing more
    assert store.announce_expiring_keys() == 0
    told = store.webhook_deliveries(org, hook)
    assert [d["event_type"] for d in told] == ["api_key.expiring", "api_key.expiring"]
    assert expiring.id in str(store.due_webhook_deliveries()[0].body)
