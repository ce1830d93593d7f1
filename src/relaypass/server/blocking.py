"""Running a call on the event loop until it would block.

The mint procedures are the hot path, and every read they make is served from
in-process caches almost always. The dispatcher runs them on the event loop
first, inside :func:`on_the_loop`: there, anything that would wait on the
database or Redis raises :class:`NeedsThread` *before* doing so (the store's
``transaction()``, the shared rate-limit counter), and the dispatcher runs the
call again in a worker thread. Audit rows are the exception: ``Store.record``
hands them to the loop's list, and the dispatcher commits them (with the other
calls of the same turn of the loop, on the loop where SQLite needs no wait, else
in the writer thread) and waits for that commit before it answers, so a mint's
row is durable before its token leaves, as in a worker thread.

Whatever a call did before :class:`NeedsThread` must be safe to do again or
marked as done on the call (the rate-limit hit is).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["AuditRow", "NeedsThread", "deferred_audit", "forbid_blocking", "on_the_loop"]

AuditRow = tuple[int, str | None, str, str, str | None, dict[str, Any]]

_ON_LOOP: ContextVar[list[AuditRow] | None] = ContextVar("relaypass_on_loop", default=None)


class NeedsThread(Exception):  # noqa: N818 - a signal to the dispatcher, not an error
    """The call would block the event loop here: run it again in a worker thread."""


@contextmanager
def on_the_loop() -> Iterator[list[AuditRow]]:
    """Run the body as a call on the loop; yields the audit rows it leaves to commit."""
    rows: list[AuditRow] = []
    token = _ON_LOOP.set(rows)
    try:
        yield rows
    finally:
        _ON_LOOP.reset(token)


def forbid_blocking() -> None:
    """Raise :class:`NeedsThread` when called on the loop (before any blocking I/O)."""
    if _ON_LOOP.get() is not None:
        raise NeedsThread


def deferred_audit() -> list[AuditRow] | None:
    """On the loop: the list audit rows go to; in a worker thread: ``None``."""
    return _ON_LOOP.get()
