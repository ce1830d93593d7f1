"""The voice gateway's client: signs with a service-account credentials file (TeleQuick).

The credentials file is found through ``CLUTCHCALL_CREDENTIALS`` (or
``TELEQUICK_CREDENTIALS``, ``RELAYPASS_CREDENTIALS``); the token is RS256 with
``iss`` ``clutchcall-sdk``, ``sub`` the tenant and ``kid`` the file's
``private_key_id``, presented once on the WebSocket handshake.

    python -m examples.voice_gateway.client ws://127.0.0.1:9090/rpc originate TR-1 CA-7
    python -m examples.voice_gateway.client ws://127.0.0.1:9090/rpc terminate CA-7
    python -m examples.voice_gateway.client ws://127.0.0.1:9090/rpc events 3.0

Prints one JSON line per answer or event. ``events`` streams for the given
seconds; exit code 0 when it ran that long, 4 when the gateway cut the
connection (revoked or expired credentials), 3 when the handshake was refused.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from relaypass.profiles.service_account import ServiceAccountCredentials

SDK_ISSUER = "clutchcall-sdk"


async def run(url: str, command: list[str]) -> int:
    """Connect once with the service-account token, run one command; the exit code."""
    token = ServiceAccountCredentials.from_env().sign(issuer=SDK_ISSUER)
    protocols = ["relaypass", f"relaypass.jwt.{token}"]
    try:
        async with connect(url, subprotocols=protocols) as ws:  # type: ignore[arg-type]
            op, *args = command
            if op == "events":
                await ws.send(json.dumps({"op": "stream_events"}))
                until = time.monotonic() + float(args[0] if args else 3.0)
                while time.monotonic() < until:
                    try:
                        frame = await asyncio.wait_for(ws.recv(), until - time.monotonic())
                    except TimeoutError:
                        break
                    print(frame, flush=True)  # noqa: T201 - the client's output
                return 0
            request: dict[str, object] = {"op": op}
            if op == "originate":
                request |= {"trunk": args[0], "call": args[1]}
            else:
                request["call"] = args[0]
            await ws.send(json.dumps(request))
            print(await ws.recv(), flush=True)  # noqa: T201 - the client's output
            return 0
    except InvalidStatus:
        print(json.dumps({"error": "refused at handshake"}), flush=True)  # noqa: T201
        return 3
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
        print(json.dumps({"closed": code}), flush=True)  # noqa: T201
        return 4


def main() -> None:
    """``client.py URL COMMAND [ARGS]``."""
    sys.exit(asyncio.run(run(sys.argv[1], sys.argv[2:])))


if __name__ == "__main__":
    main()
