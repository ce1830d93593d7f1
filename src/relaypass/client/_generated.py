"""Generated from the procedure table by ``relaypass.client._codegen``: do not edit."""

# ruff: noqa: E501, A002

from __future__ import annotations

import builtins
from typing import Any, Literal

from relaypass.api import accounts, audit, keys, rooms, tenancy, tokens, usage, webhooks
from relaypass.client._transport import AsyncCaller, Caller

__all__ = ["AsyncProcedures", "Procedures"]

_ = Any  # some inputs take free-form objects


class _ProceduresAuth:
    """The ``auth.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def whoami(self) -> tenancy.WhoAmI:
        """The org, key id and scopes of the calling API key, and the org's namespaces."""
        return self._t.call(tenancy.AUTH_WHOAMI, {})


class _ProceduresOrgs:
    """The ``orgs.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def create(self, *, name: str, namespaces: builtins.list[str] | None = None) -> tenancy.OrgCreated:
        """A new org and its first admin API key (shown once)."""
        return self._t.call(tenancy.ORGS_CREATE, {"name": name, "namespaces": namespaces})

    def list(self) -> tenancy.OrgList:
        """Every org on the platform."""
        return self._t.call(tenancy.ORGS_LIST, {})

    def disable(self, *, org_id: str) -> tenancy.OrgDisabled:
        """Refuse the org's keys and tokens, and cut its live sessions on every gate."""
        return self._t.call(tenancy.ORGS_DISABLE, {"org_id": org_id})

    def set_limits(self, *, org_id: str, max_sessions: int | None = None, connects_per_second: int | None = None, mints_per_minute: int | None = None, session_minutes_per_month: int | None = None) -> tenancy.OrgLimits:
        """Set an org's quotas: concurrent sessions, connects per second, mints per minute, session minutes per month. Enforced at connect by every gate and at mint; live sessions stay."""
        return self._t.call(tenancy.ORGS_SET_LIMITS, {"org_id": org_id, "max_sessions": max_sessions, "connects_per_second": connects_per_second, "mints_per_minute": mints_per_minute, "session_minutes_per_month": session_minutes_per_month})

    def limits(self, *, org_id: str = "") -> tenancy.OrgLimits:
        """An org's quotas (its own keys, or the platform operator's)."""
        return self._t.call(tenancy.ORGS_LIMITS, {"org_id": org_id})


class _ProceduresTenantsResources:
    """The ``tenants.resources.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def assign(self, *, org_id: str = "", kind: str, resource_id: str, tenant: str) -> tenancy.ResourceAssigned:
        """Record a tenant's ownership of a trunk, call or event stream (TeleQuick)."""
        return self._t.call(tenancy.RESOURCES_ASSIGN, {"org_id": org_id, "kind": kind, "resource_id": resource_id, "tenant": tenant})

    def release(self, *, org_id: str = "", kind: str, resource_id: str, tenant: str) -> tenancy.ResourceReleased:
        """Forget a resource the tenant owns."""
        return self._t.call(tenancy.RESOURCES_RELEASE, {"org_id": org_id, "kind": kind, "resource_id": resource_id, "tenant": tenant})


class _ProceduresTenants:
    """The ``tenants.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport
        self.resources = _ProceduresTenantsResources(transport)

    def create(self, *, org_id: str = "", tenant_id: str, label: str = "") -> tenancy.TenantCreated:
        """A tenant of the org (ids are unique within an org)."""
        return self._t.call(tenancy.TENANTS_CREATE, {"org_id": org_id, "tenant_id": tenant_id, "label": label})

    def list(self, *, org_id: str = "") -> tenancy.TenantList:
        """The org's tenants."""
        return self._t.call(tenancy.TENANTS_LIST, {"org_id": org_id})

    def disable(self, *, org_id: str = "", tenant_id: str) -> tenancy.TenantDisabled:
        """Refuse the tenant's mints and service accounts; cut its live sessions."""
        return self._t.call(tenancy.TENANTS_DISABLE, {"org_id": org_id, "tenant_id": tenant_id})


class _ProceduresStreamsApiKeys:
    """The ``streams.api_keys.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def create(self, *, org_id: str = "", label: str, scopes: builtins.list[str], environment: str = "live", expires_at_ms: int | None = None) -> keys.ApiKeyCreated:
        """Create an API key; the key string is in this answer only."""
        return self._t.call(keys.API_KEYS_CREATE, {"org_id": org_id, "label": label, "scopes": scopes, "environment": environment, "expires_at_ms": expires_at_ms})

    def list(self, *, org_id: str = "") -> keys.ApiKeyList:
        """The org's API keys, without their secrets."""
        return self._t.call(keys.API_KEYS_LIST, {"org_id": org_id})

    def revoke(self, *, org_id: str = "", id: str) -> keys.ApiKeyRevoked:
        """Revoke a key now; gates cut the room sessions its tokens opened."""
        return self._t.call(keys.API_KEYS_REVOKE, {"org_id": org_id, "id": id})

    def reroll(self, *, org_id: str = "", id: str, grace_seconds: int = 0) -> keys.ApiKeyRerolled:
        """Replace a key; the old one keeps working for graceSeconds."""
        return self._t.call(keys.API_KEYS_REROLL, {"org_id": org_id, "id": id, "grace_seconds": grace_seconds})


