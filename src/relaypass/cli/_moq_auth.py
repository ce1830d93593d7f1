"""``moq-auth``: the auth server of stock moq-relay fleets."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from relaypass.cli._groups import grouped
from relaypass.cli._moq_token import register_moq_auth_tokens
from relaypass.cli._options import (
    LOOPBACK,
    KeySource,
    PublicPaths,
    gate_options,
    require_extra,
)
from relaypass.cli._output import err as _err

moq_auth_app = typer.Typer(
    help="The auth server of stock moq-relay fleets (moq-relay --auth-url).", no_args_is_help=True
)
register_moq_auth_tokens(moq_auth_app)


@moq_auth_app.command("serve")
@grouped
def moq_auth_serve(
    source: KeySource = KeySource(),
    paths: PublicPaths = PublicPaths(),
    listen: Annotated[
        str,
        typer.Option(
            "--listen",
            help="HOST:PORT (loopback unless --allow-remote) or unix:/path/to.sock.",
            envvar="RELAYPASS_MOQ_AUTH_LISTEN",
        ),
    ] = "127.0.0.1:8702",
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen on a non-loopback address: the contract has no shared secret.",
        ),
    ] = False,
    revalidate: Annotated[
        int, typer.Option("--revalidate", help="Seconds between a relay's re-checks (0: none).")
    ] = 30,
    node: Annotated[
        list[str] | None,
        typer.Option("--node", help="NAME=URL: a relay's internal listener, for pushes."),
    ] = None,
    mtls_publish: Annotated[
        list[str] | None,
        typer.Option("--mtls-publish", help="A pattern a verified client certificate may publish."),
    ] = None,
    mtls_subscribe: Annotated[
        list[str] | None,
        typer.Option("--mtls-subscribe", help="A pattern a verified certificate may subscribe to."),
    ] = None,
    mtls_name: Annotated[
        list[str] | None,
        typer.Option("--mtls-name", help="Grant only certificates of this name (repeat)."),
    ] = None,
    limit_token: Annotated[
        int,
        typer.Option(
            "--limit-token", help="Most live sessions presenting one token (0: no cap).", min=0
        ),
    ] = 0,
    limit_remote: Annotated[
        int,
        typer.Option(
            "--limit-remote", help="Most live sessions from one remote address (0: no cap).", min=0
        ),
    ] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print where it listens as one JSON line.")
    ] = False,
) -> None:
    """Answer moq-relay's per-session requests (connect, revalidate, end) through the gate.

    With --redis-url, the live sessions are kept in that Redis and shared by every
    replica (caps count across them); otherwise in this process. A session its
    relay stops asking about is dropped after two --revalidate cadences; the caps
    need a cadence for that reason.

    [bold]Examples[/]

      relaypass moq-auth serve --redis-url redis://127.0.0.1:6379 --node relay-1=http://10.0.0.7:4444
      relaypass moq-auth serve --key public.jwk --listen unix:/run/relaypass/moq-auth.sock
    """
    require_extra("gate")
    import uvicorn  # noqa: PLC0415 - only the service needs it

    from relaypass._http_protocol import http_protocol  # noqa: PLC0415 - with uvicorn
    from relaypass.gate.adapters.moq_auth import (  # noqa: PLC0415
        CertificateRules,
        MoqAuthServer,
        create_moq_auth_app,
    )
    from relaypass.gate.adapters.moq_sessions import (  # noqa: PLC0415
        Limits,
        MemorySessionTable,
        RedisSessionTable,
    )
    from relaypass.server import logging as rlog  # noqa: PLC0415

    nodes: dict[str, str] = {}
    for item in node or ():
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            _err.print("[bold red]--node takes NAME=http(s)://HOST:PORT[/]", highlight=False)
            raise typer.Exit(code=2)
        nodes[name] = url
    socket_path = listen.removeprefix("unix:") if listen.startswith("unix:") else None
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if socket_path is None and (not port_text.isdigit() or not host):
        _err.print("[bold red]--listen takes HOST:PORT or unix:/path[/]", highlight=False)
        raise typer.Exit(code=2)
    if socket_path is None and not allow_remote and not host.startswith(LOOPBACK):
        _err.print(
            f"[bold red]{host} is not a loopback address[/]: relays reach this server without a "
            "secret; bind loopback or a unix socket, or pass --allow-remote behind TLS",
            highlight=False,
        )
        raise typer.Exit(code=2)
    rlog.configure()
    gate, stop = gate_options("moq", source, paths)
    if (limit_token or limit_remote) and not revalidate:
        _err.print(
            "[bold red]--limit-token and --limit-remote need --revalidate[/]: without a cadence, "
            "a relay that dies without `end` would hold its slots forever",
            highlight=False,
        )
        raise typer.Exit(code=2)
    table = (
        RedisSessionTable.from_url(source.redis_url, prefix=source.redis_prefix)
        if source.redis_url
        else MemorySessionTable()
    )
    server = MoqAuthServer(
        gate, revalidate_seconds=revalidate or None, nodes=nodes, table=table,
        limits=Limits(token=limit_token or None, remote=limit_remote or None),
        certificates=CertificateRules(
            tuple(mtls_publish or ()), tuple(mtls_subscribe or ()),
            frozenset(mtls_name) if mtls_name else None,
        ) if mtls_publish or mtls_subscribe else None,
    )  # fmt: skip
    if as_json:
        where = f"unix:{socket_path}" if socket_path is not None else f"http://{listen}/"
        sys.stdout.write(json.dumps({"url": where, "nodes": sorted(nodes)}) + "\n")
        sys.stdout.flush()
    try:
        if socket_path is not None:
            uvicorn.run(
                create_moq_auth_app(server), uds=socket_path, http=http_protocol(),
                log_level="warning",
            )  # fmt: skip
        else:
            uvicorn.run(create_moq_auth_app(server), host=host, port=int(port_text),
                        http=http_protocol(), log_level="warning")  # fmt: skip
    finally:
        stop()
