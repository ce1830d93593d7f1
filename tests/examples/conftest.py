"""Real Redis for the worked examples (the same fixtures as the control-plane tests), and the
browser package their pages load."""

from tests._js import built
from tests.server.conftest import redis_prefix, redis_server

__all__ = ["built", "redis_prefix", "redis_server"]
