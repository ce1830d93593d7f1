"""Which signing algorithms each token profile accepts: the one table.

Minting (the control plane picks the newest active key whose algorithm the
profile accepts), :class:`~relaypass.profiles.room.RoomVerifier` and the gate's
profiles all read it, so a token gets the same verdict everywhere, whether the
verifier was handed one key or a key set.

- relay: EdDSA, ES256, ES384, and HS256/384/512. ClutchCall's relay tokens are EdDSA;
  ES256 is what moq recommends when many relays verify; a self-hosted relay
  may keep a shared secret in a key file (the control plane never publishes
  one, so it never mints relay tokens with HMAC).
- moq: every algorithm moq-token signs with (HS, RS, PS, ES, EdDSA); the
  control plane mints with its asymmetric keys only.
- room: HS256, HS384, HS512, EdDSA, ES256. VideoSDK-style customer-minted HS256,
  and the control plane's own keys.
- service_account: RS256. TeleQuick's RSA-2048 service-account files.
- session: EdDSA, ES256. SessionAuth, signed with the tenant's org key.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from relaypass._alg import Algorithm
from relaypass.errors import InvalidRequestError

__all__ = ["PROFILE_ALGORITHMS", "accepts", "profiles_for", "require_profile_algorithm"]

_A = Algorithm
PROFILE_ALGORITHMS: Final = MappingProxyType(
    {
        "relay": (_A.EdDSA, _A.ES256, _A.ES384, _A.HS256, _A.HS384, _A.HS512),
        "moq": (
            _A.EdDSA,
            _A.ES256,
            _A.ES384,
            _A.RS256,
            _A.RS384,
            _A.RS512,
            _A.PS256,
            _A.PS384,
            _A.PS512,
            _A.HS256,
            _A.HS384,
            _A.HS512,
        ),
        "room": (_A.HS256, _A.HS384, _A.HS512, _A.EdDSA, _A.ES256),
        "service_account": (_A.RS256,),
        "session": (_A.EdDSA, _A.ES256),
    }
)


def accepts(profile: str, alg: str) -> bool:
    """Whether ``profile`` takes tokens signed with ``alg``."""
    return alg in PROFILE_ALGORITHMS[profile]


def profiles_for(alg: str) -> list[str]:
    """The profiles a key of ``alg`` can sign for (what a key listing shows)."""
    return [profile for profile, algs in PROFILE_ALGORITHMS.items() if alg in algs]


def require_profile_algorithm(profile: str, alg: str) -> None:
    """Refuse (``INVALID_REQUEST``) a key whose algorithm ``profile`` does not take."""
    if not accepts(profile, alg):
        names = ", ".join(str(a) for a in PROFILE_ALGORITHMS[profile])
        msg = f"{profile} tokens are signed with {names}"
        raise InvalidRequestError(msg)
