"""What one mint's audit row costs to commit, with one org minting and with many.

Every mint appends a row to the audit log before its answer leaves; the log is read per
org, so it carries an index that starts with the org, and such an index is written at a
different place for each org. This measures the append as a mint makes it (SQLite, the
migrated schema, rows committed eight at a time on the loop's connection, as one turn of
the event loop groups them) into a log that already holds rows of every org, for 1 org
(the reference) and for 100 and 1,000, in alternated rounds: median (min..max) of the
microseconds per row, and the ratio to one org.

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
from relaypass.server.db.store import Store, make_engine
from relaypass.server.secrets import KeyEncryptionKey

BATCH = 8
PREFILL = sized(200_000, 2_000)
ROWS = sized(16_000, 160)
ROUNDS = sized(5, 1)


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
    return writer


def per_row_us(writer: AuditAppender, orgs: int, offset: int) -> float:
    """Microseconds per row, appending :data:`ROWS` rows in commits of :data:`BATCH`."""
    batches = [_rows(orgs, offset + i, BATCH) for i in range(0, ROWS, BATCH)]
    started = time.perf_counter()
    for batch in batches:
        assert writer.write_without_waiting(batch)
    return (time.perf_counter() - started) / ROWS * 1e6


def main() -> None:
    sides = (1, 100, 1000)
    with tempfile.TemporaryDirectory(prefix="relaypass-bench-audit-") as base:
        writers = {}
        for orgs in sides:
            (Path(base) / str(orgs)).mkdir()
            writers[orgs] = appender(Path(base) / str(orgs), orgs)
        runs: dict[int, list[float]] = {orgs: [] for orgs in sides}
        for n in range(ROUNDS):
            order = sides if n % 2 == 0 else tuple(reversed(sides))
            for orgs in order:
                runs[orgs].append(per_row_us(writers[orgs], orgs, PREFILL + n * ROWS))
        for writer in writers.values():
            writer.close()
    print(
        f"Audit append (SQLite WAL, synchronous=NORMAL, commits of {BATCH} rows, {PREFILL:,} rows"
        f" already logged), {ROUNDS} alternated rounds of {ROWS:,} rows: us per row, median"
        " (min..max)"
    )
    reference = statistics.median(runs[1])
    for orgs in sides:
        values = runs[orgs]
        ratio = statistics.median(values) / reference
        print(
            f"  {orgs:>5,} orgs  {statistics.median(values):7.1f} "
            f"({min(values):.1f}..{max(values):.1f})  {ratio:5.2f}x one org"
        )


if __name__ == "__main__":
    main()
