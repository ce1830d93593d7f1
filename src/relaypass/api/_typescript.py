"""Render ``clients/js/trpc/app-router.d.ts``: the control plane's tRPC router type, from the table.

``python -m relaypass.api._typescript > clients/js/trpc/app-router.d.ts`` rewrites
it; a test fails when the committed file differs from what the table renders
now, and another type-checks a real ``@trpc/client`` program against it with
strict ``tsc``. Inputs and outputs are the procedures' own models, by their wire
names; a field with a default is optional, and an input whose fields all have
defaults may be left out.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from pydantic import BaseModel

from relaypass.api import PROCEDURES
from relaypass.errors import ErrorCode

__all__ = ["render"]

_HEADER: Final = """\
// The relaypass control plane as a tRPC v11 router type: `createTRPCClient<AppRouter>`.
// Rendered from the procedure table by `python -m relaypass.api._typescript`; do not edit.
// Plain JSON (no transformer); the server also answers superjson clients.
import type {
  TRPCBuiltRouter,
  TRPCDefaultErrorData,
  TRPCDefaultErrorShape,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
} from "@trpc/server";
"""
_IDENT: Final = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def _key(name: str) -> str:
    return name if _IDENT.match(name) else json.dumps(name)


class _Types:
    """Named TypeScript types for the models met, each rendered once."""

    def __init__(self) -> None:
        self.rendered: dict[str, str] = {}
        self._schemas: dict[str, dict[str, Any]] = {}

    def model(self, model: type[BaseModel], mode: str) -> str:
        schema = model.model_json_schema(by_alias=True, mode=mode)  # type: ignore[arg-type]
        for name, definition in schema.get("$defs", {}).items():
            self._named(name, definition)
        return self._named(model.__name__, schema)

    def _named(self, name: str, schema: dict[str, Any]) -> str:
        seen = self._schemas.setdefault(name, schema)
        if {k: v for k, v in seen.items() if k != "$defs"} != {
            k: v for k, v in schema.items() if k != "$defs"
        }:
            msg = f"two different models are both named {name}"
            raise ValueError(msg)
        if name not in self.rendered:
            self.rendered[name] = ""  # reserved: a type that names itself
            self.rendered[name] = self._of(schema)
        return name

    def _of(self, schema: dict[str, Any]) -> str:  # noqa: PLR0911 - one case per schema form
        if "$ref" in schema:
            return str(schema["$ref"]).rsplit("/", 1)[-1]
        if "anyOf" in schema:
            return " | ".join(dict.fromkeys(self._of(s) for s in schema["anyOf"]))
        if "enum" in schema:
            return " | ".join(json.dumps(v) for v in schema["enum"])
        if "const" in schema:
            return json.dumps(schema["const"])
        kind = schema.get("type")
        simple = {"string": "string", "integer": "number", "number": "number",
                  "boolean": "boolean", "null": "null"}  # fmt: skip
        if kind in simple:
            return simple[kind]
        if kind == "array":
            items = schema.get("items")
            return f"Array<{self._of(items)}>" if isinstance(items, dict) else "unknown[]"
        if kind == "object":
            return self._object(schema)
        return "unknown"

    def _object(self, schema: dict[str, Any]) -> str:
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if not properties:
            value = self._of(extra) if isinstance(extra, dict) else "unknown"
            return f"Record<string, {value}>"
        required = set(schema.get("required", []))
        fields = [
            f"  {_key(name)}{'' if name in required else '?'}: {self._of(prop)};"
            for name, prop in properties.items()
        ]
        return "{\n" + "\n".join(fields) + "\n}"

    def declarations(self) -> str:
        return "\n".join(
            f"export type {name} = {body};\n" for name, body in sorted(self.rendered.items())
        )


def _input_type(types: _Types, model: type[BaseModel]) -> str:
    name = types.model(model, "validation")
    if all(not f.is_required() for f in model.model_fields.values()):
        return f"{name} | void"  # may be left out
    return name


def render() -> str:
    """The declaration file for the current table."""
    types = _Types()
    tree: dict[str, Any] = {}
    for procedure in PROCEDURES:
        kind = "TRPCQueryProcedure" if procedure.kind == "query" else "TRPCMutationProcedure"
        entry = (
            f"{kind}<{{ input: {_input_type(types, procedure.input)}; "
            f"output: {types.model(procedure.output, 'serialization')}; meta: object }}>"
        )
        node = tree
        *parents, leaf = procedure.path
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = entry

    def record(node: dict[str, Any], depth: int) -> str:
        pad = "  " * depth
        lines = []
        for name, value in node.items():
            body = record(value, depth + 1) if isinstance(value, dict) else value
            lines.append(f"{pad}  {_key(name)}: {body};")
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"

    codes = " | ".join(json.dumps(c.value) for c in ErrorCode)
    return (
        _HEADER
        + "\n/** A stable relaypass error code, as `/rpc` answers it. */\n"
        + f"export type RelaypassCode = {codes};\n\n"
        + "/** tRPC's error shape, with the stable code and the refused fields. */\n"
        + "export interface RelaypassErrorShape extends TRPCDefaultErrorShape {\n"
        + "  data: TRPCDefaultErrorData & { relaypassCode: RelaypassCode; fields?: string[] };\n"
        + "}\n\n"
        + types.declarations()
        + "\nexport type AppRouter = TRPCBuiltRouter<\n"
        + "  { ctx: object; meta: object; errorShape: RelaypassErrorShape; transformer: false },\n"
        + "  "
        + record(tree, 1)
        + "\n>;\n"
    )


def render_procedures() -> str:
    """The browser package's typed procedure map (``clients/js/src/procedures.ts``), no tRPC.

    Input and output types of every procedure, keyed by name, for the package's
    backend client (``POST /rpc/<name>`` with an API key).
    """
    types = _Types()
    entries = [
        f"  {json.dumps(p.name)}: {{ input: {_input_type(types, p.input)}; "
        f"output: {types.model(p.output, 'serialization')}; scope: {json.dumps(p.scope)} }};"
        for p in PROCEDURES
    ]
    return (
        "// The control plane's procedures, input and output, by name: `RelaypassBackend.call`.\n"
        "// Rendered from the procedure table by `python -m relaypass.api._typescript "
        "--procedures`; do not edit.\n\n"
        + types.declarations()
        + "\nexport interface Procedures {\n"
        + "\n".join(entries)
        + "\n}\n"
    )


if __name__ == "__main__":  # pragma: no cover - a developer's command
    import sys

    print(render_procedures() if "--procedures" in sys.argv else render(), end="")  # noqa: T201
