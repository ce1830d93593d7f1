"""The control plane's procedures, declared once as data.

Each :class:`Procedure` names its kind (query or mutation), the API-key scope
it needs, its input and output models and the error codes it can answer. The
server binds one handler to each; ``/rpc``, ``/trpc``, the OpenAPI document and
the Python SDK (:mod:`relaypass.client`) are all derived from :data:`PROCEDURES`.
"""

from __future__ import annotations

from typing import Any, Final

from relaypass.api import accounts, audit, keys, rooms, tenancy, tokens, usage, webhooks
from relaypass.api._base import (
    AUTH_ERRORS,
    Input,
    Output,
    Procedure,
    SnakeCaseInput,
    SnakeCaseOutput,
)

__all__ = [
    "AUTH_ERRORS",
    "BY_NAME",
    "PROCEDURES",
    "Input",
    "Output",
    "Procedure",
    "SnakeCaseInput",
    "SnakeCaseOutput",
    "accounts",
    "audit",
    "keys",
    "rooms",
    "tenancy",
    "tokens",
    "usage",
    "webhooks",
]

#: Every procedure, in the order the documents list them.
PROCEDURES: Final[tuple[Procedure[Any, Any], ...]] = (
    tenancy.AUTH_WHOAMI,
    tenancy.ORGS_CREATE,
    tenancy.ORGS_LIST,
    tenancy.ORGS_DISABLE,
    tenancy.ORGS_SET_LIMITS,
    tenancy.ORGS_LIMITS,
    tenancy.TENANTS_CREATE,
    tenancy.TENANTS_LIST,
    tenancy.TENANTS_DISABLE,
    tenancy.RESOURCES_ASSIGN,
    tenancy.RESOURCES_RELEASE,
    keys.API_KEYS_CREATE,
    keys.API_KEYS_LIST,
    keys.API_KEYS_REVOKE,
    keys.API_KEYS_REROLL,
    keys.SIGNING_KEYS_CREATE,
    keys.SIGNING_KEYS_LIST,
    keys.SIGNING_KEYS_RETIRE,
    keys.SIGNING_KEYS_REVOKE,
    tokens.MINT_RELAY,
    tokens.MINT_PLAYBACK_TOKEN,
    tokens.MINT_BROWSER_TOKEN,
    tokens.MINT_ROOM,
    tokens.MINT_MOQ,
    tokens.TOKENS_REVOKE,
    accounts.PUBLISH_SERVICE_ACCOUNT,
    accounts.REVOKE_SERVICE_ACCOUNT,
    accounts.SESSION_AUTH,
    accounts.SERVICE_ACCOUNTS_LIST,
    rooms.LOBBY_LIST,
    rooms.LOBBY_ADMIT,
    rooms.LOBBY_DENY,
    rooms.LOBBY_ADMIT_ALL,
    rooms.PARTICIPANTS_LIST,
    rooms.PARTICIPANTS_UPDATE,
    rooms.PARTICIPANTS_REMOVE,
    rooms.ROOMS_END,
    audit.AUDIT_LIST,
    usage.USAGE_QUERY,
    usage.USAGE_LIVE,
    webhooks.WEBHOOKS_CREATE,
    webhooks.WEBHOOKS_LIST,
    webhooks.WEBHOOKS_UPDATE,
    webhooks.WEBHOOKS_DELETE,
    webhooks.WEBHOOKS_ROTATE,
    webhooks.WEBHOOKS_TEST,
    webhooks.WEBHOOKS_DELIVERIES,
    webhooks.WEBHOOKS_REPLAY,
)

#: Procedures by name.
BY_NAME: Final[dict[str, Procedure[Any, Any]]] = {p.name: p for p in PROCEDURES}
