"""One call of one procedure, whatever the wire: authenticate, validate, run, answer.

The wire adapters (``/rpc``, ``/trpc``) parse their framing and hand each call
here; they get back a :class:`Success` with the answer in wire form, or a
:class:`Failure` with the stable code, and only format it. A handler runs in a
worker thread with the authentication and validation before it, so a call costs
one thread hop and never blocks the event loop. Rate-limited procedures (the
mints, the hot path) run on the loop first and move to a thread only where they
would block (:mod:`relaypass.server.blocking`): the hop cost a third of their
throughput.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

import anyio.to_thread
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from relaypass._redis import ERRORS as REDIS_ERRORS
from relaypass.api import Procedure
from relaypass.errors import (
    ErrorCode,
    InvalidApiKeyError,
    InvalidPermissionsError,
    InvalidRequestError,
    RateLimitedError,
    RelaypassError,
    UnavailableError,
)
from relaypass.server import blocking
from relaypass.server import logging as rlog
from relaypass.server.current import PROCEDURE
from relaypass.server.db.store import ApiKeyRecord
from relaypass.server.procedures import Call, Handler, Services

__all__ = ["CallMeta", "Dispatcher", "Failure", "Success"]

#: Codes whose reason stays in the log: a client learns only that it failed.
_PUBLIC_ONLY: Final = {ErrorCode.INVALID_TOKEN, ErrorCode.INVALID_API_KEY}
_MAX_FIELDS: Final = 20


@dataclass(frozen=True, slots=True)
class CallMeta:
    """What a call carries besides its input."""

    authorization: str | None = None
    idempotency_key: str | None = None
    origin: str | None = None
    #: The record of ``authorization``'s key, when the request middleware verified it.
    verified: ApiKeyRecord | None = None


@dataclass(frozen=True, slots=True)
class Success:
    """The answer, as JSON-ready wire data."""

    data: dict[str, Any]
    status: int = 200


@dataclass(frozen=True, slots=True)
class Failure:
    """A refusal with its stable code."""

    code: ErrorCode
    status: int
    detail: str
    extra: dict[str, object] = field(default_factory=dict)
    retry_after_seconds: int | None = None


def _own_org(call: Call, body: BaseModel) -> BaseModel:
    """An ``orgId`` left out is the calling API key's own org (``OWN_ORG``)."""
    if getattr(body, "org_id", None) != "":
        return body
    if call.who is None:
        msg = "orgId is required when the call carries no API key"
        raise InvalidRequestError(msg)
    return body.model_copy(update={"org_id": call.who.org_id})


def _redis_unavailable() -> Failure:
    """A read that needs Redis (who is live, who waits, a room's participants) while it is away."""
    return Failure(ErrorCode.UNAVAILABLE, 503, "Redis is unreachable; retry", retry_after_seconds=1)


def _database_unavailable() -> Failure:
    """Nothing was answered as done: a write that failed rolled back (or never committed)."""
    return Failure(
        ErrorCode.UNAVAILABLE, 503, "the database is unreachable; retry", retry_after_seconds=1
    )


