"""The SDK against a real served control plane: typed results, errors by code, retries, keys."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from relaypass import (
    InvalidApiKeyError,
    InvalidPermissionsError,
    InvalidRequestError,
    UnavailableError,
)
from relaypass._tokens import decode_unverified
from relaypass.api import PROCEDURES, keys
from relaypass.cli._moq_token import MOQ_AUTH_CLAIMS
from relaypass.client import AsyncClient, Client, Transport
from relaypass.client._codegen import render
from tests._net import serve_in_thread
from tests.client.conftest import Served

GENERATED = "src/relaypass/client/_generated.py"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _method(root: object, procedure_name: str) -> Any:
    node = root
    for part in procedure_name.split("."):
        node = getattr(node, _snake(part))
    return node


def test_generated_module_matches_the_table() -> None:
    committed = (Path(__file__).parents[2] / GENERATED).read_text()
    assert committed == render(), "run: python -m relaypass.client._codegen > " + GENERATED


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_every_procedure_is_a_method_taking_its_input_fields(cls: type[Any]) -> None:
    client = cls("http://127.0.0.1:9", api_key="rp_live_x")
    for procedure in PROCEDURES:
        method = _method(client, procedure.name)
        params = set(inspect.signature(method).parameters)
        assert params == set(procedure.input.model_fields), procedure.name
        assert inspect.iscoroutinefunction(method) == (cls is AsyncClient)
        hints = inspect.get_annotations(method)
        assert hints["return"].endswith(procedure.output.__name__)


def test_signing_key_create_returns_a_typed_result(served: Served) -> None:
    with Client(served.url, api_key=served.key) as client:
        created = client.streams.signing_keys.create(org_id=served.org, label="2026-q4")
        assert isinstance(created, keys.SigningKeyCreated)
        assert created.algorithm == "EdDSA"
        listed = client.streams.signing_keys.list(org_id=served.org)
        assert created.id in {k.kid for k in listed.keys}


def test_refusals_raise_the_class_of_their_code(served: Served) -> None:
    with Client(served.url, api_key=served.key) as client:
        with pytest.raises(InvalidPermissionsError) as denied:
            client.streams.api_keys.list(org_id="org_someone_else")
        assert denied.value.code.value == "INVALID_PERMISSIONS"
        assert vars(denied.value)["status_code"] == 403
        with pytest.raises(InvalidRequestError) as bad:
            client.streams.api_keys.create(org_id=served.org, label="", scopes=[])
        assert vars(bad.value)["fields"] == ["label"]
    with Client(served.url, api_key="rp_live_wrong") as stranger, pytest.raises(InvalidApiKeyError):
        stranger.auth.whoami()


def test_api_key_from_the_environment_and_never_shown(
    served: Served, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("RELAYPASS_API_KEY", raising=False)
    monkeypatch.setenv("CLUTCHCALL_API_KEY", served.key)
    caplog.set_level(logging.DEBUG)
    with Client(served.url) as client:
        assert client.auth.whoami().org_id == served.org
        assert served.key not in repr(client)
        assert served.key not in repr(vars(client))
    monkeypatch.setenv("RELAYPASS_API_KEY", "rp_live_first")
    transport = Transport(served.url)
    assert transport._api_key == "rp_live_first"
    transport.close()
    assert served.key not in caplog.text
    monkeypatch.delenv("RELAYPASS_API_KEY")
    monkeypatch.delenv("CLUTCHCALL_API_KEY")
    with pytest.raises(InvalidApiKeyError):
        Client(served.url)


def test_creates_carry_one_idempotency_key(served: Served) -> None:
    seen: list[str | None] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.headers.get("idempotency-key"))

    http = httpx.Client(event_hooks={"request": [record]})
    with Client(served.url, api_key=served.key, http=http) as client:
        client.streams.api_keys.create(org_id=served.org, label="ci", scopes=["audit:read"])
        client.streams.api_keys.list(org_id=served.org)
    assert seen[0] is not None
    assert len(seen[0]) == 32
    assert seen[1] is None


@pytest.fixture
def flaky() -> Iterator[tuple[str, list[float]]]:
    """A server that answers 503 then 429 (Retry-After: 1) before answering whoami."""
    arrivals: list[float] = []

    async def whoami(_: Request) -> JSONResponse:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return JSONResponse({"code": "UNAVAILABLE"}, 503, headers={"Retry-After": "1"})
        if len(arrivals) == 2:
            return JSONResponse({"code": "RATE_LIMITED"}, 429, headers={"Retry-After": "1"})
        return JSONResponse(
            {"orgId": "o", "orgName": "O", "keyId": "k", "scopes": [], "namespaces": []}
        )

    app = Starlette(routes=[Route("/rpc/auth.whoami", whoami, methods=["POST"])])
    with serve_in_thread(app) as address:
        yield f"http://{address}", arrivals


def test_429_and_503_are_retried_after_retry_after(flaky: tuple[str, list[float]]) -> None:
    url, arrivals = flaky
    with Client(url, api_key="rp_live_x", backoff_seconds=0.01) as client:
        assert client.auth.whoami().org_id == "o"
    assert len(arrivals) == 3
    assert arrivals[1] - arrivals[0] >= 0.95
    assert arrivals[2] - arrivals[1] >= 0.95


def test_retries_are_bounded(flaky: tuple[str, list[float]]) -> None:
    url, arrivals = flaky
    client = Client(url, api_key="rp_live_x", max_retries=0)
    with pytest.raises(UnavailableError) as e:
        client.auth.whoami()
    client.close()
    assert e.value.code.value == "UNAVAILABLE"
    assert vars(e.value)["retry_after_seconds"] == 1
    assert len(arrivals) == 1


def test_async_client_mints_and_refuses(served: Served) -> None:
    async def go() -> None:
        async with AsyncClient(served.url, api_key=served.key) as client:
            minted = await client.tokens.relay.mint(
                org_id=served.org, tenant="acme", ns=["acme/**"], ttl_seconds=60
            )
            assert minted.token.count(".") == 2
            assert minted.expires_at is not None
            with pytest.raises(InvalidPermissionsError):
                await client.tenants.list(org_id="org_other")
            assert await client.org_id() == served.org

    asyncio.run(go())


def test_moq_tokens_mint_in_either_format(served: Served) -> None:
    """moq-token's literal prefixes by default; moq-auth's patterns, nothing it refuses."""
    with Client(served.url, api_key=served.key) as client:
        legacy = client.tokens.moq.mint(org_id=served.org, root="demo", publish=["cam"])
        patterns = client.tokens.moq.mint(
            org_id=served.org, root="demo", publish=["alice/*"], subscribe=["**"], format="moq-auth"
        )
        subtree = client.tokens.moq.mint(
            org_id=served.org, root="demo", subscribe=["room/**"], format="moq-auth"
        )
        with pytest.raises(InvalidRequestError):
            client.tokens.moq.mint(org_id=served.org, root="demo", publish=["a"], format="jwt")
        with pytest.raises(InvalidRequestError, match="cluster") as refused:
            client.tokens.moq.mint(
                org_id=served.org, publish=["a"], cluster=True, format="moq-auth"
            )
        assert vars(refused.value)["status_code"] == 400  # the service's refusal
    claims = [decode_unverified(t.token)[1] for t in (legacy, patterns, subtree)]
    assert claims[0]["put"] == ["cam"]
    assert (claims[1]["publish"], claims[1]["subscribe"]) == (["alice/*"], ["**"])
    assert claims[2]["get"] == ["room"]  # all subtrees: the legacy form
    assert all(set(c) <= MOQ_AUTH_CLAIMS for c in claims[1:])


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [("grant", {"isViewer": True}, "isViewer is a field of the mint"),
     ("grant", {"canFly": True}, "unknown flags: canFly"),
     ("grant", {"canPublish": "yes"}, "canPublish must be a boolean"),
     ("joinPolicy", {"mode": "sometimes"}, "joinPolicy")],
)  # fmt: skip
def test_a_malformed_room_grant_is_a_400_naming_the_field(
    served: Served, field: str, value: dict[str, object], says: str
) -> None:
    """Never a 401 INVALID_TOKEN: the token was never made, the input is wrong."""
    body = {"orgId": served.org, "roomId": "r", "participantId": "p", field: value}
    if field != "grant":
        body["role"] = "speaker"
    answer = httpx.post(f"{served.url}/rpc/tokens.room.mint", json=body,
                        headers={"Authorization": f"Bearer {served.key}"}, timeout=10)  # fmt: skip
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["code"] == "INVALID_REQUEST"
    assert problem["fields"] == [field]
    assert says in problem["detail"], problem["detail"]
    given: dict[str, Any] = {"grant": value} if field == "grant" else {
        "join_policy": value, "role": "speaker"}  # fmt: skip
    with Client(served.url, api_key=served.key) as client, pytest.raises(InvalidRequestError):
        client.tokens.room.mint(org_id=served.org, room_id="r", participant_id="p", **given)
