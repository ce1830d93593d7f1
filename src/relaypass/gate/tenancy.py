"""The org fences every gate profile applies, and the room rules they share.

A shared gate trusts keys of many orgs. Each published key is bound to its org
and a namespace scope (:mod:`relaypass._keyscope`); here a verified token's grant
is held to that binding:

- the paths the token *claims* must lie inside its key's scope, or the token
  is refused at connect with ``UNAUTHORIZED_PATH`` (never silently narrowed);
- a room token's ``iss`` must be a live API key of the key's own org (the key
  set's issuer registry) or ``INVALID_API_KEY``;
- paths owned by *another* org inside this key's reach are fenced off: the
  first org of a deployment may keep the unprefixed namespace, and once a
  second org owns ``acme/``, the first org's keys no longer reach ``acme/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, final

from relaypass._keyscope import KeyScope, Prefix, pattern_within
from relaypass._keyset import KeySet
from relaypass._scopes import EMPTY, PathError, PatternSet, split_path
from relaypass._tokens import VerifiedToken
from relaypass.errors import InvalidApiKeyError, UnauthorizedPathError

__all__ = ["OrgFences", "room_in_scope", "room_issuer"]

_NONE: Final[tuple[Prefix, ...]] = ()
_MAX_SETS: Final = 4096


@final
class OrgFences:
    """Per org, the namespaces other orgs own inside its reach (built once per key set)."""

    __slots__ = ("_by_org", "_sets", "_unbound")

    def __init__(self, keyset: KeySet) -> None:
        roots: dict[str, set[Prefix]] = {}
        for key in keyset:
            binding = key.binding
            if binding.org is not None and binding.scope is not None:
                roots.setdefault(binding.org, set()).update(binding.scope.roots)
        by_org: dict[str, tuple[Prefix, ...]] = {}
        for org, own in roots.items():
            fenced = {
                other
                for other_org, others in roots.items()
                if other_org != org
                for other in others
                if any(len(other) > len(mine) and pattern_within(other, mine) for mine in own)
            }
            by_org[org] = tuple(sorted(fenced))
        self._by_org = by_org
        # A key bound to no org is kept out of every org's namespace.
        self._unbound = tuple(sorted({p for own in roots.values() for p in own}))
        #: Compiled fences by (org, connection path or None for absolute), bounded.
        self._sets: dict[tuple[str | None, str | None], PatternSet] = {}

    def for_org(self, org: str | None) -> tuple[Prefix, ...]:
        """The fenced prefixes (absolute) for a token of ``org``."""
        if org is None:
            return self._unbound
        return self._by_org.get(org, _NONE)

    def fence_set(self, org: str | None, connection: str | None) -> PatternSet:
        """The org's fence compiled: absolute (``None``) or relative to a connection path.

        Built once per (org, path) for this key set; a connection inside a fence
        raises ``UNAUTHORIZED_PATH`` every time (refusals are not remembered).
        """
        key = (org, connection)
        cached = self._sets.get(key)
        if cached is None:
            fence = self.for_org(org)
            if connection is None:
                cached = PatternSet("/".join((*p, "**")) for p in fence) if fence else EMPTY
            else:
                cached = _rebase(fence, connection)
            if len(self._sets) >= _MAX_SETS:
                self._sets.clear()
            self._sets[key] = cached
        return cached


def _rebase(fence: Iterable[Prefix], connection: str) -> PatternSet:
    """Fence prefixes relative to a connection path; refuse a connection inside one."""
    try:
        base = tuple(split_path(connection))
    except PathError:
        msg = "malformed connection path"
        raise UnauthorizedPathError(msg) from None
    relative = []
    for prefix in fence:
        if pattern_within(base, prefix):
            msg = "the connection path lies in another org's namespace"
            raise UnauthorizedPathError(msg)
        if pattern_within(prefix, base):
            relative.append("/".join((*prefix[len(base) :], "**")))
    return PatternSet(relative) if relative else EMPTY


def room_in_scope(scope: KeyScope | None, path: str) -> str:
    """The room a connection path names: the path below the key's (longest) root."""
    if scope is None or not path:
        return path
    try:
        segments = tuple(split_path(path))
    except PathError:
        msg = "malformed room path"
        raise UnauthorizedPathError(msg) from None
    roots = [r for r in scope.roots if pattern_within(segments, r)]
    if not roots:
        msg = "the room lies outside the key's scope"
        raise UnauthorizedPathError(msg)
    return "/".join(segments[len(max(roots, key=len)) :])


def room_issuer(verified: VerifiedToken, keyset: KeySet) -> str | None:
    """A room token's ``iss``: for an org's key, a live API key of that same org."""
    iss = verified.claims.get("iss")
    org = verified.binding.org
    if org is None:
        return iss if isinstance(iss, str) else None
    if not isinstance(iss, str) or keyset.issuer_org(iss) != org:
        msg = "the room token's iss is not a live API key of the signing key's org"
        raise InvalidApiKeyError(msg)
    return iss
