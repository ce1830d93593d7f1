"""The moq-token wire format (moq-relay's JWT claims).

Descriptive names in code, short names on the wire, mapped here only:

=========  =========  ==================  ===========================================
field      wire       legacy wire         meaning
=========  =========  ==================  ===========================================
root       ``root``   ``path``            path every grant is relative to
publish    ``put``    ``pub``             path prefixes the holder may publish under
subscribe  ``get``    ``sub``             path prefixes the holder may subscribe to
cluster    cluster                        marks a relay-to-relay token
expires    ``exp``                        expiry, Unix seconds
issued     ``iat``                        issue time, Unix seconds
=========  =========  ==================  ===========================================

``put``/``get`` items are *prefixes*: ``p`` means the pattern ``p/**`` and
``""`` means everything under ``root``. The newer ``publish``/``subscribe``
claims carry patterns of :mod:`relaypass._scopes` directly. The legacy names
are read only in a legacy token (one that carries ``path``), because ``sub``
is otherwise the JWT subject.

We always write ``root`` (never ``aud``) and lists, as moq-token does.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Final, final

from relaypass._grant import NO_TENANCY, Grant, Tenancy, provenance
from relaypass._record import record
from relaypass._scopes import MAX_PATH_CHARS, PathError, PatternSet, compiled_patterns, split_path
from relaypass._tokens import VerifiedToken
from relaypass.errors import InvalidClaimError, InvalidRequestError, UnauthorizedPathError
from relaypass.profiles._common import str_list

__all__ = ["MoqClaims", "rebase_prefixes"]

MAX_PATHS: Final = 256


def _prefixes(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    return _checked_prefixes(str_list(value, name, allow_scalar=True), name)


@functools.lru_cache(maxsize=4096)
def _checked_prefixes(items: tuple[str, ...], name: str) -> tuple[str, ...]:
    """``items`` if every one is a literal path (remembered: tokens repeat their claims)."""
    if len(items) > MAX_PATHS:
        msg = f"{name} holds too many paths"
        raise InvalidClaimError(msg, claim=name)
    for item in items:
        try:
            segments = split_path(item)
        except PathError:
            msg = f"{name} holds a malformed path"
            raise InvalidClaimError(msg, claim=name) from None
        if any("*" in seg for seg in segments):
            msg = f"{name} items are literal prefixes: no wildcards"
            raise InvalidClaimError(msg, claim=name)
    return items


def _patterns(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = str_list(value, name, allow_scalar=True)
    try:
        PatternSet(items)
    except PathError:
        msg = f"{name} holds a malformed pattern"
        raise InvalidClaimError(msg, claim=name) from None
    return items


def rebase_prefixes(
    root: str, connection_path: str, prefixes: Sequence[str]
) -> tuple[tuple[str, ...], ...]:
    """Re-express ``root``-relative prefixes relative to the connection path.

    moq-relay's rule: the connection path may extend ``root`` (grants narrow to
    what lies under the path) or be a parent of it (grants gain the missing
    segments); any other path is refused. Returns segment tuples.
    """
    try:
        root_segs = split_path(root)
        path_segs = split_path(connection_path)
    except PathError:
        msg = "malformed root or connection path"
        raise UnauthorizedPathError(msg) from None
    out: list[tuple[str, ...]] = []
    if path_segs[: len(root_segs)] == root_segs:
        suffix = path_segs[len(root_segs) :]
        for prefix in prefixes:
            segs = split_path(prefix)
            if segs[: len(suffix)] == suffix:
                out.append(tuple(segs[len(suffix) :]))
            elif suffix[: len(segs)] == segs:
                out.append(())  # the grant covers the whole connection path
        return tuple(dict.fromkeys(out))
    if root_segs[: len(path_segs)] == path_segs:
        missing = root_segs[len(path_segs) :]
        return tuple(dict.fromkeys(tuple(missing + split_path(p)) for p in prefixes))
    msg = "connection path is neither inside the token's root nor a parent of it"
    raise UnauthorizedPathError(msg)


def _subtree(prefix: str) -> str:
    """A legacy prefix as the pattern it means: ``p`` is ``p/**``, ``""`` is ``**``."""
    prefix = prefix.strip("/")
    return f"{prefix}/**" if prefix else "**"


def _legacy_prefix(pattern: str) -> str | None:
    """The legacy prefix a subtree pattern is, or ``None`` when it is no plain subtree."""
    if pattern == "**":
        return ""
    head, sep, _ = pattern.rpartition("/**")
    if not sep or pattern != f"{head}/**" or "*" in head:
        return None
    return head


def _as_patterns(prefixes: Sequence[tuple[str, ...]]) -> list[str]:
    return ["/".join((*segs, "**")) for segs in prefixes]


@final
@record
class MoqClaims:
    """The claims of a moq token, by their descriptive names."""

    root: str = ""
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    publish_patterns: tuple[str, ...] = ()
    subscribe_patterns: tuple[str, ...] = ()
    cluster: bool = False
    expires: int | None = None
    issued: int | None = None

    def to_wire(self) -> dict[str, object]:
        """The JSON claims object, in moq-token's member order."""
        wire = self._rooted(
            grants=bool(
                self.publish or self.subscribe or self.publish_patterns or self.subscribe_patterns
            )
        )
        if self.publish:
            wire["put"] = list(self.publish)
        if self.subscribe:
            wire["get"] = list(self.subscribe)
        if self.publish_patterns:
            wire["publish"] = list(self.publish_patterns)
        if self.subscribe_patterns:
            wire["subscribe"] = list(self.subscribe_patterns)
        if self.cluster:
            wire["cluster"] = True
        return self._timed(wire)

    def to_auth_wire(self) -> dict[str, object]:
        """The claims as moq-auth writes them: one pattern union per role.

        Legacy ``put``/``get`` when every grant is a subtree (so every published
        verifier, moq-token's included, reads the token the same way), else
        ``publish``/``subscribe``, which an older verifier refuses rather than
        misreads. moq-auth refuses any claim it does not know, so nothing else
        is written: no ``cluster``.
        """
        if self.cluster:
            msg = "moq-auth tokens carry no cluster claim"
            raise InvalidRequestError(msg)
        publish = [*map(_subtree, self.publish), *self.publish_patterns]
        subscribe = [*map(_subtree, self.subscribe), *self.subscribe_patterns]
        wire = self._rooted(grants=bool(publish or subscribe))
        legacy = all(_legacy_prefix(p) is not None for p in (*publish, *subscribe))
        for role, patterns, old in (("publish", publish, "put"), ("subscribe", subscribe, "get")):
            if patterns and legacy:
                wire[old] = [_legacy_prefix(p) for p in dict.fromkeys(patterns)]
            elif patterns:
                wire[role] = list(dict.fromkeys(patterns))
        return self._timed(wire)

    def _rooted(self, *, grants: bool) -> dict[str, object]:
        """Both spellings' checks, and the claims they both open with."""
        if not grants:
            msg = "a moq token needs at least one publish or subscribe path"
            raise InvalidRequestError(msg)
        if len(self.root) > MAX_PATH_CHARS:
            msg = "root is too long"
            raise InvalidRequestError(msg)
        return {"root": self.root}

    def _timed(self, wire: dict[str, object]) -> dict[str, object]:
        """``exp`` and ``iat`` last, when set (moq-token's member order)."""
        if self.expires is not None:
            wire["exp"] = self.expires
        if self.issued is not None:
            wire["iat"] = self.issued
        return wire

    @classmethod
    def from_wire(cls, claims: Mapping[str, object]) -> MoqClaims:
        """Read current, legacy (``path``/``pub``/``sub``) and pattern claims."""
        legacy = "path" in claims and "root" not in claims
        root = claims.get("path" if legacy else "root", "")
        if not isinstance(root, str) or len(root) > MAX_PATH_CHARS:
            msg = "root must be a string"
            raise InvalidClaimError(msg, claim="root")
        try:
            split_path(root)
        except PathError:
            msg = "root is a malformed path"
            raise InvalidClaimError(msg, claim="root") from None
        cluster = claims.get("cluster", False)
        if not isinstance(cluster, bool):
            msg = "cluster must be a boolean"
            raise InvalidClaimError(msg, claim="cluster")
        exp, iat = claims.get("exp"), claims.get("iat")
        put = claims.get("put", claims.get("pub") if legacy else None)
        get = claims.get("get", claims.get("sub") if legacy else None)
        return cls(
            root=root,
            publish=_prefixes(put, "put"),
            subscribe=_prefixes(get, "get"),
            publish_patterns=_patterns(claims.get("publish"), "publish"),
            subscribe_patterns=_patterns(claims.get("subscribe"), "subscribe"),
            cluster=cluster,
            expires=int(exp)
            if isinstance(exp, int | float) and not isinstance(exp, bool)
            else None,
            issued=int(iat) if isinstance(iat, int | float) and not isinstance(iat, bool) else None,
        )

    def claimed_paths(self) -> tuple[list[str], list[str]]:
        """The claims as absolute patterns, ``root/put/**`` and ``root/get/**``.

        What a key scope is checked against: the claims themselves, whatever
        the connection path (a connection path narrows a grant, it does not
        excuse a claim that reaches outside the key's scope).
        """
        root = self.root.strip("/")

        def absolute(prefixes: Sequence[str], patterns: Sequence[str]) -> list[str]:
            out = ["/".join(s for s in (root, p.strip("/"), "**") if s) for p in prefixes]
            out += ["/".join(s for s in (root, p.strip("/")) if s) for p in patterns]
            return out

        return (
            absolute(self.publish, self.publish_patterns),
            absolute(self.subscribe, self.subscribe_patterns),
        )

    def grant(
        self,
        connection_path: str,
        verified: VerifiedToken | None = None,
        tenancy: Tenancy = NO_TENANCY,
    ) -> Grant:
        """The grant for a session connected at ``connection_path``.

        Paths the session then publishes or subscribes are relative to the
        connection path, as in moq-relay. Pattern claims are root-relative and
        follow the same rebase (a pattern that cannot reach below the
        connection path is dropped).
        """
        publish, subscribe = _session_patterns(
            self.root,
            connection_path,
            (self.publish, self.publish_patterns),
            (self.subscribe, self.subscribe_patterns),
        )
        return Grant(
            profile="moq",
            subject=_subject(verified),
            publish=publish,
            subscribe=subscribe,
            cluster=self.cluster,
            expires_at=verified.expires_at if verified is not None else self.expires,
            **provenance(verified, tenancy),
        )


@functools.lru_cache(maxsize=4096)
def _session_patterns(
    root: str,
    connection_path: str,
    publish: tuple[tuple[str, ...], tuple[str, ...]],
    subscribe: tuple[tuple[str, ...], tuple[str, ...]],
) -> tuple[PatternSet, PatternSet]:
    """The compiled publish and subscribe sets for ``(prefixes, patterns)`` at a connection path.

    A pure function of the claims and the path, remembered: the tokens of one
    tenant or room repeat them, so a connect rebases and compiles them once.
    A refusal (``UnauthorizedPathError``) is raised again each time.
    """

    def compiled(prefixes: tuple[str, ...], patterns: tuple[str, ...]) -> PatternSet:
        rebased = _as_patterns(rebase_prefixes(root, connection_path, prefixes))
        rebased += _rebase_patterns(root, connection_path, patterns)
        return compiled_patterns(rebased)

    return compiled(*publish), compiled(*subscribe)


def _subject(verified: VerifiedToken | None) -> str | None:
    if verified is None or "path" in verified.claims:
        return None
    return verified.subject


def _rebase_patterns(root: str, connection_path: str, patterns: Sequence[str]) -> list[str]:
    """Rebase root-relative patterns onto the connection path (literal heads only)."""
    if not patterns:
        return []
    root_segs, path_segs = split_path(root), split_path(connection_path)
    if path_segs[: len(root_segs)] == root_segs:
        suffix = path_segs[len(root_segs) :]
        out = []
        for pattern in patterns:
            rest = _strip_prefix(split_path(pattern), suffix)
            if rest is not None:
                out.append("/".join(rest))
        return out
    if root_segs[: len(path_segs)] == path_segs:
        missing = root_segs[len(path_segs) :]
        return ["/".join(missing + split_path(p)) for p in patterns]
    msg = "connection path is neither inside the token's root nor a parent of it"
    raise UnauthorizedPathError(msg)


def _strip_prefix(pattern: list[str], prefix: list[str]) -> list[str] | None:
    """The pattern that matches ``x`` whenever ``pattern`` matches ``prefix/x``.

    Exact for literal and ``*`` heads; a ``**`` met on the way keeps the rest
    reachable (``**`` can absorb the remaining prefix). ``None``: no match.
    """
    for i, seg in enumerate(prefix):
        if i >= len(pattern):
            return None
        head = pattern[i]
        if head == "**":
            return pattern[i:]
        if head not in ("*", seg):
            return None
    return pattern[len(prefix) :]
