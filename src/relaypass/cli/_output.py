"""What every command prints through: the consoles, ``--json``, and a refusal in one line."""

from __future__ import annotations

import json
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from relaypass.errors import RelaypassError, UnreachableError

__all__ = ["EXIT_UNREACHABLE", "JsonFlag", "err", "fail", "out"]

out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


#: The exit code when the service could not be reached at all (sysexits' EX_UNAVAILABLE).
EXIT_UNREACHABLE = 69


def fail(exc: RelaypassError, as_json: bool) -> NoReturn:
    """Report a refusal (its stable code and reason) and exit 1 (69: nothing answered)."""
    if as_json:
        payload = {"error": {"code": exc.code.value, "reason": exc.reason}}
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        err.print(f"[bold red]{exc.code.value}[/]: {exc.reason}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=EXIT_UNREACHABLE if isinstance(exc, UnreachableError) else 1)
