"""Real Redis for the worked examples (the same fixtures as the control-plane tests)."""

from tests.server.conftest import redis_prefix, redis_server

__all__ = ["redis_prefix", "redis_server"]
