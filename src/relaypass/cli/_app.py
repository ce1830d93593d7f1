"""Typer application: local commands here, the SDK-backed admin ones in ``_admin``.

``key``, ``token``, ``demo``, ``serve``, ``relay``, ``gate`` and ``admin`` live
here; ``login``, ``orgs``, ``tenants``, ``mint`` and the rest in
:mod:`relaypass.cli._admin`.

``key generate``, ``token sign`` and ``token verify`` follow moq-token's CLI
(same algorithms, same wire claims, same key file formats) so scripts move
over unchanged but for the command names.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import shlex
import shutil
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import typer
from rich.markup import escape

from relaypass import _b64
from relaypass._alg import Algorithm
from relaypass._claims import ClaimsPolicy
from relaypass._keys import Key
from relaypass._keyset import KeySet
from relaypass._tokens import Verifier, sign_jwt
from relaypass.cli._admin import credentials_path, save_credentials
from relaypass.cli._admin import register as register_admin_commands
from relaypass.cli._moq_token import moq_token_app, register_moq_auth_tokens, sign_moq_token
from relaypass.cli._output import JsonFlag
from relaypass.cli._output import err as _err
from relaypass.cli._output import fail as _fail
from relaypass.cli._output import out as _out
from relaypass.cli._usage import usage_app
from relaypass.errors import InvalidKeyError, RelaypassError
from relaypass.profiles.moq import MoqClaims

if TYPE_CHECKING:
    from relaypass.gate.adapters.moq_auth_client import AuthClient
    from relaypass.gate.adapters.moq_relay import MoqRelay
    from relaypass.gate.session import Gate
    from relaypass.server.db.store import Store
    from relaypass.server.settings import Settings

app = typer.Typer(
    name="relaypass",
    help="Token authority and gatekeeper for real-time media platforms.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
)
key_app = typer.Typer(help="Generate and inspect signing keys.", no_args_is_help=True)
token_app = typer.Typer(help="Sign and verify tokens (moq-token compatible).", no_args_is_help=True)
admin_app = typer.Typer(help="Administer the control plane's store.", no_args_is_help=True)
app.add_typer(key_app, name="key")
app.add_typer(token_app, name="token")
app.add_typer(admin_app, name="admin")
gate_app = typer.Typer(help="Run the data-plane gate for media servers.", no_args_is_help=True)
app.add_typer(gate_app, name="gate")
app.add_typer(moq_token_app, name="moq-token")
app.add_typer(usage_app, name="usage")
register_admin_commands(app)


def _version(value: bool) -> None:
    if value:
        from relaypass import __version__  # noqa: PLC0415

        sys.stdout.write(f"relaypass {__version__}\n")
        raise typer.Exit


@app.callback()
def _main(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Token authority and gatekeeper for real-time media platforms."""


_MAX_JWKS_BYTES = 1 << 20


def _load_key(path: Path, as_json: bool) -> Key:
    try:
        return Key.load(path)
    except RelaypassError as exc:
        _fail(exc, as_json)
    except OSError as exc:
        _fail_io(path, exc, as_json)


def _fetch_jwks(url: str, as_json: bool) -> str:
    """A key set over HTTP (the control plane's ``/.well-known/jwks.json``), size-capped."""
    _require_extra("client")
    import httpx  # noqa: PLC0415 - the client extra

    body = bytearray()
    try:
        with httpx.stream("GET", url, timeout=10.0) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_JWKS_BYTES:
                    break
    except httpx.HTTPError as exc:
        _fail(InvalidKeyError(f"cannot fetch {url}: {type(exc).__name__}"), as_json)
    if len(body) > _MAX_JWKS_BYTES:
        _fail(InvalidKeyError(f"the key set at {url} is over {_MAX_JWKS_BYTES} bytes"), as_json)
    return body.decode("utf-8", errors="replace")


