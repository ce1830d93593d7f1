"""``key``, ``token`` and ``demo``: local keys and tokens, moq-token's CLI.

``key generate``, ``token sign`` and ``token verify`` follow moq-token's CLI
(same algorithms, same wire claims, same key file formats) so scripts move
over unchanged but for the command names.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from relaypass import _b64
from relaypass._alg import Algorithm
from relaypass._claims import ClaimsPolicy
from relaypass._keys import Key
from relaypass._tokens import Verifier, sign_jwt
from relaypass.cli._keyfiles import (
    load_key,
    load_verification_keys,
)
from relaypass.cli._moq_token import sign_moq_token
from relaypass.cli._output import JsonFlag
from relaypass.cli._output import err as _err
from relaypass.cli._output import fail as _fail
from relaypass.cli._output import out as _out
from relaypass.errors import RelaypassError
from relaypass.profiles.moq import MoqClaims

key_app = typer.Typer(help="Generate and inspect signing keys.", no_args_is_help=True)
token_app = typer.Typer(help="Sign and verify tokens (moq-token compatible).", no_args_is_help=True)
commands = typer.Typer()


@key_app.command("generate")
def key_generate(
    algorithm: Annotated[
        Algorithm, typer.Option("--algorithm", "-a", help="JWS algorithm of the new key.")
    ] = Algorithm.HS256,
    kid: Annotated[
        str | None, typer.Option("--id", help="Key id; default: the RFC 7638 thumbprint.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the private key here (mode 0600).")
    ] = None,
    public: Annotated[
        Path | None, typer.Option("--public", help="Also write the public half here.")
    ] = None,
    base64: Annotated[
        bool, typer.Option("--base64", help="Write base64url-encoded JSON, as moq-token can.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Generate a signing key (an existing key file is never overwritten without --force).

    [bold]Examples[/]

      relaypass key generate --out secret.jwk
      relaypass key generate -a EdDSA --id v2 --out private.jwk --public public.jwk
    """
    for target in (out, public):
        if target is not None and target.exists() and not force:
            from relaypass.errors import InvalidRequestError  # noqa: PLC0415

            msg = f"{target} exists; pass --force to overwrite it"
            _fail(InvalidRequestError(msg), as_json)
    try:
        key = Key.generate(algorithm, kid=kid)
        if public is not None and key.is_symmetric:
            _err.print("[yellow]warning[/]: an HMAC key has no public half; --public ignored")
            public = None
        if out is None:
            text = json.dumps(key.to_jwk(private=True), indent=2)
            sys.stdout.write((_b64.b64encode(text.encode()) if base64 else text) + "\n")
        else:
            _write_key(key, out, private=True, base64=base64)
        if public is not None:
            _write_key(key, public, private=False, base64=base64)
    except RelaypassError as exc:
        _fail(exc, as_json)
    if out is not None:
        if as_json:
            info = {
                "kid": key.kid,
                "alg": key.alg.value,
                "out": str(out),
                "public": str(public) if public else None,
            }
            sys.stdout.write(json.dumps(info) + "\n")
        else:
            _out.print(f"Generated {key.alg.value} key [bold]{key.kid}[/]: {out}", highlight=False)
            if public is not None:
                _out.print(f"Public key: {public}", highlight=False)


def _write_key(key: Key, path: Path, *, private: bool, base64: bool) -> None:
    if not base64:
        key.save(path, private=private)
        return
    text = json.dumps(key.to_jwk(private=private), indent=2)
    key.save(path, private=private)  # creates the file with the right mode
    path.write_text(_b64.b64encode(text.encode("utf-8")) + "\n", encoding="utf-8")


