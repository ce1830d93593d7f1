"""The relay's side of moq-relay's auth contract: ask an auth server per session event.

``relaypass relay --auth-url URL`` verifies no token itself: like a stock
moq-relay (0.15 and later) it POSTs each session's ``connect``, ``revalidate``
and ``end`` to the auth server and keeps the session to the grant answered.
:class:`AuthClient` speaks the contract; :func:`parse_grant` holds an answer to
the contract's rules (a grant that names nothing, a cadence without a bound, a
zero cadence, or ``expires`` at or before now are refused); and
:func:`create_listener_app` is the relay's internal listener the server pushes
to (``GET /sessions`` and ``POST /sessions/revalidate`` with the contract's
filters; an unknown filter field is 400).

A connect not answered within :data:`ADMISSION_SECONDS` is refused. A
revalidate answered 401/403 closes the session; a 408, 429, 404, 400, 5xx or
no answer is retried with jittered backoff until the grant's ``expires``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, final

import httpx
import orjson
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relaypass._grant import Grant
from relaypass._json import StrictJSONError, loads_object
from relaypass._scopes import PathError, PatternSet, compiled_patterns
from relaypass.errors import (
    InvalidPermissionsError,
    InvalidTokenError,
    RelaypassError,
    UnavailableError,
)
from relaypass.gate.adapters.moq_sessions import remote_address

__all__ = [
    "ADMISSION_SECONDS",
    "AuthClient",
    "AuthSession",
    "Refused",
    "create_listener_app",
    "parse_grant",
]

#: How long a relay waits for a connect's answer before refusing the session.
ADMISSION_SECONDS: Final = 10.0
_MAX_ANSWER_BYTES: Final = 64 * 1024
_RETRIED: Final = frozenset({400, 404, 408, 429})
_FILTERS: Final = frozenset({"id", "path", "remote", "transport", "node", "tls.name"})
_log = structlog.get_logger("relaypass.gate.adapters.moq_auth_client")


@final
class Refused(RelaypassError):  # noqa: N818 - the contract's word
    """The auth server refused (401/403): the session is not admitted, or is closed now."""

    code = InvalidPermissionsError.code

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _patterns(body: Mapping[str, Any], name: str) -> PatternSet:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        msg = f"{name} is a list of patterns"
        raise UnavailableError(msg)
    try:
        return compiled_patterns(value)
    except PathError:
        msg = f"{name} holds a malformed pattern"
        raise UnavailableError(msg) from None


def _seconds(body: Mapping[str, object], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (type(value) is not int or value < 0):
        msg = f"{name} is whole seconds"
        raise UnavailableError(msg)
    return value


def parse_grant(raw: bytes, *, now: float | None = None) -> tuple[Grant, int | None, str | None]:
    """The session's grant, its cadence and tier, from an answer; the contract's refusals.

    A grant the relay must refuse raises :class:`UnavailableError` (not a decision
    of the server's, a broken answer: the session is refused, or on revalidate the
    answer is retried).
    """
    if len(raw) > _MAX_ANSWER_BYTES:
        msg = "the grant is too large"
        raise UnavailableError(msg)
    try:
        body = loads_object(raw)
    except StrictJSONError:
        msg = "the grant is not a JSON object"
        raise UnavailableError(msg) from None
    publish, subscribe = _patterns(body, "publish"), _patterns(body, "subscribe")
    if not (publish.patterns or subscribe.patterns):
        msg = "the grant names nothing"
        raise UnavailableError(msg)
    expires, cadence = _seconds(body, "expires"), _seconds(body, "revalidate")
    if cadence is not None and (cadence == 0 or expires is None):
        msg = "a cadence needs a bound (expires) and is never zero"
        raise UnavailableError(msg)
    if expires is not None and expires <= (time.time() if now is None else now):
        msg = "the grant has expired"
        raise UnavailableError(msg)
    if body.get("root") is not None or body.get("mounts") is not None:
        msg = "root and mounts are not supported by this relay"
        raise UnavailableError(msg)
    tier = body.get("tier")
    grant = Grant(
        profile="moq", publish=publish, subscribe=subscribe,
        expires_at=float(expires) if expires is not None else None,
    )  # fmt: skip
    return grant, cadence, tier if isinstance(tier, str) else None


@dataclass(eq=False)
class AuthSession:
    """What the relay told the auth server about one session, for its later events."""

    id: str
    path: str
    query: str | None
    remote: str | None
    transport: str = "quic"
    cadence: int | None = None
    started: float = field(default_factory=time.monotonic)

    def present(self, token: str) -> None:
        """A fresh token from the client (in-band refresh): the credential of later events."""
        kept = [p for p in (self.query or "").split("&") if p and not p.startswith("jwt=")]
        self.query = "&".join([*kept, f"jwt={token}"])

    def body(self, event: str, node: str, **extra: object) -> dict[str, object]:
        """The contract's request for ``event``."""
        body: dict[str, object] = {
            "id": self.id, "event": event, "node": node, "transport": self.transport,
            "path": f"/{self.path}",
        }  # fmt: skip
        if self.query is not None:
            body["query"] = self.query
        if self.remote is not None:
            body["remote"] = self.remote
        return body | extra

    def matches(self, filters: Mapping[str, str], node: str) -> bool:
        """Whether every filter given matches this session (the contract's filter fields)."""
        checks: dict[str, Callable[[str], bool]] = {
            "id": lambda wanted: wanted.lower() == self.id,
            "transport": lambda wanted: wanted == self.transport,
            "node": lambda wanted: wanted == node,
            "path": lambda wanted: _path_matches(wanted, self.path),
            "remote": lambda wanted: _remote_matches(wanted, self.remote),
            "tls.name": lambda _wanted: False,  # this relay verifies no client certificates
        }
        return all(checks[name](wanted) for name, wanted in filters.items())


