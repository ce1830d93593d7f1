"""Orgs (platform operator), tenants and resources (an org's ``keys:admin``).

``orgs.*`` need the ``platform:admin`` scope, which belongs to a key, not to an
org: the key the first run prints holds it. Everything else acts within the
calling key's own org; naming another org is refused and recorded in that
org's audit log.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from relaypass.errors import InvalidRequestError
from relaypass.server.db.store import ApiKeyRecord, Store

__all__ = ["TenancyContext", "add_tenancy_procedures"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgCreate(_Body):
    """``orgs.create({ name, namespaces? })``."""

    name: str = Field(min_length=1, max_length=200)
    namespaces: list[str] | None = Field(default=None, min_length=1, max_length=16)


class OrgId(_Body):
    """An org."""

    orgId: str = Field(max_length=64)  # noqa: N815 - the wire name


class TenantCreate(_Body):
    """``tenants.create({ orgId, tenantId, label? })``."""

    orgId: str = Field(max_length=64)  # noqa: N815
    tenantId: str = Field(min_length=1, max_length=256)  # noqa: N815
    label: str = Field(default="", max_length=200)


class TenantRef(_Body):
    """A tenant of an org."""

    orgId: str = Field(max_length=64)  # noqa: N815
    tenantId: str = Field(min_length=1, max_length=256)  # noqa: N815


class ResourceRef(_Body):
    """A trunk, call or event stream of a tenant."""

    orgId: str = Field(max_length=64)  # noqa: N815
    kind: str = Field(pattern="^(trunk|call|event_stream)$")
    resourceId: str = Field(min_length=1, max_length=256)  # noqa: N815
    tenant: str = Field(min_length=1, max_length=256)


@dataclass(frozen=True, slots=True)
class TenancyContext:
    """What the procedures need from the app."""

    store: Store
    published: Callable[[], bool | None]
    platform: Callable[..., Any]
    admin: Callable[..., Any]
    same_org: Callable[[ApiKeyRecord, str, str], None]
    org_scopes: tuple[str, ...]


def add_tenancy_procedures(app: FastAPI, ctx: TenancyContext) -> None:
    """Declare the org, tenant and resource procedures on ``app``."""
    store = ctx.store
    platform = Annotated[ApiKeyRecord, Depends(ctx.platform)]
    admin = Annotated[ApiKeyRecord, Depends(ctx.admin)]

    @app.post("/rpc/orgs.create")
    def orgs_create(body: OrgCreate, who: platform) -> dict[str, Any]:
        """A new org and its first admin API key (shown once)."""
        org = store.create_org(body.name, namespaces=body.namespaces, actor=who.id)
        record, secret = store.create_api_key(
            org.id, "org admin", list(ctx.org_scopes), actor=who.id
        )
        return {
            "published": ctx.published(),
            "orgId": org.id,
            "name": org.name,
            "namespaces": list(org.namespaces),
            "adminKey": {"id": record.id, "key": secret, "scopes": list(record.scopes)},
        }

    @app.post("/rpc/orgs.list")
    def orgs_list(_: platform) -> dict[str, Any]:
        """Every org on the platform."""
        return {"orgs": store.list_orgs()}

    @app.post("/rpc/orgs.disable")
    def orgs_disable(body: OrgId, who: platform) -> dict[str, Any]:
        """Refuse the org's keys and tokens, and cut its live sessions on every gate."""
        if body.orgId == who.org_id:
            msg = "a key cannot disable its own org"
            raise InvalidRequestError(msg)
        store.disable_org(body.orgId, actor=who.id)
        store.forget_org_keys(body.orgId)
        return {"disabled": body.orgId, "published": ctx.published()}

    @app.post("/rpc/tenants.create")
    def tenants_create(body: TenantCreate, who: admin) -> dict[str, Any]:
        ctx.same_org(who, body.orgId, "tenants.create")
        store.create_tenant(body.orgId, body.tenantId, body.label, actor=who.id)
        return {"tenantId": body.tenantId, "label": body.label or body.tenantId}

    @app.post("/rpc/tenants.list")
    def tenants_list(body: OrgId, who: admin) -> dict[str, Any]:
        ctx.same_org(who, body.orgId, "tenants.list")
        return {"tenants": store.list_tenants(body.orgId)}

    @app.post("/rpc/tenants.disable")
    def tenants_disable(body: TenantRef, who: admin) -> dict[str, Any]:
        """Refuse the tenant's mints and service accounts; cut its live sessions."""
        ctx.same_org(who, body.orgId, "tenants.disable")
        store.disable_tenant(body.orgId, body.tenantId, actor=who.id)
        return {"disabled": body.tenantId, "published": ctx.published()}

    @app.post("/rpc/tenants.resources.assign")
    def resources_assign(body: ResourceRef, who: admin) -> dict[str, Any]:
        """Record a tenant's ownership of a trunk, call or event stream (seed 001)."""
        ctx.same_org(who, body.orgId, "tenants.resources.assign")
        store.assign_resource(body.orgId, body.kind, body.resourceId, body.tenant, actor=who.id)
        return {
            "kind": body.kind,
            "resourceId": body.resourceId,
            "tenant": body.tenant,
            "published": ctx.published(),
        }

    @app.post("/rpc/tenants.resources.release")
    def resources_release(body: ResourceRef, who: admin) -> dict[str, Any]:
        """Forget a resource the tenant owns."""
        ctx.same_org(who, body.orgId, "tenants.resources.release")
        store.release_resource(body.orgId, body.kind, body.resourceId, body.tenant, actor=who.id)
        return {"released": body.resourceId, "published": ctx.published()}
