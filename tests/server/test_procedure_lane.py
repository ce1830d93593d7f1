"""The procedures' wires go straight to their endpoints; everything else takes the router's path."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from relaypass import InvalidRequestError
from relaypass.server.app import create_app
from relaypass.server.db.store import Store
from relaypass.server.dispatch import Dispatcher
from relaypass.server.settings import Settings
from relaypass.server.wire.lane import ProcedureLane
from tests.server.conftest import bootstrap_with_tenants


def call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path=kwargs.pop("root_path", ""))
        async with httpx.AsyncClient(transport=transport, base_url="http://relaypass") as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(go())


class Behind:
    """The app behind the lane: records what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(f"{scope['method']} {scope['path']}")
        await JSONResponse({"behind": True})(scope, receive, send)


async def trpc(request: Request) -> Response:
    return JSONResponse({"trpc": request.path_params["path"], "method": request.method})


async def endpoint(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "boom":
        msg = "bad input"
        raise ValueError(msg)
    if name == "unhandled":
        raise KeyError(name)
    return JSONResponse({"name": name, "body": (await request.body()).decode()})


async def on_anything(_: Request, exc: Exception) -> Response:
    return JSONResponse({"swallowed": repr(exc)}, status_code=200)


async def on_value_error(_: Request, exc: ValueError) -> Response:
    return JSONResponse({"handled": str(exc)}, status_code=400)


@pytest.fixture
def lane() -> tuple[ProcedureLane, Behind]:
    behind = Behind()
    # A handler of Exception itself belongs to the server-error answer, as in the framework.
    handlers: dict[Any, Any] = {ValueError: on_value_error, Exception: on_anything}
    return ProcedureLane(behind, rpc=endpoint, trpc=trpc, handlers=handlers), behind


def test_a_procedure_call_reaches_its_endpoint_and_nothing_behind(
    lane: tuple[ProcedureLane, Behind],
) -> None:
    app, behind = lane
    answer = call(app, "POST", "/rpc/tokens.relay.mint", content=b"{}")
    assert answer.json() == {"name": "tokens.relay.mint", "body": "{}"}
    assert behind.paths == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/rpc/x"), ("POST", "/rpc/"), ("POST", "/rpc/a/b"), ("POST", "/rpcx"),
     ("POST", "/healthz"), ("HEAD", "/trpc/x"), ("GET", "/trpc/"), ("PUT", "/trpc/x"),
     ("GET", "/trpcx/y")],
)  # fmt: skip
def test_anything_else_takes_the_router_path(
    lane: tuple[ProcedureLane, Behind], method: str, path: str
) -> None:
    app, behind = lane
    answer = call(app, method, path)
    assert answer.status_code == 200
    if method != "HEAD":
        assert answer.json() == {"behind": True}
    assert behind.paths == [f"{method} {path}"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_trpc_call_or_batch_reaches_its_endpoint(
    lane: tuple[ProcedureLane, Behind], method: str
) -> None:
    app, behind = lane
    answer = call(app, method, "/trpc/auth.whoami,tokens.relay.mint?batch=1")
    assert answer.json() == {"trpc": "auth.whoami,tokens.relay.mint", "method": method}
    assert behind.paths == []


def test_behind_a_root_path_the_name_is_read_below_it(lane: tuple[ProcedureLane, Behind]) -> None:
    app, behind = lane
    answer = call(app, "POST", "/cp/rpc/auth.whoami", root_path="/cp")
    assert answer.json()["name"] == "auth.whoami"
    assert behind.paths == []


def test_an_exception_gets_the_apps_handler_or_goes_on_up(
    lane: tuple[ProcedureLane, Behind],
) -> None:
    app, _ = lane
    answer = call(app, "POST", "/rpc/boom")
    assert (answer.status_code, answer.json()) == (400, {"handled": "bad input"})
    with pytest.raises(KeyError):  # not swallowed by the handler of Exception
        call(app, "POST", "/rpc/unhandled")


@pytest.fixture
def served(store: Store, tmp_path: Path) -> tuple[Any, str]:
    _, admin_key = bootstrap_with_tenants(store)
    return create_app(Settings(data_dir=tmp_path), store), admin_key


def test_the_service_answers_a_refusal_raised_past_the_dispatcher_as_the_router_did(
    served: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, key = served
    auth = {"Authorization": f"Bearer {key}"}

    async def refusing(*_: object) -> object:
        msg = "refused past the dispatcher"
        raise InvalidRequestError(msg)

    monkeypatch.setattr(Dispatcher, "dispatch", refusing)
    answer = call(app, "POST", "/rpc/auth.whoami", json={}, headers=auth)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "INVALID_REQUEST"

    async def database_down(*_: object) -> object:
        raise OperationalError("SELECT 1", {}, Exception("gone"))

    monkeypatch.setattr(Dispatcher, "dispatch", database_down)
    answer = call(app, "POST", "/rpc/auth.whoami", json={}, headers=auth)
    assert (answer.status_code, answer.json()["code"]) == (503, "UNAVAILABLE")
    assert answer.headers["retry-after"] == "1"


def test_the_service_still_refuses_other_methods_and_unknown_paths(
    served: tuple[Any, str],
) -> None:
    app, key = served
    auth = {"Authorization": f"Bearer {key}"}
    assert call(app, "GET", "/rpc/auth.whoami", headers=auth).json()["code"] == (
        "METHOD_NOT_ALLOWED"
    )
    assert call(app, "POST", "/rpc/a/b", headers=auth).status_code == 404
    whoami = call(app, "POST", "/rpc/auth.whoami", json={}, headers=auth)
    assert whoami.status_code == 200
    over_trpc = call(app, "GET", "/trpc/auth.whoami", headers=auth)
    assert over_trpc.json()["result"]["data"]["orgId"] == whoami.json()["orgId"]
    assert call(app, "GET", "/trpc/", headers=auth).status_code == 404
