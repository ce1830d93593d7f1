"""A control plane served by uvicorn on a free port, for the SDK's tests."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from tests._cp import sqlite_store
from tests._net import free_port, wait_port


@dataclass(frozen=True)
class Served:
    """Where it listens, the first org and its admin key."""

    url: str
    org: str
    key: str
    store: Store


def serve(directory: Path) -> Generator[Served, None, None]:
    """Serve a fresh control plane until the generator is closed."""
    store = sqlite_store(directory, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    store.create_tenant(org, "acme", "Acme", actor="test")
    store.create_signing_key(org, "main", actor="test")
    app = create_app(Settings(data_dir=directory, key_propagation_seconds=0), store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    try:
        yield Served(f"http://127.0.0.1:{port}", org, key, store)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("cp"))
