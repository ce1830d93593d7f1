"""Key files and key sets the commands read: a JWK, a JWKS file, or a JWKS URL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import typer

from relaypass._keys import Key
from relaypass._keyset import KeySet
from relaypass.cli._options import require_extra
from relaypass.cli._output import err as _err
from relaypass.cli._output import fail as _fail
from relaypass.errors import InvalidKeyError, RelaypassError

__all__ = ["MAX_JWKS_BYTES", "fail_io", "fetch_jwks", "load_key", "load_verification_keys"]

MAX_JWKS_BYTES = 1 << 20


def load_key(path: Path, as_json: bool) -> Key:
    try:
        return Key.load(path)
    except RelaypassError as exc:
        _fail(exc, as_json)
    except OSError as exc:
        fail_io(path, exc, as_json)


def fetch_jwks(url: str, as_json: bool) -> str:
    """A key set over HTTP (the control plane's ``/.well-known/jwks.json``), size-capped."""
    require_extra("client")
    import httpx  # noqa: PLC0415 - the client extra

    body = bytearray()
    try:
        with httpx.stream("GET", url, timeout=10.0) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    break
    except httpx.HTTPError as exc:
        _fail(InvalidKeyError(f"cannot fetch {url}: {type(exc).__name__}"), as_json)
    if len(body) > MAX_JWKS_BYTES:
        _fail(InvalidKeyError(f"the key set at {url} is over {MAX_JWKS_BYTES} bytes"), as_json)
    return body.decode("utf-8", errors="replace")


def load_verification_keys(source: str, as_json: bool) -> Key | KeySet:
    """A JWK or JWKS file, or a JWKS URL such as the control plane's ``/.well-known/jwks.json``."""
    path = Path(source)
    try:
        if source.startswith(("http://", "https://")):
            text = fetch_jwks(source, as_json)
        else:
            text = path.read_text(encoding="utf-8")
        if '"keys"' in text:
            return KeySet.from_jwks(text)
        return Key.parse(text)
    except RelaypassError as exc:
        _fail(exc, as_json)
    except OSError as exc:
        fail_io(path, exc, as_json)


def fail_io(path: Path, exc: OSError, as_json: bool) -> NoReturn:
    reason = f"cannot read key file {path}: {exc.strerror}"
    if as_json:
        sys.stdout.write(json.dumps({"error": {"code": "INVALID_KEY", "reason": reason}}) + "\n")
    else:
        _err.print(f"[bold red]INVALID_KEY[/]: {reason}", highlight=False, markup=True)
    raise typer.Exit(code=1)
