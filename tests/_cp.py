"""Helpers for tests that drive the control plane in process: a store, and calls into the app."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx

from relaypass._apikeys import ApiKeyHasher
from relaypass.server.db.store import Store, make_engine
from relaypass.server.secrets import KeyEncryptionKey


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
