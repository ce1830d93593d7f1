"""Moved to :mod:`relaypass.gate.adapters.http`; this name keeps existing imports working."""

from relaypass.gate.adapters import http as _moved
from relaypass.gate.adapters.http import *  # noqa: F403 - its public names, as they were here

__all__ = _moved.__all__
