"""Tenant isolation (TeleQuick): a tenant acts only on resources it owns.

Trunks, call sids and event streams each have an owning tenant. A refusal is
``INVALID_PERMISSIONS`` with the same reason whether the resource belongs to
another tenant or does not exist, so a probe learns nothing about other
tenants.
"""

from __future__ import annotations

import enum
import threading
from typing import Protocol, final

from relaypass.errors import InvalidPermissionsError

__all__ = ["OwnershipLookup", "OwnershipRegistry", "ResourceKind", "authorize_ownership"]


class ResourceKind(enum.StrEnum):
    """Kinds of tenant-owned resources."""

    TRUNK = "trunk"
    CALL = "call"
    EVENT_STREAM = "event_stream"


class OwnershipLookup(Protocol):
    """Where the owner of a resource is found (memory here, the store in the service)."""

    def owner_of(self, kind: ResourceKind, resource_id: str) -> str | None:
        """The owning tenant, or ``None`` if there is no such resource."""
        ...


def authorize_ownership(
    lookup: OwnershipLookup, tenant: str | None, kind: ResourceKind, resource_id: str
) -> None:
    """Raise ``INVALID_PERMISSIONS`` unless ``tenant`` owns the resource."""
    owner = lookup.owner_of(kind, resource_id) if tenant else None
    if owner is None or owner != tenant:
        msg = f"the tenant may not act on this {kind.value}"
        raise InvalidPermissionsError(msg)


@final
class OwnershipRegistry:
    """An in-memory :class:`OwnershipLookup`."""

    __slots__ = ("_lock", "_owners")

    def __init__(self) -> None:
        self._owners: dict[tuple[ResourceKind, str], str] = {}
        self._lock = threading.Lock()

    def assign(self, kind: ResourceKind, resource_id: str, tenant: str) -> None:
        """Record that ``tenant`` owns the resource (first owner wins)."""
        with self._lock:
            current = self._owners.setdefault((kind, resource_id), tenant)
        if current != tenant:
            msg = f"this {kind.value} already has an owner"
            raise InvalidPermissionsError(msg)

    def release(self, kind: ResourceKind, resource_id: str) -> None:
        """Forget the resource."""
        with self._lock:
            self._owners.pop((kind, resource_id), None)

    def owner_of(self, kind: ResourceKind, resource_id: str) -> str | None:
        """The owning tenant, if any."""
        return self._owners.get((kind, resource_id))
