"""``relay``: a MoQ relay with the gate built in, alone or with a moq auth server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from relaypass._keyset import KeySet
from relaypass.cli._output import err as _err
from relaypass.cli._output import fail as _fail
from relaypass.errors import RelaypassError

if TYPE_CHECKING:
    from relaypass.gate.adapters.moq_auth_client import AuthClient
    from relaypass.gate.adapters.moq_relay import MoqRelay
    from relaypass.gate.session import Gate
from relaypass.cli._groups import grouped
from relaypass.cli._keyfiles import (
    fail_io,
)
from relaypass.cli._options import (
    LOOPBACK,
    KeySource,
    PublicPaths,
    gate_options,
    serve_until_interrupted,
)

commands = typer.Typer()

RELAY_BIND: Final = "127.0.0.1:4443"


@commands.command("relay")
@grouped
def relay(
    source: KeySource = KeySource(),
    paths: PublicPaths = PublicPaths(),
    bind: Annotated[
        str,
        typer.Option(
            "--bind",
            help=(
                "UDP address for QUIC: loopback by default, a development setting; "
                "'[::]:4443' listens on every interface."
            ),
            envvar="RELAYPASS_RELAY_BIND",
        ),
    ] = RELAY_BIND,
    tls_cert: Annotated[
        list[str] | None,
        typer.Option("--tls-cert", help="Certificate chain (PEM).", envvar="RELAYPASS_TLS_CERT"),
    ] = None,
    tls_key: Annotated[
        list[str] | None,
        typer.Option("--tls-key", help="Private key (PEM).", envvar="RELAYPASS_TLS_KEY"),
    ] = None,
    tls_generate: Annotated[
        list[str] | None,
        typer.Option(
            "--tls-generate",
            help="Host name for a generated self-signed certificate.",
            envvar="RELAYPASS_TLS_GENERATE",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="moq-relay's relay.toml: [auth] key/keys/public, [server].",
            envvar="RELAYPASS_RELAY_CONFIG",
        ),
    ] = None,
    auth_url: Annotated[
        str | None,
        typer.Option(
            "--auth-url",
            help=(
                "Ask this auth server per session instead of verifying tokens here: "
                "http://<loopback>, https://... or unix:/path."
            ),
            envvar="RELAYPASS_RELAY_AUTH_URL",
        ),
    ] = None,
    auth_node: Annotated[
        str,
        typer.Option("--node", help="This relay's node name, told to the auth server."),
    ] = "relay",
    auth_listen: Annotated[
        str | None,
        typer.Option(
            "--auth-listen",
            help="HOST:PORT of the internal listener the auth server pushes to (loopback).",
            envvar="RELAYPASS_RELAY_AUTH_LISTEN",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the listen address and fingerprints as one JSON line."),
    ] = False,
) -> None:
    r"""Run a MoQ relay that admits sessions only with a valid moq token (?jwt=).

    Every option can also come from the environment (RELAYPASS_KEY, RELAYPASS_PUBLIC,
    RELAYPASS_RELAY_BIND, RELAYPASS_TLS_GENERATE, ...: see each option).

    Needs the relay extra: pip install 'relaypass\[relay]'. The URL path is the
    session's root, as in moq-relay.

    [bold]Examples[/]

      relaypass relay --key-dir keys/ --tls-generate localhost
      relaypass relay --redis-url redis://127.0.0.1:6379 --tls-cert cert.pem --tls-key key.pem
      relaypass relay --config relay.toml
      relaypass relay --auth-url http://127.0.0.1:8702/ --node relay-1 --auth-listen 127.0.0.1:4444
    """
    try:
        from relaypass.gate.adapters.moq_relay import MoqRelay  # noqa: PLC0415 - optional extra
    except ImportError:
        _err.print("[bold red]the relay needs moq-rs[/]: pip install 'relaypass\\[relay]'")
        raise typer.Exit(code=1) from None
    from relaypass.server import logging as rlog  # noqa: PLC0415

    rlog.configure()
    if config is not None:  # the file's settings, with the command line's added
        from relaypass.gate.config import RelayConfig  # noqa: PLC0415

        try:
            settings = RelayConfig.load(config)
        except RelaypassError as exc:
            _fail(exc, as_json=False)
        except OSError as exc:
            fail_io(config, exc, as_json=False)
        source = dataclasses.replace(source, key=[*settings.keys, *(source.key or ())])
        paths = dataclasses.replace(paths, public=[*settings.public, *(paths.public or ())])
        bind = settings.listen if settings.listen and bind == RELAY_BIND else bind
        tls_cert = [*settings.tls_cert, *(tls_cert or ())]
        tls_key = [*settings.tls_key, *(tls_key or ())]
        tls_generate = [*settings.tls_generate, *(tls_generate or ())]
    if auth_url is not None:
        gate, stop = _auth_server_gate(
            auth_url, source.key, source.key_dir, source.jwks_url, source.redis_url, paths.public
        )
    else:
        gate, stop = gate_options("moq", source, paths)

    async def run() -> None:
        auth = _auth_client(auth_url, auth_node) if auth_url is not None else None
        relay = MoqRelay(
            gate,
            bind=bind,
            tls_cert=tls_cert or (),
            tls_key=tls_key or (),
            tls_generate=tls_generate or (),
            auth=auth,
        )
        async with relay, _internal_listener(relay, auth_listen, auth_node):
            _relay_ready(relay, tls_generate or [], as_json=as_json)
            await relay.serve_forever()

    serve_until_interrupted(run, stop)


def _relay_ready(relay: MoqRelay, tls_generate: list[str], *, as_json: bool) -> None:
    """Say where the relay listens: one JSON line, or lines for a person."""
    port = relay.local_addr.rsplit(":", 1)[-1]
    if as_json:
        host = tls_generate[0] if tls_generate else None
        facts = {
            "listen": relay.local_addr,
            "fingerprints": relay.cert_fingerprints() if tls_generate else [],
            "url": f"https://{host}:{port}/<root>?jwt=<token>" if host else None,
        }
        sys.stdout.write(json.dumps(facts) + "\n")
        sys.stdout.flush()
        return
    _err.print(f"relay listening on {relay.local_addr} (QUIC)", highlight=False)
    if tls_generate:
        # What a browser page needs for serverCertificateHashes, and where to go.
        for fingerprint in relay.cert_fingerprints():
            _err.print(f"certificate sha256: {fingerprint}", highlight=False)
        _err.print(f"ready: https://{tls_generate[0]}:{port}/<root>?jwt=<token>", highlight=False)


def _auth_server_gate(auth_url: str, *sources: object) -> tuple[Gate, Callable[[], None]]:
    """The relay's gate when an auth server decides: no keys of its own, so none may be given."""
    from relaypass.gate import Gate, StaticKeySource  # noqa: PLC0415

    if any(sources):
        _err.print(
            "[bold red]--auth-url decides every session[/]: leave out --key, --key-dir, "
            "--jwks-url, --redis-url and --public (the auth server has them)",
            highlight=False,
        )
        raise typer.Exit(code=2)
    parsed = urllib.parse.urlsplit(auth_url)
    loopback = (parsed.hostname or "").startswith(LOOPBACK) or parsed.hostname == "localhost"
    if not (
        parsed.scheme == "https"
        or (parsed.scheme == "http" and loopback)
        or auth_url.startswith("unix:")
    ):
        _err.print(
            "[bold red]--auth-url takes http:// to a loopback address, https:// or unix:/path[/]"
            ": the contract has no shared secret",
            highlight=False,
        )
        raise typer.Exit(code=2)
    return Gate(StaticKeySource(KeySet([])), profile="moq"), lambda: None


