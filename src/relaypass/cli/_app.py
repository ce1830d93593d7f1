"""The ``relaypass`` command: one module per command group, joined here.

``key``/``token``/``demo`` (:mod:`._keys`), ``serve`` and the local ``admin``
commands (:mod:`._serve`), ``relay`` (:mod:`._relay`), ``gate`` (:mod:`._gate`),
``moq-auth`` (:mod:`._moq_auth`), ``nats-callout`` (:mod:`._nats`), ``moq-token``
(:mod:`._moq_token`), ``usage`` (:mod:`._usage`); ``login``, ``orgs``,
``tenants``, ``mint`` and the other SDK-backed ones in :mod:`._admin`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from relaypass.cli import _gate, _keys, _moq_auth, _nats, _relay, _serve
from relaypass.cli._admin import register as register_admin_commands
from relaypass.cli._moq_token import moq_token_app
from relaypass.cli._output import err as _err
from relaypass.cli._usage import usage_app

__all__ = ["app", "command", "main"]

app = typer.Typer(
    name="relaypass",
    help="Token authority and gatekeeper for real-time media platforms.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
)
app.add_typer(_keys.key_app, name="key")
app.add_typer(_keys.token_app, name="token")
app.add_typer(_serve.admin_app, name="admin")
app.add_typer(_gate.gate_app, name="gate")
app.add_typer(moq_token_app, name="moq-token")
app.add_typer(usage_app, name="usage")
for commands in (_keys.commands, _serve.commands, _relay.commands):
    app.add_typer(commands)
app.add_typer(_moq_auth.moq_auth_app, name="moq-auth")
app.add_typer(_nats.nats_app, name="nats-callout")
register_admin_commands(app)


def _version(value: bool) -> None:
    if value:
        from relaypass import __version__  # noqa: PLC0415

        sys.stdout.write(f"relaypass {__version__}\n")
        raise typer.Exit


@app.callback()
def _main(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Token authority and gatekeeper for real-time media platforms."""


def command() -> Any:  # noqa: ANN401 - a click command
    """The command tree, with boolean flags shown without a ``<bool>`` placeholder in help."""
    root = typer.main.get_command(app)
    stack = [root]
    while stack:
        node = stack.pop()
        for param in getattr(node, "params", []):
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = " "
        stack.extend(getattr(node, "commands", {}).values())
    return root


def main() -> None:
    """Console entry point: a missing extra is one line naming what to install."""
    try:
        command()(prog_name="relaypass")
    except ImportError as exc:
        if not str(exc).startswith("relaypass."):
            raise
        _err.print(f"relaypass: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        raise SystemExit(1) from None
