"""The documents cannot rot: every shell and Python block in them runs here, placeholders filled in.

The README, every page of ``docs/`` (in the site's order) and every example's
README are read in that order; their blocks run against one served control plane
(with a signing key that signs at once, publishing to a Redis of this module's
own), from a scratch directory. Commands that start a service (``scripts/run``,
``relaypass serve``, ``relay``, ``gate serve``) are started as written, plus a
free port, and must come up; then they are stopped. A block headed ``# terminal
2`` starts services that keep running for the blocks after it (an example's
server), each on a free port of its own. Two blocks are checked rather than run:
``./scripts/test`` (it is this suite: the check is that CI's ``.ci/run`` calls
it) and the benchmark commands (minutes each, not tests: the check is that every
script named exists and compiles). A block no handler claims fails the suite,
and so does a handler no block needs.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relaypass import Key, Minter
from relaypass._keyset import KeySet
from relaypass.server.db.webhooks import new_secret
from relaypass.server.publish import RedisPublisher
from relaypass.server.webhooks import sign
from tests._js import BUILD_COMMANDS, build
from tests._net import free_port, stop_process, wait_port
from tests.client.conftest import Served, serve
from tests.server.conftest import start_redis

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


def documents() -> list[Path]:
    """The README, the site's pages in its order, then the examples' READMEs."""
    nav = re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    pages = [ROOT / "docs" / name for name in nav]
    return [ROOT / "README.md", *pages, *sorted((ROOT / "examples").glob("*/README.md"))]


BLOCKS = [
    (path.relative_to(ROOT), body)
    for path in documents()
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", path.read_text(), re.DOTALL)
    if lang in {"sh", "python"}
]


@dataclass
class World:
    """What the blocks run against."""

    served: Served
    redis_url: str
    cwd: Path
    #: The examples' own ports (``9100`` as written) -> free ones, the same in every block.
    ports: dict[str, int] = field(default_factory=dict)
    #: Services a ``# terminal 2`` block left running, stopped with the world.
    background: list[subprocess.Popen[str]] = field(default_factory=list)

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
            "PYTHONPATH": str(ROOT),  # the examples are modules of the checkout
        }
        for name in ("RELAYPASS_DATABASE_URL", "RELAYPASS_KEK", "CLUTCHCALL_API_KEY"):
            env.pop(name, None)
        return env

    def fill(self, text: str) -> str:
        """Placeholders -> this world's values."""
        text = text.replace("http://127.0.0.1:8700", self.served.url)
        text = re.sub(r"redis://(10\.0\.0\.5|127\.0\.0\.1):6379(/0)?", self.redis_url, text)
        text = text.replace("rp_live_...", self.served.key)
        text = text.replace(".venv/bin/", f"{BIN}/")
        for port in ("9090", "9100", "9200"):
            if f":{port}" in text or f"--port {port}" in text:
                free = self.ports.setdefault(port, free_port())
                text = text.replace(f":{port}", f":{free}").replace(
                    f"--port {port}", f"--port {free}"
                )
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
        redis_url = f"redis://127.0.0.1:{port}/0"
        served: Generator[Served, None, None] = serve(cwd / "cp", redis_url=redis_url)
        world = World(next(served), redis_url, cwd)
        try:
            yield world
        finally:
            for proc in world.background:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                stop_process(proc)
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
    here = Path.cwd()
    os.chdir(world.cwd)  # files a block writes land where the shell blocks look for them
    try:
        exec(compile(world.fill(body), "README.md", "exec"), dict(namespace or {}))  # noqa: S102
    finally:
        os.chdir(here)
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


def run_background(world: World, body: str) -> None:
    """``# terminal 2``: the block's last command keeps running; its port must open."""
    text = world.fill(body)
    script = (
        "set -euo pipefail\n" + "\n".join(_commands(text)[:-1]) + "\nexec " + _commands(text)[-1]
    )
    log = world.cwd / f"background-{len(world.background)}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - the documents' own commands
            ["/bin/bash", "-c", script],
            cwd=world.cwd,
            env=world.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    world.background.append(proc)
    port = int(re.findall(r"--port (\d+)", text)[-1])
    deadline = time.monotonic() + 60
    while not _port_open(port):
        assert proc.poll() is None, f"{body}\n{log.read_text()}"
        assert time.monotonic() < deadline, f"{body} did not come up\n{log.read_text()}"
        time.sleep(0.1)


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


def check_scripts(_: World, body: str) -> None:
    """The scripts a page names exist and are executable."""
    for line in _commands(body):
        script = ROOT / line.split()[0]
        assert script.is_file(), line
        assert os.access(script, os.X_OK), line


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


#: Which runner takes which block (by a line it starts with).
def check_receiver(world: World, body: str) -> None:
    """The documented receiver, against what the deliverer signs: its own and a forged one."""
    namespace: dict[str, Any] = {}
    exec(compile(world.fill(body), "usage.md", "exec"), namespace)  # noqa: S102 - the doc's code
    secret = namespace["secret"]
    at = dt.datetime.now(dt.UTC)
    payload = b'{"type":"webhook.test","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": sign([secret], "msg_1", at, payload)}  # fmt: skip
    assert namespace["receive"](payload, headers)["type"] == "webhook.test"
    forged = dict(headers, **{"webhook-signature": sign([new_secret()], "msg_1", at, payload)})
    assert namespace["receive"](payload, forged) is None


def build_package(_world: World, body: str) -> None:
    """The package build the example documents: the suite's own, under its lock (a second
    ``npm ci`` would pull node_modules from under another worker's build)."""
    assert body.splitlines()[1] == BUILD_COMMANDS
    assert (build() / "index.js").is_file()


HANDLERS: dict[str, Callable[[World, str], None]] = {
    "./scripts/run": run_services,
    "from relaypass.client import Client": run_python,
    ".venv/bin/relaypass mint moq": run_shell,
    "scripts/run     #": check_scripts,
    "relaypass login": run_shell,
    "RELAYPASS_REDIS_URL=redis://10.0.0.5:6379 relaypass serve": run_services,
    "relaypass key generate": run_shell,
    "relaypass moq-auth generate": run_shell,
    "from relaypass import ClaimsPolicy": run_python,
    "from relaypass.gate import Gate, RedisKeySource": run_gate_python,
    "# A MoQ relay": run_services,
    ".venv/bin/python bench/verify.py": check_benchmarks,
    "# terminal 2": run_background,
    "curl -sf -X POST": run_shell,
    "import json": run_python,
    "export CLUTCHCALL_CREDENTIALS": run_shell,
    "# the page's package": build_package,
    "import time": run_python,
    "from standardwebhooks.webhooks import Webhook": check_receiver,
}


def _handler(body: str) -> Callable[[World, str], None]:
    found = [runner for start, runner in HANDLERS.items() if body.startswith(start)]
    assert len(found) == 1, f"no single runner for this block:\n{body}"
    return found[0]


def test_every_block_has_a_runner_and_every_runner_a_block() -> None:
    used = {start for _, body in BLOCKS for start in HANDLERS if body.startswith(start)}
    assert used == set(HANDLERS), f"handlers no block needs: {set(HANDLERS) - used}"
    for _, body in BLOCKS:
        _handler(body)


@pytest.mark.parametrize(
    "index",
    range(len(BLOCKS)),
    ids=lambda i: f"{BLOCKS[i][0]}:{BLOCKS[i][1].split(chr(10))[0][:40]}",
)
def test_document_block_runs(world: World, index: int) -> None:
    _, body = BLOCKS[index]
    _handler(body)(world, body)
