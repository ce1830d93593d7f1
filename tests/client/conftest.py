"""A control plane served by uvicorn on a free port, for the SDK's tests."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from relaypass.server.app import create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from tests._cp import first_org_store
from tests._net import serve_in_thread


@dataclass(frozen=True)
class Served:
    """Where it listens, the first org and its admin key."""

    url: str
    org: str
    key: str
    store: Store


def serve(directory: Path, *, redis_url: str | None = None) -> Generator[Served, None, None]:
    """Serve a fresh control plane (publishing to ``redis_url``) until the generator is closed."""
    store, org, key = first_org_store(directory)
    settings = Settings(data_dir=directory, key_propagation_seconds=0, redis_url=redis_url)
    with serve_in_thread(create_app(settings, store)) as address:
        yield Served(f"http://{address}", org, key, store)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("cp"))