def _load_verification_keys(source: str, as_json: bool) -> Key | KeySet:
    """A JWK or JWKS file, or a JWKS URL such as the control plane's ``/.well-known/jwks.json``."""
    path = Path(source)
    try:
        if source.startswith(("http://", "https://")):
            text = _fetch_jwks(source, as_json)
        else:
            text = path.read_text(encoding="utf-8")
        if '"keys"' in text:
            return KeySet.from_jwks(text)
        return Key.parse(text)
    except RelaypassError as exc:
        _fail(exc, as_json)
    except OSError as exc:
        _fail_io(path, exc, as_json)


def _fail_io(path: Path, exc: OSError, as_json: bool) -> NoReturn:
    reason = f"cannot read key file {path}: {exc.strerror}"
    if as_json:
        sys.stdout.write(json.dumps({"error": {"code": "INVALID_KEY", "reason": reason}}) + "\n")
    else:
        _err.print(f"[bold red]INVALID_KEY[/]: {reason}", highlight=False, markup=True)
    raise typer.Exit(code=1)


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
    key = _load_key(key_file, as_json)
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
    key = _load_verification_keys(key_file, as_json)
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


@app.command("demo")
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
RELAY_BIND: Final = "127.0.0.1:4443"


@app.command("serve")
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
    _require_extra("server")
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


KeyFileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--key",
        help="Public JWK or JWKS file, re-read when it changes (repeatable: all are used).",
        envvar="RELAYPASS_KEY",
    ),
]
KeyDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--key-dir",
        help="Directory of {kid}.jwk files (moq-relay layout).",
        envvar="RELAYPASS_KEY_DIR",
    ),
]
JwksUrlOpt = Annotated[
    str | None, typer.Option("--jwks-url", help="JWKS URL to follow.", envvar="RELAYPASS_JWKS_URL")
]
RedisUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        help="The control plane's Redis: keys and live revocations (redis://, rediss://, "
        "redis+sentinel://h:p,.../service, redis+cluster://h:p,...).",
        envvar="RELAYPASS_REDIS_URL",
    ),
]
RedisPrefixOpt = Annotated[
    str, typer.Option("--redis-prefix", help="Redis key prefix.", envvar="RELAYPASS_REDIS_PREFIX")
]
PublicPubOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--public-publish",
        help="Prefix anyone may publish to without a token.",
        envvar="RELAYPASS_PUBLIC_PUBLISH",
    ),
]
PublicSubOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--public-subscribe",
        help="Prefix anyone may subscribe to without a token.",
        envvar="RELAYPASS_PUBLIC_SUBSCRIBE",
    ),
]
PublicOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--public",
        help="Prefix anyone may publish and subscribe to (moq-relay's).",
        envvar="RELAYPASS_PUBLIC",
    ),
]
IssuerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--issuer", help="Accept only tokens with this iss (repeatable).", envvar="RELAYPASS_ISSUER"
    ),
]
AudienceOpt = Annotated[
    str | None,
    typer.Option(
        "--audience",
        help="This gate's identifier; tokens need it in aud.",
        envvar="RELAYPASS_AUDIENCE",
    ),
]
RoomSecretOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--room-secret",
        help="ISS=PATH: a customer's room-token secret (JWK), chosen by iss (repeatable).",
    ),
]


