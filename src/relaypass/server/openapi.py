"""The OpenAPI 3.1 document, derived from the procedure table.

Every procedure is ``POST /rpc/<name>`` with its input and output schemas, an
example, the bearer scheme, and one response per status it can really answer
(from its error codes through :data:`~relaypass.errors.HTTP_STATUS`), each
with the stable codes behind it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from relaypass.api import Procedure
from relaypass.errors import HTTP_STATUS, ErrorCode

__all__ = ["openapi_document"]

_REF: Final = "#/components/schemas/{model}"
_PROBLEM_SCHEMA: Final = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 7807 problem details with the stable error code.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "enum": [c.value for c in ErrorCode]},
        "detail": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "string"}},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_RETRY_AFTER: Final = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}
_JWKS: Final = {
    "type": "object",
    "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
}

_JWKS_BODY: Final = {"application/json": {"schema": _JWKS}}


def _schemas(procedures: tuple[Procedure[Any, Any], ...]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = []
    for p in procedures:
        models.append((p.input, "validation"))
        models.append((p.output, "serialization"))
    _, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    schemas: dict[str, Any] = defs.get("$defs", {})
    schemas["Problem"] = _PROBLEM_SCHEMA
    return schemas


def _responses(p: Procedure[Any, Any]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in p.all_errors:
        by_status[HTTP_STATUS[code]].append(code.value)
    responses: dict[str, Any] = {
        "200": {
            "description": p.output.__doc__ or "Done.",
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model=p.output.__name__)}}
            },
        }
    }
    for status, codes in sorted(by_status.items()):
        response: dict[str, Any] = {
            "description": "Refused: " + ", ".join(codes),
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": _REF.format(model="Problem")},
                    "example": {
                        "type": f"https://relaypass.dev/errors/{codes[0].lower()}",
                        "title": codes[0],
                        "status": status,
                        "code": codes[0],
                        "detail": "…",
                    },
                }
            },
        }
        if status in {429, 503}:
            response["headers"] = _RETRY_AFTER
        responses[str(status)] = response
    return responses


def _operation(p: Procedure[Any, Any]) -> dict[str, Any]:
    security: list[dict[str, list[str]]] = [{"apiKey": []}]
    if p.admin_token:
        security.append({})  # an admin_token in the body stands in for the key
    operation: dict[str, Any] = {
        "operationId": p.name,
        "summary": p.summary,
        "description": (
            f"A tRPC {p.kind}; needs an API key with the `{p.scope}` scope."
            if p.scope
            else f"A tRPC {p.kind}; any valid API key."
        )
        + (
            " Or send a tenant admin's service-account JWT as `admin_token`."
            if p.admin_token
            else ""
        ),
        "tags": [p.path[0] if len(p.path) > 1 else "serviceAccounts"],
        "security": security,
        "requestBody": {
            "required": bool(p.input.model_json_schema().get("required")),
            "content": {
                "application/json": {
                    "schema": {"$ref": _REF.format(model=p.input.__name__)},
                    **({"example": p.examples} if p.examples else {}),
                }
            },
        },
        "responses": _responses(p),
    }
    if p.idempotent:
        operation["parameters"] = [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key answers the first result.",
                "schema": {"type": "string", "maxLength": 128},
            }
        ]
    return operation


def openapi_document(
    procedures: tuple[Procedure[Any, Any], ...], *, version: str
) -> dict[str, Any]:
    """The whole document for these procedures."""
    paths: dict[str, Any] = {f"/rpc/{p.name}": {"post": _operation(p)} for p in procedures}
    paths["/.well-known/jwks.json"] = {
        "get": {
            "operationId": "jwks",
            "summary": "Every org's published public keys (pending, active, retiring).",
            "tags": ["keys"],
            "security": [],
            "responses": {
                "200": {
                    "description": "A JWK set.",
                    "content": {"application/json": {"schema": _JWKS}},
                }
            },
        }
    }
    paths["/orgs/{org_id}/jwks.json"] = {
        "get": {
            "operationId": "orgJwks",
            "summary": "One org's public keys and live issuers.",
            "tags": ["keys"],
            "security": [],
            "parameters": [
                {"name": "org_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "A JWK set.", "content": _JWKS_BODY},
                "404": {"description": "An org id longer than any org's.", "content": _JWKS_BODY},
            },
        }
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "relaypass control plane",
            "version": version,
            "description": (
                "Every procedure is `POST /rpc/<name>` with a JSON body, and also served on "
                "`/trpc/<name>` in tRPC v11's wire format (queries by GET). Refusals are "
                "RFC 7807 problem+json with a stable `code`."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(procedures),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A control-plane API key (`rp_live_…`).",
                }
            },
        },
    }
