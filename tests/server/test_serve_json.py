"""``relaypass serve --json``: the startup facts as one JSON line, the key in it once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from tests._net import free_port, wait_port
from tests.relay.test_system import process


def test_serve_json_prints_url_data_dir_org_and_key_once(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {**os.environ, "RELAYPASS_DATA_DIR": str(data)}
    for name in ("RELAYPASS_DATABASE_URL", "RELAYPASS_REDIS_URL", "RELAYPASS_KEK"):
        env.pop(name, None)
    argv = ["serve", "--json", "--port", str(port)]
    with process(argv, env, tmp_path / "serve.log") as proc:
        assert proc.stdout is not None
        facts = json.loads(proc.stdout.readline())
        assert facts["url"] == f"http://127.0.0.1:{port}"
        assert facts["dataDir"] == str(data)
        wait_port(port)
        who = httpx.post(
            f"{facts['url']}/rpc/auth.whoami",
            headers={"Authorization": f"Bearer {facts['adminKey']}"},
        ).json()
        assert who["orgId"] == facts["orgId"]
    with process(argv, env, tmp_path / "again.log") as proc:
        assert proc.stdout is not None
        again = json.loads(proc.stdout.readline())
        assert again["orgId"] is None
        assert again["adminKey"] is None  # shown on the first run only
    assert facts["adminKey"] not in (tmp_path / "serve.log").read_text()
