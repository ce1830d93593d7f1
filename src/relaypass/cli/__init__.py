"""The ``relaypass`` command line. The library core knows nothing of it."""

from relaypass.cli._app import app, main
from relaypass.cli._moq_token import moq_token_app, moq_token_main

__all__ = ["app", "main", "moq_token_app", "moq_token_main"]
