"""ClutchCall's service accounts: ``PublishServiceAccount``, ``RevokeServiceAccount``, and more.

ClutchCall's API fixes these names and their snake_case fields. Each accepts either a
tenant's admin service-account JWT in ``admin_token`` or a ``keys:admin`` API
key as bearer.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from relaypass.api._base import OWN_ORG, Input, Output, Procedure, SnakeCaseInput, SnakeCaseOutput
from relaypass.errors import ErrorCode

__all__ = [
    "PUBLISH_SERVICE_ACCOUNT",
    "REVOKE_SERVICE_ACCOUNT",
    "SERVICE_ACCOUNTS_LIST",
    "SESSION_AUTH",
    "Empty",
    "PublishServiceAccountRequest",
    "RevokeServiceAccountRequest",
    "ServiceAccountInfo",
    "ServiceAccountList",
    "ServiceAccountQuery",
    "SessionAuthRequest",
    "SessionAuthResponse",
]

_ADMIN_TOKEN = Field(
    default="", max_length=8192, description="A tenant admin's RS256 JWT; or send a bearer API key."
)


class PublishServiceAccountRequest(SnakeCaseInput):
    """ClutchCall's ``PublishServiceAccount``, field for field."""

    admin_token: str = _ADMIN_TOKEN
    tenant_id: str = Field(max_length=256)
    private_key_id: str = Field(max_length=128)
    public_key_pem: str = Field(max_length=4096)
    role: str = Field(pattern="^(sdk|admin)$")
    expires_at_ms: int = Field(default=0, ge=0)


class RevokeServiceAccountRequest(SnakeCaseInput):
    """ClutchCall's ``RevokeServiceAccount``."""

    admin_token: str = _ADMIN_TOKEN
    tenant_id: str = Field(max_length=256)
    private_key_id: str = Field(max_length=128)


class Empty(SnakeCaseOutput):
    """ClutchCall's empty answer."""


class SessionAuthRequest(SnakeCaseInput):
    """ClutchCall's ``SessionAuthRequest`` (``origin`` defaults to the request's Origin header)."""

    admin_token: str = _ADMIN_TOKEN
    tenant_id: str = Field(max_length=256)
    subject: str = Field(max_length=256)
    ttl_seconds: int
    scope: str = Field(max_length=2048)
    origin: str | None = Field(default=None, max_length=256)


class SessionAuthResponse(SnakeCaseOutput):
    """ClutchCall's ``SessionAuthResponse``: a token, or an ``error_message``."""

    token: str
    expires_at_ms: int
    error_message: str


class ServiceAccountQuery(Input):
    """The org's service accounts, or one tenant's."""

    org_id: str = OWN_ORG
    tenant_id: str | None = Field(default=None, max_length=256)


class ServiceAccountInfo(Output):
    """A registered public key (never the key material)."""

    tenant_id: str
    private_key_id: str
    role: str
    expires_at_ms: int
    created_at_ms: int


class ServiceAccountList(Output):
    """Registered service-account keys."""

    service_accounts: list[ServiceAccountInfo]


_SA_ERRORS: Final = (ErrorCode.INVALID_KEY,)

PUBLISH_SERVICE_ACCOUNT: Final = Procedure(
    "PublishServiceAccount", "mutation", "keys:admin",
    PublishServiceAccountRequest, Empty,
    "Register a tenant's RSA public key; several may coexist during a rotation.",
    errors=_SA_ERRORS, admin_token=True,
    examples={"tenant_id": "acme", "private_key_id": "sa-1",
              "public_key_pem": "-----BEGIN PUBLIC KEY-----\n...", "role": "sdk"},
)  # fmt: skip
REVOKE_SERVICE_ACCOUNT: Final = Procedure(
    "RevokeServiceAccount", "mutation", "keys:admin",
    RevokeServiceAccountRequest, Empty,
    "Stop accepting a service-account key; gates cut the sessions it opened.",
    admin_token=True, examples={"tenant_id": "acme", "private_key_id": "sa-1"},
)  # fmt: skip
SESSION_AUTH: Final = Procedure(
    "SessionAuth", "mutation", "keys:admin",
    SessionAuthRequest, SessionAuthResponse,
    "A browser-scoped token (TTL capped at 300 s), pinned to an origin.",
    errors=(ErrorCode.INVALID_KEY,), admin_token=True,
    examples={"tenant_id": "acme", "subject": "user-7", "ttl_seconds": 300,
              "scope": "call:listen", "origin": "https://app.example"},
)  # fmt: skip
SERVICE_ACCOUNTS_LIST: Final = Procedure(
    "serviceAccounts.list", "query", "keys:admin", ServiceAccountQuery, ServiceAccountList,
    "The org's registered service-account keys.",
    examples={"orgId": "org_1", "tenantId": "acme"},
)  # fmt: skip
