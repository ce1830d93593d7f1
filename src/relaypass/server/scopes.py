"""Capability scopes an API key may hold."""

from __future__ import annotations

from typing import Final

__all__ = ["ALL_SCOPES", "ORG_SCOPES", "Scope"]


class Scope:
    """Capability scopes an API key may hold.

    ``platform:admin`` is the platform operator's: it creates, lists and
    disables orgs, and nothing else. An org's own keys hold the other three.
    """

    KEYS_ADMIN = "keys:admin"
    TOKENS_MINT = "tokens:mint"
    AUDIT_READ = "audit:read"
    PLATFORM_ADMIN = "platform:admin"


ORG_SCOPES: Final = (Scope.KEYS_ADMIN, Scope.TOKENS_MINT, Scope.AUDIT_READ)
ALL_SCOPES: Final = (*ORG_SCOPES, Scope.PLATFORM_ADMIN)
