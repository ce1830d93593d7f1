"""Registered JWT claims (RFC 7519 section 4.1), checked against a clock.

Numeric dates must be JSON numbers (``"exp": "999"`` is refused, and so is a
boolean). ``exp`` is required unless a policy says otherwise.
"""

from __future__ import annotations

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
_INF: Final = float("inf")


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


_MISSING: Final = object()
_STRING_CLAIMS: Final = ("iss", "sub", "jti")
#: The claims that open the window, and what a token refused by each is told.
_START_CLAIMS: Final = (
    ("nbf", "token is not valid yet (nbf)"),
    ("iat", "token was issued in the future (iat)"),
)


def _bad_number(name: str) -> InvalidClaimError:
    msg = f"{name} must be a non-negative JSON number"
    return InvalidClaimError(msg, claim=name)


def check_registered_claims(  # noqa: C901 - flat on purpose, see docstring
    claims: dict[str, object], policy: ClaimsPolicy, now: float
) -> tuple[float, float]:
    """Check ``claims`` at time ``now``; return the validity window.

    The window ``(not_before, not_after)`` already includes the leeway: the
    token stays acceptable for any ``not_before <= t < not_after``. Written
    flat on purpose: this runs on every fresh verify.
    """
    get = claims.get
    leeway = policy.leeway_seconds
    # A number is an int or float (type() is exact, so bool is refused), >= 0
    # and finite; NaN fails both comparisons.
    exp = get("exp", _MISSING)
    if exp is _MISSING:
        if policy.require_exp:
            msg = "exp is required"
            raise MissingClaimError(msg, claim="exp")
        not_after = _INF
    else:
        kind = type(exp)
        if not ((kind is int or kind is float) and 0 <= exp < _INF):  # type: ignore[operator]
            raise _bad_number("exp")
        not_after = exp + leeway  # type: ignore[operator]
        if now >= not_after:
            msg = "token has expired"
            raise ExpiredTokenError(msg, claim="exp")
    not_before = -_INF
    for name, early in _START_CLAIMS:
        start = get(name, _MISSING)
        if start is _MISSING:
            continue
        kind = type(start)
        if not ((kind is int or kind is float) and 0 <= start < _INF):  # type: ignore[operator]
            raise _bad_number(name)
        start = start - leeway  # type: ignore[operator]
        if now < start:
            raise ImmatureTokenError(early, claim=name)
        not_before = max(not_before, start)
    for name in _STRING_CLAIMS:
        value = get(name, _MISSING)
        if value is not _MISSING and not (
            type(value) is str and 0 < len(value) <= MAX_STRING_CLAIM
        ):
            msg = f"{name} must be a non-empty string"
            raise InvalidClaimError(msg, claim=name)
    if (
        policy.issuer is not None
        or policy.audience is not None
        or policy.required
        or "aud" in claims
    ):
        _check_policy(claims, policy)
    return not_before, not_after


def _check_policy(claims: dict[str, object], policy: ClaimsPolicy) -> None:
    iss = claims.get("iss")
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
