"""One background thread, and the event that asks it to stop.

The control plane and the gates run a few loops beside the requests (the
outbox drain, the usage recorder and shipper, the webhook deliverer). Each is a
daemon thread whose loop checks :attr:`Background.stopping`; this is its start
and stop, written once. A stopped loop may be started again (an ASGI app's
lifespan may run more than once in one process).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Background"]


@final
class Background:
    """A named daemon thread running ``loop``, which returns once :attr:`stopping` is set."""

    __slots__ = ("_loop", "_name", "_thread", "stopping")

    def __init__(self, loop: Callable[[], None], name: str) -> None:
        self._loop = loop
        self._name = name
        self._thread: threading.Thread | None = None
        #: Set by :meth:`stop`; the loop waits on it (``stopping.wait(seconds)``) and ends.
        self.stopping = threading.Event()

    @property
    def alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread, unless it runs; a stopped one starts afresh."""
        if self.alive:
            return
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float, *, wake: threading.Event | None = None) -> None:
        """Ask the loop to end (setting ``wake`` too, where it sleeps on one) and wait for it."""
        self.stopping.set()
        if wake is not None:
            wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=timeout)
