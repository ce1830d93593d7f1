"""Every benchmark runs, at a size that takes seconds, so none rots unnoticed.

``RELAYPASS_BENCH_TINY=1`` shrinks their sizes (``bench/_timing.py``); the
arguments below shrink the rest. Nothing is timed or compared here: a tiny run's
figures mean nothing. What is checked: the benchmark ran to its end and printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

BENCH = Path(__file__).parents[1] / "bench"
#: The arguments of a tiny run, per benchmark (the rest use RELAYPASS_BENCH_TINY alone).
ARGS = {
    "accounts": ["2"],
    "mint": ["1"],
    "moq_auth": ["0.2"],
    "moq_auth_fleet": ["200", "5", "2"],
    "nats_callout": ["5", "3"],
    "revocation": ["2", "1"],
    "rooms": ["2"],
    "trpc": ["3"],
    "usage": ["--tiny"],
    "webhooks": ["--tiny"],
}
BENCHMARKS = sorted(p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_"))


def test_every_benchmark_is_listed_or_needs_no_arguments() -> None:
    assert set(ARGS) <= set(BENCHMARKS)
    assert len(BENCHMARKS) >= 15  # the folder was found: a smoke class is made for each below


def _runs_to_its_end(name: str) -> None:
    env = {**os.environ, "RELAYPASS_BENCH_TINY": "1", "PYTHONPATH": str(BENCH.parent)}
    done = subprocess.run(  # noqa: S603 - our own benchmarks
        [sys.executable, str(BENCH / f"{name}.py"), *ARGS.get(name, [])],
        cwd=BENCH.parent, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert done.stdout.strip(), done.stderr[-2000:]


class _Smoke:
    """One benchmark's smoke run, in a class of its own.

    The suite's workers take a module's functions together but its classes one by one, so
    the runs are shared out among them (together they took two and a half minutes of one).
    """

    name: ClassVar[str]

    def test_runs_to_its_end(self) -> None:
        _runs_to_its_end(self.name)


for _name in BENCHMARKS:
    globals()[f"TestBench_{_name}"] = type(f"TestBench_{_name}", (_Smoke,), {"name": _name})