class _ProceduresStreamsSigningKeys:
    """The ``streams.signing_keys.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def create(self, *, org_id: str = "", label: str, algorithm: str | None = None, alg: str | None = None) -> keys.SigningKeyCreated:
        """Generate a signing key; it signs once the gates have had time to learn it."""
        return self._t.call(keys.SIGNING_KEYS_CREATE, {"org_id": org_id, "label": label, "algorithm": algorithm, "alg": alg})

    def list(self, *, org_id: str = "") -> keys.SigningKeyList:
        """The org's signing keys and their states."""
        return self._t.call(keys.SIGNING_KEYS_LIST, {"org_id": org_id})

    def retire(self, *, org_id: str = "", id: str) -> keys.SigningKeyRetired:
        """Stop signing with a key; tokens it signed verify until they expire."""
        return self._t.call(keys.SIGNING_KEYS_RETIRE, {"org_id": org_id, "id": id})

    def revoke(self, *, org_id: str = "", id: str) -> keys.SigningKeyRevoked:
        """Distrust a key now; gates cut the sessions its tokens opened."""
        return self._t.call(keys.SIGNING_KEYS_REVOKE, {"org_id": org_id, "id": id})

    def mint_playback_token(self, *, org_id: str = "", tenant: str = "default", input_id: str, scopes: builtins.list[str] | None = None, ttl_seconds: int = 3600) -> tokens.MintedToken:
        """A playback token for one input (ClutchCall)."""
        return self._t.call(tokens.MINT_PLAYBACK_TOKEN, {"org_id": org_id, "tenant": tenant, "input_id": input_id, "scopes": scopes, "ttl_seconds": ttl_seconds})


class _ProceduresStreams:
    """The ``streams.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport
        self.api_keys = _ProceduresStreamsApiKeys(transport)
        self.signing_keys = _ProceduresStreamsSigningKeys(transport)


class _ProceduresTokensRelay:
    """The ``tokens.relay.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def mint(self, *, org_id: str = "", tenant: str = "default", ns: builtins.list[str], ttl_seconds: int | None = None, service: bool = False) -> tokens.MintedToken:
        """A relay token: a tenant and the namespaces it may use."""
        return self._t.call(tokens.MINT_RELAY, {"org_id": org_id, "tenant": tenant, "ns": ns, "ttl_seconds": ttl_seconds, "service": service})


class _ProceduresTokensRoom:
    """The ``tokens.room.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def mint(self, *, org_id: str = "", room_id: str | None = None, participant_id: str | None = None, role: str | None = None, grant: dict[str, Any] | None = None, is_viewer: bool | None = None, join_policy: dict[str, Any] | None = None, ttl_seconds: int | None = None) -> tokens.MintedToken:
        """A room token (VideoSDK); a role expands to its preset grant."""
        return self._t.call(tokens.MINT_ROOM, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id, "role": role, "grant": grant, "is_viewer": is_viewer, "join_policy": join_policy, "ttl_seconds": ttl_seconds})


class _ProceduresTokensMoq:
    """The ``tokens.moq.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def mint(self, *, org_id: str = "", root: str = "", publish: builtins.list[str] | None = None, subscribe: builtins.list[str] | None = None, cluster: bool = False, ttl_seconds: int = 3600, format: str = "moq-token") -> tokens.MintedToken:
        """A moq token in moq-token's or moq-auth's wire format, signed with the org's active key."""
        return self._t.call(tokens.MINT_MOQ, {"org_id": org_id, "root": root, "publish": publish, "subscribe": subscribe, "cluster": cluster, "ttl_seconds": ttl_seconds, "format": format})


class _ProceduresTokens:
    """The ``tokens.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport
        self.relay = _ProceduresTokensRelay(transport)
        self.room = _ProceduresTokensRoom(transport)
        self.moq = _ProceduresTokensMoq(transport)

    def revoke(self, *, org_id: str = "", jti: str) -> tokens.TokenRevoked:
        """Revoke one token by its jti: gates cut its live sessions and refuse it."""
        return self._t.call(tokens.TOKENS_REVOKE, {"org_id": org_id, "jti": jti})


class _ProceduresVoiceAudioBridge:
    """The ``voice.audio_bridge.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def mint_browser_token(self, *, org_id: str = "", tenant: str = "default", call_sid: str, ttl_seconds: int = 1800) -> tokens.MintedToken:
        """A browser token for one call's audio bridge (ClutchCall)."""
        return self._t.call(tokens.MINT_BROWSER_TOKEN, {"org_id": org_id, "tenant": tenant, "call_sid": call_sid, "ttl_seconds": ttl_seconds})


