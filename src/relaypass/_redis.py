"""Redis by URL, for every part that takes one: a single node, or a primary found through Sentinel.

- ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS), ``unix:///path?db=0``:
  one node, as redis-py reads them.
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]``: the primary of
  ``service`` as the sentinels report it; the password (if any) is the primary's, and
  ``?sentinel_password=`` the sentinels' own. On a failover the client finds the new primary
  on its next connection, so a listener that reconnects (the gates', the outbox's) follows it.

Redis Cluster is not supported: several parts keep related keys together in one transaction
or script and listen with plain pub/sub, which a cluster spreads over slots; a
``redis+cluster://`` URL is refused at start-up with one clear line rather than failing later.
A malformed URL is refused the same way, its password never repeated.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Final

import redis
from redis.sentinel import Sentinel

from relaypass.errors import InvalidRequestError

__all__ = ["SCHEMES", "redacted", "redis_client"]

SCHEMES: Final = ("redis", "rediss", "unix", "redis+sentinel")
_SENTINEL_PORT: Final = 26379


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
    if scheme == "redis+cluster":
        msg = "Redis Cluster is not supported (use one node, or Sentinel: redis+sentinel://)"
        raise _refuse(url, msg)
    if scheme not in SCHEMES:
        raise _refuse(url, f"the scheme must be one of {', '.join(SCHEMES)}")
    if scheme != "redis+sentinel":
        try:
            return redis.Redis.from_url(url, **options)
        except ValueError as exc:
            raise _refuse(url, str(exc).replace(url, redacted(url))) from None
    return _sentinel_client(url, parts, options)


def _sentinel_client(
    url: str, parts: urllib.parse.SplitResult, options: dict[str, Any]
) -> redis.Redis:
    hosts: list[tuple[str, int]] = []
    netloc = parts.netloc.rpartition("@")[2]
    for item in netloc.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        host = host.strip("[]")
        if not host:
            raise _refuse(url, "name the sentinels: host:port[,host:port...]")
        try:
            hosts.append((host, int(port) if port else _SENTINEL_PORT))
        except ValueError:
            raise _refuse(url, f"{item!r} is not host:port") from None
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
