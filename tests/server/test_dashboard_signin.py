"""Failed dashboard sign-ins are limited per client address and in all (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from relaypass.server.app import bootstrap, create_app
from relaypass.server.dashboard._signin import IN_ALL, PER_ADDRESS
from relaypass.server.settings import Settings
from tests._cp import sqlite_store


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[FastAPI, str]]:
    store = sqlite_store(tmp_path)
    first = bootstrap(store)
    assert first is not None
    yield create_app(Settings(data_dir=tmp_path), store), first[1]
    store.close()


async def sign_in(app: FastAPI, key: str, address: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/dashboard/login")
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match is not None
        return await client.post("/dashboard/login", data={"csrf": match.group(1), "api_key": key})


def test_one_address_is_slowed_after_its_failures(plane: tuple[FastAPI, str]) -> None:
    app, key = plane

    async def go() -> None:
        for _ in range(PER_ADDRESS):
            assert (await sign_in(app, "rp_live_wrong", "192.0.2.1")).status_code == 401
        limited = await sign_in(app, key, "192.0.2.1")  # even the right key waits
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "too many failed sign-ins" in limited.text
        assert "<h1>Sign in</h1>" in limited.text  # the dashboard's own page
        other = await sign_in(app, key, "192.0.2.2")
        assert other.status_code == 303  # another address signs in

    asyncio.run(go())


def test_a_crowd_of_addresses_meets_the_global_limit(plane: tuple[FastAPI, str]) -> None:
    app, _ = plane

    async def go() -> None:
        statuses = [
            (await sign_in(app, "rp_live_wrong", f"198.51.100.{i // PER_ADDRESS}")).status_code
            for i in range(IN_ALL + PER_ADDRESS)
        ]
        assert statuses[:IN_ALL] == [401] * IN_ALL
        assert 429 in statuses[IN_ALL:]
        fresh = await sign_in(app, "rp_live_wrong", "203.0.113.7")
        assert fresh.status_code == 429

    asyncio.run(go())
