"""The README cannot rot: every shell and Python block in it runs here, placeholders filled in.

Blocks run in the README's order against one served control plane (with a
signing key that signs at once) and a Redis of this module's own, from a
scratch directory. Commands that start a service (``scripts/run``,
``relaypass serve``, ``relay``, ``gate serve``) are started as written, plus a
free port, and must come up; then they are stopped. Two blocks are checked
rather than run: ``./scripts/test`` (it is this suite: the check is that CI's
``.ci/run`` calls it) and the benchmark commands (minutes each, not tests: the
check is that every script named exists and compiles). A block no handler
claims fails the suite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relaypass import Key, Minter
from relaypass._keyset import KeySet
from relaypass.server.publish import RedisPublisher
from tests._net import free_port, stop_process, wait_port
from tests.client.conftest import Served, serve
from tests.server.conftest import start_redis

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent
BLOCKS = [
    (lang, body)
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", README, re.DOTALL)
    if lang in {"sh", "python"}
]


@dataclass
class World:
    """What the blocks run against."""

    served: Served
    redis_url: str
    cwd: Path

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "HOME": str(self.cwd),
            "XDG_CONFIG_HOME": str(self.cwd / "config"),
            "RELAYPASS_DATA_DIR": str(self.cwd / "data"),
            "RELAYPASS_API_KEY": self.served.key,
            "RELAYPASS_URL": self.served.url,
            "VENV_EXTRAS": "dev",  # scripts/run: the suite's own install, no reinstall
        }
        for name in ("RELAYPASS_DATABASE_URL", "RELAYPASS_KEK", "CLUTCHCALL_API_KEY"):
            env.pop(name, None)
        return env

    def fill(self, text: str) -> str:
        """Placeholders -> this world's values."""
        text = text.replace("http://127.0.0.1:8700", self.served.url)
        text = re.sub(r"redis://(10\.0\.0\.5|127\.0\.0\.1):6379(/0)?", self.redis_url, text)
        text = text.replace("rp_live_...", self.served.key)
        return text.replace('"org_..."', repr(self.served.org))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with tempfile.TemporaryDirectory(prefix="relaypass-readme-") as tmp:
        cwd = Path(tmp)
        redis_dir = cwd / "redis"
        redis_dir.mkdir()
        port = free_port()
        redis_proc = start_redis(port, redis_dir)
        (cwd / "cp").mkdir()
        served: Generator[Served, None, None] = serve(cwd / "cp")
        try:
            yield World(next(served), f"redis://127.0.0.1:{port}/0", cwd)
        finally:
            served.close()
            stop_process(redis_proc)


# ------------------------------------------------------------------ runners


