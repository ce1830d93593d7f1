"""Render ``_generated.py``: the SDK's typed namespaces, one method per procedure of the table.

``python -m relaypass.client._codegen > src/relaypass/client/_generated.py``
rewrites it; a test fails when the committed file differs from what the table
renders now, so the SDK cannot drift from the server.
"""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from relaypass import api
from relaypass.api import PROCEDURES, Procedure

__all__ = ["render"]

_MODULES = {"accounts": api.accounts, "audit": api.audit, "keys": api.keys,
            "rooms": api.rooms, "tenancy": api.tenancy, "tokens": api.tokens,
            "usage": api.usage, "webhooks": api.webhooks}  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_NAMED: Final[dict[Any, str]] = {type(None): "None", Any: "Any"}


def _type(tp: Any) -> str:  # noqa: ANN401 - any annotation
    if tp in _NAMED:
        return _NAMED[tp]
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in {Union, types.UnionType}:
        return " | ".join(_type(a) for a in args)
    if origin is list:  # ``list`` is also a method name here (``tenants.list``)
        return f"builtins.list[{_type(args[0])}]"
    if origin is dict:
        return f"dict[{_type(args[0])}, {_type(args[1])}]"
    if origin is Literal:
        return f"Literal[{', '.join(json.dumps(a) for a in args)}]"
    return str(tp.__name__)


def _where(obj: object) -> str:
    """``module.NAME`` of a procedure constant or a model in :mod:`relaypass.api`."""
    for short, module in _MODULES.items():
        for name, value in vars(module).items():
            if value is obj and not name.startswith("_"):
                return f"{short}.{name}"
    msg = f"{obj!r} is not exported by relaypass.api"
    raise LookupError(msg)


def _parameter(name: str, info: FieldInfo) -> tuple[str, str]:
    annotation = _type(info.annotation)
    if info.is_required():
        return f"{name}: {annotation}", f'"{name}": {name}'
    if info.default_factory is not None:
        return f"{name}: {annotation} | None = None", f'"{name}": {name}'
    default = json.dumps(info.default) if isinstance(info.default, str) else repr(info.default)
    return f"{name}: {annotation} = {default}", f'"{name}": {name}'


@dataclass
class _Node:
    methods: list[Procedure[Any, Any]] = field(default_factory=list)
    children: dict[str, _Node] = field(default_factory=dict)


def _tree() -> _Node:
    root = _Node()
    for procedure in PROCEDURES:
        node = root
        for part in procedure.path[:-1]:
            node = node.children.setdefault(_snake(part), _Node())
        node.methods.append(procedure)
    return root


def _method(procedure: Procedure[Any, Any], *, asynchronous: bool) -> list[str]:
    fields = procedure.input.model_fields
    params = [_parameter(n, f) for n, f in fields.items()]
    signature = ", ".join(["self", *(["*"] if params else []), *(p for p, _ in params)])
    output = _where(procedure.output)
    prefix, wait = ("async def", "await ") if asynchronous else ("def", "")
    body = ", ".join(v for _, v in params)
    return [
        f"    {prefix} {_snake(procedure.path[-1])}({signature}) -> {output}:",
        f'        """{procedure.summary}"""',
        f"        return {wait}self._t.call({_where(procedure)}, {{{body}}})",
    ]


def _classes(node: _Node, name: str, where: str, *, asynchronous: bool) -> list[str]:
    lines: list[str] = []
    for child_name, child in node.children.items():
        child_class = f"_{name.lstrip('_')}{_pascal(child_name)}"
        lines += _classes(child, child_class, f"{where}{child_name}.", asynchronous=asynchronous)
    transport = "AsyncCaller" if asynchronous else "Caller"
    lines += [
        "",
        "",
        f"class {name}:",
        f'    """The ``{where}*`` procedures."""' if where else '    """Every procedure."""',
        "",
        f"    def __init__(self, transport: {transport}) -> None:",
        "        self._t = transport",
    ]
    for child_name in node.children:
        lines.append(
            f"        self.{child_name} = _{name.lstrip('_')}{_pascal(child_name)}(transport)"
        )
    for procedure in node.methods:
        lines.append("")
        lines += _method(procedure, asynchronous=asynchronous)
    return lines


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def render() -> str:
    """The module's source."""
    tree = _tree()
    lines = [
        '"""Generated from the procedure table by ``relaypass.client._codegen``: do not edit."""',
        "",
        "# ruff: noqa: E501, A002",
        "",
        "from __future__ import annotations",
        "",
        "import builtins",
        "from typing import Any, Literal",
        "",
        f"from relaypass.api import {', '.join(sorted(_MODULES))}",
        "from relaypass.client._transport import AsyncCaller, Caller",
        "",
        '__all__ = ["AsyncProcedures", "Procedures"]',
        "",
        "_ = Any  # some inputs take free-form objects",
    ]
    lines += _classes(tree, "Procedures", "", asynchronous=False)
    lines += _classes(tree, "AsyncProcedures", "", asynchronous=True)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - a developer's command
    print(render(), end="")  # noqa: T201
