"""A property-based OpenAPI fuzzer (schemathesis) over the served schema, bounded in time.

Every operation gets generated inputs, valid and invalid, with a valid API key;
the service must answer no 5xx and no status its document does not list, with
bodies that match the documented schemas and content types.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from relaypass.api import PROCEDURES
from relaypass.server.app import create_app
from relaypass.server.settings import Settings
from tests._cp import sqlite_store
from tests.server.conftest import bootstrap_with_tenants

OPERATIONS = [f"POST /rpc/{p.name}" for p in PROCEDURES] + [
    "GET /.well-known/jwks.json",
    "GET /orgs/{org_id}/jwks.json",
]


@dataclass
class Fuzzed:
    schema: Any
    key: str


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    store = sqlite_store(directory, key_propagation_seconds=0)
    _, key = bootstrap_with_tenants(store)
    app = create_app(Settings(data_dir=directory, key_propagation_seconds=0), store)
    yield Fuzzed(schemathesis.openapi.from_asgi("/openapi.json", app), key)
    store.close()


def test_every_operation_is_fuzzed(fuzzed: Fuzzed) -> None:
    served = {r.ok().label for r in fuzzed.schema.get_all_operations()}
    assert served == set(OPERATIONS)


# The key-set reads take no input that could be wrong: they are fuzzed with valid data only.
RUNS = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label in OPERATIONS if label.startswith("POST /rpc/")
]


@pytest.mark.parametrize(("label", "mode"), RUNS)
def test_no_server_error_and_no_undocumented_status(
    fuzzed: Fuzzed, label: str, mode: GenerationMode
) -> None:
    operation = fuzzed.schema.find_operation_by_label(label)
    headers = {"Authorization": f"Bearer {fuzzed.key}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )

    fuzz()
