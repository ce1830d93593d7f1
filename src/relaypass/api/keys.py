"""API keys (``streams.apiKeys.*``) and signing keys (``streams.signingKeys.*``)."""

from __future__ import annotations

from typing import Final

from pydantic import Field

from relaypass.api._base import OWN_ORG, Input, Output, Procedure
from relaypass.errors import ErrorCode

__all__ = [
    "API_KEYS_CREATE",
    "API_KEYS_LIST",
    "API_KEYS_REROLL",
    "API_KEYS_REVOKE",
    "SIGNING_KEYS_CREATE",
    "SIGNING_KEYS_LIST",
    "SIGNING_KEYS_RETIRE",
    "SIGNING_KEYS_REVOKE",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyInfo",
    "ApiKeyList",
    "ApiKeyRef",
    "ApiKeyReroll",
    "ApiKeyRerolled",
    "ApiKeyRevoked",
    "OrgRef",
    "SigningKeyCreate",
    "SigningKeyCreated",
    "SigningKeyInfo",
    "SigningKeyList",
    "SigningKeyRef",
    "SigningKeyRetired",
    "SigningKeyRevoked",
]

_ALGORITHMS: Final = "^(EdDSA|ES256|ES384|RS256|PS256)$"


class OrgRef(Input):
    """An org."""

    org_id: str = OWN_ORG


class ApiKeyCreate(Input):
    """``streams.apiKeys.create({ orgId, label, scopes })``."""

    org_id: str = OWN_ORG
    label: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(max_length=16)
    environment: str = Field(default="live", pattern="^(live|test)$")
    expires_at_ms: int | None = Field(default=None, ge=0)


class ApiKeyCreated(Output):
    """The new key; ``key`` is shown in this answer only."""

    id: str
    key: str
    scopes: list[str]
    label: str
    published: bool | None = Field(description="Whether the gates learnt it (null: no Redis).")


class ApiKeyRef(Input):
    """A key of an org."""

    org_id: str = OWN_ORG
    id: str = Field(max_length=64)


class ApiKeyReroll(ApiKeyRef):
    """Reroll with a grace period during which the old key still works."""

    grace_seconds: int = Field(default=0, ge=0, le=604_800)


class ApiKeyInfo(Output):
    """A key as listed: never the key itself."""

    id: str
    label: str
    environment: str
    display: str
    scopes: list[str]
    created_at_ms: int
    expires_at_ms: int | None
    revoked_at_ms: int | None
    last_used_at_ms: int | None


class ApiKeyList(Output):
    """The org's API keys."""

    keys: list[ApiKeyInfo]


class ApiKeyRevoked(Output):
    """A revoked key."""

    revoked: str
    published: bool | None


class ApiKeyRerolled(Output):
    """The replacement key (shown once) and the one it replaces."""

    id: str
    key: str
    replaces: str
    grace_seconds: int


class SigningKeyCreate(Input):
    """``streams.signingKeys.create({ orgId, label })``."""

    org_id: str = OWN_ORG
    label: str = Field(min_length=1, max_length=200)
    algorithm: str | None = Field(default=None, pattern=_ALGORITHMS)
    alg: str | None = Field(
        default=None, pattern=_ALGORITHMS, description="Older name of `algorithm`."
    )


class SigningKeyCreated(Output):
    """A new key: pending until the gates have had time to learn it."""

    id: str
    state: str
    algorithm: str
    profiles: list[str]
    signs_after_seconds: int
    published: bool | None


class SigningKeyRef(Input):
    """``streams.signingKeys.retire({ id })`` (``id`` is the kid)."""

    org_id: str = OWN_ORG
    id: str = Field(max_length=128)


class SigningKeyInfo(Output):
    """A signing key as listed (public facts only)."""

    id: str
    kid: str
    alg: str
    profiles: list[str]
    label: str
    state: str
    created_at_ms: int
    active_at_ms: int | None
    retired_at_ms: int | None
    revoked_at_ms: int | None


class SigningKeyList(Output):
    """The org's signing keys."""

    keys: list[SigningKeyInfo]


class SigningKeyRetired(Output):
    """A retired key."""

    retired: str
    published: bool | None


class SigningKeyRevoked(Output):
    """A revoked key."""

    revoked: str
    published: bool | None


_NO_KEY: Final = (ErrorCode.INVALID_REQUEST,)

API_KEYS_CREATE: Final = Procedure(
    "streams.apiKeys.create", "mutation", "keys:admin", ApiKeyCreate, ApiKeyCreated,
    "Create an API key; the key string is in this answer only.",
    idempotent=True,
    examples={"orgId": "org_1", "label": "backend", "scopes": ["tokens:mint"]},
)  # fmt: skip
API_KEYS_LIST: Final = Procedure(
    "streams.apiKeys.list", "query", "keys:admin", OrgRef, ApiKeyList,
    "The org's API keys, without their secrets.",
    examples={"orgId": "org_1"},
)  # fmt: skip
API_KEYS_REVOKE: Final = Procedure(
    "streams.apiKeys.revoke", "mutation", "keys:admin", ApiKeyRef, ApiKeyRevoked,
    "Revoke a key now; gates cut the room sessions its tokens opened.",
    errors=_NO_KEY, examples={"orgId": "org_1", "id": "key_1"},
    owns={"id": "api_key"},
)  # fmt: skip
API_KEYS_REROLL: Final = Procedure(
    "streams.apiKeys.reroll", "mutation", "keys:admin", ApiKeyReroll, ApiKeyRerolled,
    "Replace a key; the old one keeps working for graceSeconds.",
    errors=_NO_KEY, examples={"orgId": "org_1", "id": "key_1", "graceSeconds": 3600},
    owns={"id": "api_key"},
)  # fmt: skip
SIGNING_KEYS_CREATE: Final = Procedure(
    "streams.signingKeys.create", "mutation", "keys:admin", SigningKeyCreate, SigningKeyCreated,
    "Generate a signing key; it signs once the gates have had time to learn it.",
    errors=(ErrorCode.QUOTA_EXCEEDED,), idempotent=True,
    examples={"orgId": "org_1", "label": "2026-q4", "algorithm": "EdDSA"},
)  # fmt: skip
SIGNING_KEYS_LIST: Final = Procedure(
    "streams.signingKeys.list", "query", "keys:admin", OrgRef, SigningKeyList,
    "The org's signing keys and their states.",
    examples={"orgId": "org_1"},
)  # fmt: skip
SIGNING_KEYS_RETIRE: Final = Procedure(
    "streams.signingKeys.retire", "mutation", "keys:admin", SigningKeyRef, SigningKeyRetired,
    "Stop signing with a key; tokens it signed verify until they expire.",
    errors=_NO_KEY, examples={"orgId": "org_1", "id": "k1"},
    owns={"id": "signing_key"},
)  # fmt: skip
SIGNING_KEYS_REVOKE: Final = Procedure(
    "streams.signingKeys.revoke", "mutation", "keys:admin", SigningKeyRef, SigningKeyRevoked,
    "Distrust a key now; gates cut the sessions its tokens opened.",
    errors=_NO_KEY, examples={"orgId": "org_1", "id": "k1"},
    owns={"id": "signing_key"},
)  # fmt: skip
