"""What a procedure is: a name, a kind, a scope, input and output models, its errors.

The declarations are the contract shared by the control plane (which binds a
handler to each), its wire adapters (``/rpc``, ``/trpc``, OpenAPI) and the
Python SDK (generated from them). They import pydantic and nothing of the
server, so a client installs without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from relaypass.errors import HTTP_STATUS, ErrorCode

__all__ = [
    "AUTH_ERRORS",
    "DEFAULT_TENANT",
    "OWNED_FIELDS",
    "OWN_ORG",
    "Input",
    "Output",
    "Procedure",
    "SnakeCaseInput",
    "SnakeCaseOutput",
]


#: The tenant every org is made with, which mints use when they name none.
DEFAULT_TENANT: Final = "default"

#: An input's ``orgId``: optional, the calling API key's own org when left out (an API key
#: belongs to exactly one org). The dispatcher fills it before the handler runs.
OWN_ORG: Final[str] = Field(
    default="", max_length=64, description="The org (default: the calling API key's own)."
)


class Input(BaseModel):
    """A procedure's input: camelCase on the wire, snake_case in Python; unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class SnakeCaseInput(BaseModel):
    """An input with snake_case wire names (ClutchCall's service accounts); unknown fields fail."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Output(BaseModel):
    """A procedure's answer: camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class SnakeCaseOutput(BaseModel):
    """An answer whose wire names are snake_case (ClutchCall's service-account API)."""

    model_config = ConfigDict(frozen=True)


#: What an input field names, by field name: an object one org owns (the dispatcher and
#: the store look it up inside the caller's org only), or ``None``, a name that is not an
#: owned object (a stream's input id lives inside the org's own namespace). A procedure
#: declares what its ``id`` names in ``owns``; a test fails on an id-like field nobody
#: declared, so a new procedure cannot skip the question.
OWNED_FIELDS: Final[dict[str, str | None]] = {
    "org_id": "org",
    "tenant": "tenant",
    "tenant_id": "tenant",
    "resource_id": "resource",
    "room_id": "room",
    "participant_id": "participant",
    "private_key_id": "service_account",
    "jti": "token",
    "input_id": None,
    "call_sid": None,
}

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)

#: Refusals any procedure can answer before its handler runs.
AUTH_ERRORS: Final = (
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_API_KEY,
    ErrorCode.INVALID_PERMISSIONS,
    ErrorCode.REQUEST_TOO_LARGE,
    ErrorCode.URI_TOO_LONG,
    ErrorCode.HEADERS_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.UNAVAILABLE,
)


@dataclass(frozen=True, slots=True)
class Procedure(Generic[InT, OutT]):
    """One procedure of the control plane, declared as data.

    ``scope`` is the API-key scope it needs (``None``: any valid key).
    ``admin_token`` procedures (ClutchCall) accept a tenant's admin service-account
    JWT in the body instead of a bearer key. ``idempotent`` ones honour an
    ``Idempotency-Key`` header (the SDK sends one). ``rate_limited`` ones count
    against the per-key mint limit.
    """

    name: str
    kind: Literal["query", "mutation"]
    scope: str | None
    input: type[InT]
    output: type[OutT]
    summary: str
    errors: tuple[ErrorCode, ...] = ()
    admin_token: bool = False
    idempotent: bool = False
    rate_limited: bool = False
    examples: dict[str, object] = field(default_factory=dict)
    #: What the input's ``id`` (or another field not in :data:`OWNED_FIELDS`) names.
    owns: dict[str, str] = field(default_factory=dict)

    @property
    def owned(self) -> dict[str, str]:
        """Input field -> the kind of owned object it names (org, tenant, api_key, ...)."""
        named = {
            name: kind
            for name in self.input.model_fields
            if (kind := OWNED_FIELDS.get(name)) is not None
        }
        return named | self.owns

    @property
    def all_errors(self) -> tuple[ErrorCode, ...]:
        """Every code this procedure can answer, the common ones first."""
        extra = [ErrorCode.RATE_LIMITED] if self.rate_limited else []
        if self.admin_token:
            extra.append(ErrorCode.INVALID_TOKEN)
        codes = [*AUTH_ERRORS, *extra, *self.errors]
        return tuple(dict.fromkeys(codes))

    @property
    def statuses(self) -> tuple[int, ...]:
        """The HTTP statuses of :attr:`all_errors`, sorted."""
        return tuple(sorted({HTTP_STATUS[c] for c in self.all_errors}))

    @property
    def path(self) -> tuple[str, ...]:
        """The name's segments (``streams.apiKeys.create`` -> three)."""
        return tuple(self.name.split("."))
