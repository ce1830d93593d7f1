"""Orgs (the platform operator's), tenants and resources (an org's ``keys:admin``), and who am I."""

from __future__ import annotations

from typing import Final

from pydantic import Field

from relaypass.api._base import OWN_ORG, Input, Output, Procedure

__all__ = [
    "AUTH_WHOAMI",
    "ORGS_CREATE",
    "ORGS_DISABLE",
    "ORGS_LIMITS",
    "ORGS_LIST",
    "ORGS_SET_LIMITS",
    "RESOURCES_ASSIGN",
    "RESOURCES_RELEASE",
    "TENANTS_CREATE",
    "TENANTS_DISABLE",
    "TENANTS_LIST",
    "AdminKey",
    "NoInput",
    "OrgCreate",
    "OrgCreated",
    "OrgDisabled",
    "OrgId",
    "OrgInfo",
    "OrgLimits",
    "OrgLimitsInput",
    "OrgList",
    "OwnOrg",
    "ResourceAssigned",
    "ResourceRef",
    "ResourceReleased",
    "TenantCreate",
    "TenantCreated",
    "TenantDisabled",
    "TenantInfo",
    "TenantList",
    "TenantRef",
    "WhoAmI",
]


class NoInput(Input):
    """No input (an empty object, or nothing)."""


class WhoAmI(Output):
    """The calling key: its org (id and name), id and scopes, and the org's namespaces."""

    org_id: str
    org_name: str
    key_id: str
    scopes: list[str]
    namespaces: list[str]


class OrgCreate(Input):
    """``orgs.create({ name, namespaces? })``."""

    name: str = Field(min_length=1, max_length=200)
    namespaces: list[str] | None = Field(default=None, min_length=1, max_length=16)


class AdminKey(Output):
    """An API key shown once."""

    id: str
    key: str
    scopes: list[str]


class OrgCreated(Output):
    """The new org and its first admin key."""

    org_id: str
    name: str
    namespaces: list[str]
    admin_key: AdminKey
    published: bool | None


class OrgInfo(Output):
    """An org's public facts."""

    id: str
    name: str
    namespaces: list[str]
    created_at_ms: int
    disabled_at_ms: int | None


class OrgList(Output):
    """Every org."""

    orgs: list[OrgInfo]


class OrgId(Input):
    """An org, named (the platform operator's procedures)."""

    org_id: str = Field(max_length=64)


class OwnOrg(Input):
    """The calling key's org, or one it names."""

    org_id: str = OWN_ORG


class OrgDisabled(Output):
    """A disabled org."""

    disabled: str
    published: bool | None


class TenantCreate(Input):
    """``tenants.create({ orgId, tenantId, label? })``."""

    org_id: str = OWN_ORG
    tenant_id: str = Field(min_length=1, max_length=256)
    label: str = Field(default="", max_length=200)


class TenantCreated(Output):
    """A new tenant."""

    tenant_id: str
    label: str


class TenantRef(Input):
    """A tenant of an org."""

    org_id: str = OWN_ORG
    tenant_id: str = Field(min_length=1, max_length=256)


class TenantInfo(Output):
    """A tenant."""

    id: str
    label: str
    created_at_ms: int
    disabled_at_ms: int | None


class TenantList(Output):
    """The org's tenants."""

    tenants: list[TenantInfo]


class TenantDisabled(Output):
    """A disabled tenant."""

    disabled: str
    published: bool | None


class ResourceRef(Input):
    """A trunk, call or event stream of a tenant."""

    org_id: str = OWN_ORG
    kind: str = Field(pattern="^(trunk|call|event_stream)$")
    resource_id: str = Field(min_length=1, max_length=256)
    tenant: str = Field(min_length=1, max_length=256)


class ResourceAssigned(Output):
    """A resource now owned by a tenant."""

    kind: str
    resource_id: str
    tenant: str
    published: bool | None


class ResourceReleased(Output):
    """A resource no longer owned."""

    released: str
    published: bool | None


