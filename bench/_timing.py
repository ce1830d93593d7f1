"""Shared timing helpers: best-of-N microseconds per call, and the smoke-run switch.

``RELAYPASS_BENCH_TINY=1`` (the suite's ``tests/test_bench_smoke.py``) cuts every size to
seconds so no benchmark rots unnoticed; nothing a tiny run prints means anything.
"""

from __future__ import annotations

import os
import timeit
from collections.abc import Callable
from typing import Final, TypeVar

T = TypeVar("T")

#: A smoke run: every benchmark at a size that takes seconds.
TINY: Final = os.environ.get("RELAYPASS_BENCH_TINY") == "1"


def sized(full: T, tiny: T) -> T:
    """``full``, or ``tiny`` in a smoke run."""
    return tiny if TINY else full


def per_call_us(fn: Callable[[], object], *, budget_s: float = 0.25, repeat: int = 5) -> float:
    """Best of ``repeat`` runs, each sized to about ``budget_s`` seconds."""
    budget_s, repeat = sized(budget_s, 0.002), sized(repeat, 1)
    timer = timeit.Timer(fn)
    number, elapsed = timer.autorange() if not TINY else (1, max(_once(timer), 1e-9))
    number = max(1, int(number * budget_s / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def _once(timer: timeit.Timer) -> float:
    return timer.timeit(number=1)
