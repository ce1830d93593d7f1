"""moq-token's command line, spelled exactly as moq's auth guide spells it.

Both forms work: the guide's global ``--key`` before the subcommand
(``moq-token --key secret.jwk generate``, ``... sign``, ``... verify``) and the
newer per-subcommand ``--key``. ``generate`` writes the key where ``--key``,
``--out`` or ``--out-dir`` (as ``{kid}.jwk``) says, or to stdout; ``-`` means
stdin or stdout. Keys are written as moq-token writes them (base64url-encoded
JWK JSON); both that and plain JSON are read. ``verify`` prints the claims as
JSON (moq-token prints a Rust debug dump of the same claims).

Installed as ``moq-token`` and as ``relaypass moq-token``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, NoReturn

import typer

from relaypass import _b64
from relaypass._alg import Algorithm
from relaypass._claims import ClaimsPolicy
from relaypass._keys import Key
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass._tokens import VerifiedToken, Verifier, sign_jwt
from relaypass.errors import InvalidRequestError, RelaypassError
from relaypass.profiles.moq import MoqClaims

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "moq_token_app",
    "moq_token_main",
    "register_moq_auth_tokens",
    "sign_moq_token",
]

moq_token_app = typer.Typer(
    name="moq-token",
    help="Generate, sign, and verify tokens for moq-relay (moq-token's command line).",
    no_args_is_help=True,
    add_completion=False,
)

KeyPathOpt = Annotated[
    str | None, typer.Option("--key", help="Key file; `-` reads stdin (sign, verify).")
]


def _fail(reason: str) -> NoReturn:
    sys.stderr.write(f"Error: {reason}\n")
    raise typer.Exit(code=1)


def _is_dash(path: str | None) -> bool:
    return path == "-"


def _encoded(key: Key) -> str:
    text = json.dumps(key.to_jwk(private=key.has_private), separators=(",", ":"))
    return _b64.b64encode(text.encode("utf-8"))


def _write_key(key: Key, path: str) -> None:
    if _is_dash(path):
        sys.stdout.write(_encoded(key) + "\n")
        return
    target = Path(path)
    secret = key.has_private
    mode = 0o600 if secret else 0o644
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, (_encoded(key) + "\n").encode("ascii"))
    finally:
        os.close(fd)


def _read_key(path: str) -> Key:
    try:
        text = sys.stdin.read() if _is_dash(path) else Path(path).read_text(encoding="utf-8")
        return Key.parse(text)
    except OSError as exc:
        _fail(f"failed to read key from {path}: {exc.strerror}")
    except RelaypassError as exc:
        _fail(f"failed to parse key from {path}: {exc.reason}")


def _verified(key_path: str, source: str) -> VerifiedToken:
    """The token read from ``source`` (a file or ``-``), verified with the key file; or exit 1."""
    if _is_dash(key_path) and _is_dash(source):
        _fail("--key and --in cannot both read from stdin")
    verification_key = _read_key(key_path)
    try:
        raw = sys.stdin.read() if _is_dash(source) else Path(source).read_text("utf-8")
    except OSError as exc:
        _fail(f"failed to read token from {source}: {exc.strerror}")
    try:
        return Verifier(verification_key, policy=ClaimsPolicy(require_exp=False)).verify(
            raw.strip()
        )
    except RelaypassError as exc:
        _fail(f"{exc.code.value}: {exc.reason}")


def sign_moq_token(
    key: Key,
    root: str,
    publish: list[str] | None,
    subscribe: list[str] | None,
    *,
    expires: int | None,
    issued: int | None,
    cluster: bool = False,
    patterns: bool = False,
) -> str:
    """A moq token (``root``, ``put``, ``get``, ``exp``, ``iat`` now unless given).

    With ``patterns``, as ``moq auth sign`` writes it: the paths are patterns,
    in moq-auth's claims (legacy ``put``/``get`` when all are subtrees).
    """
    paths = (tuple(publish or ()), tuple(subscribe or ()))
    issued = int(time.time()) if issued is None else issued
    if not patterns:
        claims = MoqClaims(root=root, publish=paths[0], subscribe=paths[1], cluster=cluster,
                           expires=expires, issued=issued)  # fmt: skip
        return sign_jwt(claims.to_wire(), key)
    claims = MoqClaims(root=root, publish_patterns=paths[0], subscribe_patterns=paths[1],
                       expires=expires, issued=issued)  # fmt: skip
    wire = claims.to_auth_wire()
    MoqClaims.from_wire(wire)  # the checks every verifier applies
    return sign_jwt(wire, key)


def _print_signed(sign: Callable[[], str], expires: int | None) -> None:
    """Sign, warn when the token is born expired, and write it to stdout."""
    try:
        token = sign()
    except RelaypassError as exc:
        _fail(exc.reason)
    if expires is not None and expires <= time.time():
        sys.stderr.write("warning: --expires is in the past: this token is already expired\n")
    sys.stdout.write(token + "\n")


ExpiresOpt = Annotated[
    int | None, typer.Option("--expires", help="Expiration time, a unix timestamp.")
]
IssuedOpt = Annotated[
    int | None, typer.Option("--issued", help="Issued-at time, a unix timestamp.")
]


@moq_token_app.callback()
def _global(
    ctx: typer.Context,
    key: Annotated[
        str | None, typer.Option("--key", help="The key file the subcommand uses (moq's guide).")
    ] = None,
) -> None:
    """Generate, sign, and verify tokens for moq-relay."""
    ctx.obj = key


@moq_token_app.command("generate")
def generate(
    ctx: typer.Context,
    algorithm: Annotated[
        Algorithm, typer.Option("--algorithm", help="The algorithm to use.")
    ] = Algorithm.HS256,
    kid: Annotated[str | None, typer.Option("--id", help="The key ID (random if absent).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Key file; `-` for stdout.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Write the key as {kid}.jwk here.")
    ] = None,
    public: Annotated[
        str | None, typer.Option("--public", help="Public key file; `-` for stdout.")
    ] = None,
    public_dir: Annotated[
        Path | None, typer.Option("--public-dir", help="Write the public key as {kid}.jwk here.")
    ] = None,
    root: Annotated[str, typer.Option("--root", help="Root of the key's scope.")] = "",
    publish: Annotated[
        list[str] | None, typer.Option("--publish", help="Publish prefix the key may grant.")
    ] = None,
    subscribe: Annotated[
        list[str] | None, typer.Option("--subscribe", help="Subscribe prefix the key may grant.")
    ] = None,
) -> None:
    """Generate a new signing key (base64url-encoded JSON)."""
    if out is not None and out_dir is not None:
        _fail("--out and --out-dir cannot be used together")
    if public is not None and public_dir is not None:
        _fail("--public and --public-dir cannot be used together")
    destination = out if out is not None else ctx.obj
    private_to_stdout = out_dir is None and (destination is None or _is_dash(destination))
    if _is_dash(public) and private_to_stdout:
        _fail("cannot write both keys to stdout; use --out/--public with a file path")
    try:
        key = Key.generate(algorithm, kid=kid or _b64.b64encode(os.urandom(12)))
        if publish or subscribe:
            scope = KeyScope.from_wire({"root": root, "put": publish or [], "get": subscribe or []})
            key = key.bound(KeyBinding(scope=scope))
        public_key = None if key.is_symmetric else key.public()
    except RelaypassError as exc:
        _fail(exc.reason)
    if (public is not None or public_dir is not None) and public_key is None:
        _fail("an HMAC key has no public half")
    if public_key is not None and public_dir is not None:
        _write_key(public_key, str(public_dir / f"{key.kid}.jwk"))
    elif public_key is not None and public is not None:
        _write_key(public_key, public)
    if out_dir is not None:
        _write_key(key, str(out_dir / f"{key.kid}.jwk"))
    else:
        _write_key(key, destination or "-")


@moq_token_app.command("sign")
def sign(
    ctx: typer.Context,
    key: KeyPathOpt = None,
    root: Annotated[str, typer.Option("--root", help="The root path for the token.")] = "",
    publish: Annotated[
        list[str] | None, typer.Option("--publish", help="Paths the user can publish to.")
    ] = None,
    subscribe: Annotated[
        list[str] | None, typer.Option("--subscribe", help="Paths the user can subscribe to.")
    ] = None,
    expires: ExpiresOpt = None,
    issued: IssuedOpt = None,
    cluster: Annotated[bool, typer.Option("--cluster", help="A relay-to-relay token.")] = False,
) -> None:
    """Sign a token, writing it to stdout."""
    path = key or ctx.obj
    if path is None:
        _fail("--key is required")
    signing_key = _read_key(path)
    _print_signed(
        lambda: sign_moq_token(signing_key, root, publish, subscribe, expires=expires,
                               issued=issued, cluster=cluster),
        expires,
    )  # fmt: skip


@moq_token_app.command("verify")
def verify(
    ctx: typer.Context,
    key: KeyPathOpt = None,
    source: Annotated[
        str, typer.Option("--in", help="Read the token from this file; `-` for stdin.")
    ] = "-",
) -> None:
    """Verify a token, writing its claims to stdout."""
    path = key or ctx.obj
    if path is None:
        _fail("--key is required")
    verified = _verified(path, source)
    try:
        MoqClaims.from_wire(verified.claims)
    except RelaypassError as exc:
        _fail(f"{exc.code.value}: {exc.reason}")
    sys.stdout.write(json.dumps(dict(verified.claims), indent=2) + "\n")


def moq_token_main() -> None:
    """The ``moq-token`` console script."""
    try:
        moq_token_app()
    except InvalidRequestError as exc:  # pragma: no cover - Typer handles the rest
        _fail(exc.reason)


# moq-auth's spelling (`moq auth generate|sign|verify`): patterns, and moq-auth's claims only.

#: The claims moq-auth reads; any other refuses the token there.
MOQ_AUTH_CLAIMS: Final = frozenset(
    {"root", "publish", "subscribe", "put", "get", "exp", "iat", "nbf", "iss", "sub", "jti"}
)


def auth_sign(
    key: Annotated[str, typer.Option("--key", help="Key file; `-` reads stdin.")],
    root: Annotated[str, typer.Option("--root", help="The root the patterns are under.")] = "",
    publish: Annotated[
        list[str] | None,
        typer.Option("--publish", help="A pattern the bearer may publish (alice/**)."),
    ] = None,
    subscribe: Annotated[
        list[str] | None,
        typer.Option("--subscribe", help="A pattern the bearer may subscribe to (**)."),
    ] = None,
    expires: ExpiresOpt = None,
    issued: IssuedOpt = None,
) -> None:
    """Sign a token in moq-auth's format, writing it to stdout."""
    signing_key = _read_key(key)
    _print_signed(
        lambda: sign_moq_token(signing_key, root, publish, subscribe, expires=expires,
                               issued=issued, patterns=True),
        expires,
    )  # fmt: skip


