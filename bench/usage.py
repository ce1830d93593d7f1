"""Usage pipeline: events/s into rollups on SQLite and PostgreSQL, lag from emit to rollup, and
what recording costs a connect, beside the targets of the usage issue, in one run.

- **Throughput**: N events of 200 orgs x 5 tenants (started, ended with seconds and bytes,
  refusals by code), shipped into a private Redis stream the way gates ship them (batches of 500
  per entry), then drained by one control-plane consumer into the rollups: events/s against the
  target of 10,000 on one worker.
- **Lag**: events emitted at a steady rate while the consumer runs, from each event's emission to
  the commit of the batch that holds it (p50/p99; the gate ships every 0.5 s, the consumer polls).
- **Connect cost**: ``bench/gate.py``'s connect+close with events off and on, alternated.

Run: .venv/bin/python bench/usage.py [events] [--tiny]
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _servers import free_port, start_redis
from gate import usage_event_cost
from relaypass.gate.usage import UsageEvents, event_record
from relaypass.server.db.migrate import upgrade
from relaypass.server.db.store import make_engine
from relaypass.server.db.usage import UsageStore
from relaypass.server.usage import UsageRecorder

TARGET_EVENTS_PER_S = 10_000
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
_KINDS = ("started", "ended", "refused")


def produce(events: UsageEvents, n: int) -> None:
    for i in range(n):
        org, tenant = f"org_{i % 200}", f"t{i % 5}"
        kind = _KINDS[i % 3]
        detail: dict[str, Any] | None = None
        if kind == "ended":
            detail = {"reason": "disconnected", "seconds": 30.5, "sent": 1000, "received": 2000}
        elif kind == "refused":
            detail = {"code": "INVALID_TOKEN" if i % 2 else "QUOTA_EXCEEDED"}
        events.emit(kind, org, tenant, detail)


def ship(client: Any, stream: str, events: UsageEvents, seq: list[int]) -> int:  # noqa: ANN401
    import json  # noqa: PLC0415 - as the gate's shipper writes them

    batch = events.take(limit=len(events))
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(batch), 500):
        seq[0] += 1
        chunk = [event_record(e) for e in batch[start : start + 500]]
        pipe.xadd(stream, {"id": f"bench:{seq[0]}", "node": "bench",
                           "events": json.dumps(chunk, separators=(",", ":"))})  # fmt: skip
    pipe.execute()
    return len(batch)


def throughput(database_url: str, redis_url: str, n: int) -> float:
    import redis  # noqa: PLC0415

    engine = make_engine(database_url)
    upgrade(engine)
    prefix = f"bench-{secrets.token_hex(3)}"
    client = redis.Redis.from_url(redis_url)
    events = UsageEvents(capacity=n + 1)
    produce(events, n)
    ship(client, f"{prefix}:usage", events, [0])
    recorder = UsageRecorder(UsageStore(engine), redis_url=redis_url, prefix=prefix)
    started = time.perf_counter()
    while recorder.applied < n:
        recorder.consume(block_ms=100, count=20)
    elapsed = time.perf_counter() - started
    recorder.close()
    client.close()
    engine.dispose()
    return n / elapsed


def lag(database_url: str, redis_url: str, rate: int, seconds: float) -> tuple[float, float]:
    import redis  # noqa: PLC0415

    engine = make_engine(database_url)
    upgrade(engine)
    prefix = f"bench-{secrets.token_hex(3)}"
    client = redis.Redis.from_url(redis_url)
    events = UsageEvents(capacity=10 * rate)
    recorder = UsageRecorder(UsageStore(engine), redis_url=redis_url, prefix=prefix)
    lags: list[float] = []
    original = recorder._apply_entries

    def timed(client_: Any, entries: Any, consumer: str) -> int:  # noqa: ANN401
        import json  # noqa: PLC0415

        ats = [e["at"] for _, f in entries for e in json.loads(f.get("events", "[]"))]
        applied = original(client_, entries, consumer)
        now = time.time()
        lags.extend(now - at for at in ats)
        return applied

    recorder._apply_entries = timed  # type: ignore[method-assign, assignment]
    stop = threading.Event()
    produced = [0]

    def consume() -> None:
        while not stop.is_set() or recorder.applied < produced[0]:
            recorder.consume(block_ms=50, count=20)

    consumer = threading.Thread(target=consume)
    consumer.start()
    seq = [0]
    tick = 0.01
    deadline = time.monotonic() + seconds
    next_ship = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        produce(events, int(rate * tick))
        if time.monotonic() >= next_ship:
            produced[0] += ship(client, f"{prefix}:usage", events, seq)
            next_ship += 0.5
        time.sleep(tick)
    produced[0] += ship(client, f"{prefix}:usage", events, seq)
    stop.set()
    consumer.join(timeout=60)
    recorder.close()
    client.close()
    engine.dispose()
    lags.sort()
    return statistics.median(lags) * 1000, lags[int(len(lags) * 0.99) - 1] * 1000


def main() -> None:
    tiny = "--tiny" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else (3_000 if tiny else 200_000)
    rate, seconds = (1_000, 1.0) if tiny else (5_000, 6.0)
    workdir = tempfile.mkdtemp(prefix="relaypass-bench-")
    port = free_port()
    proc = start_redis(port, workdir)
    redis_url = f"redis://127.0.0.1:{port}/0"
    name = f"relaypass_bench_{secrets.token_hex(4)}"
    with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        stores = {
            "SQLite": f"sqlite:///{workdir}/usage.db",
            "PostgreSQL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        }
        print(f"one consumer, {n:,} events of 200 orgs x 5 tenants, batches of 500 per entry")
        print(f"{'store':12}{'events/s':>10}{'target':>9}{'ratio':>7}{'lag p50 ms':>12}"
              f"{'lag p99 ms':>12}  (lag at {rate:,} events/s for {seconds:.0f} s)")  # fmt: skip
        for label, url in stores.items():
            rate_done = throughput(url, redis_url, n)
            p50, p99 = lag(url, redis_url, rate, seconds)
            print(f"{label:12}{rate_done:10,.0f}{TARGET_EVENTS_PER_S:9,}"
                  f"{rate_done / TARGET_EVENTS_PER_S:7.2f}{p50:12.0f}{p99:12.0f}")  # fmt: skip
    finally:
        with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        proc.terminate()
        proc.wait(timeout=10)
    usage_event_cost(rounds=3 if tiny else 7, batch=300 if tiny else 3000)


if __name__ == "__main__":
    main()
