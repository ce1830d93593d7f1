"""Redis by URL, for every part that takes one: one node, Sentinel's primary, or a Cluster.

- ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS), ``unix:///path?db=0``:
  one node, as redis-py reads them.
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]``: the primary of
  ``service`` as the sentinels report it; the password (if any) is the primary's, and
  ``?sentinel_password=`` the sentinels' own. On a failover the client finds the new primary
  on its next connection, so a listener that reconnects (the gates', the outbox's) follows it.

- ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://`` with
  TLS): a Redis Cluster, found through any of the nodes named. A deployment's keys then share
  one hash tag (:func:`keyspace`: ``{relaypass}:jwks``, ``{relaypass}:events``, ...), because
  several parts change them together in one transaction or script; its announcements go out
  on sharded pub/sub (``SPUBLISH``/``SSUBSCRIBE``, Redis 7), to the shard that holds them
  rather than to every node. Rate-limit counters are the exception: one API key's window is
  all a check touches, so they spread over the cluster. The client is built on first use (a
  cluster away at start-up is a connection error then, as with one node), and follows a slot
  failover by refreshing its map of the cluster.

A malformed URL is refused at start-up with one clear line, its password never repeated.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from typing import Any, Final, Literal, cast

import redis
from redis._parsers.encoders import Encoder
from redis.backoff import ExponentialWithJitterBackoff
from redis.client import PubSub
from redis.cluster import ClusterNode, ClusterPubSub, RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from relaypass.errors import InvalidRequestError

__all__ = [
    "ERRORS",
    "SCHEMES",
    "Heard",
    "announce",
    "clustered",
    "disconnect",
    "keyspace",
    "listen",
    "next_message",
    "publish_command",
    "redacted",
    "redis_client",
]

SCHEMES: Final = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster", "rediss+cluster")
_CLUSTER: Final = ("redis+cluster", "rediss+cluster")
_SENTINEL_PORT: Final = 26379
_REDIS_PORT: Final = 6379

#: What a Redis call can raise: redis-py's errors, and a cluster's own (no node reachable,
#: slots not covered while a failover is under way), which are not among them.
ERRORS: Final = (redis.RedisError, RedisClusterException)


def redacted(url: str) -> str:
    """``url`` with any password replaced, for logs and errors."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _refuse(url: str, why: str) -> InvalidRequestError:
    return InvalidRequestError(f"Redis URL {redacted(url)!r}: {why}")


def redis_client(url: str, **options: Any) -> redis.Redis:  # noqa: ANN401 - redis-py's options
    """A client for ``url`` (see the module); ``options`` as redis-py's (timeouts, decoding)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise _refuse("?", "not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _refuse(url, f"the scheme must be one of {', '.join(SCHEMES)}")
    if scheme in _CLUSTER:
        return _cluster_client(url, parts, options)
    if scheme != "redis+sentinel":
        try:
            return redis.Redis.from_url(url, **options)
        except ValueError as exc:
            raise _refuse(url, str(exc).replace(url, redacted(url))) from None
    return _sentinel_client(url, parts, options)


def _hosts(
    url: str, parts: urllib.parse.SplitResult, default_port: int, what: str
) -> list[tuple[str, int]]:
    hosts: list[tuple[str, int]] = []
    netloc = parts.netloc.rpartition("@")[2]
    for item in netloc.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        host = host.strip("[]")
        if not host:
            raise _refuse(url, f"name the {what}: host:port[,host:port...]")
        try:
            hosts.append((host, int(port) if port else default_port))
        except ValueError:
            raise _refuse(url, f"{item!r} is not host:port") from None
    return hosts


def _sentinel_client(
    url: str, parts: urllib.parse.SplitResult, options: dict[str, Any]
) -> redis.Redis:
    hosts = _hosts(url, parts, _SENTINEL_PORT, "sentinels")
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:  # noqa: PLR2004 - /service or /service/db
        raise _refuse(url, "the path is /<service>[/<db>]")
    service = urllib.parse.unquote(path[0])
    try:
        db = int(path[1]) if len(path) == 2 else 0  # noqa: PLR2004 - /service/db
    except ValueError:
        raise _refuse(url, "the database is a number") from None
    query = urllib.parse.parse_qs(parts.query)
    sentinel_password = query["sentinel_password"][0] if "sentinel_password" in query else None
    timeout = options.get("socket_timeout", 5)
    sentinel = Sentinel(
        hosts,
        socket_timeout=timeout,
        sentinel_kwargs={"socket_timeout": timeout, "password": sentinel_password},
    )
    client: redis.Redis = sentinel.master_for(
        service,
        db=db,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        **options,
    )
    return client


def _cluster_client(
    url: str, parts: urllib.parse.SplitResult, options: dict[str, Any]
) -> redis.Redis:
    hosts = _hosts(url, parts, _REDIS_PORT, "nodes")
    if parts.path.strip("/") not in {"", "0"}:
        raise _refuse(url, "a cluster has one database: no path, or /0")
    if parts.query:
        raise _refuse(url, "a cluster URL takes no query")
    settings = {
        # Few, quick retries: every part has its own way through an outage (the outbox
        # publishes later, gates resync, limits count in process), and a call should
        # not hold its caller for the length of a failover.
        "retry": Retry(ExponentialWithJitterBackoff(cap=0.25, base=0.05), 2),
        **options,
        "username": urllib.parse.unquote(parts.username) if parts.username else None,
        "password": urllib.parse.unquote(parts.password) if parts.password else None,
        "ssl": parts.scheme.lower() == "rediss+cluster",
    }
    nodes = [ClusterNode(host, port) for host, port in hosts]  # type: ignore[no-untyped-call]
    encoder = Encoder(  # type: ignore[no-untyped-call]
        options.get("encoding", "utf-8"),
        options.get("encoding_errors", "strict"),
        options.get("decode_responses", False),
    )
    # The same command surface as one node's client; where they differ (pub/sub, the
    # connection pool) callers go through this module's helpers.
    return cast("redis.Redis", _LazyCluster(lambda: RedisCluster(startup_nodes=nodes, **settings),
                                            encoder))  # fmt: skip


class _LazyCluster:
    """A :class:`RedisCluster` built on its first use, and again on a later use if that failed.

    redis-py's cluster client asks a node for the slot map while it is built; built at
    start-up it would make a cluster that is away then fatal, where one node's client
    only fails the calls made while Redis is away.
    """

    def __init__(self, build: Callable[[], RedisCluster], encoder: Encoder) -> None:
        self._build = build
        self._encoder = encoder
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    def cluster(self) -> RedisCluster:
        """The cluster client, built now if it is not yet."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._build()
                except RedisClusterException as exc:
                    raise redis.ConnectionError(str(exc)) from None
            return self._client

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - the cluster client's own
        return getattr(self.cluster(), name)

    def get_encoder(self) -> Encoder:
        """How commands and scripts are encoded (known without asking the cluster)."""
        return self._encoder

    def register_script(self, script: str) -> Script:
        """A script run on the cluster once it is there (its digest is known now)."""
        return Script(cast("redis.Redis", self), script)

    def close(self) -> None:
        """Close the cluster client, if it was ever built."""
        if self._client is not None:
            self._client.close()

    def disconnect(self) -> None:
        """Drop the pooled connections to every node, if the client was ever built."""
        if self._client is not None:
            self._client.disconnect_connection_pools()  # type: ignore[no-untyped-call]


