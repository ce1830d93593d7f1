from __future__ import annotations

import pytest

from relaypass import InvalidPermissionsError
from relaypass._tenancy import OwnershipRegistry, ResourceKind, authorize_ownership


@pytest.fixture
def registry() -> OwnershipRegistry:
    reg = OwnershipRegistry()
    reg.assign(ResourceKind.TRUNK, "trunk-1", "acme")
    reg.assign(ResourceKind.CALL, "CA123", "acme")
    reg.assign(ResourceKind.EVENT_STREAM, "events-acme", "acme")
    return reg


@pytest.mark.parametrize("kind", list(ResourceKind))
def test_owner_may_act(registry: OwnershipRegistry, kind: ResourceKind) -> None:
    resource = {"trunk": "trunk-1", "call": "CA123", "event_stream": "events-acme"}[kind.value]
    authorize_ownership(registry, "acme", kind, resource)


def test_other_tenant_and_missing_resource_get_the_same_refusal(
    registry: OwnershipRegistry,
) -> None:
    with pytest.raises(InvalidPermissionsError) as foreign:
        authorize_ownership(registry, "globex", ResourceKind.CALL, "CA123")
    with pytest.raises(InvalidPermissionsError) as missing:
        authorize_ownership(registry, "globex", ResourceKind.CALL, "CA999")
    assert foreign.value.reason == missing.value.reason
    assert foreign.value.code == "INVALID_PERMISSIONS"


def test_no_tenant_never_passes(registry: OwnershipRegistry) -> None:
    with pytest.raises(InvalidPermissionsError):
        authorize_ownership(registry, None, ResourceKind.TRUNK, "trunk-1")


def test_a_resource_keeps_its_first_owner(registry: OwnershipRegistry) -> None:
    with pytest.raises(InvalidPermissionsError):
        registry.assign(ResourceKind.TRUNK, "trunk-1", "globex")
    registry.release(ResourceKind.TRUNK, "trunk-1")
    registry.assign(ResourceKind.TRUNK, "trunk-1", "globex")
    authorize_ownership(registry, "globex", ResourceKind.TRUNK, "trunk-1")
