"""A control plane nobody answers at: one line naming the URL, and the network error's exit code."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from relaypass import UnavailableError, UnreachableError
from relaypass.cli._output import EXIT_UNREACHABLE
from relaypass.client import AsyncClient, Client
from relaypass.client._transport import DEFAULT_URL
from tests._net import free_port


def test_the_sdk_and_cli_default_to_the_servers_own_address() -> None:
    import typer.main

    from relaypass.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    serve, login = commands["serve"], commands["login"]
    host = next(p.default for p in serve.params if p.name == "host")
    port = next(p.default for p in serve.params if p.name == "port")
    assert f"http://{host}:{port}" == DEFAULT_URL
    url_default = next(p.default for p in login.params if p.name == "url")
    assert url_default in (None, DEFAULT_URL)


def test_an_unreachable_url_is_one_error_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, api_key="rp_test_unused") as client, pytest.raises(UnreachableError) as sync:
        client.org_id()
    assert url in str(sync.value)
    assert isinstance(sync.value, UnavailableError)
    assert "rp_test_unused" not in str(sync.value)

    async def go() -> None:
        async with AsyncClient(url, api_key="rp_test_unused") as client:
            await client.org_id()

    with pytest.raises(UnreachableError, match=url):
        asyncio.run(go())


@pytest.mark.parametrize(
    "argv",
    [
        ["whoami"],
        ["tenants", "list"],
        ["mint", "moq", "--root", "demo", "--subscribe", "", "--token-only"],
    ],
)
def test_the_cli_says_which_url_nobody_answers_at(argv: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(  # noqa: S603 - a fixed argument list
        [sys.executable, "-m", "relaypass", *argv, "--url", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={
            "RELAYPASS_API_KEY": "rp_test_unused",
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent",
        },
    )
    assert result.returncode == EXIT_UNREACHABLE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("UNAVAILABLE: cannot reach ")
    assert url in lines[0]
    assert result.stdout == ""
