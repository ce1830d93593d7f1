"""A plain install is light: the core and the key/token CLI import without any extra,
and a module that needs one says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

# Modules only the extras bring (pydantic comes with typer): ``None`` in sys.modules makes them
# unimportable in a child.
_EXTRA_MODULES = (
    "fastapi", "starlette", "sqlalchemy", "alembic", "psycopg", "redis", "httpx", "uvicorn",
    "structlog", "prometheus_client", "pydantic_settings", "moq",
)  # fmt: skip
_BLOCK = f"""
import sys
for _name in {_EXTRA_MODULES!r}:
    sys.modules[_name] = None
"""


def child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", _BLOCK + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_core_and_the_token_cli_need_no_extra() -> None:
    done = child(
        "import relaypass, relaypass.cli\n"
        "from relaypass import Key, KeySet, Minter, Verifier\n"
        "key = Key.generate('EdDSA', kid='k')\n"
        "Verifier(KeySet([key.public()])).verify(Minter(key).mint({'sub': 't'}))\n"
        "from relaypass.cli import main\n"
        "sys.argv = ['relaypass', 'key', 'generate', '-a', 'EdDSA']\n"
        "main()\n"
    )
    assert done.returncode == 0, done.stderr
    assert '"kty": "OKP"' in done.stdout


def test_a_missing_extra_is_named() -> None:
    for module, extra in (
        ("relaypass.gate", "gate"),
        ("relaypass.server.app", "server"),
        ("relaypass.client", "client"),
    ):
        done = child(f"import {module}")
        assert done.returncode == 1
        assert f"pip install 'relaypass[{extra}]'" in done.stderr, done.stderr
    cli = child("from relaypass.cli import main\nsys.argv = ['relaypass', 'serve']\nmain()\n")
    assert cli.returncode == 1
    lines = [line for line in cli.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, cli.stderr  # one line, no traceback
    assert "relaypass[server]" in lines[0]


def test_the_sdk_needs_only_the_client_extra() -> None:
    blocked = tuple(m for m in _EXTRA_MODULES if m != "httpx")
    code = (
        f"import sys\nfor n in {blocked!r}:\n    sys.modules[n] = None\n"
        "from relaypass.client import Client\nprint(Client('http://x', api_key='k'))"
    )
    done = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Client(base_url='http://x')" in done.stdout


def test_the_core_dependencies_stay_few() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    core = {req.split(">")[0].split("[")[0] for req in project["project"]["dependencies"]}
    assert core == {"cryptography", "pynacl", "orjson", "typer", "rich"}
    extras = project["project"]["optional-dependencies"]
    assert {"server", "gate", "relay", "client", "all"} <= set(extras)