class _ProceduresVoice:
    """The ``voice.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport
        self.audio_bridge = _ProceduresVoiceAudioBridge(transport)


class _ProceduresServiceAccounts:
    """The ``service_accounts.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def list(self, *, org_id: str = "", tenant_id: str | None = None) -> accounts.ServiceAccountList:
        """The org's registered service-account keys."""
        return self._t.call(accounts.SERVICE_ACCOUNTS_LIST, {"org_id": org_id, "tenant_id": tenant_id})


class _ProceduresRoomsLobby:
    """The ``rooms.lobby.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def list(self, *, org_id: str = "", room_id: str) -> rooms.LobbyList:
        """Who waits in a room's lobby, as the gates report it."""
        return self._t.call(rooms.LOBBY_LIST, {"org_id": org_id, "room_id": room_id})

    def admit(self, *, org_id: str = "", room_id: str, participant_id: str) -> rooms.RoomChanged:
        """Admit a waiting participant on whichever gate holds them."""
        return self._t.call(rooms.LOBBY_ADMIT, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id})

    def deny(self, *, org_id: str = "", room_id: str, participant_id: str) -> rooms.RoomChanged:
        """Turn a waiting participant away (ENTRY_DENIED)."""
        return self._t.call(rooms.LOBBY_DENY, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id})

    def admit_all(self, *, org_id: str = "", room_id: str) -> rooms.RoomChanged:
        """Admit everyone waiting in a room's lobby."""
        return self._t.call(rooms.LOBBY_ADMIT_ALL, {"org_id": org_id, "room_id": room_id})


class _ProceduresRoomsParticipants:
    """The ``rooms.participants.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def list(self, *, org_id: str = "", room_id: str, tier: Literal["speaker", "viewer"] | None = None) -> rooms.ParticipantList:
        """Who is in a room on every gate: tier, lobby state and grant in force."""
        return self._t.call(rooms.PARTICIPANTS_LIST, {"org_id": org_id, "room_id": room_id, "tier": tier})

    def update(self, *, org_id: str = "", room_id: str, participant_id: str, grant: dict[str, Any] | None = None, is_viewer: bool | None = None) -> rooms.RoomChanged:
        """Push a new grant and/or tier to every live session of a participant, on every gate."""
        return self._t.call(rooms.PARTICIPANTS_UPDATE, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id, "grant": grant, "is_viewer": is_viewer})

    def remove(self, *, org_id: str = "", room_id: str, participant_id: str) -> rooms.RoomChanged:
        """Close a participant's sessions everywhere; tokens issued before cannot rejoin."""
        return self._t.call(rooms.PARTICIPANTS_REMOVE, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id})


class _ProceduresRooms:
    """The ``rooms.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport
        self.lobby = _ProceduresRoomsLobby(transport)
        self.participants = _ProceduresRoomsParticipants(transport)

    def end(self, *, org_id: str = "", room_id: str) -> rooms.RoomChanged:
        """Close every session of a room; tokens issued before cannot rejoin."""
        return self._t.call(rooms.ROOMS_END, {"org_id": org_id, "room_id": room_id})


class _ProceduresAudit:
    """The ``audit.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def list(self, *, org_id: str = "", action: str | None = None, actor: str | None = None, since_ms: int | None = None, until_ms: int | None = None, limit: int = 100, offset: int = 0) -> audit.AuditList:
        """The org's audit log, newest first."""
        return self._t.call(audit.AUDIT_LIST, {"org_id": org_id, "action": action, "actor": actor, "since_ms": since_ms, "until_ms": until_ms, "limit": limit, "offset": offset})


class _ProceduresUsage:
    """The ``usage.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def query(self, *, org_id: str = "", tenant: str | None = None, since: int, until: int, granularity: Literal["minute", "hour", "day"] = "hour", metrics: builtins.list[str] | None = None) -> usage.UsageSeries:
        """An org's usage over time: connects, refusals by code, session time, bytes, peaks, mints."""
        return self._t.call(usage.USAGE_QUERY, {"org_id": org_id, "tenant": tenant, "since": since, "until": until, "granularity": granularity, "metrics": metrics})

    def live(self, *, org_id: str = "") -> usage.UsageLive:
        """An org's live sessions on every gate, as the gates last reported them."""
        return self._t.call(usage.USAGE_LIVE, {"org_id": org_id})


