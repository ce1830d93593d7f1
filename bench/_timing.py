"""Shared timing helper: best-of-N microseconds per call."""

from __future__ import annotations

import timeit
from collections.abc import Callable


def per_call_us(fn: Callable[[], object], *, budget_s: float = 0.25, repeat: int = 5) -> float:
    """Best of ``repeat`` runs, each sized to about ``budget_s`` seconds."""
    timer = timeit.Timer(fn)
    number, elapsed = timer.autorange()
    number = max(1, int(number * budget_s / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6
