"""The browser package, built once per worker for the tests that load it."""

from tests._js import PACKAGE, built, run

__all__ = ["PACKAGE", "built", "run"]
