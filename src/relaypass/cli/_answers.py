"""How an admin command prints an answer, and a refusal in the command line's own words."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from typing import TYPE_CHECKING, Any, Final

from rich.table import Table

from relaypass.cli._output import out as _out
from relaypass.errors import RelaypassError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["show", "spelled_as_flags"]


def show(result: BaseModel, as_json: bool) -> None:
    """A table in words, with human times and nothing cut; ``--json`` keeps the raw values."""
    data = result.model_dump(mode="json", by_alias=True)
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    rows = [v for v in data.values() if isinstance(v, list)]
    if not (len(data) == 1 and rows and all(isinstance(r, dict) for r in rows[0])):
        _out.print(_record(data))
        return
    items: list[dict[str, Any]] = rows[0]
    if not items:
        _out.print("(none)")
    elif len(items[0]) <= _WIDE_COLUMNS:
        table = Table()
        for name in items[0]:
            table.add_column(_words(name), overflow="fold")
        for item in items:
            table.add_row(*(_cell(k, v) for k, v in item.items()))
        _out.print(table)
    else:  # too many columns for a terminal: one record per item, nothing squeezed
        for number, item in enumerate(items, 1):
            _out.print(_record(item, title=f"{number} of {len(items)}"))


_WIDE_COLUMNS: Final = 4


def _record(data: dict[str, Any], title: str | None = None) -> Table:
    """Field and value, one per line; a token or an id wraps, it is never cut."""
    table = Table(show_header=False, title=title, title_justify="left")
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in data.items():
        table.add_row(_words(name), _cell(name, value))
    return table


def _words(name: str) -> str:
    """``createdAtMs`` -> ``created at``: table headers in words, the unit left to the value."""
    return re.sub(r"_ms$", "", _snake(name)).replace("_", " ")


def _cell(name: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        snake = _snake(name)
        if snake.endswith("_at_ms"):
            return _when(value / 1000)
        if snake.endswith("_at"):
            return _when(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _when(seconds: float) -> str:
    """A time in the viewer's own zone."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


#: How the commands spell the fields the service names: a refusal speaks of ``--ttl``, not
#: ``ttl_seconds``. Fields not listed are spelled ``--field-name``.
_FLAG_FOR_FIELD: Final = {
    "ttl_seconds": "--ttl",
    "org_id": "--org",
    "tenant_id": "TENANT",
    "room_id": "ROOM (or --room)",
    "participant_id": "PARTICIPANT (or --participant)",
    "private_key_id": "--kid",
    "public_key_pem": "--public-key",
    "is_viewer": "--viewer/--speaker",
    "grace_seconds": "--grace-seconds",
    "id": "ID",
}


def _snake(field: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", field).lower()


def spelled_as_flags(exc: RelaypassError) -> RelaypassError:
    """The refusal with each field it names spelled as this command line's option."""
    fields = [str(f) for f in getattr(exc, "fields", None) or []]
    if not fields:
        return exc
    reason = exc.reason
    for field in sorted(fields, key=len, reverse=True):
        snake = _snake(field.split(".")[-1])
        flag = _FLAG_FOR_FIELD.get(snake, "--" + snake.replace("_", "-"))
        reason = re.sub(rf"\b{re.escape(field)}\b", flag, reason)
    spelled = type(exc).__new__(type(exc))
    RelaypassError.__init__(spelled, reason)
    vars(spelled).update(vars(exc), reason=reason)
    return spelled
