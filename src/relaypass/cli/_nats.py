"""``nats-callout``: relay tokens admitted to NATS through its auth callout."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from relaypass.cli._groups import grouped
from relaypass.cli._keyfiles import (
    fail_io,
)
from relaypass.cli._options import (
    KeySource,
    gate_options,
    require_extra,
    serve_until_interrupted,
)
from relaypass.cli._output import JsonFlag
from relaypass.cli._output import err as _err

nats_app = typer.Typer(
    help="The NATS auth callout: relay tokens admitted to NATS.", no_args_is_help=True
)


def _user_password(value: str, option: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user:
        _err.print(f"[bold red]{option} takes USER:PASSWORD[/]", highlight=False)
        raise typer.Exit(code=2)
    return user, password


@nats_app.command("issuer")
def nats_issuer(
    out: Annotated[Path, typer.Option("--out", help="Where to write the account seed (0600).")],
    as_json: JsonFlag = False,
) -> None:
    """Generate the account nkey that signs callout answers; print the public key for the server.

    Put the printed key in nats-server's ``authorization { auth_callout { issuer: ... } }``.
    """
    require_extra("gate.nats")
    import os  # noqa: PLC0415

    import nkeys  # noqa: PLC0415 - the nats extra

    if out.exists():
        _err.print(f"[bold red]{out} exists[/]: not overwritten", highlight=False)
        raise typer.Exit(code=1)
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(seed + b"\n")
    public = nkeys.from_seed(seed).public_key.decode()
    sys.stdout.write(json.dumps({"issuer": public, "seed_file": str(out)}) + "\n" if as_json
                     else public + "\n")  # fmt: skip


@nats_app.command("serve")
@grouped
def nats_serve(
    nats_url: Annotated[
        list[str],
        typer.Option("--nats-url", help="A NATS server (repeatable).", envvar="RELAYPASS_NATS_URL"),
    ],
    issuer_seed: Annotated[
        Path,
        typer.Option(
            "--issuer-seed",
            help="The account seed file (relaypass nats-callout issuer).",
            envvar="RELAYPASS_NATS_ISSUER_SEED",
        ),
    ],
    callout_user: Annotated[
        str,
        typer.Option(
            "--callout-user",
            help="USER:PASSWORD of the callout account's user.",
            envvar="RELAYPASS_NATS_CALLOUT_USER",
        ),
    ],
    account: Annotated[
        list[str],
        typer.Option(
            "--account",
            help=(
                "ORG/TENANT=ACCOUNT for tokens of an org's key; TENANT=ACCOUNT only for keys "
                "bound to no org (repeatable)."
            ),
            envvar="RELAYPASS_NATS_ACCOUNT",
        ),
    ],
    system_user: Annotated[
        str | None,
        typer.Option(
            "--system-user",
            help="USER:PASSWORD of a system-account user, to disconnect revoked clients.",
            envvar="RELAYPASS_NATS_SYSTEM_USER",
        ),
    ] = None,
    source: KeySource = KeySource(),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the accounts served as one JSON line when ready.")
    ] = False,
) -> None:
    r"""Answer nats-server's auth callout with relaypass relay tokens (sent as the auth_token).

    [bold]Example[/]

      relaypass nats-callout serve --nats-url nats://127.0.0.1:4222 --issuer-seed issuer.nk \
        --callout-user callout:secret --system-user sys:secret --account acme=ACME \
        --redis-url redis://127.0.0.1:6379
    """
    require_extra("gate.nats")
    import nkeys  # noqa: PLC0415 - the nats extra

    from relaypass.gate.adapters.nats import NatsCallout  # noqa: PLC0415
    from relaypass.server import logging as rlog  # noqa: PLC0415

    rlog.configure()
    accounts: dict[str, str] = {}
    for item in account:
        tenant, sep, name = item.partition("=")
        if not sep or not tenant or not name:
            _err.print(
                "[bold red]--account takes ORG/TENANT=ACCOUNT (or TENANT=ACCOUNT)[/]",
                highlight=False,
            )
            raise typer.Exit(code=2)
        accounts[tenant] = name
    try:
        signer = nkeys.from_seed(issuer_seed.read_bytes().strip())
    except OSError as exc:
        fail_io(issuer_seed, exc, as_json)
    gate, stop = gate_options("relay", source)
    callout = NatsCallout(
        gate, issuer=signer, accounts=accounts, servers=nats_url,
        callout_user=_user_password(callout_user, "--callout-user"),
        system_user=_user_password(system_user, "--system-user") if system_user else None,
    )  # fmt: skip

    async def run() -> None:
        await callout.start()
        facts = {"issuer": callout.issuer_public, "accounts": accounts, "servers": nats_url}
        if as_json:
            sys.stdout.write(json.dumps(facts) + "\n")
            sys.stdout.flush()
        else:
            _err.print(f"nats callout ready for {', '.join(nats_url)}", highlight=False)
        try:
            await asyncio.Event().wait()
        finally:
            await callout.close()

    serve_until_interrupted(run, stop)
