"""``serve`` and the local store's ``admin`` commands: the control plane on this machine."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from relaypass.cli._login import credentials_path, save_credentials
from relaypass.cli._output import JsonFlag
from relaypass.cli._output import err as _err
from relaypass.cli._output import fail as _fail
from relaypass.errors import RelaypassError

if TYPE_CHECKING:
    from relaypass.server.db.store import Store
    from relaypass.server.settings import Settings
from relaypass.cli._options import (
    require_extra,
)

admin_app = typer.Typer(help="Administer the control plane's store.", no_args_is_help=True)
commands = typer.Typer()


def _open_store_or_exit() -> tuple[Settings, Store]:
    """Settings and the migrated store; a start-up failure is one clear line, exit 1."""
    from pydantic import ValidationError  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from relaypass._redis import redis_client  # noqa: PLC0415
    from relaypass.server.app import open_store  # noqa: PLC0415
    from relaypass.server.secrets import SecretsMismatchError  # noqa: PLC0415
    from relaypass.server.settings import Settings  # noqa: PLC0415

    try:
        settings = Settings()
        if settings.redis_url:  # a malformed URL is one line now, not a traceback later
            redis_client(settings.redis_url).close()
        return settings, open_store(settings)
    except SecretsMismatchError as exc:
        reason = str(exc)
    except ValidationError as exc:
        fields = ", ".join(
            "RELAYPASS_" + str(e["loc"][0]).upper() for e in exc.errors() if e["loc"]
        )
        reason = f"invalid setting: {fields or 'see RELAYPASS_* variables'}"
    except SQLAlchemyError as exc:
        reason = f"cannot open the database ({type(exc).__name__}): check RELAYPASS_DATABASE_URL"
    except (OSError, RelaypassError) as exc:
        reason = f"cannot start: {exc}"
    _err.print(f"[bold red]relaypass[/]: {escape(reason)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


@admin_app.command("secrets")
def admin_secrets(as_json: JsonFlag = False) -> None:
    """Generate the secrets every replica of one deployment must share.

    Set both in every replica's environment before its first start: the
    key-encryption key seals signing keys at rest, the pepper keys the API-key
    hashes. A replica with other values refuses to start, naming the variable.

    [bold]Examples[/]

      relaypass admin secrets >> /etc/relaypass/env
    """
    from relaypass.server.secrets import generate_secret  # noqa: PLC0415

    values = {"RELAYPASS_KEK": generate_secret(), "RELAYPASS_API_KEY_PEPPER": generate_secret()}
    if as_json:
        sys.stdout.write(json.dumps(values) + "\n")
    else:
        sys.stdout.write("".join(f"{name}={value}\n" for name, value in values.items()))


#: Where ``relaypass relay`` listens unless told otherwise: this machine only.


@commands.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8700,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Ready at once: no propagation delay, and on the first run an active "
            "signing key, a tenant 'dev' and a command that mints and verifies a token.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the startup facts (url, data dir, first org and key) as one JSON line.",
        ),
    ] = False,
) -> None:
    """Run the control plane (SQLite in the data directory unless RELAYPASS_DATABASE_URL is set).

    On an empty store the first org and an admin API key are created, and the key
    is printed once.

    [bold]Examples[/]

      relaypass serve
      RELAYPASS_DATABASE_URL=postgresql://relaypass@db/relaypass relaypass serve --port 8080
    """
    require_extra("server")
    import uvicorn  # noqa: PLC0415 - only the service needs it

    from relaypass._http_protocol import http_protocol  # noqa: PLC0415 - with uvicorn
    from relaypass.server import logging as rlog  # noqa: PLC0415
    from relaypass.server.app import bootstrap, create_app  # noqa: PLC0415

    rlog.configure()
    if dev:
        import os  # noqa: PLC0415

        os.environ["RELAYPASS_KEY_PROPAGATION_SECONDS"] = "0"
    settings, store = _open_store_or_exit()
    first = bootstrap(store, namespace=settings.first_org_namespace)
    if as_json:
        facts = {
            "url": f"http://{host}:{port}",
            "dataDir": str(settings.data_dir),
            "orgId": first[0] if first else None,
            "adminKey": first[1] if first else None,  # shown once, as in the text form
        }
        sys.stdout.write(json.dumps(facts) + "\n")
        sys.stdout.flush()
    elif first is not None:
        _err.print(
            f"Created org [bold]{first[0]}[/] and its admin API key (shown once):",
            highlight=False,
        )
        sys.stdout.write(first[1] + "\n")
        sys.stdout.flush()
    if first is not None and dev:
        _dev_ready(store, first[0], first[1], host, port)
    if workers > 1:
        _err.print(
            "[yellow]note[/]: --workers > 1 runs one process per worker via uvicorn's factory"
        )
        store.close()
        uvicorn.run(
            "relaypass.server.app:create_worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=http_protocol(),
            log_level="warning",
            log_config=_uvicorn_logs_on_stderr(),
        )
        return
    uvicorn.run(
        create_app(settings, store, freeze_gc=True),
        host=host,
        port=port,
        http=http_protocol(),
        log_level="warning",
        log_config=_uvicorn_logs_on_stderr(),
    )


def _uvicorn_logs_on_stderr() -> dict[str, Any]:
    """Uvicorn's logging, with its access log moved from stdout to stderr.

    stdout carries the admin key printed once on the first run, and nothing else.
    """
    import copy  # noqa: PLC0415

    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    for handler in config["handlers"].values():
        handler["stream"] = "ext://sys.stderr"
    return config


def _dev_ready(store: Store, org_id: str, secret: str, host: str, port: int) -> None:
    """A first org that can mint at once, this machine's CLI logged in, and a command to try.

    The login file (0600) is written only where none exists, so a developer's own login is
    never replaced; the printed command then needs the key in ``RELAYPASS_API_KEY``.
    """
    store.create_signing_key(org_id, "dev", actor="dev")
    store.create_tenant(org_id, "dev", "dev", actor="dev")
    base = f"http://{host}:{port}"
    logged_in = save_credentials(base, secret, replace=False)
    cli = _own_cli()
    if logged_in:
        said = f"This machine's relaypass CLI is logged in as its admin ({credentials_path()})."
    else:
        said = f"{credentials_path()} was kept: put the key above in RELAYPASS_API_KEY first."
    _err.print(
        f"Dev mode: the org has an active signing key and a tenant 'dev'. {said} "
        "This mints a moq token and verifies it against the service's JWKS:",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    _err.print(
        f"  {cli} mint moq --url {base} --root demo --subscribe '' --token-only "
        f"| {cli} token verify --key {base}/.well-known/jwks.json",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _own_cli() -> str:
    """How a shell reaches this very CLI: ``relaypass`` if on PATH, else its full path."""
    own = Path(sys.executable).parent / "relaypass"
    found = shutil.which("relaypass")
    if not own.exists() or (found is not None and Path(found).resolve() == own.resolve()):
        return "relaypass"
    return shlex.quote(str(own))


@admin_app.command("bootstrap")
def admin_bootstrap(
    org: Annotated[str, typer.Option("--org", help="Name of the first org.")] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Create the first org and an admin API key on an empty store (for scripts).

    [bold]Examples[/]

      relaypass admin bootstrap --json
    """
    from relaypass.server.app import bootstrap  # noqa: PLC0415

    settings, store = _open_store_or_exit()
    first = bootstrap(store, org, namespace=settings.first_org_namespace)
    store.engine.dispose()
    if first is None:
        from relaypass.errors import InvalidRequestError  # noqa: PLC0415

        _fail(InvalidRequestError("the store already has an org: nothing to bootstrap"), as_json)
    org_id, secret = first
    if as_json:
        sys.stdout.write(json.dumps({"orgId": org_id, "apiKey": secret}) + "\n")
    else:
        _err.print(
            f"Created org [bold]{org_id}[/]; its admin API key (shown once):", highlight=False
        )
        sys.stdout.write(secret + "\n")
