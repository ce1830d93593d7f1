"""``gate serve``: the gate as a service for nginx-rtmp, HLS and ``auth_request``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from relaypass.cli._groups import grouped
from relaypass.cli._options import (
    KeySource,
    PublicPaths,
    RoomSecretOpt,
    default_stream_key_db,
    gate_options,
    require_extra,
)

gate_app = typer.Typer(help="Run the data-plane gate for media servers.", no_args_is_help=True)


@gate_app.command("serve")
@grouped
def gate_serve(
    source: KeySource = KeySource(),
    paths: PublicPaths = PublicPaths(),
    room_secret: RoomSecretOpt = None,
    profile: Annotated[
        str, typer.Option("--profile", help="Token profile: relay, moq, session or room.")
    ] = "relay",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8701,
    hls_location: Annotated[
        str, typer.Option("--hls-location", help="URI prefix of token-in-path HLS requests.")
    ] = "/hls",
    stream_key_db: Annotated[
        Path | None,
        typer.Option(
            "--stream-key-db",
            help="SQLite file keeping stream keys across restarts of Redis and the gate.",
        ),
    ] = None,
    max_keyset_age: Annotated[
        float,
        typer.Option("--max-keyset-age", help="Seconds; older key set: /readyz is not ready."),
    ] = 120.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the listen URL as one JSON line when ready.")
    ] = False,
) -> None:
    """Run the gate as an HTTP auth service (nginx-rtmp on_* callbacks, auth_request for HLS).

    Stream keys are kept in Redis when --redis-url is given (shared by every gate),
    otherwise in this process.

    [bold]Examples[/]

      relaypass gate serve --key jwks.json
      relaypass gate serve --redis-url redis://127.0.0.1:6379 --public-subscribe public
    """
    require_extra("gate")
    import uvicorn  # noqa: PLC0415 - only the service needs it

    from relaypass._http_protocol import http_protocol  # noqa: PLC0415 - with uvicorn
    from relaypass.gate.adapters.http import create_gate_app  # noqa: PLC0415
    from relaypass.gate.adapters.stream_keys import (  # noqa: PLC0415
        FileStreamKeys,
        RedisStreamKeys,
        SharedStreamKeys,
    )
    from relaypass.server import logging as rlog  # noqa: PLC0415

    rlog.configure()
    gate, stop = gate_options(profile, source, paths, room_secret=room_secret)
    local = FileStreamKeys(stream_key_db or default_stream_key_db())
    keys: SharedStreamKeys | FileStreamKeys = (
        SharedStreamKeys(RedisStreamKeys(source.redis_url, prefix=source.redis_prefix), local)
        if source.redis_url
        else local
    )
    try:
        app_ = create_gate_app(
            gate,
            stream_keys=keys,
            hls_location=hls_location,
            max_keyset_age_seconds=max_keyset_age,
        )
        if as_json:
            sys.stdout.write(
                json.dumps({"url": f"http://{host}:{port}", "profile": profile}) + "\n"
            )
            sys.stdout.flush()
        uvicorn.run(app_, host=host, port=port, http=http_protocol(), log_level="warning")
    finally:
        stop()
        keys.close()
