"""What one mint's audit row costs, with one org minting and with many.

Every mint appends a row to the audit log before its answer leaves; the log is read per
org, so it is indexed by org, and such an index is written at a different place for each
org. On SQLite the org index is written behind the log, in batches sorted by org
(``relaypass.server.db.audit_index``). This measures both parts as the service runs them
(the migrated schema; rows committed eight at a time on the loop's connection, as one
turn of the event loop groups them; then indexed in batches of what two seconds of
3,000 mints a second append) into a log that already holds rows of every org, for 1 org
(the reference) and for 100 and 1,000, in alternated rounds: median (min..max) of the
microseconds per row, and the ratio of the whole to one org's.

Run: .venv/bin/python bench/audit.py
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import sized
from relaypass._apikeys import ApiKeyHasher
from relaypass.server.blocking import AuditRow
from relaypass.server.db.audit import AuditAppender
from relaypass.server.db.audit_index import index_behind
from relaypass.server.db.store import Store, make_engine
from relaypass.server.secrets import KeyEncryptionKey

BATCH = 8
PREFILL = sized(200_000, 2_000)
ROWS = sized(16_000, 160)
ROUNDS = sized(5, 1)
#: Rows one batch of the indexer takes: two seconds (its period) of 3,000 mints a second.
INDEX_BATCH = 6_000


def _org(n: int) -> str:
    return f"org_{n:024x}"


def _rows(orgs: int, start: int, count: int) -> list[AuditRow]:
    return [
        (start + i, _org((start + i) % orgs), "key_bench", "token.mint", "relay",
         {"kid": "k1", "jti": secrets.token_hex(8), "exp": start + i + 600, "tenant": "default"})
        for i in range(count)
    ]  # fmt: skip


def appender(directory: Path, orgs: int) -> AuditAppender:
    """A migrated database whose log holds :data:`PREFILL` rows spread over ``orgs`` orgs."""
    engine = make_engine(f"sqlite:///{directory / 'relaypass.db'}")
    Store(
        engine, kek=KeyEncryptionKey(secrets.token_bytes(32)), hasher=ApiKeyHasher(os.urandom(32))
    ).migrate()
    writer = AuditAppender(engine)
    writer._open_for_now()  # the loop's connection, as the service opens it
    for start in range(0, PREFILL, 5_000):
        assert writer.write_without_waiting(_rows(orgs, start, 5_000))
    while index_behind(engine):
        pass
    return writer


def per_row_us(writer: AuditAppender, orgs: int, offset: int) -> tuple[float, float]:
    """Microseconds per row: appending :data:`ROWS` rows in commits of :data:`BATCH`, then
    indexing them behind the log in batches of :data:`INDEX_BATCH`."""
    batches = [_rows(orgs, offset + i, BATCH) for i in range(0, ROWS, BATCH)]
    started = time.perf_counter()
    for batch in batches:
        assert writer.write_without_waiting(batch)
    appended = time.perf_counter() - started
    engine = writer._engine
    started = time.perf_counter()
    while index_behind(engine, most=INDEX_BATCH):
        pass
    indexed = time.perf_counter() - started
    return appended / ROWS * 1e6, indexed / ROWS * 1e6


def main() -> None:
    sides = (1, 100, 1000)
    with tempfile.TemporaryDirectory(prefix="relaypass-bench-audit-") as base:
        writers = {}
        for orgs in sides:
            (Path(base) / str(orgs)).mkdir()
            writers[orgs] = appender(Path(base) / str(orgs), orgs)
        runs: dict[int, list[tuple[float, float]]] = {orgs: [] for orgs in sides}
        for n in range(ROUNDS):
            order = sides if n % 2 == 0 else tuple(reversed(sides))
            for orgs in order:
                runs[orgs].append(per_row_us(writers[orgs], orgs, PREFILL + n * ROWS))
        for writer in writers.values():
            writer.close()
    print(
        f"Audit rows (SQLite WAL, synchronous=NORMAL, commits of {BATCH} rows, indexed behind"
        f" in batches of {INDEX_BATCH:,}; {PREFILL:,} rows already logged), {ROUNDS} alternated"
        f" rounds of {ROWS:,} rows: us per row, median (min..max)"
    )
    print(f"  {'':10} {'append':>20} {'index behind':>20} {'whole':>20} {'ratio':>7}")
    reference = statistics.median(a + i for a, i in runs[1])
    for orgs in sides:
        parts = [[a for a, _ in runs[orgs]], [i for _, i in runs[orgs]]]
        parts.append([a + i for a, i in runs[orgs]])
        cells = "".join(
            f" {statistics.median(v):8.1f} ({min(v):4.1f}..{max(v):4.1f})" for v in parts
        )
        ratio = statistics.median(parts[2]) / reference
        print(f"  {orgs:>5,} orgs{cells} {ratio:6.2f}x one org")


if __name__ == "__main__":
    main()
