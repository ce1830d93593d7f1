"""The generated AppRouter type: in step with the table, strict-tsc clean, true at run time."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from relaypass.api._typescript import render
from relaypass.server.app import bootstrap, create_app
from relaypass.server.settings import Settings
from tests._cp import sqlite_store
from tests._net import serve_in_thread

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).parent / "node"
DECLARATION = ROOT / "clients" / "js" / "trpc" / "app-router.d.ts"


def test_the_committed_router_type_matches_the_table() -> None:
    assert DECLARATION.read_text(encoding="utf-8") == render(), (
        "run: python -m relaypass.api._typescript > clients/js/trpc/app-router.d.ts"
    )


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "node is required (scripts/test installs it)"
    return node


def test_a_typed_client_compiles_under_strict_tsc_and_runs(tmp_path: Path) -> None:
    tsc = NODE_DIR / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "run scripts/test (npm ci)"
    compiled = subprocess.run(  # noqa: S603 - fixed argv
        [str(tsc), "-p", str(NODE_DIR / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=NODE_DIR,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    store.create_signing_key(org, "main", actor="test")
    other = store.create_org("other", namespaces=["other"]).id
    app = create_app(Settings(data_dir=tmp_path, key_propagation_seconds=0), store)
    try:
        with serve_in_thread(app) as address:
            ran = subprocess.run(  # noqa: S603 - fixed argv, our own inputs
                [_node(), str(NODE_DIR / ".build/tests/interop/node/trpc_typed.js"),
                 f"http://{address}/trpc", key, other],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=NODE_DIR,
            )  # fmt: skip
    finally:
        store.close()
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen["orgId"] == org
    assert seen["token"] == 3  # a compact JWS
    assert isinstance(seen["expiresAt"], int)
    assert seen["tenants"] == ["default"]
    assert seen["code"] == "INVALID_PERMISSIONS"
