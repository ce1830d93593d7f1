"""A control plane with Redis, and two room servers (two gates) following it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from examples.rooms.server import create_app as create_room_server

from relaypass.client import AsyncClient
from relaypass.gate import Gate, RedisKeySource
from relaypass.server.app import bootstrap, create_app
from relaypass.server.settings import Settings
from tests._cp import sqlite_store
from tests._net import free_port, serve_in_thread, stop_process
from tests.server.conftest import start_redis


@dataclass
class Stack:
    """Where everything listens."""

    control_plane: str
    org: str
    key: str
    gates: list[str]
    redis_url: str
    prefix: str


@contextlib.contextmanager
def rooms_stack(directory: Path, gates: int = 2) -> Iterator[Stack]:
    """Redis of our own, the control plane on it, ``gates`` room servers following it."""
    redis_dir = directory / "redis"
    redis_dir.mkdir()
    redis_port = free_port()
    redis_proc = start_redis(redis_port, redis_dir)
    redis_url, prefix = f"redis://127.0.0.1:{redis_port}/0", "rooms"
    store = sqlite_store(directory, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    store.create_signing_key(org, "rooms", actor="test")
    settings = Settings(
        data_dir=directory, key_propagation_seconds=0, redis_url=redis_url, redis_prefix=prefix
    )
    sources: list[RedisKeySource] = []
    with contextlib.ExitStack() as stack:
        try:
            cp = stack.enter_context(serve_in_thread(create_app(settings, store)))
            addresses = []
            for _ in range(gates):
                source = RedisKeySource(redis_url, prefix=prefix, start=False, refresh_seconds=5)
                gate = Gate(source, profile="room")
                source.attach(gate)
                source.start()
                assert source.wait_ready(10)
                sources.append(source)
                client = AsyncClient(f"http://{cp}", api_key=key)
                app = create_room_server(gate, client, org_id=org)
                addresses.append(stack.enter_context(serve_in_thread(app)))
            yield Stack(f"http://{cp}", org, key, addresses, redis_url, prefix)
        finally:
            stack.close()
            for source in sources:
                source.close()
            stop_process(redis_proc)