def _path_matches(pattern: str, path: str) -> bool:
    try:
        return compiled_patterns([pattern.strip("/") or "**"]).matches(path)
    except PathError:
        return False


def _remote_matches(wanted: str, remote: str | None) -> bool:
    address = remote_address(remote)  # the auth server's reading of the same field
    if address is None:
        return False
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


@final
class AuthClient:
    """POSTs a relay's session events to its auth server (``http://`` loopback or ``https://``)."""

    def __init__(
        self,
        url: str,
        *,
        node: str,
        client: httpx.AsyncClient | None = None,
        admission_seconds: float = ADMISSION_SECONDS,
    ) -> None:
        self.url = url
        self.node = node
        self.admission_seconds = admission_seconds
        self._client = client or httpx.AsyncClient(timeout=admission_seconds)
        self._owned = client is None

    @staticmethod
    def new_session(path: str, query: str | None, remote: str | None) -> AuthSession:
        """A session with a fresh random 128-bit id."""
        return AuthSession(id=secrets.token_hex(16), path=path, query=query, remote=remote)

    async def _post(self, body: Mapping[str, Any]) -> httpx.Response:
        return await self._client.post(self.url, content=orjson.dumps(body),
                                       headers={"content-type": "application/json"})  # fmt: skip

    async def connect(self, session: AuthSession) -> tuple[Grant, str | None]:
        """Admit or refuse: the grant, or :class:`Refused` / :class:`UnavailableError`."""
        try:
            async with asyncio.timeout(self.admission_seconds):
                answer = await self._post(session.body("connect", self.node))
        except (httpx.HTTPError, TimeoutError):
            msg = "the auth server did not answer"
            raise UnavailableError(msg) from None
        return self._decided(session, answer)

    def _decided(self, session: AuthSession, answer: httpx.Response) -> tuple[Grant, str | None]:
        if answer.status_code in {401, 403}:
            raise Refused(answer.status_code, _reason(answer))
        if not answer.is_success:
            msg = f"the auth server answered {answer.status_code}"
            raise UnavailableError(msg)
        grant, cadence, tier = parse_grant(answer.content)
        session.cadence = cadence
        return grant, tier

    async def revalidate(self, session: AuthSession, *, until: float | None) -> Grant:
        """The session's grant now; retried with jittered backoff on anything but 2xx/401/403.

        Raises :class:`Refused` (close now), or :class:`InvalidTokenError` when
        ``until`` (the grant's ``expires``) passes with no answer.
        """
        delay = 0.25
        while True:
            try:
                answer = await self._post(session.body("revalidate", self.node))
                if answer.status_code in {401, 403} or answer.is_success:
                    return self._decided(session, answer)[0]
                if answer.status_code not in _RETRIED and answer.status_code < 500:  # noqa: PLR2004
                    _log.warning("moq.revalidate_unexpected", status=answer.status_code)
            except (httpx.HTTPError, UnavailableError) as exc:
                _log.info("moq.revalidate_retry", id=session.id, error=type(exc).__name__)
            if until is not None and time.time() + delay >= until:
                msg = "the grant expired while the auth server did not answer"
                raise InvalidTokenError(msg)
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
            delay = min(delay * 2, 5.0)

    async def end(self, session: AuthSession, reason: str, sent: int, received: int) -> None:
        """Report the close (best effort: an auth server that is down misses it)."""
        body = session.body(
            "end", self.node, reason=reason,
            duration=round(time.monotonic() - session.started, 3),
            bytes={"sent": sent, "received": received},
        )  # fmt: skip
        try:
            await self._post(body)
        except httpx.HTTPError:
            _log.info("moq.end_lost", id=session.id)

    async def aclose(self) -> None:
        """Close the HTTP client (when this object made it)."""
        if self._owned:
            await self._client.aclose()


def _reason(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("reason", ""))[:200] if isinstance(body, dict) else ""


def create_listener_app(
    sessions: Callable[[], Iterable[AuthSession]],
    revalidate_now: Callable[[AuthSession], None],
    *,
    node: str,
) -> Starlette:
    """The relay's internal listener: list and push-revalidate sessions by filter."""

    def selected(request: Request) -> list[AuthSession] | Response:
        filters = dict(request.query_params)
        unknown = set(filters) - _FILTERS
        if unknown:
            return JSONResponse({"error": f"unknown filter fields: {sorted(unknown)}"}, 400)
        return [s for s in sessions() if s.matches(filters, node)]

    async def listing(request: Request) -> Response:
        found = selected(request)
        if isinstance(found, Response):
            return found
        return JSONResponse({"sessions": [
            {"id": s.id, "path": f"/{s.path}", "transport": s.transport, "remote": s.remote,
             "node": node} for s in found
        ]})  # fmt: skip

    async def push(request: Request) -> Response:
        found = selected(request)
        if isinstance(found, Response):
            return found
        for session in found:
            revalidate_now(session)
        return JSONResponse({"ids": [s.id for s in found]}, status_code=202 if found else 200)

    return Starlette(routes=[
        Route("/sessions", listing, methods=["GET"]),
        Route("/sessions/revalidate", push, methods=["POST"]),
    ])  # fmt: skip
