"""What a gate has been told is revoked, kept bounded, and the checks a connect makes against it.

A revocation names a key (kid), a token (its jti or digest), a subject (optionally only tokens
issued before a time), a tenant, an org or a minting API key, each either everywhere or within
one org. Revocations of things that expire (a jti, a token, a subject's tokens) are forgotten
once no token they could match is still valid, so the sets stay bounded.
"""

from __future__ import annotations

import heapq
import math
import threading
from typing import final

from relaypass._grant import Grant
from relaypass.errors import ExpiredTokenError, InvalidApiKeyError, RevokedTokenError

__all__ = ["Revoked"]


@final
class Revoked:
    """The revoked sets of one gate; changes hold :attr:`lock`, reads take none."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.kids: set[str] = set()
        self.jtis: set[str] = set()
        self.tokens: set[str] = set()
        self.subjects: dict[str, float] = {}
        self.tenants: set[tuple[str | None, str]] = set()
        self.orgs: set[str] = set()
        self.org_kids: set[tuple[str, str | None, str]] = set()
        self.org_jtis: set[tuple[str, str]] = set()
        self.issuers: set[tuple[str | None, str]] = set()
        #: (until, kind, value, org or ""): revocations (jti, token, sub) to forget once no
        #: token they could match is still valid.
        self._due: list[tuple[float, str, str, str]] = []
        #: The latest ``until`` per revocation (inf: kept for good); a heap entry is acted on
        #: only when it is that latest one.
        self._forget_after: dict[tuple[str, str, str], float] = {}

    # ------------------------------------------------------------ record

    def kid(self, kid: str, org: str | None, tenant: str | None) -> None:
        """A signing key, everywhere or only one org's (one tenant's) key of this name."""
        if org is None:
            self.kids.add(kid)
        else:
            self.org_kids.add((org, tenant, kid))

    def jti(self, jti: str, org: str | None, until: float | None) -> None:
        """One token by ``jti``, everywhere or among one org's tokens; forgotten after ``until``."""
        if org is None:
            self.jtis.add(jti)
        else:
            self.org_jtis.add((org, jti))
        self.forget_at(until, "jti", jti, org or "")

    def token(self, token_id: str, until: float | None) -> None:
        """One token by its digest; forgotten after ``until``."""
        self.tokens.add(token_id)
        self.forget_at(until, "token", token_id)

    def subject(self, subject: str, issued_before: float | None, until: float | None) -> None:
        """A subject's tokens (issued before a time, or all); the wider cut-off holds."""
        before = math.inf if issued_before is None else issued_before
        self.subjects[subject] = max(before, self.subjects.get(subject, before))
        self.forget_at(until, "sub", subject)

    def forget_at(self, until: float | None, kind: str, value: str, org: str = "") -> None:
        """Remember when this revocation may be forgotten (``None``: never)."""
        key = (kind, value, org)
        with self.lock:
            latest = max(
                self._forget_after.get(key, -math.inf), math.inf if until is None else until
            )
            self._forget_after[key] = latest
            if until is not None and latest == until:
                heapq.heappush(self._due, (until, kind, value, org))

    def forget_due(self, now: float) -> int:
        """Drop the revocations no live token can match any more."""
        forgotten = 0
        with self.lock:
            due = self._due
            while due and due[0][0] <= now:
                _, kind, value, org = heapq.heappop(due)
                if self._forget_after.get((kind, value, org), math.inf) > now:
                    continue  # revoked again since, for longer (or for good)
                del self._forget_after[kind, value, org]
                if kind == "token":
                    self.tokens.discard(value)
                elif kind == "sub":
                    self.subjects.pop(value, None)
                elif org:
                    self.org_jtis.discard((org, value))
                else:
                    self.jtis.discard(value)
                forgotten += 1
        return forgotten

    # ------------------------------------------------------------- check

    def names(  # noqa: PLR0917 - a token's identity, field by field
        self,
        kid: str | None,
        token_id: str | None,
        jti: str | None,
        subject: str | None,
        issued_at: float | None,
        org: str | None,
    ) -> bool:
        """Whether a revocation names this token: its kid, digest, jti or subject, or its org's.

        Each set is consulted only when it holds something: a connect on a gate with no
        revocations pays a few emptiness tests, not the token's properties. A token without
        ``iat`` counts as issued before any subject revocation.
        """
        if kid in self.kids:
            return True
        if self.tokens and token_id in self.tokens:
            return True
        if self.jtis and jti in self.jtis:
            return True
        if self.subjects and subject is not None and subject in self.subjects:
            issued = issued_at if issued_at is not None else -math.inf
            if issued < self.subjects[subject]:
                return True
        if org is None:
            return False
        return (
            org in self.orgs
            or (org, None, kid) in self.org_kids
            or (bool(self.org_kids) and (org, subject, kid) in self.org_kids)
            or (bool(self.org_jtis) and (org, jti) in self.org_jtis)
        )

    def check_standing(self, grant: Grant, now: float) -> None:
        """Refuse a grant whose org, tenant or minting API key was revoked, or that expired."""
        if grant.org is not None and grant.org in self.orgs:
            msg = "the token's org was disabled"
            raise RevokedTokenError(msg)
        if _held(self.tenants, grant.org, grant.tenant):
            msg = "the token's tenant was revoked"
            raise RevokedTokenError(msg)
        if _held(self.issuers, grant.org, grant.issuer):
            msg = "the token's API key was revoked"
            raise InvalidApiKeyError(msg)
        if grant.expires_at is not None and now >= grant.expires_at:
            # The verifier's leeway absorbs clock skew, but a session ends at exp:
            # admitting one that would be cut at once helps nobody.
            msg = "token expired"
            raise ExpiredTokenError(msg)


def _held(revoked: set[tuple[str | None, str]], org: str | None, name: str | None) -> bool:
    """Whether ``name`` was revoked in ``org`` or in every org (``None``)."""
    return (
        bool(revoked) and name is not None and ((org, name) in revoked or (None, name) in revoked)
    )