def _gate_options(
    profile: str,
    key: list[Path] | None,
    key_dir: Path | None,
    jwks_url: str | None,
    redis_url: str | None,
    redis_prefix: str,
    public_publish: list[str] | None,
    public_subscribe: list[str] | None,
    *,
    public: list[str] | None = None,
    issuer: list[str] | None = None,
    audience: str | None = None,
    room_secret: list[str] | None = None,
) -> tuple[Gate, Callable[[], None]]:
    from relaypass.gate.config import GateOptions, build_gate  # noqa: PLC0415

    secrets_by_iss: dict[str, Path] = {}
    for item in room_secret or ():
        iss, sep, path = item.partition("=")
        if not sep or not iss or not path:
            _err.print("[bold red]--room-secret takes ISS=PATH[/]", highlight=False)
            raise typer.Exit(code=2)
        secrets_by_iss[iss] = Path(path)
    options = GateOptions(
        profile=profile,
        key_files=tuple(key or ()),
        key_dir=key_dir,
        jwks_url=jwks_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        public_publish=(*(public_publish or ()), *(public or ())),
        public_subscribe=(*(public_subscribe or ()), *(public or ())),
        issuers=tuple(issuer or ()),
        audience=audience,
        room_secrets=secrets_by_iss,
    )
    try:
        return build_gate(options)
    except RelaypassError as exc:
        _fail(exc, as_json=False)
    except (OSError, ValueError) as exc:
        _err.print(f"[bold red]cannot start the gate[/]: {exc}", highlight=False)
        raise typer.Exit(code=1) from None


