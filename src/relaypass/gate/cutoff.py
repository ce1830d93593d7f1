"""The live cutoff: a gate's revocations and expiry, each costing the sessions it ends.

A revocation (of a key, a token, a subject, a tenant, an org or an API key) is
remembered, so the tokens it names are refused at connect, and the live sessions
it names are looked up in the gate's index and closed; ``on_close`` tells the
relay. An expiry sweep pops the index's heap. Mixed into
:class:`~relaypass.gate.Gate`, which keeps the sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from relaypass._clock import Clock
from relaypass._grant import Grant
from relaypass.gate.index import SessionIndex
from relaypass.gate.revoked import Revoked

__all__ = ["Cutoff"]


class _Live(Protocol):
    """What the cutoff reads of a live session: the grant it is pinned to."""

    @property
    def grant(self) -> Grant:
        """The grant in force."""


class Cutoff:
    """Revocations and expiry over a gate's live sessions (its lock, sessions and index)."""

    clock: Clock
    revoked: Revoked
    _lock: threading.Lock
    _sessions: Mapping[int, _Live]
    _index: SessionIndex
    close: Callable[..., None]

    def expire_sessions(self) -> int:
        """Close every session past its ``exp``; call it on a timer (every second or so).

        Pops the expiry heap: the cost is the sessions that expired, not all of them.
        """
        now = self.clock.now()
        self.revoked.forget_due(now)
        with self._lock:
            due = [self._sessions.get(i) for i in self._index.due(now)]
        doomed = [
            s
            for s in dict.fromkeys(due)
            if s is not None and s.grant.expires_at is not None and now >= s.grant.expires_at
        ]
        for session in doomed:
            self.close(session, "expired")
        return len(doomed)

    def revoke_kid(self, kid: str, org: str | None = None, tenant: str | None = None) -> int:
        """A signing key was revoked: end its sessions and refuse its tokens.

        With ``org`` (and ``tenant``), only that org's (tenant's) key of this name:
        kids such as a service account's ``kid-2026-01`` are the customers' own
        and repeat, so revoking one tenant's never touches another's.
        """
        self.revoked.kid(kid, org, tenant)
        if org is None:
            return self._cut("kid", kid, lambda _g: True)
        return self._cut(
            "kid", kid, lambda g: g.org == org and (tenant is None or g.tenant == tenant)
        )

    def revoke_jti(self, jti: str, org: str | None = None, until: float | None = None) -> int:
        """One token was revoked (by ``jti``; with ``org``, only among that org's tokens).

        ``until``: the time after which no token with this ``jti`` can still be
        valid; the entry is forgotten then (``expire_sessions``), so the revoked
        set stays bounded. Without it the entry stays.
        """
        if until is not None and until <= self.clock.now():
            return self._cut("jti", jti, lambda g: org is None or g.org == org)  # moot
        self.revoked.jti(jti, org, until)
        return self._cut("jti", jti, lambda g: org is None or g.org == org)

    def revoke_token(self, token_id: str, until: float | None = None) -> int:
        """One token was revoked (by its ``token_id``); forgotten after ``until`` if given."""
        self.revoked.token(token_id, until)
        return self._cut("token_id", token_id, lambda _g: True)

    def revoke_subject(
        self, subject: str, issued_before: float | None = None, until: float | None = None
    ) -> int:
        """A subject's tokens (issued before a time, or all) were revoked.

        ``until``: when every token it could match has expired; forgotten then. A
        revocation never shrinks: of two for one subject, the wider cut-off holds.
        """
        self.revoked.subject(subject, issued_before, until)
        return self._cut("subject", subject, lambda _g: True)

    def revoke_tenant(self, tenant: str, org: str | None = None) -> int:
        """A tenant was revoked (of one org; ``None``: the tenant name in every org)."""
        self.revoked.tenants.add((org, tenant))
        return self._cut("tenant", tenant, lambda g: org is None or g.org == org)

    def revoke_org(self, org: str) -> int:
        """An org was disabled: end every session its keys opened and refuse its tokens."""
        self.revoked.orgs.add(org)
        return self._cut("org", org, lambda _g: True)

    def revoke_issuer(self, issuer: str, org: str | None = None) -> int:
        """An API key was revoked: end the room sessions its tokens opened."""
        self.revoked.issuers.add((org, issuer))
        return self._cut("issuer", issuer, lambda g: org is None or g.org == org)

    def apply_revocation(self, event: dict[str, object]) -> int:
        """Apply a control-plane revocation event.

        ``kind`` is ``kid``, ``jti``, ``token``, ``sub``, ``tenant`` (with its
        ``org``), ``org`` (a disabled org) or ``iss`` (a revoked API key, with
        its ``org``).
        """
        kind, value = event.get("kind"), event.get("value")
        if not isinstance(value, str):
            return 0
        org = event.get("org")
        org = org if isinstance(org, str) else None
        if kind == "kid":
            tenant = event.get("tenant")
            return self.revoke_kid(value, org, tenant if isinstance(tenant, str) else None)
        until = event.get("until")
        until = float(until) if isinstance(until, int | float) else None
        before = event.get("before")
        timed: dict[object, Callable[[], int]] = {
            "sub": lambda: self.revoke_subject(
                value, before if isinstance(before, int | float) else None, until
            ),
            "jti": lambda: self.revoke_jti(value, org, until),
            "token": lambda: self.revoke_token(value, until),
        }
        if kind in timed:
            return timed[kind]()
        scoped: dict[object, Callable[[str, str | None], int]] = {
            "tenant": self.revoke_tenant,
            "iss": self.revoke_issuer,
        }
        if kind in scoped:
            return scoped[kind](value, org)
        return self.revoke_org(value) if kind == "org" else 0

    def _cut(self, field: str, value: object, match: Callable[[Grant], bool]) -> int:
        """Close the live sessions with ``grant.<field> == value`` that ``match`` (indexed)."""
        with self._lock:
            candidates = [self._sessions.get(i) for i in self._index.candidates(field, value)]
        doomed = [s for s in candidates if s is not None and match(s.grant)]
        for session in doomed:
            self.close(session, "revoked")
        return len(doomed)
