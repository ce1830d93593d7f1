"""What a failover drill runs and counts: a steady mint-and-connect load, and its tallies."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from relaypass.client import Client
from relaypass.errors import RelaypassError
from relaypass.gate import Gate


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


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
