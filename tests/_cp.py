"""Helpers for tests that drive the control plane in process: a store, and calls into the app."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from relaypass._apikeys import ApiKeyHasher
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store, make_engine
from relaypass.server.secrets import KeyEncryptionKey
from relaypass.server.settings import Settings
from tests._net import serve_in_thread


def store_secrets() -> dict[str, Any]:
    """Fresh secrets for a store: its key-encryption key and its API-key hasher."""
    return {
        "kek": KeyEncryptionKey(secrets.token_bytes(32)),
        "hasher": ApiKeyHasher(secrets.token_bytes(32)),
    }


def sqlite_store(directory: Path, **options: Any) -> Store:
    """A migrated store on a SQLite file in ``directory``, with fresh secrets."""
    store = Store(
        make_engine(f"sqlite:///{directory / 'relaypass.db'}"),
        kek=KeyEncryptionKey(secrets.token_bytes(32)),
        hasher=ApiKeyHasher(secrets.token_bytes(32)),
        **options,
    )
    store.migrate()
    return store


def call(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    """One request into an ASGI app through httpx's ASGI transport."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def rpc(app: Any, key: str | None, name: str, body: dict[str, Any]) -> httpx.Response:
    """``POST /rpc/<name>`` with the API key as bearer."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return call(app, "POST", f"/rpc/{name}", json=body, headers=headers)


def first_org_store(directory: Path) -> tuple[Store, str, str]:
    """A SQLite store whose first org has the tenant ``acme`` and an active signing key."""
    store = sqlite_store(directory, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    store.create_tenant(org, "acme", "Acme", actor="test")
    store.create_signing_key(org, "main", actor="test")
    return store, org, key


@contextlib.contextmanager
def served_plane(
    directory: Path, redis_url: str | None, prefix: str = "relaypass", **settings: Any
) -> Iterator[tuple[str, str, str]]:
    """A control plane on SQLite (and the test's Redis), served: (url, first org, its key).

    The first org has the tenant ``acme`` and a signing key; ``settings`` adjust the rest.
    """
    store, org, key = first_org_store(directory)
    config = Settings(data_dir=directory, key_propagation_seconds=0, redis_url=redis_url,
                      redis_prefix=prefix, **settings)  # fmt: skip
    with serve_in_thread(create_app(config, store)) as address:
        yield f"http://{address}", org, key
