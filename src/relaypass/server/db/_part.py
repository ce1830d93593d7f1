"""What every part of the store reads of the Store it is mixed into.

Declared once here, defined once in :class:`~relaypass.server.db.store.Store`.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from relaypass.server.db.changes import ChangeFeed
from relaypass.server.db.refresh import Refresher
from relaypass.server.secrets import KeyEncryptionKey

__all__ = ["StorePart"]


class StorePart:
    """The base of each part of the store (API keys, signing keys, tenancy, ...)."""

    #: One transaction: commits on success, rolls back on any error.
    transaction: Callable[[], AbstractContextManager[Session]]
    #: The store's clock, in Unix milliseconds.
    _now: Callable[[], int]
    #: The same clock as a :class:`~relaypass._clock.Clock` (seconds).
    clock: Any
    #: Audit one action in the caller's transaction, with the outbox rows it implies.
    _audit: Callable[..., None]
    #: Append one audit event in a transaction of its own.
    record: Callable[..., None]
    #: Run a create once per idempotency key, replaying its outcome on retry.
    _idempotent: Callable[..., dict[str, Any]]
    #: Reloads the cached entries in use before they expire.
    _refresher: Refresher
    #: The change feed, which drops an org's cached entries once another worker writes.
    _changes: ChangeFeed
    #: Seals private keys, webhook secrets and replayed responses.
    _kek: KeyEncryptionKey
    #: Reads made by cache misses, by cache.
    cache_misses: collections.Counter[str]
    #: The longest life of a token this control plane mints.
    max_token_ttl_ms: int
