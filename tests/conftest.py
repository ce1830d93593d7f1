from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relaypass.testing import FrozenClock

VECTORS = Path(__file__).parent / "vectors"
NOW = 1_800_000_000.0


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)