class _ProceduresWebhooksDeliveries:
    """The ``webhooks.deliveries.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport

    def list(self, *, org_id: str = "", id: str, state: Literal["pending", "delivered", "failed"] | None = None, limit: int = 50) -> webhooks.DeliveryList:
        """An endpoint's deliveries, newest first: state, attempts, last answer and latency."""
        return self._t.call(webhooks.WEBHOOKS_DELIVERIES, {"org_id": org_id, "id": id, "state": state, "limit": limit})

    def replay(self, *, org_id: str = "", delivery_id: int) -> webhooks.Replayed:
        """Send a delivery's message again, now (the same webhook-id)."""
        return self._t.call(webhooks.WEBHOOKS_REPLAY, {"org_id": org_id, "delivery_id": delivery_id})


class _ProceduresWebhooks:
    """The ``webhooks.*`` procedures."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport
        self.deliveries = _ProceduresWebhooksDeliveries(transport)

    def create(self, *, org_id: str = "", url: str, event_types: builtins.list[str] | None = None, description: str = "") -> webhooks.EndpointCreated:
        """A webhook endpoint for the org's events, and its signing secret (shown once)."""
        return self._t.call(webhooks.WEBHOOKS_CREATE, {"org_id": org_id, "url": url, "event_types": event_types, "description": description})

    def list(self, *, org_id: str = "") -> webhooks.EndpointList:
        """The org's webhook endpoints (failing and disabled ones say so)."""
        return self._t.call(webhooks.WEBHOOKS_LIST, {"org_id": org_id})

    def update(self, *, org_id: str = "", id: str, url: str | None = None, event_types: builtins.list[str] | None = None, description: str | None = None, enabled: bool | None = None) -> webhooks.EndpointInfo:
        """Change an endpoint's URL, event types or description, or disable or enable it."""
        return self._t.call(webhooks.WEBHOOKS_UPDATE, {"org_id": org_id, "id": id, "url": url, "event_types": event_types, "description": description, "enabled": enabled})

    def delete(self, *, org_id: str = "", id: str) -> webhooks.WebhookDeleted:
        """Remove an endpoint."""
        return self._t.call(webhooks.WEBHOOKS_DELETE, {"org_id": org_id, "id": id})

    def rotate_secret(self, *, org_id: str = "", id: str) -> webhooks.SecretRotated:
        """A new signing secret (shown once); the previous one also signs for 24 hours."""
        return self._t.call(webhooks.WEBHOOKS_ROTATE, {"org_id": org_id, "id": id})

    def test(self, *, org_id: str = "", id: str) -> webhooks.TestQueued:
        """Send a webhook.test message to one endpoint."""
        return self._t.call(webhooks.WEBHOOKS_TEST, {"org_id": org_id, "id": id})


class Procedures:
    """Every procedure."""

    def __init__(self, transport: Caller) -> None:
        self._t = transport
        self.auth = _ProceduresAuth(transport)
        self.orgs = _ProceduresOrgs(transport)
        self.tenants = _ProceduresTenants(transport)
        self.streams = _ProceduresStreams(transport)
        self.tokens = _ProceduresTokens(transport)
        self.voice = _ProceduresVoice(transport)
        self.service_accounts = _ProceduresServiceAccounts(transport)
        self.rooms = _ProceduresRooms(transport)
        self.audit = _ProceduresAudit(transport)
        self.usage = _ProceduresUsage(transport)
        self.webhooks = _ProceduresWebhooks(transport)

    def publish_service_account(self, *, admin_token: str = "", tenant_id: str, private_key_id: str, public_key_pem: str, role: str, expires_at_ms: int = 0) -> accounts.Empty:
        """Register a tenant's RSA public key; several may coexist during a rotation."""
        return self._t.call(accounts.PUBLISH_SERVICE_ACCOUNT, {"admin_token": admin_token, "tenant_id": tenant_id, "private_key_id": private_key_id, "public_key_pem": public_key_pem, "role": role, "expires_at_ms": expires_at_ms})

    def revoke_service_account(self, *, admin_token: str = "", tenant_id: str, private_key_id: str) -> accounts.Empty:
        """Stop accepting a service-account key; gates cut the sessions it opened."""
        return self._t.call(accounts.REVOKE_SERVICE_ACCOUNT, {"admin_token": admin_token, "tenant_id": tenant_id, "private_key_id": private_key_id})

    def session_auth(self, *, admin_token: str = "", tenant_id: str, subject: str, ttl_seconds: int, scope: str, origin: str | None = None) -> accounts.SessionAuthResponse:
        """A browser-scoped token (TTL capped at 300 s), pinned to an origin."""
        return self._t.call(accounts.SESSION_AUTH, {"admin_token": admin_token, "tenant_id": tenant_id, "subject": subject, "ttl_seconds": ttl_seconds, "scope": scope, "origin": origin})