def _auth_client(auth_url: str, node: str) -> AuthClient:
    import httpx  # noqa: PLC0415

    from relaypass.gate.adapters.moq_auth_client import (  # noqa: PLC0415
        ADMISSION_SECONDS,
        AuthClient,
    )

    if auth_url.startswith("unix:"):
        transport = httpx.AsyncHTTPTransport(uds=auth_url.removeprefix("unix:"))
        client = httpx.AsyncClient(transport=transport, timeout=ADMISSION_SECONDS)
        return AuthClient("http://localhost/", node=node, client=client)
    return AuthClient(auth_url, node=node)


@contextlib.asynccontextmanager
async def _internal_listener(relay: MoqRelay, listen: str | None, node: str) -> AsyncIterator[None]:
    """Serve the internal listener (pushes from the auth server) while the relay runs."""
    if listen is None:
        yield
        return
    import uvicorn  # noqa: PLC0415

    from relaypass.gate.adapters.moq_auth_client import create_listener_app  # noqa: PLC0415

    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or not host.startswith(LOOPBACK):
        _err.print("[bold red]--auth-listen takes a loopback HOST:PORT[/]", highlight=False)
        raise typer.Exit(code=2)
    app = create_listener_app(relay.auth_sessions, relay.revalidate_now, node=node)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=int(port), log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        yield
    finally:
        server.should_exit = True
        await task
