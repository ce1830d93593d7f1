"""Verified-token cache: what a miss costs when the cache is full (eviction on every store).

Prints the per-verify cost of misses in a full cache beside the same verifies without a
cache, and the difference (target: at most 1 µs).

Run: .venv/bin/python bench/cache.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import sized
from relaypass import Key, KeySet, Minter, VerifiedTokenCache, Verifier

FILL = sized(10_000, 200)
MISSES = sized(20_000, 1_000)


def run_once() -> tuple[float, float]:
    key = Key.generate("HS256", kid="k")
    minter = Minter(key)
    tokens = [minter.mint({"sub": f"s{i}"}) for i in range(FILL + 2 * MISSES)]
    cached = Verifier(KeySet([key]), cache=VerifiedTokenCache(max_entries=FILL))
    plain = Verifier(KeySet([key]))
    for token in tokens[:FILL]:
        cached.verify(token)
    # Interleaved in blocks, so both sides see the same machine state.
    with_cache = without = 0.0
    misses, fresh = tokens[FILL : FILL + MISSES], tokens[FILL + MISSES :]
    for block in range(0, MISSES, 1_000):
        started = time.perf_counter()
        for token in misses[block : block + 1_000]:
            cached.verify(token)
        with_cache += time.perf_counter() - started
        started = time.perf_counter()
        for token in fresh[block : block + 1_000]:
            plain.verify(token)
        without += time.perf_counter() - started
    with_cache, without = with_cache / MISSES * 1e6, without / MISSES * 1e6
    return with_cache, without


def main() -> None:
    runs = [run_once() for _ in range(sized(3, 1))]
    with_cache = statistics.median(r[0] for r in runs)
    without = statistics.median(r[1] for r in runs)
    print(f"HS256 verify, cache of {FILL} entries kept full, median of 3 runs (µs per verify)")
    print(f"{'miss in a full cache':28}{with_cache:8.2f}")
    print(f"{'no cache':28}{without:8.2f}")
    overhead = with_cache - without
    print(f"{'miss overhead':28}{overhead:8.2f}   target 1.00   ratio {overhead / 1.0:.2f}")


if __name__ == "__main__":
    main()
