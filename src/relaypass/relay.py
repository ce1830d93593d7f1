"""Moved to :mod:`relaypass.gate.adapters.moq_relay`; this name keeps existing imports working."""

from relaypass.gate.adapters import moq_relay as _moved
from relaypass.gate.adapters.moq_relay import *  # noqa: F403 - its public names, as they were here

__all__ = _moved.__all__
