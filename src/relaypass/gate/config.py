"""Build a :class:`Gate` from the key-source options the commands share.

Exactly one key source: a JWK/JWKS file, a ``{kid}.jwk`` directory, a JWKS
URL, or the control plane's Redis (which also carries live revocations).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import final

from relaypass._claims import ClaimsPolicy
from relaypass._keys import Key
from relaypass.errors import InvalidRequestError
from relaypass.gate.keysource import (
    DirectoryKeySource,
    FileKeySource,
    FilesKeySource,
    JwksUrlKeySource,
    KeySource,
)
from relaypass.gate.profiles import profile_named
from relaypass.gate.redis_source import RedisKeySource
from relaypass.gate.session import Gate
from relaypass.gate.shipper import RedisUsageShipper
from relaypass.gate.usage import default_node

__all__ = ["GateOptions", "RelayConfig", "build_gate"]


@final
@dataclass(frozen=True, slots=True)
class GateOptions:
    """Where keys come from and what is public."""

    profile: str = "relay"
    key_file: Path | None = None
    #: Several key files, all used (moq-relay's ``[auth] keys``); with ``key_file`` too.
    key_files: Sequence[Path] = field(default_factory=tuple)
    key_dir: Path | None = None
    jwks_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "relaypass"
    public_publish: Sequence[str] = field(default_factory=tuple)
    public_subscribe: Sequence[str] = field(default_factory=tuple)
    #: Accepted ``iss`` values (empty: any). Room tokens name an API key in ``iss``
    #: and are checked against the key set's live-issuer registry instead.
    issuers: Sequence[str] = field(default_factory=tuple)
    #: This gate's own identifier: tokens must carry it in ``aud``.
    audience: str | None = None
    #: Customer-registered room-token secrets (VideoSDK-style, no kid), by ``iss``.
    room_secrets: Mapping[str, Path] = field(default_factory=dict)
    #: This gate's name in usage figures and ``usage.live`` (default ``host:pid``).
    node: str | None = None


def build_gate(options: GateOptions) -> tuple[Gate, Callable[[], None]]:
    """The gate and a function that stops its key source."""
    files = [*((options.key_file,) if options.key_file is not None else ()), *options.key_files]
    chosen = [
        v
        for v in (files or None, options.key_dir, options.jwks_url, options.redis_url)
        if v is not None
    ]
    if len(chosen) != 1:
        msg = "give exactly one key source: --key, --key-dir, --jwks-url or --redis-url"
        raise InvalidRequestError(msg)
    source: KeySource
    stop: Callable[[], None] = _nothing
    if files:
        source = FileKeySource(files[0]) if len(files) == 1 else FilesKeySource(files)
    elif options.key_dir is not None:
        source = DirectoryKeySource(options.key_dir)
    elif options.jwks_url is not None:
        source = JwksUrlKeySource(options.jwks_url, background=True)
        stop = source.close
    else:
        assert options.redis_url is not None  # noqa: S101 - exactly one source was checked
        source = RedisKeySource(options.redis_url, prefix=options.redis_prefix, start=False)
        stop = source.close
    policy = ClaimsPolicy(
        require_exp=profile_named(options.profile).requires_exp,
        issuer=frozenset(options.issuers) or None,
        audience=options.audience,
    )
    gate = Gate(
        source,
        profile=options.profile,
        policy=policy,
        public_publish=options.public_publish,
        public_subscribe=options.public_subscribe,
        room_issuers={iss: Key.load(path) for iss, path in options.room_secrets.items()},
    )
    if isinstance(source, RedisKeySource):  # revocations, resources and rooms arrive with keys
        node = options.node or default_node()
        source.attach(gate, node=node)
        source.hydrate_revocations()
        source.hydrate_resources()
        source.hydrate_rooms()
        source.start()
        # Usage events go back through the same Redis, to the control plane's rollups.
        assert options.redis_url is not None  # noqa: S101 - the source is the Redis one
        shipper = RedisUsageShipper(options.redis_url, gate, prefix=options.redis_prefix, node=node)
        shipper.start()
        stop = _both(shipper.close, source.close)
    return gate, stop


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def stop() -> None:
        first()
        second()

    return stop


def _nothing() -> None:
    """Stopping a file or directory source: nothing runs in the background."""


@final
@dataclass(frozen=True, slots=True)
class RelayConfig:
    """The parts of moq-relay's ``relay.toml`` that relaypass's relay reads.

    ``[auth] key`` / ``keys`` (key files, relative to the config file) and
    ``public`` (a prefix anyone may publish and subscribe to); ``[server] listen``;
    ``[server.tls] cert`` / ``key`` (a path or a list of paths) and ``generate``.
    Other sections (``[log]``, ``[cluster]`` ...) are moq-relay's own and ignored.
    """

    keys: tuple[Path, ...] = ()
    public: tuple[str, ...] = ()
    listen: str | None = None
    tls_cert: tuple[str, ...] = ()
    tls_key: tuple[str, ...] = ()
    tls_generate: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> RelayConfig:
        """Parse ``relay.toml`` strictly where it matters (unknown ``[auth]`` members refused)."""
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            msg = f"{path} is not valid TOML: {exc}"
            raise InvalidRequestError(msg) from None
        auth = _table(document.get("auth", {}), "auth")
        unknown = set(auth) - {"key", "keys", "public"}
        if unknown:
            msg = f"[auth] has members relaypass does not know: {sorted(unknown)}"
            raise InvalidRequestError(msg)
        server = _table(document.get("server", {}), "server")
        tls = _table(server.get("tls", {}), "server.tls")
        base = path.parent
        keys = [*_strings(auth.get("key"), "auth.key"), *_strings(auth.get("keys"), "auth.keys")]
        listen = server.get("listen")
        if listen is not None and not isinstance(listen, str):
            msg = "[server] listen must be a string"
            raise InvalidRequestError(msg)
        return cls(
            keys=tuple(base / k for k in keys),
            public=tuple(_strings(auth.get("public"), "auth.public")),
            listen=listen,
            tls_cert=tuple(str(base / c) for c in _strings(tls.get("cert"), "server.tls.cert")),
            tls_key=tuple(str(base / k) for k in _strings(tls.get("key"), "server.tls.key")),
            tls_generate=tuple(_strings(tls.get("generate"), "server.tls.generate")),
        )


def _table(value: object, name: str) -> dict[str, object]:
    if not isinstance(value, dict):
        msg = f"[{name}] must be a table"
        raise InvalidRequestError(msg)
    return value


def _strings(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    msg = f"{name} must be a string or a list of strings"
    raise InvalidRequestError(msg)
