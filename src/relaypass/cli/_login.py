"""``login``, ``logout`` and the client every admin command asks through."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from relaypass.cli._answers import show, spelled_as_flags
from relaypass.cli._output import JsonFlag
from relaypass.cli._output import fail as _fail
from relaypass.cli._output import out as _out
from relaypass.errors import InvalidApiKeyError, RelaypassError

if TYPE_CHECKING:
    from relaypass.client import Client

__all__ = ["credentials_path", "login", "logout", "run_with_client", "save_credentials"]

T = TypeVar("T")


def credentials_path() -> Path:
    """Where ``relaypass login`` keeps the URL and key."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "relaypass" / "credentials.json"


def _saved() -> dict[str, str]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _client(url: str | None, as_json: bool) -> Client:
    from relaypass.client import Client  # noqa: PLC0415 - the client extra, only when used

    saved = _saved()
    key = os.environ.get("RELAYPASS_API_KEY") or os.environ.get("CLUTCHCALL_API_KEY")
    try:
        return Client(
            url or os.environ.get("RELAYPASS_URL") or saved.get("url"),
            api_key=key or saved.get("api_key"),
        )
    except InvalidApiKeyError:
        _fail(
            InvalidApiKeyError("no API key: run relaypass login or set RELAYPASS_API_KEY"), as_json
        )


def run_with_client(url: str | None, as_json: bool, call: Callable[[Client], T]) -> T:
    """``call`` with a client of the saved or given URL and key; a refusal is one line, exit 1."""
    client = _client(url, as_json)
    try:
        return call(client)
    except RelaypassError as exc:
        _fail(spelled_as_flags(exc), as_json)
    finally:
        client.close()


def login(
    url: Annotated[str, typer.Option("--url", help="Control-plane URL.")] = "http://127.0.0.1:8700",
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="The key (default: asked, or RELAYPASS_API_KEY)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check an API key against the control plane and keep it in a 0600 file."""
    from relaypass.client import Client  # noqa: PLC0415

    key = api_key or os.environ.get("RELAYPASS_API_KEY")
    if not key:
        key = typer.prompt("API key", hide_input=True)
    client = Client(url, api_key=key)
    try:
        who = client.auth.whoami()
    except RelaypassError as exc:
        _fail(exc, as_json)
    finally:
        client.close()
    save_credentials(url, key)
    show(who, as_json)


def save_credentials(url: str, key: str, *, replace: bool = True) -> bool:
    """Keep the URL and key in the owner-only login file; ``False`` if one was kept instead."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url, "api_key": key}, out)
    path.chmod(0o600)
    return True


def logout(as_json: JsonFlag = False) -> None:
    """Forget the stored key."""
    path = credentials_path()
    existed = path.exists()
    path.unlink(missing_ok=True)
    if as_json:
        sys.stdout.write(json.dumps({"loggedOut": existed}) + "\n")
    else:
        _out.print("logged out" if existed else "not logged in")
