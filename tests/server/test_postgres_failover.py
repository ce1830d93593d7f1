"""A PostgreSQL failover drill: a primary with a synchronous streaming standby, on loopback.

The suite starts its own cluster from the installed binaries (as the ``postgres``
user: PostgreSQL refuses to run as root): ``initdb``, a standby made with
``pg_basebackup -R``, synchronous replication (``synchronous_standby_names``,
``synchronous_commit = on``: a commit is answered only once the standby has it).
A served control plane uses both through one multi-host URL with
``target_session_attrs=read-write``. Under a steady mint load the primary is
killed (SIGKILL) and the standby promoted (``pg_ctl promote``). Counted: mints
answered 2xx whose audit row the promoted standby lacks (must be 0), answers
other than 2xx or 503 with Retry-After (must be 0), and the time until mints
succeed again without a restart.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store, make_engine
from relaypass.server.settings import Settings
from tests._cp import store_secrets
from tests._net import free_port, serve_in_thread

BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/bin"))


def _as_postgres(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the installed PostgreSQL binaries, fixed argv
        [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--", *argv],
        capture_output=True, text=True, check=check, timeout=120,
    )  # fmt: skip


@dataclass
class Cluster:
    primary: int
    standby: int
    directory: Path
    pids: dict[str, int] = field(default_factory=dict)

    def data(self, name: str) -> Path:
        return self.directory / name

    def url(self) -> str:
        return (f"postgresql+psycopg://postgres@/relaypass?host=127.0.0.1:{self.primary}"
                f"&host=127.0.0.1:{self.standby}&target_session_attrs=read-write")  # fmt: skip

    def pid(self, name: str) -> int:
        return int((self.data(name) / "postmaster.pid").read_text().split()[0])


def _start(cluster: Cluster, name: str) -> None:
    _as_postgres(str(BIN / "pg_ctl"), "-D", str(cluster.data(name)), "-l",
                 str(cluster.directory / f"{name}.log"), "-w", "-t", "60", "start")  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0 or not (BIN / "pg_ctl").exists():
        pytest.fail("the drill runs PostgreSQL's own binaries as the postgres user (root needed)")
    # Not under pytest's temporary directories: they are root's alone (0700).
    outer = Path(tempfile.mkdtemp(prefix="relaypass-pg-"))
    outer.chmod(0o755)
    directory = outer / "pg"
    directory.mkdir()
    postgres = pwd.getpwnam("postgres")
    os.chown(directory, postgres.pw_uid, postgres.pw_gid)
    directory.chmod(0o700)
    cluster = Cluster(free_port(), free_port(), directory)
    primary = cluster.data("primary")
    _as_postgres(str(BIN / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust")
    with (primary / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {cluster.primary}\nlisten_addresses = '127.0.0.1'\nwal_level = replica\n"
            "max_wal_senders = 5\nsynchronous_standby_names = '*'\nsynchronous_commit = on\n"
            f"unix_socket_directories = '{directory}'\n"
        )
    with (primary / "pg_hba.conf").open("a") as hba:
        hba.write("host replication postgres 127.0.0.1/32 trust\n")
    _start(cluster, "primary")
    standby = str(cluster.data("standby"))
    _as_postgres(str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(cluster.primary),
                 "-U", "postgres", "-D", standby, "-R", "-X", "stream")  # fmt: skip
    with (cluster.data("standby") / "postgresql.conf").open("a") as conf:
        # Promoted, it has no standby of its own: it must not wait for one on every commit.
        conf.write(f"port = {cluster.standby}\nsynchronous_standby_names = ''\n")
    _start(cluster, "standby")
    with psycopg.connect(host="127.0.0.1", port=cluster.primary, user="postgres",
                         dbname="postgres", autocommit=True) as admin:  # fmt: skip
        admin.execute("CREATE DATABASE relaypass")
    try:
        yield cluster
    finally:
        for name in ("standby", "primary"):
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(cluster.data(name)), "-m", "immediate",
                         "stop", check=False)  # fmt: skip
        shutil.rmtree(outer, ignore_errors=True)


@dataclass
class Load:
    ok_jtis: list[str] = field(default_factory=list)
    unavailable: int = 0
    other: list[str] = field(default_factory=list)
    last_ok: float = 0.0


def _mints(url: str, key: str, body: dict[str, object], load: Load, halt: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=10) as http:
        while not halt.is_set():
            try:
                answer = http.post(f"{url}/rpc/tokens.relay.mint", json=body, headers=headers)
            except httpx.HTTPError as exc:
                load.other.append(f"transport: {exc}")
                continue
            if answer.status_code == 200:
                load.ok_jtis.append(_jti(answer.json()["token"]))
                load.last_ok = time.monotonic()
            elif answer.status_code == 503 and answer.headers.get("retry-after"):
                load.unavailable += 1
                time.sleep(0.05)
            else:
                load.other.append(f"{answer.status_code} {answer.text[:200]}")
            time.sleep(0.01)


def _jti(token: str) -> str:
    import base64
    import json

    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def test_a_promoted_standby_has_every_answered_mint(cluster: Cluster, tmp_path: Path) -> None:
    store = Store(make_engine(cluster.url()), **store_secrets(), key_propagation_seconds=0)
    store.migrate()
    first = bootstrap(store)
    assert first is not None
    org, key = first
    store.create_tenant(org, "acme", "Acme", actor="test")
    store.create_signing_key(org, "main", actor="test")
    settings = Settings(data_dir=tmp_path, key_propagation_seconds=0, mint_rate_per_minute=0)
    body = {"orgId": org, "tenant": "acme", "ns": ["live/**"]}
    with serve_in_thread(create_app(settings, store)) as address:
        url = f"http://{address}"
        load, halt = Load(), threading.Event()
        worker = threading.Thread(target=_mints, args=(url, key, body, load, halt))
        worker.start()
        try:
            wait_for(lambda: len(load.ok_jtis) > 20)
            os.kill(cluster.pid("primary"), signal.SIGKILL)
            killed = time.monotonic()
            time.sleep(1.0)  # the service answers 503 meanwhile
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(cluster.data("standby")), "-w", "promote")
            promoted = time.monotonic()
            wait_for(lambda: load.last_ok > promoted + 0.5)
            recovered = load.last_ok - promoted
            answered = len(load.ok_jtis)
            wait_for(lambda: len(load.ok_jtis) > answered + 20)
        finally:
            halt.set()
            worker.join(timeout=30)
    store.close()
    with psycopg.connect(host="127.0.0.1", port=cluster.standby, user="postgres",
                         dbname="relaypass") as db:  # fmt: skip
        audited = {
            str(row[0])
            for row in db.execute(
                "SELECT detail->>'jti' FROM audit_log WHERE action = 'token.mint'"
            )
        }
    lost = [j for j in load.ok_jtis if j not in audited]
    assert lost == [], f"{len(lost)} answered mints missing on the promoted standby"
    assert load.other == [], load.other[:5]
    assert load.unavailable > 0, "the drill should have seen the outage"
    assert recovered < 10, f"mints succeeded again {recovered:.1f} s after the promotion"
    if os.environ.get("RELAYPASS_DRILL_REPORT"):
        print(f"pg drill: {len(load.ok_jtis)} mints answered 2xx, {load.unavailable} x 503, "  # noqa: T201
              f"0 lost, ok again {recovered:.2f} s after promote "
              f"({promoted - killed:.1f} s after the kill)")  # fmt: skip
