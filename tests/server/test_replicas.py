"""Replicas: two control-plane processes on one PostgreSQL and one Redis; ``--workers 2``.

Real processes (``python -m relaypass serve``) on loopback, started once per test.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from relaypass import b64encode
from tests._net import free_port, stop_process
from tests.server.conftest import PG_HOST


def _wait_healthy(base: str, proc: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def _serve(env: dict[str, str], log: Path, *args: str) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    with log.open("w") as stderr:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "relaypass", "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(base, proc, log)
    return base, proc


@pytest.fixture
def database(pg_server: int) -> Iterator[str]:
    name = f"relaypass_replicas_{secrets.token_hex(4)}"
    admin = {"host": PG_HOST, "port": pg_server, "user": "postgres", "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@{PG_HOST}:{pg_server}/{name}"
    with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_control_planes_agree_on_versions_and_idempotency(  # noqa: C901, PLR0915 - one drill
    tmp_path: Path, database: str, redis_server: str, redis_prefix: str
) -> None:
    env = {
        **os.environ,
        "RELAYPASS_DATABASE_URL": database,
        "RELAYPASS_REDIS_URL": redis_server,
        "RELAYPASS_REDIS_PREFIX": redis_prefix,
        "RELAYPASS_KEK": b64encode(secrets.token_bytes(32)),
        "RELAYPASS_API_KEY_PEPPER": b64encode(secrets.token_bytes(32)),
        "RELAYPASS_KEY_PROPAGATION_SECONDS": "0",
        "RELAYPASS_MAX_KEYS_PER_ORG": "1000",
    }
    boot = subprocess.run(
        [sys.executable, "-m", "relaypass", "admin", "bootstrap", "--json"],
        env={**env, "RELAYPASS_DATA_DIR": str(tmp_path / "boot")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    first = json.loads(boot.stdout)
    org, key = first["orgId"], first["apiKey"]
    a, proc_a = _serve({**env, "RELAYPASS_DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log")
    b, proc_b = _serve({**env, "RELAYPASS_DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log")
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    versions: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def watch() -> None:  # the version Redis holds never goes backwards
        while not stop.is_set():
            raw = client.get(f"{redis_prefix}:jwks")
            if raw is not None:
                versions.append(int(json.loads(raw)["version"]))
            time.sleep(0.005)

    def hammer(base: str, n: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
            for i in range(n):
                made = http.post(
                    "/rpc/streams.signingKeys.create", json={"orgId": org, "label": f"k{i}"}
                )
                if made.status_code != 200:
                    errors.append(made.text)
                    continue
                if i % 2:
                    gone = http.post(
                        "/rpc/streams.signingKeys.revoke",
                        json={"orgId": org, "id": made.json()["id"]},
                    )
                    if gone.status_code != 200:
                        errors.append(gone.text)

    try:
        watcher = threading.Thread(target=watch)
        watcher.start()
        workers = [threading.Thread(target=hammer, args=(base, 12)) for base in (a, b, a, b)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        time.sleep(0.3)
        stop.set()
        watcher.join(10)
        assert errors == []
        assert versions, "nothing was published"
        assert versions == sorted(versions), "a replica wrote an older key set over a newer one"
        # Redis ends with the set the database holds, at the newest version.
        final = json.loads(client.get(f"{redis_prefix}:jwks") or "{}")
        with httpx.Client() as http:
            db_set = http.get(f"{a}/.well-known/jwks.json").json()
        assert {k["kid"] for k in final["keys"]} == {k["kid"] for k in db_set["keys"]}

        # One Idempotency-Key, sent to both replicas at once: exactly one key.
        results: list[Any] = []

        def create(base: str) -> None:
            results.append(
                httpx.post(
                    f"{base}/rpc/streams.apiKeys.create",
                    json={"orgId": org, "label": "ci", "scopes": ["tokens:mint"]},
                    headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "req-42"},
                ).json()
            )

        racers = [threading.Thread(target=create, args=(base,)) for base in (a, b, a, b)]
        for r in racers:
            r.start()
        for r in racers:
            r.join(30)
        assert len({r["id"] for r in results}) == 1, results
        keys = httpx.post(
            f"{a}/rpc/streams.apiKeys.list",
            json={"orgId": org},
            headers={"Authorization": f"Bearer {key}"},
        ).json()["keys"]
        assert [k["label"] for k in keys].count("ci") == 1
    finally:
        stop.set()
        client.close()
        for proc in (proc_a, proc_b):
            stop_process(proc)
            if proc.stdout is not None:
                proc.stdout.close()


def test_serve_with_two_workers_keeps_stdout_for_the_admin_key(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RELAYPASS_DATA_DIR": str(tmp_path / "data"),
        "RELAYPASS_KEY_PROPAGATION_SECONDS": "0",
    }
    env.pop("RELAYPASS_DATABASE_URL", None)
    env.pop("RELAYPASS_REDIS_URL", None)
    base, proc = _serve(env, tmp_path / "serve.log", "--workers", "2")
    try:
        assert proc.stdout is not None
        key = proc.stdout.readline().strip()
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=auth) as http:
            for _ in range(20):  # spread over both workers
                assert http.post("/rpc/auth.whoami").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
    assert proc.stdout is not None
    rest = proc.stdout.read()
    proc.stdout.close()
    assert rest == "", "access logs or anything else reached stdout"
    assert key.startswith("rp_live_")
