"""The tenancy check every gate profile passes through, in one place above the profiles.

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

from collections.abc import Iterable, Sequence
from typing import Final, final

from relaypass._grant import NO_TENANCY, Grant, Tenancy
from relaypass._keyscope import KeyScope, Prefix, pattern_within
from relaypass._keyset import KeySet
from relaypass._scopes import EMPTY, PathError, PatternSet, split_path
from relaypass._tokens import VerifiedToken
from relaypass.errors import InvalidApiKeyError, UnauthorizedPathError
from relaypass.profiles.moq import MoqClaims

__all__ = ["OrgFences", "check_scope", "room_in_scope", "tenancy_for"]

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


def _claimed(
    profile: str, grant: Grant, verified: VerifiedToken
) -> tuple[Sequence[str], Sequence[str]]:
    if profile == "moq":
        return MoqClaims.from_wire(verified.claims).claimed_paths()
    return grant.publish.patterns, grant.subscribe.patterns  # tuples: the scope check's own key


def tenancy_for(
    profile: str,
    verified: VerifiedToken,
    connection: str,
    keyset: KeySet,
    fences: OrgFences,
    *,
    issuer_known: bool = False,
) -> Tenancy:
    """The org, issuer and fence a verified token's grant gets (refusing what it must).

    ``issuer_known``: the token was verified with the secret registered for its
    ``iss`` (a customer-minted room token), so the issuer is proven already.
    """
    org = verified.binding.org
    issuer = None
    if profile == "room":
        iss = verified.claims.get("iss")
        issuer = iss if issuer_known and isinstance(iss, str) else _room_issuer(verified, keyset)
    fence = fences.for_org(org)
    fence_set = EMPTY
    if fence:
        if profile == "room":  # a room inside another org's namespace is refused
            fences.fence_set(org, connection)
        elif profile == "moq":  # paths are relative to the connection path
            fence_set = fences.fence_set(org, connection)
        else:
            fence_set = fences.fence_set(org, None)
    if org is None and issuer is None and not fence_set:
        return NO_TENANCY  # an unbound key (a single-org gate): nothing to add
    return Tenancy(org, issuer, fence_set)


def check_scope(profile: str, grant: Grant, verified: VerifiedToken, connection: str) -> None:
    """Refuse (``UNAUTHORIZED_PATH``) a token that claims more than its key's scope."""
    scope = verified.binding.scope
    if scope is None:
        return
    if profile == "room":
        scope.check_path(connection)
    elif profile != "session":  # session tokens carry capabilities, not paths
        publish, subscribe = _claimed(profile, grant, verified)
        scope.check(publish, subscribe)


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


def _room_issuer(verified: VerifiedToken, keyset: KeySet) -> str | None:
    """A room token's ``iss``: for an org's key, a live API key of that same org."""
    iss = verified.claims.get("iss")
    org = verified.binding.org
    if org is None:
        return iss if isinstance(iss, str) else None
    if not isinstance(iss, str) or keyset.issuer_org(iss) != org:
        msg = "the room token's iss is not a live API key of the signing key's org"
        raise InvalidApiKeyError(msg)
    return iss