class _AsyncProceduresAuth:
    """The ``auth.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def whoami(self) -> tenancy.WhoAmI:
        """The org, key id and scopes of the calling API key, and the org's namespaces."""
        return await self._t.call(tenancy.AUTH_WHOAMI, {})


class _AsyncProceduresOrgs:
    """The ``orgs.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def create(self, *, name: str, namespaces: builtins.list[str] | None = None) -> tenancy.OrgCreated:
        """A new org and its first admin API key (shown once)."""
        return await self._t.call(tenancy.ORGS_CREATE, {"name": name, "namespaces": namespaces})

    async def list(self) -> tenancy.OrgList:
        """Every org on the platform."""
        return await self._t.call(tenancy.ORGS_LIST, {})

    async def disable(self, *, org_id: str) -> tenancy.OrgDisabled:
        """Refuse the org's keys and tokens, and cut its live sessions on every gate."""
        return await self._t.call(tenancy.ORGS_DISABLE, {"org_id": org_id})

    async def set_limits(self, *, org_id: str, max_sessions: int | None = None, connects_per_second: int | None = None, mints_per_minute: int | None = None, session_minutes_per_month: int | None = None) -> tenancy.OrgLimits:
        """Set an org's quotas: concurrent sessions, connects per second, mints per minute, session minutes per month. Enforced at connect by every gate and at mint; live sessions stay."""
        return await self._t.call(tenancy.ORGS_SET_LIMITS, {"org_id": org_id, "max_sessions": max_sessions, "connects_per_second": connects_per_second, "mints_per_minute": mints_per_minute, "session_minutes_per_month": session_minutes_per_month})

    async def limits(self, *, org_id: str = "") -> tenancy.OrgLimits:
        """An org's quotas (its own keys, or the platform operator's)."""
        return await self._t.call(tenancy.ORGS_LIMITS, {"org_id": org_id})


class _AsyncProceduresTenantsResources:
    """The ``tenants.resources.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def assign(self, *, org_id: str = "", kind: str, resource_id: str, tenant: str) -> tenancy.ResourceAssigned:
        """Record a tenant's ownership of a trunk, call or event stream (TeleQuick)."""
        return await self._t.call(tenancy.RESOURCES_ASSIGN, {"org_id": org_id, "kind": kind, "resource_id": resource_id, "tenant": tenant})

    async def release(self, *, org_id: str = "", kind: str, resource_id: str, tenant: str) -> tenancy.ResourceReleased:
        """Forget a resource the tenant owns."""
        return await self._t.call(tenancy.RESOURCES_RELEASE, {"org_id": org_id, "kind": kind, "resource_id": resource_id, "tenant": tenant})


class _AsyncProceduresTenants:
    """The ``tenants.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport
        self.resources = _AsyncProceduresTenantsResources(transport)

    async def create(self, *, org_id: str = "", tenant_id: str, label: str = "") -> tenancy.TenantCreated:
        """A tenant of the org (ids are unique within an org)."""
        return await self._t.call(tenancy.TENANTS_CREATE, {"org_id": org_id, "tenant_id": tenant_id, "label": label})

    async def list(self, *, org_id: str = "") -> tenancy.TenantList:
        """The org's tenants."""
        return await self._t.call(tenancy.TENANTS_LIST, {"org_id": org_id})

    async def disable(self, *, org_id: str = "", tenant_id: str) -> tenancy.TenantDisabled:
        """Refuse the tenant's mints and service accounts; cut its live sessions."""
        return await self._t.call(tenancy.TENANTS_DISABLE, {"org_id": org_id, "tenant_id": tenant_id})


class _AsyncProceduresStreamsApiKeys:
    """The ``streams.api_keys.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def create(self, *, org_id: str = "", label: str, scopes: builtins.list[str], environment: str = "live", expires_at_ms: int | None = None) -> keys.ApiKeyCreated:
        """Create an API key; the key string is in this answer only."""
        return await self._t.call(keys.API_KEYS_CREATE, {"org_id": org_id, "label": label, "scopes": scopes, "environment": environment, "expires_at_ms": expires_at_ms})

    async def list(self, *, org_id: str = "") -> keys.ApiKeyList:
        """The org's API keys, without their secrets."""
        return await self._t.call(keys.API_KEYS_LIST, {"org_id": org_id})

    async def revoke(self, *, org_id: str = "", id: str) -> keys.ApiKeyRevoked:
        """Revoke a key now; gates cut the room sessions its tokens opened."""
        return await self._t.call(keys.API_KEYS_REVOKE, {"org_id": org_id, "id": id})

    async def reroll(self, *, org_id: str = "", id: str, grace_seconds: int = 0) -> keys.ApiKeyRerolled:
        """Replace a key; the old one keeps working for graceSeconds."""
        return await self._t.call(keys.API_KEYS_REROLL, {"org_id": org_id, "id": id, "grace_seconds": grace_seconds})