class Dispatcher:
    """Runs procedures from the handler table."""

    def __init__(
        self,
        table: dict[str, tuple[Procedure[Any, Any], Handler]],
        services: Services,
        *,
        requests: Counter,
        latency: Histogram,
        moved: Counter | None = None,
    ) -> None:
        self.table = table
        self.services = services
        self._requests = requests
        self._latency = latency
        self._moved = moved
        self._log = rlog.get_logger()

    def procedure(self, name: str) -> Procedure[Any, Any] | None:
        """The procedure of that name, if any."""
        entry = self.table.get(name)
        return entry[0] if entry is not None else None

    async def dispatch(self, name: str, raw: object, meta: CallMeta) -> Success | Failure:
        """Run one call; never raises for a refusal."""
        started = time.perf_counter()
        entry = self.table.get(name)
        if entry is None:
            outcome: Success | Failure = Failure(
                ErrorCode.UNKNOWN_PROCEDURE, 404, "there is no procedure of that name"
            )
            label = "unknown"
        else:
            PROCEDURE.set(name)
            marks: set[str] = set()
            loop_outcome = (
                await self._on_loop(entry, raw, meta, marks) if entry[0].rate_limited else None
            )
            outcome = (
                await anyio.to_thread.run_sync(self._run, entry, raw, meta, marks)
                if loop_outcome is None
                else loop_outcome
            )
            label = name
        self._latency.labels(label).observe(time.perf_counter() - started)
        self._requests.labels(label, str(outcome.status)).inc()
        return outcome

    async def _on_loop(
        self,
        entry: tuple[Procedure[Any, Any], Handler],
        raw: object,
        meta: CallMeta,
        marks: set[str],
    ) -> Success | Failure | None:
        """The call run on the loop, its audit rows committed; ``None``: it needs a thread."""
        with blocking.on_the_loop() as rows:
            try:
                outcome = self._run(entry, raw, meta, marks)
            except blocking.NeedsThread:
                if self._moved is not None:
                    self._moved.labels(entry[0].name).inc()
                return None
        if rows:
            try:
                await self.services.store.commit_audit_on_loop(rows)
            except Exception as exc:  # noqa: BLE001 - any failed commit: nothing was written
                self._log.warning("unavailable", procedure=entry[0].name, error=type(exc).__name__)
                return _database_unavailable()
        return outcome

    def _run(
        self,
        entry: tuple[Procedure[Any, Any], Handler],
        raw: object,
        meta: CallMeta,
        marks: set[str],
    ) -> Success | Failure:
        procedure, handler = entry
        try:
            call = self._authenticate(procedure, meta, marks)
            body = _own_org(call, procedure.input.model_validate({} if raw is None else raw))
            answer = handler(self.services, call, body)
            return Success(answer.model_dump(mode="json", by_alias=True))
        except ValidationError as exc:
            return self._invalid(procedure, exc)
        except RateLimitedError as exc:
            self._log.info("refused", procedure=procedure.name, code=exc.code.value)
            return Failure(exc.code, 429, exc.reason, retry_after_seconds=exc.retry_after_seconds)
        except UnavailableError as exc:
            self._log.warning("unavailable", procedure=procedure.name, reason=exc.reason)
            return Failure(
                exc.code, 503, exc.public_message, retry_after_seconds=exc.retry_after_seconds
            )
        except RelaypassError as exc:
            self._log.info(
                "refused", procedure=procedure.name, code=exc.code.value, reason=exc.reason
            )
            detail = exc.public_message if exc.code in _PUBLIC_ONLY else exc.reason
            return Failure(exc.code, exc.http_status, detail)
        except (SQLAlchemyError, *REDIS_ERRORS) as exc:
            # Nothing was answered as done: a write that failed rolled back with its
            # transaction, and only reads ask Redis in a request (writes reach it through
            # the outbox).
            self._log.warning("unavailable", procedure=procedure.name, error=type(exc).__name__)
            return (
                _database_unavailable()
                if isinstance(exc, SQLAlchemyError)
                else _redis_unavailable()
            )

    def _authenticate(
        self, procedure: Procedure[Any, Any], meta: CallMeta, marks: set[str]
    ) -> Call:
        authorization = meta.authorization
        if authorization is None and procedure.admin_token:
            # the handler checks admin_token
            return Call(None, meta.idempotency_key, meta.origin, marks=marks)
        if authorization is None or not authorization.startswith("Bearer "):
            msg = "missing bearer API key"
            raise InvalidApiKeyError(msg)
        record = meta.verified or self.services.store.verify_api_key(
            authorization.removeprefix("Bearer ").strip()
        )
        if procedure.scope is not None and procedure.scope not in record.scopes:
            msg = f"the API key lacks the {procedure.scope} scope"
            raise InvalidPermissionsError(msg)
        return Call(record, meta.idempotency_key, meta.origin, marks=marks)

    def _invalid(self, procedure: Procedure[Any, Any], exc: ValidationError) -> Failure:
        errors = exc.errors(include_url=False, include_input=False)[:_MAX_FIELDS]
        fields = [".".join(str(p) for p in e["loc"]) for e in errors]
        problems = [
            {"field": f, "message": "unknown field" if e["type"] == "extra_forbidden" else e["msg"]}
            for f, e in zip(fields, errors, strict=True)
        ]
        self._log.info("refused", procedure=procedure.name, code="INVALID_REQUEST", fields=fields)
        summary = "; ".join(f"{p['field'] or 'input'}: {p['message']}" for p in problems)
        return Failure(
            ErrorCode.INVALID_REQUEST,
            400,
            f"the input is not valid ({summary})",
            {"fields": fields, "errors": problems},
        )
