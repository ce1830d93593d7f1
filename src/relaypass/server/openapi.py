"""The OpenAPI 3.1 document, derived from the procedure table.

Every procedure is ``POST /rpc/<name>`` with its input and output schemas, an
example, the bearer scheme, and one response per status it can really answer
(from its error codes through :data:`~relaypass.errors.HTTP_STATUS`), each
with the stable codes behind it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from relaypass.api import Procedure
from relaypass.errors import HTTP_STATUS, ErrorCode

__all__ = ["example_of", "openapi_document"]

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

_JWKS_BODY: Final = {
    "application/json": {
        "schema": _JWKS,
        "example": {
            "keys": [
                {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                 "kid": "sk_2NfW8x0c", "alg": "EdDSA", "use": "sig", "org": "org_1",
                 "scope": {"root": "acme"}}
            ]
        },
    }
}  # fmt: skip
#: What any request may be refused for before it reaches its route.
_HEAD_REFUSALS: Final = (ErrorCode.URI_TOO_LONG, ErrorCode.HEADERS_TOO_LARGE)


def _schemas(procedures: tuple[Procedure[Any, Any], ...]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = []
    for p in procedures:
        models.append((p.input, "validation"))
        models.append((p.output, "serialization"))
    _, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    schemas: dict[str, Any] = defs.get("$defs", {})
    inputs = {p.input.__name__ for p in procedures}
    for name in inputs & set(schemas):
        schemas[name] = _optional_defaults(schemas[name])
    schemas["Problem"] = _PROBLEM_SCHEMA
    return schemas


def _optional_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """An input's defaults, said in words rather than as ``default``.

    Generators (openapi-typescript's ``defaultNonNullable``) read a ``default``
    as "always present": true of answers, not of requests.
    """
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        if "default" in prop:
            prop = {k: v for k, v in prop.items() if k != "default"}  # noqa: PLW2901
            said = f"Default: {json.dumps(schema['properties'][name]['default'])}."
            prop["description"] = f"{prop['description']} {said}" if "description" in prop else said
        properties[name] = prop
    return {**schema, "properties": properties} if properties else schema


def _refusals(codes: tuple[ErrorCode, ...]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[HTTP_STATUS[code]].append(code.value)
    responses: dict[str, Any] = {}
    for status, names in sorted(by_status.items()):
        response: dict[str, Any] = {
            "description": "Refused: " + ", ".join(names),
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": _REF.format(model="Problem")},
                    "example": {
                        "type": f"https://relaypass.dev/errors/{names[0].lower()}",
                        "title": names[0],
                        "status": status,
                        "code": names[0],
                        "detail": "…",
                    },
                }
            },
        }
        if status in {429, 503}:
            response["headers"] = _RETRY_AFTER
        responses[str(status)] = response
    return responses


def _responses(p: Procedure[Any, Any]) -> dict[str, Any]:
    return {
        "200": {
            "description": p.output.__doc__ or "Done.",
            "content": {
                "application/json": {
                    "schema": {"$ref": _REF.format(model=p.output.__name__)},
                    "example": example_of(p.output),
                }
            },
        },
        **_refusals(p.all_errors),
    }


#: Sample values by field name (the rest by type), for the answers' examples.
_SAMPLES: Final[dict[str, object]] = {
    "token": "eyJhbGciOiJFZERTQSIsImtpZCI6InNrXzEifQ.eyJzdWIiOiJkZWZhdWx0In0.c2ln",
    "key": "rp_live_2NfW8x0c9mKq4BvL1tZr7Yh3",
    "kid": "sk_2NfW8x0c",
    "alg": "EdDSA",
    "algorithm": "EdDSA",
    "state": "active",
    "environment": "live",
    "role": "speaker",
    "display": "rp_live_2NfW…h3",
}


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """An example answer of ``model``, built from its schema (a test validates each one)."""
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    sample = _sample(schema, schema.get("$defs", {}), "")
    assert isinstance(sample, dict)  # noqa: S101 - an output model is an object
    return sample


def _sample(schema: dict[str, Any], defs: dict[str, Any], name: str) -> object:  # noqa: PLR0911
    if "$ref" in schema:
        return _sample(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs, name)
    if "anyOf" in schema:
        choices = [s for s in schema["anyOf"] if s.get("type") != "null"] or schema["anyOf"]
        return _sample(choices[0], defs, name)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        return {key: _sample(value, defs, key) for key, value in properties.items()}
    if kind == "array":
        items = schema.get("items")
        return [_sample(items, defs, name)] if isinstance(items, dict) else []
    if name in _SAMPLES:
        return _SAMPLES[name]
    simple: dict[str, object] = {"integer": 1_800_000_000, "number": 1.5, "boolean": True}
    if kind in simple:
        return simple[kind]
    if kind == "string":
        lowered = name.lower()
        return f"{lowered.removesuffix('id') or 'x'}_1" if lowered.endswith("id") else name or "x"
    return None


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
                "200": {"description": "A JWK set.", "content": _JWKS_BODY},
                **_refusals(_HEAD_REFUSALS),
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
                "200": {
                    "description": "A JWK set (empty for a disabled org: gates drop its keys).",
                    "content": _JWKS_BODY,
                },
                **_refusals((ErrorCode.UNKNOWN_PROCEDURE, *_HEAD_REFUSALS)),
            },
        }
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "servers": [{"url": "/", "description": "This control plane (where this document is)."}],
        "info": {
            "title": "relaypass control plane",
            "version": version,
            "license": {"name": "MIT", "identifier": "MIT"},
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
