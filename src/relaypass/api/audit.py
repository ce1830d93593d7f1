"""The audit log (``audit.list``)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field

from relaypass.api._base import OWN_ORG, Input, Output, Procedure

__all__ = ["AUDIT_LIST", "AuditEvent", "AuditList", "AuditQuery"]


class AuditQuery(Input):
    """Filter the audit log."""

    org_id: str = OWN_ORG
    action: str | None = Field(default=None, max_length=100)
    actor: str | None = Field(default=None, max_length=200)
    since_ms: int | None = Field(default=None, ge=0)
    until_ms: int | None = Field(default=None, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class AuditEvent(Output):
    """One admin action, mint or refusal (never a token or secret)."""

    id: int
    at_ms: int
    org_id: str | None
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]


class AuditList(Output):
    """Events, newest first."""

    events: list[AuditEvent]


AUDIT_LIST: Final = Procedure(
    "audit.list", "query", "audit:read", AuditQuery, AuditList,
    "The org's audit log, newest first.",
    examples={"orgId": "org_1", "action": "token.mint", "limit": 20},
)  # fmt: skip
