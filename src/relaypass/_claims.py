"""Registered JWT claims (RFC 7519 section 4.1), checked against a clock.

Numeric dates must be JSON numbers (``"exp": "999"`` is refused, and so is a
boolean). ``exp`` is required unless a policy says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from relaypass.errors import (
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidClaimError,
    MissingClaimError,
)

__all__ = ["DEFAULT_LEEWAY_SECONDS", "ClaimsPolicy", "check_registered_claims"]

DEFAULT_LEEWAY_SECONDS: Final = 60.0
MAX_STRING_CLAIM: Final = 1024
_INF: Final = math.inf


@dataclass(frozen=True, slots=True)
class ClaimsPolicy:
    """What a verifier demands of the registered claims.

    ``issuer`` may be one string or a set of accepted issuers; ``audience`` is
    this verifier's own identifier. A token that carries ``aud`` is refused
    when no ``audience`` is configured (RFC 7519 section 4.1.3).
    """

    require_exp: bool = True
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS
    issuer: str | frozenset[str] | None = None
    audience: str | None = None
    required: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not (0 <= self.leeway_seconds <= 600):  # noqa: PLR2004 - sane clock skew bound
            msg = "leeway_seconds must be within [0, 600]"
            raise ValueError(msg)


def _number(claims: dict[str, object], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        if name in claims:
            msg = f"{name} must be a number"
            raise InvalidClaimError(msg, claim=name)
        return None
    kind = type(value)
    if kind is int or kind is float:
        number = float(value)  # type: ignore[arg-type]
        if math.isfinite(number) and number >= 0:
            return number
    msg = f"{name} must be a non-negative JSON number"
    raise InvalidClaimError(msg, claim=name)


def _string(claims: dict[str, object], name: str) -> str | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if type(value) is not str or not value or len(value) > MAX_STRING_CLAIM:
        msg = f"{name} must be a non-empty string"
        raise InvalidClaimError(msg, claim=name)
    return value


def check_registered_claims(
    claims: dict[str, object], policy: ClaimsPolicy, now: float
) -> tuple[float, float]:
    """Check ``claims`` at time ``now``; return the validity window.

    The window ``(not_before, not_after)`` already includes the leeway: the
    token stays acceptable for any ``not_before <= t < not_after``.
    """
    leeway = policy.leeway_seconds
    exp = _number(claims, "exp")
    nbf = _number(claims, "nbf")
    iat = _number(claims, "iat")
    if exp is None:
        if policy.require_exp:
            msg = "exp is required"
            raise MissingClaimError(msg, claim="exp")
        not_after = _INF
    else:
        not_after = exp + leeway
        if now >= not_after:
            msg = "token has expired"
            raise ExpiredTokenError(msg, claim="exp")
    not_before = -_INF
    if nbf is not None:
        not_before = nbf - leeway
        if now < not_before:
            msg = "token is not valid yet (nbf)"
            raise ImmatureTokenError(msg, claim="nbf")
    if iat is not None:
        if now < iat - leeway:
            msg = "token was issued in the future (iat)"
            raise ImmatureTokenError(msg, claim="iat")
        not_before = max(not_before, iat - leeway)
    _check_identity(claims, policy)
    return not_before, not_after


def _check_identity(claims: dict[str, object], policy: ClaimsPolicy) -> None:
    iss = _string(claims, "iss")
    _string(claims, "sub")
    _string(claims, "jti")
    if policy.issuer is not None:
        accepted = policy.issuer
        if iss is None or (iss != accepted if isinstance(accepted, str) else iss not in accepted):
            msg = "issuer is not accepted"
            raise InvalidClaimError(msg, claim="iss")
    if "aud" in claims:
        _check_audience(claims["aud"], policy.audience)
    elif policy.audience is not None:
        msg = "aud is required"
        raise MissingClaimError(msg, claim="aud")
    for name in policy.required:
        if name not in claims:
            msg = f"{name} is required"
            raise MissingClaimError(msg, claim=name)


def _check_audience(aud: object, expected: str | None) -> None:
    if expected is None:
        msg = "token carries aud but this verifier has no audience"
        raise InvalidClaimError(msg, claim="aud")
    if type(aud) is str:
        ok = aud == expected
    elif type(aud) is list and aud and all(type(item) is str for item in aud):
        ok = expected in aud
    else:
        msg = "aud must be a string or a non-empty list of strings"
        raise InvalidClaimError(msg, claim="aud")
    if not ok:
        msg = "audience does not match"
        raise InvalidClaimError(msg, claim="aud")
