"""The product documents' calls, copied as written, answer: the key's org and the default tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relaypass import decode_unverified
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from tests._cp import sqlite_store


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[tuple[FastAPI, Store, str]]:
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store, "acme")
    assert first is not None
    app = create_app(Settings(data_dir=tmp_path, key_propagation_seconds=0), store)
    yield app, store, first[1]
    store.close()


def rpc(app: FastAPI, name: str, key: str, body: dict[str, Any]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(
                f"/rpc/{name}", json=body, headers={"Authorization": f"Bearer {key}"}
            )

    return asyncio.run(go())


def test_the_documented_calls_need_no_org_and_no_tenant(
    plane: tuple[FastAPI, Store, str],
) -> None:
    app, _, key = plane
    created = rpc(app, "streams.signingKeys.create", key, {"label": "v1"})
    assert created.status_code == 200, created.text
    playback = rpc(
        app,
        "streams.signingKeys.mintPlaybackToken",
        key,
        {"inputId": "li_xyz", "scopes": ["playback/li_xyz"], "ttlSeconds": 3600},
    )
    assert playback.status_code == 200, playback.text
    _, claims = decode_unverified(playback.json()["token"])
    assert claims["sub"] == "default"
    browser = rpc(
        app, "voice.audioBridge.mintBrowserToken", key, {"callSid": "sid_xyz", "ttlSeconds": 1800}
    )
    assert browser.status_code == 200, browser.text
    tenants = rpc(app, "tenants.list", key, {}).json()["tenants"]
    assert [t["id"] for t in tenants] == ["default"]


def test_retire_takes_the_id_that_list_answers(plane: tuple[FastAPI, Store, str]) -> None:
    app, _, key = plane
    rpc(app, "streams.signingKeys.create", key, {"label": "v1"})
    listed = rpc(app, "streams.signingKeys.list", key, {}).json()["keys"]
    (only,) = listed
    assert only["id"] != only["kid"]
    retired = rpc(app, "streams.signingKeys.retire", key, {"id": only["id"]})
    assert retired.status_code == 200, retired.text
    by_kid = rpc(app, "streams.signingKeys.revoke", key, {"id": only["kid"]})
    assert by_kid.status_code == 200, by_kid.text
    states = {
        k["id"]: k["state"] for k in rpc(app, "streams.signingKeys.list", key, {}).json()["keys"]
    }
    assert states[only["id"]] == "revoked"


def test_a_disabled_default_tenant_says_what_to_do(plane: tuple[FastAPI, Store, str]) -> None:
    app, _, key = plane
    rpc(app, "streams.signingKeys.create", key, {"label": "v1"})
    assert rpc(app, "tenants.disable", key, {"tenantId": "default"}).status_code == 200
    refused = rpc(app, "tokens.relay.mint", key, {"ns": ["live/**"]})
    assert refused.status_code == 403
    assert "'default' tenant" in refused.json()["detail"]
    assert "tenants.create" in refused.json()["detail"]
    rpc(app, "tenants.create", key, {"tenantId": "acme"})
    assert (
        rpc(app, "tokens.relay.mint", key, {"tenant": "acme", "ns": ["live/**"]}).status_code == 200
    )


def test_a_deployment_names_the_issuer_of_its_tokens(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store, "clutchcall")
    assert first is not None
    settings = Settings(data_dir=tmp_path, key_propagation_seconds=0, token_issuer="clutchcall-bff")
    app = create_app(settings, store)
    try:
        rpc(app, "streams.signingKeys.create", first[1], {"label": "v1"})
        minted = rpc(app, "tokens.relay.mint", first[1], {"ns": ["voice/sid_xyz/*"]})
        assert minted.status_code == 200, minted.text
        _, claims = decode_unverified(minted.json()["token"])
        assert claims["iss"] == "clutchcall-bff"
    finally:
        store.close()
