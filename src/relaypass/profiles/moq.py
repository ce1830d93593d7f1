"""The moq-token wire format (moq-relay's JWT claims).

Descriptive names in code, short names on the wire, mapped here only:

============  ========  ==========================================
field         wire      meaning
============  ========  ==========================================
root          ``root``  path every grant is relative to
publish       ``put``   path prefixes the holder may publish under
subscribe     ``get``   path prefixes the holder may subscribe to
cluster       cluster   marks a relay-to-relay token
expires       ``exp``   expiry, Unix seconds
issued        ``iat``   issue time, Unix seconds
============  ========  ==========================================

``put`` and ``get`` are a string or a list of strings on the wire; we always
write lists, and ``root`` is always written (never ``aud``), as moq-token does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relaypass.errors import InvalidClaimError, InvalidRequestError

__all__ = ["MoqClaims"]

MAX_PATHS = 256
MAX_PATH_CHARS = 1024


def _paths(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or len(items) > MAX_PATHS
        or not all(isinstance(item, str) and len(item) <= MAX_PATH_CHARS for item in items)
    ):
        msg = f"{name} must be a string or a list of strings"
        raise InvalidClaimError(msg, claim=name)
    return tuple(str(item) for item in items)


@dataclass(frozen=True, slots=True)
class MoqClaims:
    """The claims of a moq token, by their descriptive names."""

    root: str = ""
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    cluster: bool = False
    expires: int | None = None
    issued: int | None = None

    def to_wire(self) -> dict[str, object]:
        """The JSON claims object, in moq-token's member order."""
        if not self.publish and not self.subscribe:
            msg = "a moq token needs at least one publish or subscribe path"
            raise InvalidRequestError(msg)
        wire: dict[str, object] = {"root": self.root}
        if self.publish:
            wire["put"] = list(self.publish)
        if self.subscribe:
            wire["get"] = list(self.subscribe)
        if self.cluster:
            wire["cluster"] = True
        if self.expires is not None:
            wire["exp"] = self.expires
        if self.issued is not None:
            wire["iat"] = self.issued
        return wire

    @classmethod
    def from_wire(cls, claims: Mapping[str, object]) -> MoqClaims:
        """Read the claims; ``root`` defaults to ``""`` as in moq-token's Rust crate."""
        root = claims.get("root", "")
        if not isinstance(root, str) or len(root) > MAX_PATH_CHARS:
            msg = "root must be a string"
            raise InvalidClaimError(msg, claim="root")
        cluster = claims.get("cluster", False)
        if not isinstance(cluster, bool):
            msg = "cluster must be a boolean"
            raise InvalidClaimError(msg, claim="cluster")
        exp, iat = claims.get("exp"), claims.get("iat")
        return cls(
            root=root,
            publish=_paths(claims.get("put"), "put"),
            subscribe=_paths(claims.get("get"), "get"),
            cluster=cluster,
            expires=int(exp)
            if isinstance(exp, int | float) and not isinstance(exp, bool)
            else None,
            issued=int(iat) if isinstance(iat, int | float) and not isinstance(iat, bool) else None,
        )
