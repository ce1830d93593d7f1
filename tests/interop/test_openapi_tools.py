"""/openapi.json through the tools people feed it: redocly's linter and openapi-typescript + tsc."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from relaypass.api import PROCEDURES
from relaypass.server.app import bootstrap, create_app
from relaypass.server.settings import Settings
from tests._cp import sqlite_store

pytestmark = pytest.mark.interop
TOOLS = Path(__file__).parent / "openapi"
BIN = TOOLS / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    directory = tmp_path_factory.mktemp("openapi")
    store = sqlite_store(directory, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    yield create_app(Settings(data_dir=directory), store), first[0]
    store.close()


def get(app: FastAPI, url: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(url, **kw)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def document(served: tuple[FastAPI, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("doc") / "openapi.json"
    path.write_text(get(served[0], "/openapi.json").text)
    return path


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    assert Path(argv[0]).exists(), "run scripts/test (npm ci in tests/interop/openapi)"
    return subprocess.run(  # noqa: S603 - fixed argv
        argv, capture_output=True, text=True, timeout=120, check=False, cwd=TOOLS
    )


def test_redocly_recommended_rules_find_nothing(document: Path) -> None:
    done = _run([str(BIN / "redocly"), "lint", "--extends", "recommended", str(document)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning was generated" not in done.stdout + done.stderr


def test_openapi_typescript_types_let_defaults_be_left_out(document: Path) -> None:
    generated = _run([str(BIN / "openapi-typescript"), str(document), "-o", ".build/openapi.d.ts"])
    assert generated.returncode == 0, generated.stderr
    checked = _run([str(BIN / "tsc"), "-p", "tsconfig.json"])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_operation_has_an_example_answer_that_is_a_valid_answer(document: Path) -> None:
    paths = json.loads(document.read_text())["paths"]
    for procedure in PROCEDURES:
        content = paths[f"/rpc/{procedure.name}"]["post"]["responses"]["200"]["content"]
        example = content["application/json"]["example"]
        procedure.output.model_validate(example)


def test_the_jwks_of_an_unknown_org_answers_as_documented(
    served: tuple[FastAPI, str], document: Path
) -> None:
    app, org = served
    documented = json.loads(document.read_text())["paths"]["/orgs/{org_id}/jwks.json"]["get"]
    unknown = get(app, "/orgs/org_nowhere/jwks.json")
    assert str(unknown.status_code) in documented["responses"]
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "UNKNOWN_PROCEDURE"
    assert get(app, f"/orgs/{org}/jwks.json").status_code == 200


def test_an_oversized_head_is_refused_as_documented(served: tuple[FastAPI, str]) -> None:
    app, _ = served
    many = get(app, "/.well-known/jwks.json", headers={f"x-h{i}": "1" for i in range(150)})
    assert many.status_code == 431
    assert many.headers["content-type"] == "application/problem+json"
    assert many.json()["code"] == "HEADERS_TOO_LARGE"
    big = get(app, "/.well-known/jwks.json", headers={"x-big": "a" * 20_000})
    assert big.status_code == 431
    long = get(app, "/.well-known/jwks.json?" + "q" * 9_000)
    assert long.status_code == 414
    assert long.json()["code"] == "URI_TOO_LONG"
    assert get(app, "/.well-known/jwks.json").status_code == 200