def clustered(client: object) -> bool:
    """Whether ``client`` (or a pipeline or pub/sub of it) talks to a Redis Cluster."""
    return isinstance(client, (_LazyCluster, RedisCluster, ClusterPubSub))


def keyspace(client: object, prefix: str) -> str:
    """The prefix of a deployment's keys: ``prefix``, or ``{prefix}`` on a cluster (one slot)."""
    if clustered(client) and not (prefix.startswith("{") and "}" in prefix):
        return f"{{{prefix}}}"
    return prefix


def publish_command(client: object) -> str:
    """The command a script announces with: ``SPUBLISH`` on a cluster, else ``PUBLISH``."""
    return "SPUBLISH" if clustered(client) else "PUBLISH"


def announce(target: Any, channel: str, message: str) -> None:  # noqa: ANN401 - client or pipeline
    """Publish ``message`` on ``channel`` (sharded on a cluster); ``target`` may be a pipeline."""
    if clustered(target):
        target.spublish(channel, message)
    else:
        target.publish(channel, message)


#: What a listener hears: an announcement (its text), or that it is subscribed (again).
Heard = tuple[Literal["message", "subscribed"], str]


def listen(client: redis.Redis, channel: str) -> PubSub:
    """A pub/sub subscribed to ``channel`` (sharded on a cluster).

    redis-py subscribes again on its own after a lost connection (on a cluster, to
    the slot's new primary after a failover), so a listener cannot count on an error
    to tell it that announcements may have been missed: :func:`next_message` reports
    every confirmed subscription, and a listener reads the state again on each.
    """
    if clustered(client):
        cluster = cast("_LazyCluster", client).cluster()
        sharded = cluster.pubsub()
        try:
            sharded.ssubscribe(channel)
        except redis.ConnectionError:
            # The slot's primary is gone. Commands refresh the client's map of the
            # cluster on such an error; a pub/sub does not: ask for it, and try the
            # slot's primary as the cluster now names it (the error stands if it fails).
            sharded.close()
            cluster.nodes_manager.initialize()
            sharded = cluster.pubsub()
            sharded.ssubscribe(channel)
        return sharded
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    return pubsub


def next_message(pubsub: PubSub, timeout: float) -> Heard | None:
    """What the listener heard next, or ``None`` within ``timeout``."""
    if isinstance(pubsub, ClusterPubSub):
        message = pubsub.get_sharded_message(timeout=timeout)  # type: ignore[no-untyped-call]
    else:
        message = pubsub.get_message(timeout=timeout)
    if message is None:
        return None
    kind, data = message.get("type"), message.get("data")
    if kind in {"subscribe", "ssubscribe"}:
        return ("subscribed", "")
    if kind not in {"message", "smessage"}:
        return None
    return ("message", data.decode() if isinstance(data, bytes) else str(data))


def disconnect(client: redis.Redis) -> None:
    """Drop every pooled connection (after a fork, or to give a server back)."""
    if isinstance(client, _LazyCluster):
        client.disconnect()
        return
    client.connection_pool.disconnect()
