"""Real databases for the store tests.

PostgreSQL: the server on 127.0.0.1:5432 when one answers; otherwise one is
started from the installed binaries in a temporary directory, on a free
loopback port, and stopped afterwards. Each test session gets its own
database, dropped at the end. Nothing is mocked.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from relaypass._apikeys import ApiKeyHasher
from relaypass.server.db.store import Store, make_engine
from relaypass.server.secrets import KeyEncryptionKey
from tests._net import free_port

PG_HOST, PG_PORT = "127.0.0.1", int(os.environ.get("RELAYPASS_TEST_PG_PORT", "5432"))


def _pg_answers(port: int) -> bool:
    try:
        with psycopg.connect(
            host=PG_HOST, port=port, user="postgres", dbname="postgres", connect_timeout=3
        ):
            return True
    except psycopg.OperationalError:
        return False


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    msg = f"PostgreSQL binary {name} is not installed"
    raise RuntimeError(msg)


class PgCluster:
    """A PostgreSQL cluster of the tests' own, from the installed binaries, on a free port."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="relaypass-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.workdir, "postgres", "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.workdir / "data", free_port()
        subprocess.run(  # noqa: S603 - fixed argv
            [*self.prefix, _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust"],
            check=True,
            capture_output=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{PG_HOST}:{self.port}/postgres"

    def start(self) -> None:
        options = f"-c listen_addresses={PG_HOST} -p {self.port} -k {self.workdir}"
        log = self.workdir / "postgres.log"
        # The server's output goes to a log file: a pipe would stay open for its lifetime.
        subprocess.run(  # noqa: S603 - fixed argv
            [*self.prefix, _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
             str(log), "-w", "start"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not _pg_answers(self.port):
            if time.monotonic() > deadline:
                msg = "the PostgreSQL started for the tests did not answer"
                raise RuntimeError(msg)
            time.sleep(0.2)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(  # noqa: S603 - fixed argv
            [*self.prefix, _pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[int]:
    """The port of a running PostgreSQL that trusts 'postgres' on loopback."""
    if _pg_answers(PG_PORT):
        yield PG_PORT
        return
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster.port
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def pg_database(pg_server: int) -> Iterator[str]:
    """A fresh database for this test session (dropped afterwards)."""
    name = f"relaypass_test_{secrets.token_hex(6)}"
    admin = {"host": PG_HOST, "port": pg_server, "user": "postgres", "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{pg_server}/{name}"
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class MsClock:
    """A millisecond clock the tests move by hand."""

    def __init__(self, start_ms: int = 1_800_000_000_000) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


@pytest.fixture
def ms_clock() -> MsClock:
    return MsClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on SQLite and on a real PostgreSQL (schema reset per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'relaypass.db'}"
        return
    url: str = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    yield url


@pytest.fixture
def store(database_url: str, ms_clock: MsClock) -> Iterator[Store]:
    engine = make_engine(database_url)
    instance = Store(
        engine,
        kek=KeyEncryptionKey(secrets.token_bytes(32)),
        hasher=ApiKeyHasher(secrets.token_bytes(32)),
        key_propagation_seconds=60,
        max_token_ttl_seconds=3600,
        clock_ms=ms_clock,
    )
    instance.migrate()
    yield instance
    instance.close()


REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("RELAYPASS_TEST_REDIS_PORT", "6379"))


def _redis_answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host=REDIS_HOST, port=port, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def start_redis(port: int, workdir: Path, *options: str) -> subprocess.Popen[bytes]:
    """A redis-server of the tests' own on loopback (nothing kept on disk), once it answers.

    ``options``: more of redis-server's own (``--cluster-enabled``, ``yes``, ...).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        msg = "redis-server is not installed"
        raise RuntimeError(msg)
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [binary, "--bind", REDIS_HOST, "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not _redis_answers(port):
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            msg = "the Redis started for the tests did not answer"
            raise RuntimeError(msg)
        time.sleep(0.1)
    return proc


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real Redis: the one on 127.0.0.1:6379, or one started from redis-server."""
    if _redis_answers(REDIS_PORT):
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
        return
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="relaypass-redis-"))
    proc = start_redis(port, workdir)
    try:
        yield f"redis://{REDIS_HOST}:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[str]:
    """A Redis Cluster of the tests' own (3 primaries, 3 replicas): its ``redis+cluster://`` URL.

    Shared by the tests that only use it; a drill that kills a node starts its own.
    """
    from tests._cluster import running_cluster  # it imports this module

    workdir = Path(tempfile.mkdtemp(prefix="relaypass-cluster-"))
    try:
        with running_cluster(workdir) as cluster:
            yield cluster.url
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"relaypass-test-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


TEST_TENANTS = ("tenant_abc", "acme", "globex", "t")


def bootstrap_with_tenants(store: Store, *tenants: str) -> tuple[str, str]:
    """The first org, its admin key, and the tenants the tests mint for."""
    from relaypass.server.app import bootstrap

    first = bootstrap(store)
    assert first is not None
    for tenant in tenants or TEST_TENANTS:
        store.create_tenant(first[0], tenant, tenant, actor="test")
    return first
