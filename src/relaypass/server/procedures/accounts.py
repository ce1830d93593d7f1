"""Service accounts (ClutchCall): publish, revoke, list, and ``SessionAuth``."""

from __future__ import annotations

from relaypass.api import accounts as api
from relaypass.errors import InvalidApiKeyError, InvalidPermissionsError
from relaypass.profiles.session import SessionMinter
from relaypass.server.current import PROCEDURE
from relaypass.server.procedures._context import Call, Handlers, Services

__all__ = ["handlers"]

handlers = Handlers()


def _service_admin(s: Services, call: Call, admin_token: str, tenant_id: str) -> tuple[str, str]:
    """The org and actor: an admin service account of this tenant, or a keys:admin key.

    Either way the tenant must belong to that org; a service-account admin JWT acts
    only within its own tenant.
    """
    store = s.store
    if admin_token:
        org_id, identity = store.verify_service_account(admin_token)
        actor = f"sa:{identity.tenant_id}/{identity.private_key_id}"
        if identity.role != "admin" or identity.tenant_id != tenant_id:
            if identity.tenant_id != tenant_id:
                store.record_denied_on_tenant(tenant_id, org_id, actor, PROCEDURE.get())
            msg = "admin_token is not an admin of this tenant"
            raise InvalidPermissionsError(msg)
        return org_id, actor
    record = call.key
    if record is None:
        msg = "missing admin_token or bearer API key"
        raise InvalidApiKeyError(msg)
    try:
        store.require_tenant(record.org_id, tenant_id)
    except InvalidPermissionsError:
        store.record_denied_on_tenant(tenant_id, record.org_id, record.id, PROCEDURE.get())
        raise
    return record.org_id, record.id


@handlers.handles(api.PUBLISH_SERVICE_ACCOUNT)
def publish_service_account(
    s: Services, call: Call, body: api.PublishServiceAccountRequest
) -> api.Empty:
    """Register a tenant's public key; several may coexist during a rotation."""
    org_id, actor = _service_admin(s, call, body.admin_token, body.tenant_id)
    s.store.publish_service_account(
        org_id,
        body.tenant_id,
        body.private_key_id,
        body.public_key_pem,
        role=body.role,
        expires_at_ms=body.expires_at_ms,
        actor=actor,
    )
    s.published()  # gates learn the key (ClutchCall's answer stays empty)
    return api.Empty()


@handlers.handles(api.REVOKE_SERVICE_ACCOUNT)
def revoke_service_account(
    s: Services, call: Call, body: api.RevokeServiceAccountRequest
) -> api.Empty:
    """Stop accepting the kid; gates cut live sessions authenticated with it."""
    org_id, actor = _service_admin(s, call, body.admin_token, body.tenant_id)
    s.store.revoke_service_account(org_id, body.tenant_id, body.private_key_id, actor=actor)
    s.published()
    return api.Empty()


@handlers.handles(api.SESSION_AUTH)
def session_auth(s: Services, call: Call, body: api.SessionAuthRequest) -> api.SessionAuthResponse:
    """A browser-scoped token (TTL hard-capped at 300 s), pinned to an origin."""
    org_id, actor = _service_admin(s, call, body.admin_token, body.tenant_id)
    signer = SessionMinter(
        s.store.active_signing_key(org_id, "session"),
        issuer=s.settings.token_issuer,
        clock=s.store.clock,
    )
    response = signer.session_auth(
        tenant_id=body.tenant_id,
        subject=body.subject,
        ttl_seconds=body.ttl_seconds,
        scope=body.scope,
        origin=body.origin or call.origin or "",
    )
    if response.token:
        s.store.record(
            org_id,
            actor,
            "token.mint",
            "session",
            {
                "tenant": body.tenant_id,
                "scope": body.scope,
                "expires_at_ms": response.expires_at_ms,
            },
        )
    return api.SessionAuthResponse(
        token=response.token,
        expires_at_ms=response.expires_at_ms,
        error_message=response.error_message,
    )


@handlers.handles(api.SERVICE_ACCOUNTS_LIST)
def service_accounts_list(
    s: Services, call: Call, body: api.ServiceAccountQuery
) -> api.ServiceAccountList:
    """The org's registered service-account keys."""
    s.same_org(call.who, body.org_id)
    rows = s.store.list_service_accounts(body.org_id, body.tenant_id)
    return api.ServiceAccountList.model_validate({"serviceAccounts": rows})
