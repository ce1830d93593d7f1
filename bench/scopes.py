"""Pattern checks: the compiled PatternSet beside an fnmatch loop, N = 1 .. 1000 patterns;
and what building a set and its first check cost (at connect: validation and
de-duplication, then a few searches of the patterns' text), against the target of 50 µs
at 100 patterns.

Run: .venv/bin/python bench/scopes.py
"""

from __future__ import annotations

import fnmatch
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us, sized
from relaypass._scopes import PatternSet, split_path


def make_patterns(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(f"voice/sid_{i}/*")
        elif kind == 1:
            out.append(f"playback/li_{i}")
        else:
            out.append(f"rooms/r{i}/**")
    rng.shuffle(out)
    return out


def main() -> None:
    rng = random.Random(7)
    print("ns per check (best of 5); path = the last pattern's namespace, so a loop scans all")
    print(f"{'N':>5} {'cold':>9} {'memo':>9} {'fnmatch':>10} {'fnmatch/cold':>13}")
    for n in (1, 10, 100, 1000):
        patterns = make_patterns(n, rng)
        compiled = PatternSet(patterns)
        target = f"voice/sid_{(n - 1) // 3 * 3}/audio"
        assert compiled.matches(target)
        fn_patterns = list(patterns)

        def cold(c: PatternSet = compiled, p: str = target) -> bool:
            return c.matches_segments(split_path(p))

        def memo(c: PatternSet = compiled, p: str = target) -> bool:
            return c.matches(p)

        def loop(ps: list[str] = fn_patterns, p: str = target) -> bool:
            return any(fnmatch.fnmatchcase(p, q) for q in ps)

        c, m, f = (per_call_us(fn) * 1000 for fn in (cold, memo, loop))
        print(f"{n:>5} {c:9.0f} {m:9.0f} {f:10.0f} {f / c:13.1f}")


def build(rounds: int = sized(5, 1)) -> None:
    print("\nbuild, then build + the first check, µs: a fresh set of N voice/sid_<i>/* patterns")
    print("(no shared cache; median of 5 alternated rounds, min..max); target: build + first")
    print("check <= 50 µs at 100 patterns, linear in N")
    print(f"{'N':>5} {'build':>8} {'+1st check':>22} {'ns/pattern':>11} {'target':>7} {'ratio':>6}")
    for n in (10, 100, 1000):
        patterns = [f"voice/sid_{i}/*" for i in range(n)]
        path = f"voice/sid_{n // 2}/mic"

        def fresh(ps: list[str] = patterns) -> PatternSet:
            return PatternSet(ps)

        def fresh_checked(ps: list[str] = patterns, p: str = path) -> bool:
            return PatternSet(ps).matches(p)

        builds, checked = [], []
        for _ in range(rounds):
            builds.append(per_call_us(fresh, repeat=1))
            checked.append(per_call_us(fresh_checked, repeat=1))
        builds.sort()
        checked.sort()
        b, c = builds[rounds // 2], checked[rounds // 2]
        spread = f"{c:6.1f} ({checked[0]:.1f}..{checked[-1]:.1f})"
        goal = f"{50.0:7.1f} {c / 50:6.2f}" if n == 100 else f"{'':7} {'':6}"
        print(f"{n:>5} {b:8.1f} {spread:>22} {c * 1000 / n:11.0f} {goal}")


if __name__ == "__main__":
    main()
    build()
