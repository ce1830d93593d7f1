"""Orgs (platform operator), tenants and resources (an org's ``keys:admin``), and whoami.

``orgs.*`` need the ``platform:admin`` scope, which belongs to a key, not to an
org: the key the first run prints holds it. Everything else acts within the
calling key's own org; naming another org is refused and recorded in that
org's audit log.
"""

from __future__ import annotations

from relaypass.api import tenancy as api
from relaypass.errors import InvalidRequestError
from relaypass.server.procedures._context import Call, Handlers, Services
from relaypass.server.scopes import ORG_SCOPES, Scope

__all__ = ["handlers"]

handlers = Handlers()


@handlers.handles(api.AUTH_WHOAMI)
def whoami(s: Services, call: Call, _: api.NoInput) -> api.WhoAmI:
    """The org, key id and scopes of the calling API key, and the org's namespaces."""
    who = call.who
    org = s.store.get_org(who.org_id)
    return api.WhoAmI(
        org_id=who.org_id,
        org_name=org["name"],
        key_id=who.id,
        scopes=list(who.scopes),
        namespaces=org["namespaces"],
    )


@handlers.handles(api.ORGS_CREATE)
def orgs_create(s: Services, call: Call, body: api.OrgCreate) -> api.OrgCreated:
    """A new org and its first admin API key (shown once)."""
    who = call.who
    org, record, secret = s.store.create_org_with_admin_key(
        body.name,
        namespaces=body.namespaces,
        scopes=list(ORG_SCOPES),
        actor=who.id,
        caller_org=who.org_id,
        idempotency_key=call.idempotency_key,
    )
    return api.OrgCreated(
        published=s.published(),
        org_id=org["id"],
        name=org["name"],
        namespaces=list(org["namespaces"]),
        admin_key=api.AdminKey(id=record.id, key=secret, scopes=list(record.scopes)),
    )


@handlers.handles(api.ORGS_LIST)
def orgs_list(s: Services, _call: Call, _: api.NoInput) -> api.OrgList:
    """Every org on the platform."""
    return api.OrgList.model_validate({"orgs": s.store.list_orgs()})


@handlers.handles(api.ORGS_DISABLE)
def orgs_disable(s: Services, call: Call, body: api.OrgId) -> api.OrgDisabled:
    """Refuse the org's keys and tokens, and cut its live sessions on every gate."""
    if body.org_id == call.who.org_id:
        msg = "a key cannot disable its own org"
        raise InvalidRequestError(msg)
    s.store.disable_org(body.org_id, actor=call.who.id)
    s.store.forget_org_keys(body.org_id)
    return api.OrgDisabled(disabled=body.org_id, published=s.published())


_LIMITS = ("max_sessions", "connects_per_second", "mints_per_minute", "session_minutes_per_month")


@handlers.handles(api.ORGS_SET_LIMITS)
def orgs_set_limits(s: Services, call: Call, body: api.OrgLimitsInput) -> api.OrgLimits:
    """Quotas gate admission: what is live stays; the next connect or mint is refused."""
    limits = s.store.set_org_limits(
        body.org_id, {f: getattr(body, f) for f in _LIMITS}, actor=call.who.id
    )
    if s.usage is not None:
        s.usage.refresh_limits()
    return api.OrgLimits.model_validate(
        {"org_id": body.org_id, **limits, "published": s.published()}
    )


@handlers.handles(api.ORGS_LIMITS)
def orgs_limits(s: Services, call: Call, body: api.OwnOrg) -> api.OrgLimits:
    if Scope.PLATFORM_ADMIN not in call.who.scopes:
        s.same_org(call.who, body.org_id)
    return api.OrgLimits.model_validate({"org_id": body.org_id, **s.store.org_limits(body.org_id)})


@handlers.handles(api.TENANTS_CREATE)
def tenants_create(s: Services, call: Call, body: api.TenantCreate) -> api.TenantCreated:
    s.same_org(call.who, body.org_id)
    s.store.create_tenant(
        body.org_id,
        body.tenant_id,
        body.label,
        actor=call.who.id,
        idempotency_key=call.idempotency_key,
    )
    return api.TenantCreated(tenant_id=body.tenant_id, label=body.label or body.tenant_id)


@handlers.handles(api.TENANTS_LIST)
def tenants_list(s: Services, call: Call, body: api.OwnOrg) -> api.TenantList:
    s.same_org(call.who, body.org_id)
    return api.TenantList.model_validate({"tenants": s.store.list_tenants(body.org_id)})


@handlers.handles(api.TENANTS_DISABLE)
def tenants_disable(s: Services, call: Call, body: api.TenantRef) -> api.TenantDisabled:
    """Refuse the tenant's mints and service accounts; cut its live sessions."""
    s.same_org(call.who, body.org_id)
    s.store.disable_tenant(body.org_id, body.tenant_id, actor=call.who.id)
    return api.TenantDisabled(disabled=body.tenant_id, published=s.published())


@handlers.handles(api.RESOURCES_ASSIGN)
def resources_assign(s: Services, call: Call, body: api.ResourceRef) -> api.ResourceAssigned:
    """Record a tenant's ownership of a trunk, call or event stream (TeleQuick)."""
    s.same_org(call.who, body.org_id)
    s.store.assign_resource(
        body.org_id, body.kind, body.resource_id, body.tenant, actor=call.who.id
    )
    return api.ResourceAssigned(
        kind=body.kind, resource_id=body.resource_id, tenant=body.tenant, published=s.published()
    )


@handlers.handles(api.RESOURCES_RELEASE)
def resources_release(s: Services, call: Call, body: api.ResourceRef) -> api.ResourceReleased:
    """Forget a resource the tenant owns."""
    s.same_org(call.who, body.org_id)
    s.store.release_resource(
        body.org_id, body.kind, body.resource_id, body.tenant, actor=call.who.id
    )
    return api.ResourceReleased(released=body.resource_id, published=s.published())
