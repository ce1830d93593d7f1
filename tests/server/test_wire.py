"""The procedure table's wire forms: ``/rpc``, ``/trpc``, OpenAPI and the docs pages."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from relaypass.api import BY_NAME, PROCEDURES
from relaypass.errors import HTTP_STATUS
from relaypass.server.app import create_app
from relaypass.server.db.store import Store
from relaypass.server.procedures import handler_table
from relaypass.server.settings import Settings
from tests._cp import sqlite_store
from tests.server.conftest import bootstrap_with_tenants
from tests.server.test_app import Http


@pytest.fixture
def served(tmp_path: Path) -> tuple[Http, str, str]:
    store: Store = sqlite_store(tmp_path)
    org, key = bootstrap_with_tenants(store)
    return Http(create_app(Settings(data_dir=tmp_path), store)), org, key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------- the table


def test_every_procedure_has_exactly_one_handler() -> None:
    table = handler_table()
    assert list(table) == [p.name for p in PROCEDURES]
    assert all(table[name][0] is BY_NAME[name] for name in table)


def test_every_input_refuses_unknown_fields() -> None:
    for procedure in PROCEDURES:
        assert procedure.input.model_config.get("extra") == "forbid", procedure.name


def test_queries_are_reads_and_names_keep_the_seeds() -> None:
    queries = {p.name for p in PROCEDURES if p.kind == "query"}
    assert queries == {
        "auth.whoami", "orgs.list", "tenants.list", "streams.apiKeys.list",
        "streams.signingKeys.list", "serviceAccounts.list", "audit.list", "rooms.lobby.list",
        "rooms.participants.list", "usage.query", "usage.live", "webhooks.list",
        "webhooks.deliveries.list", "orgs.limits",
    }  # fmt: skip
    for seed_name in (
        "streams.apiKeys.create",
        "streams.signingKeys.mintPlaybackToken",
        "voice.audioBridge.mintBrowserToken",
        "PublishServiceAccount",
        "RevokeServiceAccount",
        "SessionAuth",
    ):
        assert seed_name in BY_NAME


# --------------------------------------------------------------------- /rpc


def test_rpc_body_without_content_type_is_taken_as_json(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    answer = http.post(
        "/rpc/tenants.list", content=json.dumps({"orgId": org}).encode(), headers=bearer(key)
    )
    assert answer.status_code == 200, answer.text
    assert {t["id"] for t in answer.json()["tenants"]} >= {"acme"}


def test_rpc_form_body_is_refused_naming_the_header(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    answer = http.post(
        "/rpc/tenants.list",
        content=json.dumps({"orgId": org}).encode(),
        headers={**bearer(key), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 415
    assert answer.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type: application/json" in answer.json()["detail"]


def test_rpc_unknown_field_is_refused_and_named(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    answer = http.post(
        "/rpc/tokens.relay.mint",
        json={"orgId": org, "tenant": "acme", "ns": ["acme/**"], "ttl": 5},
        headers=bearer(key),
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "INVALID_REQUEST"
    assert body["fields"] == ["ttl"]
    assert body["errors"] == [{"field": "ttl", "message": "unknown field"}]
    assert "ttl: unknown field" in body["detail"]


def test_rpc_body_that_is_not_json_is_a_clear_400(served: tuple[Http, str, str]) -> None:
    http, _, key = served
    answer = http.post("/rpc/auth.whoami", content=b"{nope", headers=bearer(key))
    assert answer.status_code == 400
    assert answer.json()["detail"] == "the body is not valid JSON"


# -------------------------------------------------------------------- /trpc


def test_trpc_query_by_get_with_urlencoded_input(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    query = urllib.parse.quote(json.dumps({"orgId": org}))
    answer = http.get(f"/trpc/tenants.list?input={query}", headers=bearer(key))
    assert answer.status_code == 200
    assert "acme" in {t["id"] for t in answer.json()["result"]["data"]["tenants"]}


def test_trpc_mutation_by_get_is_method_not_supported(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    query = urllib.parse.quote(json.dumps({"orgId": org, "tenantId": "x"}))
    answer = http.get(f"/trpc/tenants.create?input={query}", headers=bearer(key))
    assert answer.status_code == 405
    error = answer.json()["error"]
    assert error["code"] == -32005
    assert error["data"] == {
        "code": "METHOD_NOT_SUPPORTED",
        "httpStatus": 405,
        "path": "tenants.create",
        "relaypassCode": "METHOD_NOT_ALLOWED",
    }


def test_trpc_mixed_batch_answers_207_in_order(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    inputs = {"0": {"orgId": org}, "1": {"orgId": "org_someone_else"}}
    query = urllib.parse.quote(json.dumps(inputs))
    answer = http.get(
        f"/trpc/tenants.list,streams.apiKeys.list?batch=1&input={query}", headers=bearer(key)
    )
    assert answer.status_code == 207
    first, second = answer.json()
    assert "acme" in {t["id"] for t in first["result"]["data"]["tenants"]}
    assert second["error"]["data"]["relaypassCode"] == "INVALID_PERMISSIONS"
    assert second["error"]["code"] == -32003


def test_trpc_batch_of_mutations_posts_inputs_by_index(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    body = {str(i): {"orgId": org, "tenantId": f"batch-{i}"} for i in range(3)}
    answer = http.post(
        "/trpc/tenants.create,tenants.create,tenants.create?batch=1", json=body, headers=bearer(key)
    )
    assert answer.status_code == 200
    assert [r["result"]["data"]["tenantId"] for r in answer.json()] == [
        "batch-0",
        "batch-1",
        "batch-2",
    ]


def test_trpc_superjson_envelope_is_answered_in_kind(served: tuple[Http, str, str]) -> None:
    http, org, key = served
    answer = http.post(
        "/trpc/tenants.create", json={"json": {"orgId": org, "tenantId": "sj"}}, headers=bearer(key)
    )
    assert answer.json() == {"result": {"data": {"json": {"tenantId": "sj", "label": "sj"}}}}
    refused = http.post(
        "/trpc/tenants.create", json={"json": {"orgId": org}}, headers=bearer(key)
    ).json()
    assert refused["error"]["json"]["data"]["relaypassCode"] == "INVALID_REQUEST"


def test_trpc_refusals_keep_the_trpc_shape(served: tuple[Http, str, str]) -> None:
    http, _, _ = served
    unauthenticated = http.get("/trpc/auth.whoami")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["data"]["relaypassCode"] == "INVALID_API_KEY"
    too_large = http.post(
        "/trpc/tenants.create", content=b"x" * 70_000, headers={"Content-Type": "application/json"}
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"]["data"]["code"] == "PAYLOAD_TOO_LARGE"
    parse = http.post(
        "/trpc/tenants.create", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert parse.status_code == 400
    assert parse.json()["error"]["code"] == -32700


def test_trpc_batch_size_is_bounded(served: tuple[Http, str, str]) -> None:
    http, _, key = served
    paths = ",".join(["auth.whoami"] * 40)
    answer = http.get(f"/trpc/{paths}?batch=1", headers=bearer(key))
    assert answer.status_code == 400
    assert len(answer.json()) == 32


# ------------------------------------------------------------------ OpenAPI


def test_openapi_documents_every_procedure_with_schemas_and_statuses(
    served: tuple[Http, str, str],
) -> None:
    http, _, _ = served
    document = http.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for procedure in PROCEDURES:
        operation = document["paths"][f"/rpc/{procedure.name}"]["post"]
        assert operation["operationId"] == procedure.name
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].endswith(procedure.output.__name__)
        statuses = {int(s) for s in operation["responses"]} - {200}
        assert statuses == {HTTP_STATUS[c] for c in procedure.all_errors}
        assert 429 in statuses if procedure.rate_limited else 429 not in statuses
    mint = document["paths"]["/rpc/tokens.relay.mint"]["post"]
    assert mint["requestBody"]["content"]["application/json"]["example"]["tenant"] == "acme"
    schema = document["components"]["schemas"]["RelayMint"]
    assert schema["additionalProperties"] is False
    assert "ttlSeconds" in schema["properties"]


def test_docs_pages_load_their_assets_from_the_service(served: tuple[Http, str, str]) -> None:
    http, _, _ = served
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = http.get(page).text
        assert f"/docs/assets/{asset}" in html
        assert "cdn" not in html.lower()
        served_asset = http.get(f"/docs/assets/{asset}")
        assert served_asset.status_code == 200
        assert len(served_asset.content) > 100_000
