"""Rooms live across 2 gates on one Redis: how long a decision takes to bite.

A control plane (SQLite, uvicorn, its outbox relaying to a redis-server this
benchmark starts on a free loopback port) and two gates following that Redis,
in this process. Per trial, measured from the decision to the moment it is in
force, polling every 0.2 ms:

1. admit: a moderator on gate 1 admits a joiner waiting on gate 2 -> the
   joiner's first allowed publish;
2. ``rooms.participants.update`` (an SDK call to the control plane) narrowing a
   speaker on gate 2 to subscribe-only -> the publish refused;
3. ``rooms.participants.remove`` -> the participant's session closed, on
   whichever gate holds it (half the trials each).

Prints p50 and p99 of each beside the issue's target p99, as a ratio, in one run.

Run: .venv/bin/python bench/rooms.py [trials]
"""

from __future__ import annotations

import functools
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port, start_redis
from relaypass import InvalidPermissionsError
from relaypass._apikeys import ApiKeyHasher
from relaypass.client import Client
from relaypass.gate import Gate, RedisKeySource, Session
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store, make_engine
from relaypass.server.secrets import KeyEncryptionKey
from relaypass.server.settings import Settings

TARGETS_MS = {"admit -> first allowed op": 200.0, "update -> narrowed": 50.0,
              "remove -> closed everywhere": 50.0}  # fmt: skip
PREFIX = "bench-rooms"


def until(condition: Callable[[], bool], started: float, timeout: float = 5.0) -> float:
    """Milliseconds from ``started`` until ``condition`` holds."""
    while not condition():
        if time.perf_counter() - started > timeout:
            msg = "the decision did not take effect"
            raise TimeoutError(msg)
        time.sleep(0.0002)
    return (time.perf_counter() - started) * 1000


def refused(session: Session) -> bool:
    try:
        session.authorize_publish("cam", source="camera")
    except InvalidPermissionsError:
        return True
    return False


def closed(session: Session) -> bool:
    return not session.open


def allowed(session: Session) -> bool:
    try:
        session.authorize_publish("cam", source="camera")
    except Exception:  # noqa: BLE001 - pending or not yet granted: not allowed yet
        return False
    return True


def main() -> None:  # noqa: PLR0915 - one scenario after another, in one run
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    work = tempfile.mkdtemp(prefix="relaypass-bench-rooms-")
    redis_port, api_port = free_port(), free_port()
    redis_proc = start_redis(redis_port, work)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    store = Store(
        make_engine(f"sqlite:///{Path(work) / 'relaypass.db'}"),
        kek=KeyEncryptionKey(b"k" * 32),
        hasher=ApiKeyHasher(b"p" * 32),
        key_propagation_seconds=0,
    )
    store.migrate()
    first = bootstrap(store)
    assert first is not None
    org, key = first
    store.create_signing_key(org, "bench", actor="bench")
    settings = Settings(
        data_dir=Path(work), key_propagation_seconds=0, redis_url=redis_url, redis_prefix=PREFIX,
        mint_rate_per_minute=0,
    )  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=api_port,
                       log_level="error")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    gates, sources = [], []
    for _ in range(2):
        source = RedisKeySource(redis_url, prefix=PREFIX, start=False)
        gate = Gate(source, profile="room")
        source.attach(gate)
        source.start()
        source.wait_ready(10)
        gates.append(gate)
        sources.append(source)
    one, two = gates
    client = Client(f"http://127.0.0.1:{api_port}", api_key=key)
    results: dict[str, list[float]] = {name: [] for name in TARGETS_MS}

    def room_token(room: str, who: str, role: str, *, ask: bool = False) -> str:
        return client.tokens.room.mint(
            org_id=org, room_id=room, participant_id=who, role=role,
            join_policy={"mode": "ask"} if ask else None, ttl_seconds=600,
        ).token  # fmt: skip

    try:
        for n in range(trials):
            room = f"r{n}"
            host = one.connect(room_token(room, "host", "host"), room)
            joiner = two.connect(room_token(room, "guest", "speaker", ask=True), room)
            started = time.perf_counter()
            host.admit("guest")
            results["admit -> first allowed op"].append(
                until(functools.partial(allowed, joiner), started)
            )

            speaker = two.connect(room_token(room, "spk", "speaker"), room)
            started = time.perf_counter()
            client.rooms.participants.update(
                org_id=org, room_id=room, participant_id="spk", grant={"canSubscribe": True}
            )
            results["update -> narrowed"].append(
                until(functools.partial(refused, speaker), started)
            )

            victim = (one if n % 2 else two).connect(room_token(room, "bye", "speaker"), room)
            started = time.perf_counter()
            client.rooms.participants.remove(org_id=org, room_id=room, participant_id="bye")
            results["remove -> closed everywhere"].append(
                until(functools.partial(closed, victim), started)
            )
            for session in (host, joiner, speaker):
                session.close("done")
    finally:
        client.close()
        for source in sources:
            source.close()
        server.should_exit = True
        thread.join(10)
        store.close()
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    print(f"2 gates on one Redis, {trials} trials each, SQLite control plane on loopback")
    print(f"{'from -> to':32} {'p50 ms':>8} {'p99 ms':>8} {'target p99':>11} {'p99/target':>11}")
    for name, values in results.items():
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        target = TARGETS_MS[name]
        print(f"{name:32} {statistics.median(values):8.2f} {p99:8.2f} {target:11.0f} "
              f"{p99 / target:11.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