def auth_verify(
    key: Annotated[str, typer.Option("--key", help="Key file; `-` reads stdin.")],
    source: Annotated[
        str, typer.Option("--in", help="Read the token from this file; `-` for stdin.")
    ] = "-",
) -> None:
    """Verify a token as moq's auth server does (no claim it does not know), printing its claims."""
    verified = _verified(key, source)
    try:
        unknown = sorted(set(verified.claims) - MOQ_AUTH_CLAIMS)
        if unknown:
            _fail(f"INVALID_TOKEN: claims moq-auth refuses: {', '.join(unknown)}")
        claims = MoqClaims.from_wire(verified.claims)
    except RelaypassError as exc:
        _fail(f"{exc.code.value}: {exc.reason}")
    if not (
        claims.publish or claims.subscribe or claims.publish_patterns or claims.subscribe_patterns
    ):
        _fail("INVALID_TOKEN: no publish or subscribe allowed; token is useless")
    sys.stdout.write(json.dumps(dict(verified.claims), indent=2) + "\n")


def register_moq_auth_tokens(app: typer.Typer) -> None:
    """``generate``, ``sign`` and ``verify`` beside ``serve``, as ``moq auth`` spells them."""
    app.command("generate")(generate)
    app.command("sign")(auth_sign)
    app.command("verify")(auth_verify)