def run_shell(world: World, body: str) -> None:
    script = "set -euo pipefail\n" + world.fill(body)
    done = subprocess.run(  # noqa: S603 - the README's own commands
        ["/bin/bash", "-c", script],
        cwd=world.cwd,
        env=world.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{body}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def run_python(world: World, body: str, namespace: dict[str, Any] | None = None) -> None:
    env = world.env
    saved = {k: os.environ.get(k) for k in ("RELAYPASS_API_KEY", "RELAYPASS_URL")}
    os.environ.update({k: env[k] for k in saved})
    try:
        exec(compile(world.fill(body), "README.md", "exec"), dict(namespace or {}))  # noqa: S102
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_gate_python(world: World, body: str) -> None:
    """The gate example: keys published to Redis the way the control plane does."""
    key = Key.generate("EdDSA", kid="readme")
    publisher = RedisPublisher(world.redis_url)
    publisher.publish_keyset(KeySet([key.public()]))
    publisher.close()
    token = Minter(key).mint({"root": "demo/alice", "put": [""], "get": [""]})
    closed: list[str] = []
    run_python(
        world,
        body + "\nsource.close()\n",
        {"token_or_none": token, "drop_connection": lambda _session, reason: closed.append(reason)},
    )


def _ready_check(line: str, port: int | None, log: Path) -> Callable[[], bool]:
    if "relaypass relay" in line:
        return lambda: "listening" in log.read_text()
    assert port is not None
    return lambda: _port_open(port)


def _port_open(port: int) -> bool:
    try:
        wait_port(port, timeout=0.2)
    except (TimeoutError, OSError, AssertionError):
        return False
    return True


def _with_address(line: str) -> tuple[str, int | None]:
    """A service command line with a free port (or UDP bind) of its own."""
    port = free_port()
    if re.search(r"--port \d+", line):
        return re.sub(r"--port \d+", f"--port {port}", line), port
    if "relaypass relay" in line:
        return f"{line} --bind 127.0.0.1:{port}", None
    return f"{line} --port {port}", port


def run_services(world: World, body: str) -> None:
    """Each command starts a service as written; it must come up, and is then stopped."""
    prepare_relay_files(world.cwd)
    lines = [ln for ln in _commands(world.fill(body)) if ln]
    for number, line in enumerate(lines):
        if line.strip() == "./scripts/test":
            ci = (ROOT / ".ci" / "run").read_text()
            assert "scripts/test" in ci  # the README's test command is what CI runs
            continue
        command, port = _with_address(line.replace("./scripts/run", f"{ROOT}/scripts/run"))
        log = world.cwd / f"service-{number}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(  # noqa: S603 - the README's own commands
                ["/bin/bash", "-c", command],
                cwd=world.cwd,
                env=world.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        ready = _ready_check(line, port, log)
        try:
            deadline = time.monotonic() + 60
            while not ready():
                assert proc.poll() is None, f"{line}\n{log.read_text()}"
                assert time.monotonic() < deadline, f"{line} did not come up\n{log.read_text()}"
                time.sleep(0.1)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # the shell and what it started
            stop_process(proc)


def _commands(text: str) -> list[str]:
    """Command lines: comments dropped, backslash continuations joined."""
    out: list[str] = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def check_benchmarks(_: World, body: str) -> None:
    for line in _commands(body):
        argv = shlex.split(line)
        assert argv[0] == ".venv/bin/python", line
        script = ROOT / argv[1]
        assert script.is_file(), line
        source = script.read_text()
        compile(source, str(script), "exec")
        assert 'if __name__ == "__main__":' in source, script


def prepare_relay_files(cwd: Path) -> None:
    """What the relay examples name: a key directory, a certificate and its key."""
    keys = cwd / "keys"
    keys.mkdir(exist_ok=True)
    Key.generate("EdDSA", kid="v1").save(keys / "v1.jwk", private=False)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=10))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(private, hashes.SHA256())
    )
    (cwd / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (cwd / "key.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


#: Which runner takes which block (by a line it starts with). Order: the README's.
HANDLERS: list[tuple[str, Callable[[World, str], None]]] = [
    ("./scripts/run", run_services),
    ("export RELAYPASS_API_KEY", run_shell),
    ("relaypass login", run_shell),
    ("from relaypass.client import Client", run_python),
    ("RELAYPASS_REDIS_URL=redis://10.0.0.5:6379 relaypass serve", run_services),
    ("relaypass key generate", run_shell),
    ("from relaypass import ClaimsPolicy", run_python),
    ("from relaypass.gate import Gate, RedisKeySource", run_gate_python),
    ("# A MoQ relay", run_services),
    (".venv/bin/python bench/verify.py", check_benchmarks),
]


def _handler(body: str) -> Callable[[World, str], None]:
    found = [runner for start, runner in HANDLERS if body.startswith(start)]
    assert len(found) == 1, f"no single runner for this README block:\n{body}"
    return found[0]


def test_every_block_has_a_runner() -> None:
    assert len(BLOCKS) == len(HANDLERS)
    for _, body in BLOCKS:
        _handler(body)


@pytest.mark.parametrize(
    "index", range(len(BLOCKS)), ids=lambda i: BLOCKS[i][1].split("\n")[0][:40]
)
def test_readme_block_runs(world: World, index: int) -> None:
    _, body = BLOCKS[index]
    _handler(body)(world, body)
