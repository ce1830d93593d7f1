"""The ``relaypass`` command line. The library core knows nothing of it."""

from relaypass.cli._app import app, main

__all__ = ["app", "main"]
