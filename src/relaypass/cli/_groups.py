"""Option groups: a set of options declared once, as a dataclass, taken by many commands.

Typer has no option groups: every command lists each option it takes. A command here takes a
group as one parameter annotated with the group's dataclass instead; :func:`grouped` shows Typer
the group's fields as the command's own options (each with its own help and environment
variable) and hands the command one instance of the group.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["grouped"]

R = TypeVar("R")


def grouped(command: Callable[..., R]) -> Callable[..., R]:
    """``command`` with each dataclass-typed parameter spread into the dataclass's options."""
    hints = typing.get_type_hints(command, include_extras=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, tuple[type[Any], tuple[str, ...]]] = {}
    taken = set(hints)
    for param in inspect.signature(command).parameters.values():
        kind = hints[param.name]
        if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
            params.append(_keyword(param.name, kind, param.default))
            continue
        types = typing.get_type_hints(kind, include_extras=True)
        fields = dataclasses.fields(kind)
        for field in fields:
            if field.default is dataclasses.MISSING:
                msg = f"{kind.__name__}.{field.name}: an option group's fields need defaults"
                raise TypeError(msg)
            if field.name in taken:
                msg = f"{command.__name__}: option {field.name!r} is declared twice"
                raise TypeError(msg)
            taken.add(field.name)
            params.append(_keyword(field.name, types[field.name], field.default))
        groups[param.name] = (kind, tuple(f.name for f in fields))

    @functools.wraps(command)
    def run(**given: object) -> R:
        for name, (kind, names) in groups.items():
            given[name] = kind(**{n: given.pop(n) for n in names})
        return command(**given)

    signature = inspect.Signature(params, return_annotation=hints.get("return", None))
    run.__signature__ = signature  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    del run.__wrapped__  # Typer must read the spread signature
    return run


def _keyword(name: str, annotation: object, default: object) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)  # fmt: skip
