"""Real Redis for the gate tests (the same fixtures as the control-plane tests)."""

from tests.server.conftest import redis_cluster, redis_prefix, redis_server

__all__ = ["redis_cluster", "redis_prefix", "redis_server"]
