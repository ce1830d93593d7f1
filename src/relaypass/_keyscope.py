"""What a key may sign for: its org, its namespace scope and its issuer.

A published key carries three JWK members beside its key material:

- ``scope``: moq-token's authorization ceiling, ``{"root": r, "put": [...],
  "get": [...]}``. ``put`` and ``get`` are prefixes relative to ``root``, with
  moq's prefix rule (``p`` covers ``p`` and everything below it; ``""`` covers
  the whole root). An absent ``put`` or ``get`` means the whole root.
- ``org``: the org that owns the key (a member of our own; moq's tooling
  ignores it).
- ``iss``: when set, tokens signed by this key must carry exactly this ``iss``.

A token whose claims reach outside its key's scope is refused with
``UNAUTHORIZED_PATH`` (moq's ``ScopeExceeded``); it is never silently narrowed.
Containment is decided on segments: a pattern is inside a prefix when its first
segments are literally that prefix (a wildcard there could reach outside).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, final

from relaypass._scopes import PathError, PatternSet, split_path
from relaypass.errors import InvalidKeyError, UnauthorizedPathError

__all__ = [
    "KeyBinding",
    "KeyScope",
    "Prefix",
    "pattern_within",
    "patterns_within",
]

Prefix = tuple[str, ...]
MAX_SCOPE_PREFIXES: Final = 64
_MAX_NAME: Final = 128
_ORG_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _prefix(text: object, what: str) -> Prefix:
    if not isinstance(text, str):
        msg = f"key scope {what} must be a string"
        raise InvalidKeyError(msg)
    try:
        segments = split_path(text)
    except PathError:
        msg = f"key scope {what} is not a valid path"
        raise InvalidKeyError(msg) from None
    if any("*" in s for s in segments):
        msg = f"key scope {what} may not hold wildcards"
        raise InvalidKeyError(msg)
    return tuple(segments)


def _prefix_list(value: object, what: str) -> tuple[Prefix, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # moq accepts a single string for a list
        value = [value]
    if not isinstance(value, list) or len(value) > MAX_SCOPE_PREFIXES:
        msg = f"key scope {what} must be a list of at most {MAX_SCOPE_PREFIXES} prefixes"
        raise InvalidKeyError(msg)
    return tuple(dict.fromkeys(_prefix(v, what) for v in value))


def pattern_within(pattern: Sequence[str], prefix: Prefix) -> bool:
    """Whether every path the pattern matches lies under ``prefix``."""
    if len(pattern) < len(prefix):
        return False
    return all(p == s for p, s in zip(pattern, prefix, strict=False))


def patterns_within(patterns: Iterable[str], prefixes: Sequence[Prefix]) -> bool:
    """Whether every pattern lies under one of ``prefixes``."""
    for pattern in patterns:
        segments = split_path(pattern)
        if not any(pattern_within(segments, p) for p in prefixes):
            return False
    return True


@final
@dataclass(frozen=True, slots=True)
class KeyScope:
    """moq-token's key ``scope``: a root and the prefixes below it for put and get."""

    root: Prefix = ()
    put: tuple[Prefix, ...] | None = None
    get: tuple[Prefix, ...] | None = None

    @classmethod
    def for_roots(cls, roots: Iterable[str]) -> KeyScope:
        """The scope of an org that owns ``roots`` (each covering its whole subtree)."""
        prefixes = tuple(dict.fromkeys(_prefix(r, "root") for r in roots))
        if len(prefixes) == 1:
            return cls(root=prefixes[0], put=((),), get=((),))
        return cls(root=(), put=prefixes, get=prefixes)

    @classmethod
    def from_wire(cls, value: object) -> KeyScope:
        """Parse the JWK ``scope`` member strictly."""
        if not isinstance(value, Mapping):
            msg = "key scope must be an object"
            raise InvalidKeyError(msg)
        unknown = set(value) - {"root", "put", "get"}
        if unknown:
            msg = f"key scope has unknown members: {sorted(unknown)}"
            raise InvalidKeyError(msg)
        return cls(
            root=_prefix(value.get("root", ""), "root"),
            put=_prefix_list(value.get("put"), "put"),
            get=_prefix_list(value.get("get"), "get"),
        )

    def to_wire(self) -> dict[str, object]:
        """The JWK member, in moq-token's names."""
        wire: dict[str, object] = {"root": "/".join(self.root)}
        if self.put is not None:
            wire["put"] = ["/".join(p) for p in self.put]
        if self.get is not None:
            wire["get"] = ["/".join(p) for p in self.get]
        return wire

    @property
    def publish_prefixes(self) -> tuple[Prefix, ...]:
        """Absolute prefixes a token of this key may publish under."""
        return tuple(self.root + p for p in (self.put if self.put is not None else ((),)))

    @property
    def subscribe_prefixes(self) -> tuple[Prefix, ...]:
        """Absolute prefixes a token of this key may subscribe under."""
        return tuple(self.root + p for p in (self.get if self.get is not None else ((),)))

    @property
    def roots(self) -> tuple[Prefix, ...]:
        """Every absolute prefix the key reaches, for publish or subscribe."""
        return tuple(dict.fromkeys(self.publish_prefixes + self.subscribe_prefixes))

    def check(self, publish: Iterable[str], subscribe: Iterable[str]) -> None:
        """Refuse (``UNAUTHORIZED_PATH``) claims that reach outside this scope.

        Runs on every connect; answers are memoised per (scope, claims), since
        the same few namespace sets come back again and again.
        """
        if not _inside(self, tuple(publish), tuple(subscribe)):
            msg = "the token claims paths outside its key's scope"
            raise UnauthorizedPathError(msg)

    def check_sets(self, publish: PatternSet, subscribe: PatternSet) -> None:
        """:meth:`check` for compiled sets (what a connect asks): no copy, no memo needed."""
        if not _joined_within(publish.joined, self.publish_prefixes) or (
            (subscribe is not publish or self.get != self.put)  # a relay grant: one set, asked once
            and not _joined_within(subscribe.joined, self.subscribe_prefixes)
        ):
            msg = "the token claims paths outside its key's scope"
            raise UnauthorizedPathError(msg)

    def check_path(self, path: str) -> None:
        """Refuse a connection path (a room, a root) outside this scope."""
        try:
            segments = split_path(path)
        except PathError:
            segments = None
        if segments is None or not any(pattern_within(segments, p) for p in self.roots):
            msg = "the path lies outside the key's scope"
            raise UnauthorizedPathError(msg)