@app.command("relay")
def relay(
    key: KeyFileOpt = None,
    key_dir: KeyDirOpt = None,
    jwks_url: JwksUrlOpt = None,
    redis_url: RedisUrlOpt = None,
    redis_prefix: RedisPrefixOpt = "relaypass",
    public_publish: PublicPubOpt = None,
    public_subscribe: PublicSubOpt = None,
    public: PublicOpt = None,
    issuer: IssuerOpt = None,
    audience: AudienceOpt = None,
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
            _fail_io(config, exc, as_json=False)
        key = [*settings.keys, *(key or ())]
        public = [*settings.public, *(public or ())]
        bind = settings.listen if settings.listen and bind == RELAY_BIND else bind
        tls_cert = [*settings.tls_cert, *(tls_cert or ())]
        tls_key = [*settings.tls_key, *(tls_key or ())]
        tls_generate = [*settings.tls_generate, *(tls_generate or ())]
    if auth_url is not None:
        gate, stop = _auth_server_gate(auth_url, key, key_dir, jwks_url, redis_url, public)
    else:
        gate, stop = _gate_options(
            "moq",
            key,
            key_dir,
            jwks_url,
            redis_url,
            redis_prefix,
            public_publish,
            public_subscribe,
            public=public,
            issuer=issuer,
            audience=audience,
        )

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

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        stop()


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
    loopback = (parsed.hostname or "").startswith(_LOOPBACK) or parsed.hostname == "localhost"
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
    if not port.isdigit() or not host.startswith(_LOOPBACK):
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


@gate_app.command("serve")
def gate_serve(
    key: KeyFileOpt = None,
    key_dir: KeyDirOpt = None,
    jwks_url: JwksUrlOpt = None,
    redis_url: RedisUrlOpt = None,
    redis_prefix: RedisPrefixOpt = "relaypass",
    public_publish: PublicPubOpt = None,
    public_subscribe: PublicSubOpt = None,
    public: PublicOpt = None,
    issuer: IssuerOpt = None,
    audience: AudienceOpt = None,
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
    _require_extra("gate")
    import uvicorn  # noqa: PLC0415 - only the service needs it

    from relaypass._http_protocol import http_protocol  # noqa: PLC0415 - with uvicorn
    from relaypass.gate.adapters.http import (  # noqa: PLC0415
        FileStreamKeys,
        RedisStreamKeys,
        SharedStreamKeys,
        create_gate_app,
    )
    from relaypass.server import logging as rlog  # noqa: PLC0415

    rlog.configure()
    gate, stop = _gate_options(
        profile,
        key,
        key_dir,
        jwks_url,
        redis_url,
        redis_prefix,
        public_publish,
        public_subscribe,
        public=public,
        issuer=issuer,
        audience=audience,
        room_secret=room_secret,
    )
    local = FileStreamKeys(stream_key_db or _default_stream_key_db())
    keys: SharedStreamKeys | FileStreamKeys = (
        SharedStreamKeys(RedisStreamKeys(redis_url, prefix=redis_prefix), local)
        if redis_url
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


moq_auth_app = typer.Typer(
    help="The auth server of stock moq-relay fleets (moq-relay --auth-url).", no_args_is_help=True
)
app.add_typer(moq_auth_app, name="moq-auth")
register_moq_auth_tokens(moq_auth_app)

_LOOPBACK: Final = ("127.", "::1", "localhost")


@moq_auth_app.command("serve")
def moq_auth_serve(
    key: KeyFileOpt = None,
    key_dir: KeyDirOpt = None,
    jwks_url: JwksUrlOpt = None,
    redis_url: RedisUrlOpt = None,
    redis_prefix: RedisPrefixOpt = "relaypass",
    public_publish: PublicPubOpt = None,
    public_subscribe: PublicSubOpt = None,
    public: PublicOpt = None,
    issuer: IssuerOpt = None,
    audience: AudienceOpt = None,
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
    _require_extra("gate")
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
    if socket_path is None and not allow_remote and not host.startswith(_LOOPBACK):
        _err.print(
            f"[bold red]{host} is not a loopback address[/]: relays reach this server without a "
            "secret; bind loopback or a unix socket, or pass --allow-remote behind TLS",
            highlight=False,
        )
        raise typer.Exit(code=2)
    rlog.configure()
    gate, stop = _gate_options(
        "moq", key, key_dir, jwks_url, redis_url, redis_prefix, public_publish, public_subscribe,
        public=public, issuer=issuer, audience=audience,
    )  # fmt: skip
    if (limit_token or limit_remote) and not revalidate:
        _err.print(
            "[bold red]--limit-token and --limit-remote need --revalidate[/]: without a cadence, "
            "a relay that dies without `end` would hold its slots forever",
            highlight=False,
        )
        raise typer.Exit(code=2)
    table = (
        RedisSessionTable.from_url(redis_url, prefix=redis_prefix)
        if redis_url
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


nats_app = typer.Typer(
    help="The NATS auth callout: relay tokens admitted to NATS.", no_args_is_help=True
)
app.add_typer(nats_app, name="nats-callout")


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
    _require_extra("gate.nats")
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
    key: KeyFileOpt = None,
    key_dir: KeyDirOpt = None,
    jwks_url: JwksUrlOpt = None,
    redis_url: RedisUrlOpt = None,
    redis_prefix: RedisPrefixOpt = "relaypass",
    issuer: IssuerOpt = None,
    audience: AudienceOpt = None,
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
    _require_extra("gate.nats")
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
        _fail_io(issuer_seed, exc, as_json)
    gate, stop = _gate_options(
        "relay", key, key_dir, jwks_url, redis_url, redis_prefix, None, None,
        issuer=issuer, audience=audience,
    )  # fmt: skip
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

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        stop()


def _default_stream_key_db() -> Path:
    """The gate's own file under the data directory (``RELAYPASS_DATA_DIR`` or XDG)."""
    import os  # noqa: PLC0415

    base = os.environ.get("RELAYPASS_DATA_DIR") or str(
        Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "relaypass"
    )
    return Path(base) / "gate-stream-keys.db"


def _require_extra(extra: str) -> None:
    """Import ``relaypass.<extra>`` first: a missing extra is then named, not a bare module."""
    importlib.import_module(f"relaypass.{extra}")


def command() -> Any:  # noqa: ANN401 - a click command
    """The command tree, with boolean flags shown without a ``<bool>`` placeholder in help."""
    root = typer.main.get_command(app)
    stack = [root]
    while stack:
        node = stack.pop()
        for param in getattr(node, "params", []):
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = " "
        stack.extend(getattr(node, "commands", {}).values())
    return root


def main() -> None:
    """Console entry point: a missing extra is one line naming what to install."""
    try:
        command()(prog_name="relaypass")
    except ImportError as exc:
        if not str(exc).startswith("relaypass."):
            raise
        _err.print(f"relaypass: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        raise SystemExit(1) from None