@token_app.command("sign")
def token_sign(
    key_file: Annotated[Path, typer.Option("--key", "-k", help="Private key file (JWK).")],
    root: Annotated[str, typer.Option("--root", help="Root path of every grant.")] = "",
    publish: Annotated[
        list[str] | None, typer.Option("--publish", help="Publish path prefix (repeatable).")
    ] = None,
    subscribe: Annotated[
        list[str] | None, typer.Option("--subscribe", help="Subscribe path prefix (repeatable).")
    ] = None,
    expires: Annotated[int | None, typer.Option("--expires", help="Expiry, Unix seconds.")] = None,
    issued: Annotated[
        int | None, typer.Option("--issued", help="Issue time, Unix seconds; default now.")
    ] = None,
    cluster: Annotated[bool, typer.Option("--cluster", help="Relay-to-relay token.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Sign a moq token (claims root, put, get, exp, iat) to stdout.

    [bold]Examples[/]

      relaypass token sign --key secret.jwk --root demo --publish my-stream
      relaypass token sign --key secret.jwk --root demo --subscribe "" --expires 1893456000
    """
    key = load_key(key_file, as_json)
    try:
        token = sign_moq_token(
            key, root, publish, subscribe, expires=expires, issued=issued, cluster=cluster
        )
    except RelaypassError as exc:
        _fail(exc, as_json)
    if expires is None:
        _err.print("[yellow]warning[/]: no --expires: this token never expires")
    elif expires <= time.time():
        _err.print("[yellow]warning[/]: --expires is in the past: this token is already expired")
    sys.stdout.write((json.dumps({"token": token}) if as_json else token) + "\n")


@token_app.command("verify")
def token_verify(
    key_file: Annotated[
        str,
        typer.Option(
            "--key", "-k", help="A JWK or JWKS file, or a JWKS URL (…/.well-known/jwks.json)."
        ),
    ],
    token: Annotated[
        str | None, typer.Option("--token", "-t", help="The token; default: read stdin.")
    ] = None,
    root: Annotated[
        str | None, typer.Option("--root", help="Also require this root claim.")
    ] = None,
    require_exp: Annotated[
        bool, typer.Option("--require-exp", help="Refuse tokens without exp.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Verify a token and print its claims as JSON; exit 1 with the error code if refused.

    [bold]Examples[/]

      relaypass token verify --key secret.jwk < publisher.jwt
      relaypass token verify --key public.jwk --token "$JWT" --json
      relaypass token verify --key http://127.0.0.1:8700/.well-known/jwks.json < moq.jwt
    """
    key = load_verification_keys(key_file, as_json)
    text = (token if token is not None else sys.stdin.read()).strip()
    verifier = Verifier(key, policy=ClaimsPolicy(require_exp=require_exp))
    try:
        verified = verifier.verify(text)
        moq = MoqClaims.from_wire(verified.claims)
        if root is not None and moq.root != root:
            from relaypass.errors import InvalidClaimError  # noqa: PLC0415

            msg = "root does not match"
            raise InvalidClaimError(msg, claim="root")
    except RelaypassError as exc:
        _fail(exc, as_json)
    claims = dict(verified.claims)
    if as_json:
        sys.stdout.write(
            json.dumps({"kid": verified.kid, "alg": verified.alg, "claims": claims}) + "\n"
        )
    else:
        sys.stdout.write(json.dumps(claims, indent=2) + "\n")


@commands.command("demo")
def demo(as_json: JsonFlag = False) -> None:
    """Generate a key, mint a token with it and verify the token: a smoke test."""
    key = Key.generate(Algorithm.EdDSA, kid="demo")
    now = int(time.time())
    claims = MoqClaims(
        root="demo", publish=("my-stream",), subscribe=("",), expires=now + 3600, issued=now
    )
    token = sign_jwt(claims.to_wire(), key)
    verified = Verifier(key.public()).verify(token)
    result = {
        "kid": key.kid,
        "alg": key.alg.value,
        "token_bytes": len(token),
        "claims": dict(verified.claims),
        "verified": True,
    }
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    _out.print(f"Generated EdDSA key [bold]{key.kid}[/]", highlight=False)
    _out.print(f"Minted a moq token ({len(token)} bytes) and verified it:", highlight=False)
    _out.print_json(json.dumps(dict(verified.claims)))
