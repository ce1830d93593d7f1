"""What a handler receives, and the registry that binds handlers to procedures.

A handler is a plain function ``(services, call, input) -> output``; it runs in
a worker thread (store calls are blocking), or for the mints on the event loop
until it would block (:mod:`relaypass.server.blocking`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import Counter
from pydantic import BaseModel

from relaypass.api import Procedure
from relaypass.errors import InvalidPermissionsError
from relaypass.server.current import PROCEDURE
from relaypass.server.db.store import ApiKeyRecord, Store
from relaypass.server.ratelimit import MintRateLimiter
from relaypass.server.settings import Settings
from relaypass.server.usage import UsageRecorder
from relaypass.server.webhooks import Deliverer

__all__ = ["Call", "Handler", "Handlers", "Services"]

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Services:
    """The app's parts a handler may use."""

    store: Store
    settings: Settings
    published: Callable[[], bool | None]
    mints: Counter
    limiter: MintRateLimiter | None
    #: Who the gates report waiting in a room's lobby (``None``: no Redis).
    lobby: Callable[[str, str], list[dict[str, Any]]] | None = None
    #: Who the gates report in a room (``None``: no Redis).
    participants: Callable[[str, str], list[dict[str, Any]]] | None = None
    #: Usage: mints counted, the gates' events and live sessions (``None``: not recorded).
    usage: UsageRecorder | None = None
    #: Webhook delivery, told when something was queued (``None``: not delivering here).
    webhooks: Deliverer | None = None

    def same_org(self, who: ApiKeyRecord, org_id: str) -> None:
        """Refuse naming another org; the attempt goes into that org's audit log."""
        if who.org_id != org_id:
            self.store.record_denied(org_id, who, PROCEDURE.get())
            msg = "orgId names an org other than the API key's own (leave it out to act on yours)"
            raise InvalidPermissionsError(msg)


@dataclass(frozen=True, slots=True)
class Call:
    """One call: the verified API key (``None`` when an ``admin_token`` stands in)."""

    key: ApiKeyRecord | None
    idempotency_key: str | None = None
    origin: str | None = None
    authorization: str | None = None
    #: What the call did already, so a retry in a worker thread does not do it twice
    #: (``"rate"``: the rate-limit hit was counted). See :mod:`relaypass.server.blocking`.
    marks: set[str] = field(default_factory=set)

    @property
    def who(self) -> ApiKeyRecord:
        """The API key; procedures that require one always have it."""
        if self.key is None:  # pragma: no cover - the dispatcher guarantees it
            msg = "missing bearer API key"
            raise InvalidPermissionsError(msg)
        return self.key


Handler = Callable[[Services, Call, Any], BaseModel]


class Handlers:
    """Handlers by procedure name; each procedure gets exactly one."""

    def __init__(self) -> None:
        self.by_name: dict[str, tuple[Procedure[Any, Any], Handler]] = {}

    def handles(
        self, procedure: Procedure[InT, OutT]
    ) -> Callable[[Callable[[Services, Call, InT], OutT]], Callable[[Services, Call, InT], OutT]]:
        """Bind the decorated function to ``procedure``."""

        def bind(
            fn: Callable[[Services, Call, InT], OutT],
        ) -> Callable[[Services, Call, InT], OutT]:
            if procedure.name in self.by_name:
                msg = f"{procedure.name} already has a handler"
                raise ValueError(msg)
            self.by_name[procedure.name] = (procedure, fn)
            return fn

        return bind
