"""API keys and signing keys of an org (``keys:admin``)."""

from __future__ import annotations

from relaypass._alg import Algorithm
from relaypass.api import keys as api
from relaypass.errors import InvalidPermissionsError, InvalidRequestError
from relaypass.profiles.algorithms import profiles_for
from relaypass.server.procedures._context import Call, Handlers, Services
from relaypass.server.scopes import ALL_SCOPES

__all__ = ["handlers"]

handlers = Handlers()


@handlers.handles(api.API_KEYS_CREATE)
def api_keys_create(s: Services, call: Call, body: api.ApiKeyCreate) -> api.ApiKeyCreated:
    who = call.who
    s.same_org(who, body.org_id)
    unknown = set(body.scopes) - set(ALL_SCOPES)
    if unknown:
        msg = f"unknown scopes: {', '.join(sorted(unknown))}; valid: {', '.join(ALL_SCOPES)}"
        raise InvalidRequestError(msg)
    if not set(body.scopes) <= set(who.scopes):
        msg = "a key can only grant scopes it holds itself"
        raise InvalidPermissionsError(msg)
    record, secret = s.store.create_api_key(
        body.org_id,
        body.label,
        body.scopes,
        actor=who.id,
        environment=body.environment,
        expires_at_ms=body.expires_at_ms,
        idempotency_key=call.idempotency_key,
    )
    return api.ApiKeyCreated(
        id=record.id,
        key=secret,
        scopes=list(record.scopes),
        label=record.label,
        published=s.published(),  # a minting key joins the gates' issuer registry
    )


@handlers.handles(api.API_KEYS_LIST)
def api_keys_list(s: Services, call: Call, body: api.OrgRef) -> api.ApiKeyList:
    s.same_org(call.who, body.org_id)
    return api.ApiKeyList.model_validate(
        {"keys": s.store.list_api_keys(body.org_id, holding=call.who.scopes)}
    )


@handlers.handles(api.API_KEYS_REVOKE)
def api_keys_revoke(s: Services, call: Call, body: api.ApiKeyRef) -> api.ApiKeyRevoked:
    s.same_org(call.who, body.org_id)
    s.store.revoke_api_key(body.org_id, body.id, holding=call.who.scopes, actor=call.who.id)
    return api.ApiKeyRevoked(revoked=body.id, published=s.published())


@handlers.handles(api.API_KEYS_REROLL)
def api_keys_reroll(s: Services, call: Call, body: api.ApiKeyReroll) -> api.ApiKeyRerolled:
    s.same_org(call.who, body.org_id)
    record, secret = s.store.reroll_api_key(
        body.org_id,
        body.id,
        holding=call.who.scopes,
        grace_seconds=body.grace_seconds,
        actor=call.who.id,
    )
    s.published()
    return api.ApiKeyRerolled(
        id=record.id, key=secret, replaces=body.id, grace_seconds=body.grace_seconds
    )


@handlers.handles(api.SIGNING_KEYS_CREATE)
def signing_keys_create(
    s: Services, call: Call, body: api.SigningKeyCreate
) -> api.SigningKeyCreated:
    s.same_org(call.who, body.org_id)
    algorithm = Algorithm(body.algorithm or body.alg or "EdDSA")
    created = s.store.create_signing_key(
        body.org_id,
        body.label,
        alg=algorithm,
        actor=call.who.id,
        idempotency_key=call.idempotency_key,
    )
    return api.SigningKeyCreated(
        id=created["kid"],
        state="pending",
        algorithm=algorithm.value,
        profiles=profiles_for(algorithm),
        signs_after_seconds=s.settings.key_propagation_seconds,
        published=s.published(),
    )


@handlers.handles(api.SIGNING_KEYS_LIST)
def signing_keys_list(s: Services, call: Call, body: api.OrgRef) -> api.SigningKeyList:
    s.same_org(call.who, body.org_id)
    return api.SigningKeyList.model_validate({"keys": s.store.list_signing_keys(body.org_id)})


@handlers.handles(api.SIGNING_KEYS_RETIRE)
def signing_keys_retire(s: Services, call: Call, body: api.SigningKeyRef) -> api.SigningKeyRetired:
    s.same_org(call.who, body.org_id)
    s.store.retire_signing_key(body.org_id, body.id, actor=call.who.id)
    return api.SigningKeyRetired(retired=body.id, published=s.published())


@handlers.handles(api.SIGNING_KEYS_REVOKE)
def signing_keys_revoke(s: Services, call: Call, body: api.SigningKeyRef) -> api.SigningKeyRevoked:
    s.same_org(call.who, body.org_id)
    s.store.revoke_signing_key(body.org_id, body.id, actor=call.who.id)
    return api.SigningKeyRevoked(revoked=body.id, published=s.published())