@functools.lru_cache(maxsize=4096)
def _inside(scope: KeyScope, publish: tuple[str, ...], subscribe: tuple[str, ...]) -> bool:
    return _within(scope, publish, subscribe)


def _within(scope: KeyScope, publish: tuple[str, ...], subscribe: tuple[str, ...]) -> bool:
    try:
        return patterns_within(publish, scope.publish_prefixes) and patterns_within(
            subscribe, scope.subscribe_prefixes
        )
    except PathError:
        return False


@functools.lru_cache(maxsize=1024)
def _heads(prefixes: tuple[Prefix, ...]) -> tuple[frozenset[str], tuple[str, ...]] | None:
    """The prefixes as text, each alone and each with its slash.

    ``None`` if some segment is not a plain one (empty, or holding a slash or a newline):
    only the segment walk reads such a scope.
    """
    if any(not seg or "/" in seg or not seg.isprintable() for p in prefixes for seg in p):
        return None
    exact = frozenset("/".join(p) for p in prefixes)
    return exact, tuple(f"{head}/" for head in exact if head)


def _joined_within(joined: str | None, prefixes: tuple[Prefix, ...]) -> bool:
    """:func:`patterns_within` for a compiled set's patterns, joined by newlines.

    Each is in normal form (one slash between segments, none at either end), so it lies
    under a prefix exactly when it is the prefix's text or starts with that text and a
    slash: a string comparison per pattern instead of splitting each into segments.
    """
    if joined is None:
        return True
    heads = _heads(prefixes)
    if heads is None:
        return patterns_within(joined.split("\n"), prefixes)
    exact, slashed = heads
    if "" in exact:  # the empty prefix: everything lies under it
        return True
    if len(slashed) == 1:  # one prefix (an org's root): count the lines that lie under it
        # Lines start after a newline, and a set holds each pattern once, so neither count
        # can find one line twice: all lie under the prefix when the counts add up to all.
        text, head = f"\n{joined}\n", slashed[0]
        under = text.count(f"\n{head}") + text.count(f"\n{head[:-1]}\n")
        return under == joined.count("\n") + 1
    return all(line in exact or line.startswith(slashed) for line in joined.split("\n"))


@final
@dataclass(frozen=True, slots=True)
class KeyBinding:
    """The org, scope and issuer a key is bound to (each optional)."""

    org: str | None = None
    scope: KeyScope | None = None
    issuer: str | None = None

    def __bool__(self) -> bool:
        return self.org is not None or self.scope is not None or self.issuer is not None

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> KeyBinding:
        """The binding members of a JWK (``org``, ``scope``, ``iss``)."""
        org = jwk.get("org")
        if org is not None and (not isinstance(org, str) or not _ORG_ID.fullmatch(org)):
            msg = "JWK org must be 1-128 characters of [A-Za-z0-9_-]"
            raise InvalidKeyError(msg)
        issuer = jwk.get("iss")
        if issuer is not None and (not isinstance(issuer, str) or not 0 < len(issuer) <= _MAX_NAME):
            msg = f"JWK iss must be a string of 1-{_MAX_NAME} characters"
            raise InvalidKeyError(msg)
        scope = KeyScope.from_wire(jwk["scope"]) if "scope" in jwk else None
        return cls(org=org if isinstance(org, str) else None, scope=scope, issuer=issuer)

    def to_jwk_members(self) -> dict[str, object]:
        """The members to add to the key's JWK."""
        members: dict[str, object] = {}
        if self.org is not None:
            members["org"] = self.org
        if self.scope is not None:
            members["scope"] = self.scope.to_wire()
        if self.issuer is not None:
            members["iss"] = self.issuer
        return members


NO_BINDING: Final = KeyBinding()
