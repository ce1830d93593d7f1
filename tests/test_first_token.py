"""A newcomer's path to a first verified token: ``serve --dev``, then the one command it prints.

From a fresh data directory: two commands (start the service, run what it prints), well within
60 s, and the files it keeps are the owner's only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests._net import free_port

BIN = Path(sys.executable).parent


def test_serve_dev_prints_a_command_that_mints_and_verifies(tmp_path: Path) -> None:
    started = time.monotonic()
    port = free_port()
    data = tmp_path / "data"
    # A new user's shell: no virtualenv activated (the CLI is not on PATH), no key exported.
    path = ":".join(p for p in os.environ["PATH"].split(":") if Path(p).resolve() != BIN.resolve())
    env = {
        **os.environ,
        "RELAYPASS_DATA_DIR": str(data),
        "PATH": path,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    for name in (
        "RELAYPASS_DATABASE_URL", "RELAYPASS_REDIS_URL", "RELAYPASS_KEK", "RELAYPASS_API_KEY",
        "CLUTCHCALL_API_KEY", "RELAYPASS_URL", "VIRTUAL_ENV",
    ):  # fmt: skip
        env.pop(name, None)
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "relaypass", "serve", "--dev", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        command = next(
            line.strip() for line in log.read_text().splitlines() if "token verify" in line
        )
        done = subprocess.run(  # noqa: S603 - the command the service printed
            ["/bin/bash", "-c", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["root"] == "demo"
        assert time.monotonic() - started < 60
        assert data.stat().st_mode & 0o777 == 0o700
        for name in ("relaypass.db", "kek.key", "pepper.key"):
            assert (data / name).stat().st_mode & 0o077 == 0, name
        assert key not in log.read_text()
        login = tmp_path / "config" / "relaypass" / "credentials.json"
        assert login.stat().st_mode & 0o077 == 0
        assert json.loads(login.read_text()) == {"url": f"http://127.0.0.1:{port}", "api_key": key}
        assert re.match(r"rp_live_\w+", key)
    finally:
        proc.terminate()
        proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()


def test_dev_mode_never_replaces_a_login_already_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relaypass.cli._login import credentials_path, save_credentials

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert save_credentials("https://cp.example", "rp_live_mine")
    assert not save_credentials("http://127.0.0.1:8700", "rp_live_dev", replace=False)
    assert json.loads(credentials_path().read_text())["api_key"] == "rp_live_mine"
