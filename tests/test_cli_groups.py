"""Option groups: declared once as a dataclass, spread into each command's options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from relaypass.cli._groups import grouped

NameOpt = Annotated[str, typer.Option("--name", help="A name.", envvar="GROUPS_TEST_NAME")]
CountOpt = Annotated[int, typer.Option("--count", help="How many.")]


@dataclass(frozen=True, slots=True)
class Pair:
    name: NameOpt = "anon"
    count: CountOpt = 1


def _app() -> tuple[typer.Typer, list[object]]:
    app = typer.Typer()
    seen: list[object] = []

    @app.command()
    @grouped
    def run(
        path: str,
        pair: Pair = Pair(),
        loud: Annotated[bool, typer.Option("--loud")] = False,
    ) -> None:
        """Say what it was given."""
        seen.append((path, pair, loud))

    return app, seen


def test_a_group_is_spread_into_options_and_handed_over_whole() -> None:
    app, seen = _app()
    result = CliRunner().invoke(app, ["p", "--name", "x", "--count", "3", "--loud"])
    assert result.exit_code == 0, result.output
    assert seen == [("p", Pair(name="x", count=3), True)]


def test_defaults_and_environment_come_from_the_group_fields() -> None:
    app, seen = _app()
    result = CliRunner().invoke(app, ["p"], env={"GROUPS_TEST_NAME": "from-env"})
    assert result.exit_code == 0, result.output
    assert seen == [("p", Pair(name="from-env", count=1), False)]


def test_help_lists_the_group_options_with_their_own_help() -> None:
    app, _ = _app()
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert "--name" in result.output
    assert "How many." in result.output
    assert "--pair" not in result.output
    assert "Say what it was given." in result.output


def test_an_option_declared_twice_is_refused_at_definition() -> None:
    def clash(pair: Pair = Pair(), name: str = "") -> None:
        """Clashes."""

    with pytest.raises(TypeError, match="declared twice"):
        grouped(clash)


def test_every_gate_command_takes_the_key_source_group() -> None:
    from relaypass.cli import app

    runner = CliRunner()
    for command in (["gate", "serve"], ["relay"], ["moq-auth", "serve"], ["nats-callout", "serve"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, (command, result.output)
        for option in ("--key ", "--key-dir", "--jwks-url", "--redis-url", "--redis-prefix",
                       "--issuer", "--audience"):  # fmt: skip
            assert option in result.output, (command, option)