class _AsyncProceduresStreamsSigningKeys:
    """The ``streams.signing_keys.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def create(self, *, org_id: str = "", label: str, algorithm: str | None = None, alg: str | None = None) -> keys.SigningKeyCreated:
        """Generate a signing key; it signs once the gates have had time to learn it."""
        return await self._t.call(keys.SIGNING_KEYS_CREATE, {"org_id": org_id, "label": label, "algorithm": algorithm, "alg": alg})

    async def list(self, *, org_id: str = "") -> keys.SigningKeyList:
        """The org's signing keys and their states."""
        return await self._t.call(keys.SIGNING_KEYS_LIST, {"org_id": org_id})

    async def retire(self, *, org_id: str = "", id: str) -> keys.SigningKeyRetired:
        """Stop signing with a key; tokens it signed verify until they expire."""
        return await self._t.call(keys.SIGNING_KEYS_RETIRE, {"org_id": org_id, "id": id})

    async def revoke(self, *, org_id: str = "", id: str) -> keys.SigningKeyRevoked:
        """Distrust a key now; gates cut the sessions its tokens opened."""
        return await self._t.call(keys.SIGNING_KEYS_REVOKE, {"org_id": org_id, "id": id})

    async def mint_playback_token(self, *, org_id: str = "", tenant: str = "default", input_id: str, scopes: builtins.list[str] | None = None, ttl_seconds: int = 3600) -> tokens.MintedToken:
        """A playback token for one input (ClutchCall)."""
        return await self._t.call(tokens.MINT_PLAYBACK_TOKEN, {"org_id": org_id, "tenant": tenant, "input_id": input_id, "scopes": scopes, "ttl_seconds": ttl_seconds})


class _AsyncProceduresStreams:
    """The ``streams.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport
        self.api_keys = _AsyncProceduresStreamsApiKeys(transport)
        self.signing_keys = _AsyncProceduresStreamsSigningKeys(transport)


class _AsyncProceduresTokensRelay:
    """The ``tokens.relay.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def mint(self, *, org_id: str = "", tenant: str = "default", ns: builtins.list[str], ttl_seconds: int | None = None, service: bool = False) -> tokens.MintedToken:
        """A relay token: a tenant and the namespaces it may use."""
        return await self._t.call(tokens.MINT_RELAY, {"org_id": org_id, "tenant": tenant, "ns": ns, "ttl_seconds": ttl_seconds, "service": service})


class _AsyncProceduresTokensRoom:
    """The ``tokens.room.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def mint(self, *, org_id: str = "", room_id: str | None = None, participant_id: str | None = None, role: str | None = None, grant: dict[str, Any] | None = None, is_viewer: bool | None = None, join_policy: dict[str, Any] | None = None, ttl_seconds: int | None = None) -> tokens.MintedToken:
        """A room token (VideoSDK); a role expands to its preset grant."""
        return await self._t.call(tokens.MINT_ROOM, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id, "role": role, "grant": grant, "is_viewer": is_viewer, "join_policy": join_policy, "ttl_seconds": ttl_seconds})


class _AsyncProceduresTokensMoq:
    """The ``tokens.moq.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def mint(self, *, org_id: str = "", root: str = "", publish: builtins.list[str] | None = None, subscribe: builtins.list[str] | None = None, cluster: bool = False, ttl_seconds: int = 3600, format: str = "moq-token") -> tokens.MintedToken:
        """A moq token in moq-token's or moq-auth's wire format, signed with the org's active key."""
        return await self._t.call(tokens.MINT_MOQ, {"org_id": org_id, "root": root, "publish": publish, "subscribe": subscribe, "cluster": cluster, "ttl_seconds": ttl_seconds, "format": format})


class _AsyncProceduresTokens:
    """The ``tokens.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport
        self.relay = _AsyncProceduresTokensRelay(transport)
        self.room = _AsyncProceduresTokensRoom(transport)
        self.moq = _AsyncProceduresTokensMoq(transport)

    async def revoke(self, *, org_id: str = "", jti: str) -> tokens.TokenRevoked:
        """Revoke one token by its jti: gates cut its live sessions and refuse it."""
        return await self._t.call(tokens.TOKENS_REVOKE, {"org_id": org_id, "jti": jti})


class _AsyncProceduresVoiceAudioBridge:
    """The ``voice.audio_bridge.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def mint_browser_token(self, *, org_id: str = "", tenant: str = "default", call_sid: str, ttl_seconds: int = 1800) -> tokens.MintedToken:
        """A browser token for one call's audio bridge (ClutchCall)."""
        return await self._t.call(tokens.MINT_BROWSER_TOKEN, {"org_id": org_id, "tenant": tenant, "call_sid": call_sid, "ttl_seconds": ttl_seconds})


