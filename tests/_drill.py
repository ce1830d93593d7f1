"""What a failover drill runs and counts: a steady mint-and-connect load, and its tallies."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from relaypass import decode_unverified
from relaypass.client import Client
from relaypass.errors import RelaypassError
from relaypass.gate import Gate
from relaypass.gate.config import GateOptions, build_gate
from tests._cp import served_plane


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


@dataclass
class Load:
    """Mints and connects in a loop, counting what must never happen."""

    refused_valid: int = 0
    mints_failed: int = 0
    rounds: int = 0
    errors: list[str] = field(default_factory=list)


def steady(url: str, key: str, gate: Gate, load: Load, halt: threading.Event) -> None:
    """Mint a token and connect with it, every 20 ms, until ``halt``."""
    with Client(url, api_key=key) as client:
        while not halt.is_set():
            load.rounds += 1
            try:
                token = client.tokens.relay.mint(tenant="acme", ns=["live/**"]).token
            except RelaypassError as exc:
                load.mints_failed += 1
                load.errors.append(f"mint: {exc.code.value} {exc.reason}")
                continue
            try:
                gate.connect(token, "live/load").close()
            except RelaypassError as exc:
                load.refused_valid += 1
                load.errors.append(f"connect: {exc.code.value} {exc.reason}")
            time.sleep(0.02)


@dataclass
class Outcome:
    """What a failover drill counted."""

    load: Load
    cut_after: float  # seconds from the promotion to the revoked session's cut
    others_open: bool  # the sessions not revoked stayed up


def failover_drill(
    directory: Path,
    redis_url: str,
    prefix: str,
    *,
    replicated: Callable[[], bool],
    kill: Callable[[], None],
    promoted: Callable[[], bool],
) -> Outcome:
    """A control plane and a gate on ``redis_url``, a steady load, the primary killed.

    ``replicated``: the replica holds the key set; ``kill``: the primary goes;
    ``promoted``: a replica serves in its place. A token is revoked right after the
    kill, while nothing is promoted yet.
    """
    with served_plane(directory, redis_url, prefix) as (url, _org, key):
        gate, stop = build_gate(GateOptions(redis_url=redis_url, redis_prefix=prefix))
        try:
            with Client(url, api_key=key) as admin:
                minted = [admin.tokens.relay.mint(tenant="acme", ns=["live/**"]) for _ in range(3)]
                wait_for(lambda: gate.keys.learn(minted[0].kid))
                sessions = [gate.connect(m.token, "live/cam") for m in minted]
                victim_jti = str(decode_unverified(minted[0].token)[1]["jti"])
                wait_for(replicated)  # the key set reached the replica
                load, halt = Load(), threading.Event()
                worker = threading.Thread(target=steady, args=(url, key, gate, load, halt))
                worker.start()
                time.sleep(0.5)
                kill()
                admin.tokens.revoke(jti=victim_jti)  # committed while Redis has no primary
                wait_for(promoted, timeout=30)
                at = time.monotonic()
                wait_for(lambda: not sessions[0].open, timeout=15)
                cut_after = time.monotonic() - at
                time.sleep(1.0)  # the load goes on against the new primary
                halt.set()
                worker.join(timeout=30)
            return Outcome(load, cut_after, all(s.open for s in sessions[1:]))
        finally:
            stop()


def check(outcome: Outcome, what: str) -> None:
    """No valid token refused, every mint answered, the cut within 2 s of the promotion."""
    load = outcome.load
    assert load.rounds > 20, load
    assert load.refused_valid == 0, load.errors[:5]
    assert load.mints_failed == 0, load.errors[:5]
    assert outcome.cut_after <= 2.0, f"cut {outcome.cut_after:.2f} s after the promotion"
    assert outcome.others_open
    if os.environ.get("RELAYPASS_DRILL_REPORT"):
        print(f"{what}: {load.rounds} rounds, cut {outcome.cut_after:.2f} s after promotion")  # noqa: T201
