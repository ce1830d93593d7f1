"""Options several commands share, declared once, and the gate they build."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from relaypass.cli._output import err as _err
from relaypass.cli._output import fail as _fail
from relaypass.errors import RelaypassError

if TYPE_CHECKING:
    from relaypass.gate.session import Gate

__all__ = [
    "LOOPBACK",
    "AudienceOpt",
    "IssuerOpt",
    "JwksUrlOpt",
    "KeyDirOpt",
    "KeyFileOpt",
    "KeySource",
    "PublicOpt",
    "PublicPaths",
    "PublicPubOpt",
    "PublicSubOpt",
    "RedisPrefixOpt",
    "RedisUrlOpt",
    "RoomSecretOpt",
    "default_stream_key_db",
    "gate_options",
    "require_extra",
]

#: Hosts that are this machine (an address must be one of them where only loopback will do).
LOOPBACK: Final = ("127.", "::1", "localhost")


def _env(flag: str, help_text: str) -> Any:  # noqa: ANN401 - what typer.Option returns
    """A gate option that its environment variable (``RELAYPASS_`` and the flag's name) sets too."""
    return typer.Option(
        flag, help=help_text, envvar="RELAYPASS_" + flag[2:].upper().replace("-", "_")
    )


KeyFileOpt = Annotated[
    list[Path] | None,
    _env("--key", "Public JWK or JWKS file, re-read when it changes (repeatable: all are used)."),
]
KeyDirOpt = Annotated[
    Path | None, _env("--key-dir", "Directory of {kid}.jwk files (moq-relay layout).")
]
JwksUrlOpt = Annotated[str | None, _env("--jwks-url", "JWKS URL to follow.")]
RedisUrlOpt = Annotated[
    str | None,
    _env(
        "--redis-url",
        "The control plane's Redis: keys and live revocations (redis://, rediss://, "
        "redis+sentinel://h:p,.../service, redis+cluster://h:p,...).",
    ),
]
RedisPrefixOpt = Annotated[str, _env("--redis-prefix", "Redis key prefix.")]
PublicPubOpt = Annotated[
    list[str] | None, _env("--public-publish", "Prefix anyone may publish to without a token.")
]
PublicSubOpt = Annotated[
    list[str] | None, _env("--public-subscribe", "Prefix anyone may subscribe to without a token.")
]
PublicOpt = Annotated[
    list[str] | None, _env("--public", "Prefix anyone may publish and subscribe to (moq-relay's).")
]
IssuerOpt = Annotated[
    list[str] | None, _env("--issuer", "Accept only tokens with this iss (repeatable).")
]
AudienceOpt = Annotated[
    str | None, _env("--audience", "This gate's identifier; tokens need it in aud.")
]
RoomSecretOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--room-secret",
        help="ISS=PATH: a customer's room-token secret (JWK), chosen by iss (repeatable).",
    ),
]


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where a gate's keys and live changes come from, and whose tokens it takes."""

    key: KeyFileOpt = None
    key_dir: KeyDirOpt = None
    jwks_url: JwksUrlOpt = None
    redis_url: RedisUrlOpt = None
    redis_prefix: RedisPrefixOpt = "relaypass"
    issuer: IssuerOpt = None
    audience: AudienceOpt = None


@dataclass(frozen=True, slots=True)
class PublicPaths:
    """What anyone may do without a token."""

    public_publish: PublicPubOpt = None
    public_subscribe: PublicSubOpt = None
    public: PublicOpt = None


def gate_options(
    profile: str,
    source: KeySource,
    paths: PublicPaths = PublicPaths(),
    *,
    room_secret: list[str] | None = None,
) -> tuple[Gate, Callable[[], None]]:
    """The gate a command runs, from its key source and public paths; a bad one exits."""
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
        key_files=tuple(source.key or ()),
        key_dir=source.key_dir,
        jwks_url=source.jwks_url,
        redis_url=source.redis_url,
        redis_prefix=source.redis_prefix,
        public_publish=(*(paths.public_publish or ()), *(paths.public or ())),
        public_subscribe=(*(paths.public_subscribe or ()), *(paths.public or ())),
        issuers=tuple(source.issuer or ()),
        audience=source.audience,
        room_secrets=secrets_by_iss,
    )
    try:
        return build_gate(options)
    except RelaypassError as exc:
        _fail(exc, as_json=False)
    except (OSError, ValueError) as exc:
        _err.print(f"[bold red]cannot start the gate[/]: {exc}", highlight=False)
        raise typer.Exit(code=1) from None


def serve_until_interrupted(
    main: Callable[[], Coroutine[Any, Any, None]], stop: Callable[[], None]
) -> None:
    """Run a server's loop until Ctrl-C, then stop what its gate started (quietly)."""
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        stop()


def default_stream_key_db() -> Path:
    """The gate's own file under the data directory (``RELAYPASS_DATA_DIR`` or XDG)."""
    import os  # noqa: PLC0415

    base = os.environ.get("RELAYPASS_DATA_DIR") or str(
        Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "relaypass"
    )
    return Path(base) / "gate-stream-keys.db"


def require_extra(extra: str) -> None:
    """Import ``relaypass.<extra>`` first: a missing extra is then named, not a bare module."""
    importlib.import_module(f"relaypass.{extra}")