class _AsyncProceduresVoice:
    """The ``voice.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport
        self.audio_bridge = _AsyncProceduresVoiceAudioBridge(transport)


class _AsyncProceduresServiceAccounts:
    """The ``service_accounts.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def list(self, *, org_id: str = "", tenant_id: str | None = None) -> accounts.ServiceAccountList:
        """The org's registered service-account keys."""
        return await self._t.call(accounts.SERVICE_ACCOUNTS_LIST, {"org_id": org_id, "tenant_id": tenant_id})


class _AsyncProceduresRoomsLobby:
    """The ``rooms.lobby.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def list(self, *, org_id: str = "", room_id: str) -> rooms.LobbyList:
        """Who waits in a room's lobby, as the gates report it."""
        return await self._t.call(rooms.LOBBY_LIST, {"org_id": org_id, "room_id": room_id})

    async def admit(self, *, org_id: str = "", room_id: str, participant_id: str) -> rooms.RoomChanged:
        """Admit a waiting participant on whichever gate holds them."""
        return await self._t.call(rooms.LOBBY_ADMIT, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id})

    async def deny(self, *, org_id: str = "", room_id: str, participant_id: str) -> rooms.RoomChanged:
        """Turn a waiting participant away (ENTRY_DENIED)."""
        return await self._t.call(rooms.LOBBY_DENY, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id})

    async def admit_all(self, *, org_id: str = "", room_id: str) -> rooms.RoomChanged:
        """Admit everyone waiting in a room's lobby."""
        return await self._t.call(rooms.LOBBY_ADMIT_ALL, {"org_id": org_id, "room_id": room_id})


class _AsyncProceduresRoomsParticipants:
    """The ``rooms.participants.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def list(self, *, org_id: str = "", room_id: str, tier: Literal["speaker", "viewer"] | None = None) -> rooms.ParticipantList:
        """Who is in a room on every gate: tier, lobby state and grant in force."""
        return await self._t.call(rooms.PARTICIPANTS_LIST, {"org_id": org_id, "room_id": room_id, "tier": tier})

    async def update(self, *, org_id: str = "", room_id: str, participant_id: str, grant: dict[str, Any] | None = None, is_viewer: bool | None = None) -> rooms.RoomChanged:
        """Push a new grant and/or tier to every live session of a participant, on every gate."""
        return await self._t.call(rooms.PARTICIPANTS_UPDATE, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id, "grant": grant, "is_viewer": is_viewer})

    async def remove(self, *, org_id: str = "", room_id: str, participant_id: str) -> rooms.RoomChanged:
        """Close a participant's sessions everywhere; tokens issued before cannot rejoin."""
        return await self._t.call(rooms.PARTICIPANTS_REMOVE, {"org_id": org_id, "room_id": room_id, "participant_id": participant_id})


class _AsyncProceduresRooms:
    """The ``rooms.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport
        self.lobby = _AsyncProceduresRoomsLobby(transport)
        self.participants = _AsyncProceduresRoomsParticipants(transport)

    async def end(self, *, org_id: str = "", room_id: str) -> rooms.RoomChanged:
        """Close every session of a room; tokens issued before cannot rejoin."""
        return await self._t.call(rooms.ROOMS_END, {"org_id": org_id, "room_id": room_id})


class _AsyncProceduresAudit:
    """The ``audit.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def list(self, *, org_id: str = "", action: str | None = None, actor: str | None = None, since_ms: int | None = None, until_ms: int | None = None, limit: int = 100, offset: int = 0) -> audit.AuditList:
        """The org's audit log, newest first."""
        return await self._t.call(audit.AUDIT_LIST, {"org_id": org_id, "action": action, "actor": actor, "since_ms": since_ms, "until_ms": until_ms, "limit": limit, "offset": offset})


class _AsyncProceduresUsage:
    """The ``usage.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def query(self, *, org_id: str = "", tenant: str | None = None, since: int, until: int, granularity: Literal["minute", "hour", "day"] = "hour", metrics: builtins.list[str] | None = None) -> usage.UsageSeries:
        """An org's usage over time: connects, refusals by code, session time, bytes, peaks, mints."""
        return await self._t.call(usage.USAGE_QUERY, {"org_id": org_id, "tenant": tenant, "since": since, "until": until, "granularity": granularity, "metrics": metrics})

    async def live(self, *, org_id: str = "") -> usage.UsageLive:
        """An org's live sessions on every gate, as the gates last reported them."""
        return await self._t.call(usage.USAGE_LIVE, {"org_id": org_id})


