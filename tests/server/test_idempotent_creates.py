"""orgs.create and tenants.create honour Idempotency-Key: a retry never makes a second org."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from tests._cp import sqlite_store


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[FastAPI, Store, str, str]]:
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store, "operator")
    assert first is not None
    app = create_app(Settings(data_dir=tmp_path, key_propagation_seconds=0), store)
    yield app, store, first[0], first[1]
    store.close()


def rpc(app: FastAPI, name: str, key: str, body: dict[str, Any], idem: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(
                f"/rpc/{name}",
                json=body,
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem},
            )

    return asyncio.run(go())


def test_orgs_create_twice_with_one_key_makes_one_org(
    plane: tuple[FastAPI, Store, str, str],
) -> None:
    app, store, _, operator = plane
    body = {"name": "Beta Corp", "namespaces": ["bcorp"]}
    first = rpc(app, "orgs.create", operator, body, "create-beta")
    again = rpc(app, "orgs.create", operator, body, "create-beta")
    assert first.status_code == again.status_code == 200, again.text
    assert first.json() == again.json()  # the same org, the same admin key (shown again)
    assert [o["name"] for o in store.list_orgs()].count("Beta Corp") == 1
    other = rpc(app, "orgs.create", operator, {"name": "Gamma", "namespaces": ["g"]}, "create-beta")
    assert other.status_code == 400
    assert other.json()["code"] == "INVALID_REQUEST"
    assert [o["name"] for o in store.list_orgs()].count("Gamma") == 0


def test_tenants_create_replayed_answers_as_the_first_time(
    plane: tuple[FastAPI, Store, str, str],
) -> None:
    app, store, org, operator = plane
    body = {"orgId": org, "tenantId": "acme", "label": "Acme"}
    first = rpc(app, "tenants.create", operator, body, "tenant-acme")
    again = rpc(app, "tenants.create", operator, body, "tenant-acme")
    assert first.status_code == again.status_code == 200, again.text
    assert first.json() == again.json()
    assert [t["id"] for t in store.list_tenants(org)].count("acme") == 1
    # Without the key, a second create of the same id is refused as before.
    plain = rpc(app, "tenants.create", operator, body, "tenant-acme-2")
    assert plain.status_code == 400


def test_the_docs_name_exactly_the_creates_that_honour_the_header() -> None:
    from relaypass.api import PROCEDURES

    page = Path(__file__).resolve().parents[2] / "docs" / "control-plane.md"
    line = next(
        ln
        for ln in page.read_text(encoding="utf-8").split("\n- ")
        if "honour an `Idempotency-Key`" in ln
    )
    named = {p.name for p in PROCEDURES if f"`{p.name}`" in line}
    assert named == {p.name for p in PROCEDURES if p.idempotent}