class OrgLimitsInput(Input):
    """An org's quotas; a quota left out or null is no limit."""

    org_id: str = Field(min_length=1, max_length=64)
    max_sessions: int | None = Field(
        default=None, ge=0, le=10_000_000, description="Concurrent sessions on every gate."
    )
    connects_per_second: int | None = Field(default=None, ge=0, le=1_000_000)
    mints_per_minute: int | None = Field(default=None, ge=0, le=10_000_000)
    session_minutes_per_month: int | None = Field(
        default=None, ge=0, le=10**12, description="Session time this calendar month (UTC)."
    )


class OrgLimits(Output):
    """An org's quotas (null: no limit)."""

    org_id: str
    max_sessions: int | None
    connects_per_second: int | None
    mints_per_minute: int | None
    session_minutes_per_month: int | None
    published: bool | None = None


_PLATFORM: Final = "platform:admin"
_ADMIN: Final = "keys:admin"

AUTH_WHOAMI: Final = Procedure(
    "auth.whoami", "query", None, NoInput, WhoAmI,
    "The org, key id and scopes of the calling API key, and the org's namespaces.",
)  # fmt: skip
ORGS_CREATE: Final = Procedure(
    "orgs.create", "mutation", _PLATFORM, OrgCreate, OrgCreated,
    "A new org and its first admin API key (shown once).",
    idempotent=True,
    examples={"name": "Beta Corp", "namespaces": ["bcorp"]},
)  # fmt: skip
ORGS_LIST: Final = Procedure(
    "orgs.list", "query", _PLATFORM, NoInput, OrgList, "Every org on the platform."
)  # fmt: skip
ORGS_DISABLE: Final = Procedure(
    "orgs.disable", "mutation", _PLATFORM, OrgId, OrgDisabled,
    "Refuse the org's keys and tokens, and cut its live sessions on every gate.",
    examples={"orgId": "org_2"},
)  # fmt: skip
ORGS_SET_LIMITS: Final = Procedure(
    "orgs.setLimits", "mutation", _PLATFORM, OrgLimitsInput, OrgLimits,
    "Set an org's quotas: concurrent sessions, connects per second, mints per minute, session"
    " minutes per month. Enforced at connect by every gate and at mint; live sessions stay.",
    examples={"orgId": "org_2", "maxSessions": 100, "connectsPerSecond": 20},
)  # fmt: skip
ORGS_LIMITS: Final = Procedure(
    "orgs.limits", "query", "audit:read", OwnOrg, OrgLimits,
    "An org's quotas (its own keys, or the platform operator's).", examples={},
)  # fmt: skip
TENANTS_CREATE: Final = Procedure(
    "tenants.create", "mutation", _ADMIN, TenantCreate, TenantCreated,
    "A tenant of the org (ids are unique within an org).",
    idempotent=True,
    examples={"orgId": "org_1", "tenantId": "acme", "label": "Acme"},
)  # fmt: skip
TENANTS_LIST: Final = Procedure(
    "tenants.list", "query", _ADMIN, OwnOrg, TenantList, "The org's tenants.",
    examples={"orgId": "org_1"},
)  # fmt: skip
TENANTS_DISABLE: Final = Procedure(
    "tenants.disable", "mutation", _ADMIN, TenantRef, TenantDisabled,
    "Refuse the tenant's mints and service accounts; cut its live sessions.",
    examples={"orgId": "org_1", "tenantId": "acme"},
)  # fmt: skip
RESOURCES_ASSIGN: Final = Procedure(
    "tenants.resources.assign", "mutation", _ADMIN, ResourceRef, ResourceAssigned,
    "Record a tenant's ownership of a trunk, call or event stream (TeleQuick).",
    examples={"orgId": "org_1", "kind": "trunk", "resourceId": "TK1", "tenant": "acme"},
)  # fmt: skip
RESOURCES_RELEASE: Final = Procedure(
    "tenants.resources.release", "mutation", _ADMIN, ResourceRef, ResourceReleased,
    "Forget a resource the tenant owns.",
    examples={"orgId": "org_1", "kind": "trunk", "resourceId": "TK1", "tenant": "acme"},
)  # fmt: skip
