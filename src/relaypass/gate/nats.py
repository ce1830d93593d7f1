"""Moved to :mod:`relaypass.gate.adapters.nats`; this name keeps existing imports working."""

from relaypass.gate.adapters import nats as _moved
from relaypass.gate.adapters.nats import *  # noqa: F403 - its public names, as they were here

__all__ = _moved.__all__