class _AsyncProceduresWebhooksDeliveries:
    """The ``webhooks.deliveries.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport

    async def list(self, *, org_id: str = "", id: str, state: Literal["pending", "delivered", "failed"] | None = None, limit: int = 50) -> webhooks.DeliveryList:
        """An endpoint's deliveries, newest first: state, attempts, last answer and latency."""
        return await self._t.call(webhooks.WEBHOOKS_DELIVERIES, {"org_id": org_id, "id": id, "state": state, "limit": limit})

    async def replay(self, *, org_id: str = "", delivery_id: int) -> webhooks.Replayed:
        """Send a delivery's message again, now (the same webhook-id)."""
        return await self._t.call(webhooks.WEBHOOKS_REPLAY, {"org_id": org_id, "delivery_id": delivery_id})


class _AsyncProceduresWebhooks:
    """The ``webhooks.*`` procedures."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport
        self.deliveries = _AsyncProceduresWebhooksDeliveries(transport)

    async def create(self, *, org_id: str = "", url: str, event_types: builtins.list[str] | None = None, description: str = "") -> webhooks.EndpointCreated:
        """A webhook endpoint for the org's events, and its signing secret (shown once)."""
        return await self._t.call(webhooks.WEBHOOKS_CREATE, {"org_id": org_id, "url": url, "event_types": event_types, "description": description})

    async def list(self, *, org_id: str = "") -> webhooks.EndpointList:
        """The org's webhook endpoints (failing and disabled ones say so)."""
        return await self._t.call(webhooks.WEBHOOKS_LIST, {"org_id": org_id})

    async def update(self, *, org_id: str = "", id: str, url: str | None = None, event_types: builtins.list[str] | None = None, description: str | None = None, enabled: bool | None = None) -> webhooks.EndpointInfo:
        """Change an endpoint's URL, event types or description, or disable or enable it."""
        return await self._t.call(webhooks.WEBHOOKS_UPDATE, {"org_id": org_id, "id": id, "url": url, "event_types": event_types, "description": description, "enabled": enabled})

    async def delete(self, *, org_id: str = "", id: str) -> webhooks.WebhookDeleted:
        """Remove an endpoint."""
        return await self._t.call(webhooks.WEBHOOKS_DELETE, {"org_id": org_id, "id": id})

    async def rotate_secret(self, *, org_id: str = "", id: str) -> webhooks.SecretRotated:
        """A new signing secret (shown once); the previous one also signs for 24 hours."""
        return await self._t.call(webhooks.WEBHOOKS_ROTATE, {"org_id": org_id, "id": id})

    async def test(self, *, org_id: str = "", id: str) -> webhooks.TestQueued:
        """Send a webhook.test message to one endpoint."""
        return await self._t.call(webhooks.WEBHOOKS_TEST, {"org_id": org_id, "id": id})


class AsyncProcedures:
    """Every procedure."""

    def __init__(self, transport: AsyncCaller) -> None:
        self._t = transport
        self.auth = _AsyncProceduresAuth(transport)
        self.orgs = _AsyncProceduresOrgs(transport)
        self.tenants = _AsyncProceduresTenants(transport)
        self.streams = _AsyncProceduresStreams(transport)
        self.tokens = _AsyncProceduresTokens(transport)
        self.voice = _AsyncProceduresVoice(transport)
        self.service_accounts = _AsyncProceduresServiceAccounts(transport)
        self.rooms = _AsyncProceduresRooms(transport)
        self.audit = _AsyncProceduresAudit(transport)
        self.usage = _AsyncProceduresUsage(transport)
        self.webhooks = _AsyncProceduresWebhooks(transport)

    async def publish_service_account(self, *, admin_token: str = "", tenant_id: str, private_key_id: str, public_key_pem: str, role: str, expires_at_ms: int = 0) -> accounts.Empty:
        """Register a tenant's RSA public key; several may coexist during a rotation."""
        return await self._t.call(accounts.PUBLISH_SERVICE_ACCOUNT, {"admin_token": admin_token, "tenant_id": tenant_id, "private_key_id": private_key_id, "public_key_pem": public_key_pem, "role": role, "expires_at_ms": expires_at_ms})

    async def revoke_service_account(self, *, admin_token: str = "", tenant_id: str, private_key_id: str) -> accounts.Empty:
        """Stop accepting a service-account key; gates cut the sessions it opened."""
        return await self._t.call(accounts.REVOKE_SERVICE_ACCOUNT, {"admin_token": admin_token, "tenant_id": tenant_id, "private_key_id": private_key_id})

    async def session_auth(self, *, admin_token: str = "", tenant_id: str, subject: str, ttl_seconds: int, scope: str, origin: str | None = None) -> accounts.SessionAuthResponse:
        """A browser-scoped token (TTL capped at 300 s), pinned to an origin."""
        return await self._t.call(accounts.SESSION_AUTH, {"admin_token": admin_token, "tenant_id": tenant_id, "subject": subject, "ttl_seconds": ttl_seconds, "scope": scope, "origin": origin})
