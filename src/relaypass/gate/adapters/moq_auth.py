"""The auth server of stock moq-relay (0.15 and later): ``POST /`` answers each session event.

A relay started with ``--auth-url`` verifies no token itself: for every session
it POSTs a JSON *request* (``connect``, ``revalidate``, ``end``; the session's
``id``, the ``path`` exactly as dialed, the raw ``query``, a SETUP ``token``,
the relay's ``node`` ...) and acts on the *grant* answered: ``publish`` and
``subscribe`` pattern unions relative to the dialed path, ``expires`` (unix
seconds), ``revalidate`` (the cadence, in seconds), ``tier``. A 401 or 403
refuses (or, on ``revalidate``, closes the session now).

This adapter is one more translation onto the one gate, not a second gate: the
credential (``jwt=`` in the query, or a SETUP token of kind 0) goes through
``Gate.connect`` with the dialed path, with the gate's org fences, revocations
and key rotation; the grant's patterns are the session's. A grant cannot say
"everything but another org's namespace", so a session whose patterns reach
into a fenced namespace is refused rather than widened.

Live revocation: when the gate cuts a session, the relay that holds it (by the
``node`` its ``connect`` named, through the ``nodes`` map of node name to the
relay's internal listener) is asked to ``POST /sessions/revalidate?id=<id>``;
its ``revalidate`` then gets 401 and the relay closes the session. A push that
is lost is bounded by the cadence. Sessions are remembered in this process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, final

import httpx
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relaypass.errors import (
    ErrorCode,
    InvalidPermissionsError,
    InvalidTokenError,
    QuotaExceededError,
    RelaypassError,
)
from relaypass.gate.adapters.moq_auth_wire import (
    MAX_REQUEST_BYTES,
    AuthRequest,
    CertificateRules,
    answer_status,
    credential_of,
    grant_answer,
    parse_request,
)
from relaypass.gate.adapters.moq_sessions import (
    UNBOUNDED_SECONDS,
    Limits,
    MemorySessionTable,
    SessionRecord,
    SessionTable,
    remote_address,
    token_digest,
)
from relaypass.gate.session import Gate, Session
from relaypass.profiles.moq import MoqClaims

__all__ = [  # the contract's messages are re-exported: they were defined here
    "DEFAULT_REVALIDATE_SECONDS",
    "MAX_REQUEST_BYTES",
    "AuthRequest",
    "CertificateRules",
    "MoqAuthServer",
    "create_moq_auth_app",
    "grant_answer",
    "parse_request",
]

DEFAULT_REVALIDATE_SECONDS: Final = 30
_log = structlog.get_logger("relaypass.gate.adapters.moq_auth")


@final
class MoqAuthServer:
    """Sessions by the relay's id, decided by the gate; pushes to the relays on revocation."""

    def __init__(
        self,
        gate: Gate,
        *,
        revalidate_seconds: int | None = DEFAULT_REVALIDATE_SECONDS,
        nodes: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        table: SessionTable | None = None,
        limits: Limits | None = None,
        certificates: CertificateRules | None = None,
    ) -> None:
        self.gate = gate
        self.revalidate_seconds = revalidate_seconds
        self.nodes = dict(nodes or {})
        self.table: SessionTable = table if table is not None else MemorySessionTable()
        self.limits = limits or Limits()
        self.certificates = certificates
        if (self.limits.token or self.limits.remote) and not revalidate_seconds:
            msg = (
                "session caps need a cadence: a relay that dies without `end` would hold its slots"
            )
            raise ValueError(msg)
        self._client = client
        self._sessions: dict[str, tuple[Session, str]] = {}  # id -> (session, node)
        self._seen: dict[str, float] = {}  # id -> when the relay last asked (monotonic)
        self._credentials: dict[str, str | None] = {}  # id -> digest of the pinned credential
        self._swept = time.monotonic()
        self._by_session: dict[int, str] = {}
        self._cut: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._previous_on_close = gate.on_close
        gate.on_close = self._on_gate_close

    async def answer(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        """The status and body for one request."""
        self._loop = asyncio.get_running_loop()
        try:
            request = parse_request(raw)
        except RelaypassError as exc:
            return 400, {"code": exc.code.value, "reason": exc.reason}
        try:
            return 200, await asyncio.to_thread(self._decide, request)
        except RelaypassError as exc:
            code = exc.code.value
            _log.info("moq_auth.refused", id=request.id, session_event=request.event, code=code,
                      reason=exc.reason)  # fmt: skip
            reason = exc.public_message if exc.code is ErrorCode.INVALID_TOKEN else exc.reason
            return answer_status(exc), {"code": code, "reason": reason}

    def _decide(self, request: AuthRequest) -> dict[str, Any]:
        self._sweep()
        if request.event == "end":
            self._end(request.id, "ended", sent=request.sent, received=request.received)
            self._tabled(self.table.end, request.id)
            return {}
        if request.id in self._cut or (
            request.event == "revalidate" and self._cut_elsewhere(request.id)
        ):
            msg = "the session was revoked"
            raise InvalidTokenError(msg)
        known = self._sessions.get(request.id)
        if request.event == "revalidate" and known is not None:
            session = known[0]
            self._follow_credential(request, session)
            answer = grant_answer(
                session.current_grant(), revalidate_seconds=self.revalidate_seconds
            )
            self._seen[request.id] = time.monotonic()
            record = self._record(request, session, None)
            self._tabled(self.table.revalidate, record, self._deadline(answer), self.limits)
            return answer
        credential = credential_of(request)
        if credential is not None and request.certificate:
            msg = "a JWT and a client certificate together are refused"
            raise InvalidPermissionsError(msg)
        if credential is None and request.certificate:
            session = self._certificate_session(request)
        else:
            session = self.gate.connect(credential, request.path.lstrip("/"), None)
        try:
            answer = grant_answer(session.grant, revalidate_seconds=self.revalidate_seconds)
            record = self._record(request, session, credential)
            if request.event == "connect":
                self._tabled(self.table.connect, record, self._deadline(answer), self.limits)
            else:  # a session this replica has not seen (another answered its connect)
                self._tabled(self.table.revalidate, record, self._deadline(answer), self.limits)
        except RelaypassError:
            session.close("refused")
            raise
        previous = self._sessions.pop(request.id, None)
        if previous is not None:
            previous[0].close("replaced")
        self._sessions[request.id] = (session, request.node)
        self._credentials[request.id] = token_digest(credential)
        self._by_session[session.id] = request.id
        self._seen[request.id] = time.monotonic()
        return answer

    def _follow_credential(self, request: AuthRequest, session: Session) -> None:
        """A revalidate presenting a new token (the client refreshed in-band): pin it.

        The refresh keeps the session's identity or is refused; a refused one is
        logged and the session keeps its grant until that grant's own end, as an
        in-band refresh does at every adapter.
        """
        credential = credential_of(request)
        digest = token_digest(credential)
        if credential is None or digest == self._credentials.get(request.id):
            return
        try:
            session.refresh(credential)
        except RelaypassError as exc:
            _log.info("moq_auth.refresh_refused", id=request.id, code=exc.code.value)
        else:
            self._credentials[request.id] = digest

    def _certificate_session(self, request: AuthRequest) -> Session:
        """A relay peer by its verified certificate: the configured rules, never a fall-through."""
        rules = self.certificates
        if rules is None:
            msg = "no client-certificate rules are configured"
            raise InvalidTokenError(msg)
        if rules.names is not None and request.certificate_name not in rules.names:
            msg = "this certificate's name is not granted"
            raise InvalidPermissionsError(msg)
        claims = MoqClaims(
            publish_patterns=rules.publish,
            subscribe_patterns=rules.subscribe,
            expires=request.certificate_expires,
        )
        path = request.path.lstrip("/")
        grant = claims.grant(path)
        if not (grant.publish.patterns or grant.subscribe.patterns):
            msg = "nothing is granted to certificates at this path"
            raise InvalidPermissionsError(msg)
        if grant.expires_at is not None and grant.expires_at <= time.time():
            msg = "the certificate has expired"
            raise InvalidTokenError(msg)
        return self.gate.adopt(grant, path)

    def _record(
        self, request: AuthRequest, session: Session, credential: str | None
    ) -> SessionRecord:
        grant = session.grant
        return SessionRecord(
            id=request.id, node=request.node, org=grant.org, tenant=grant.tenant,
            subject=grant.subject, jti=grant.jti, kid=grant.kid, profile=grant.profile,
            room=grant.room, path=request.path, remote=remote_address(request.remote),
            token=token_digest(credential), connected_at=session.started_at,
        )  # fmt: skip

    @staticmethod
    def _tabled(operation: Callable[..., object], *args: object) -> None:
        """Keep the session table; its store being down never refuses a valid token.

        A cap it cannot count is not enforced (logged): the caps are a nuisance
        limit, the token is the authority.
        """
        try:
            operation(*args)
        except QuotaExceededError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the store (Redis down, ...)
            _log.warning("moq_auth.table_unavailable", error=type(exc).__name__)

    def _cut_elsewhere(self, session_id: str) -> bool:
        """Whether another replica cut this session (``False`` when the table is down)."""
        try:
            return self.table.is_cut(session_id)
        except Exception as exc:  # noqa: BLE001 - the store is down: the gate's own view decides
            _log.warning("moq_auth.table_unavailable", error=type(exc).__name__)
            return False

    def _deadline(self, answer: Mapping[str, Any]) -> float:
        """Until when a session's record lives without news: two cadences, else its bound."""
        if self.revalidate_seconds:
            return time.time() + 2 * self.revalidate_seconds
        expires = answer.get("expires")
        return float(expires) if expires is not None else time.time() + UNBOUNDED_SECONDS

    def _sweep(self) -> None:
        """Close the sessions of relays that stopped asking: two cadences without a word."""
        if not self.revalidate_seconds:
            return
        now = time.monotonic()
        if now - self._swept < 1.0:
            return
        self._swept = now
        horizon = now - 2 * self.revalidate_seconds
        for session_id in [i for i, seen in self._seen.items() if seen < horizon]:
            _log.info("moq_auth.session_lost", id=session_id)
            self._end(session_id, "lost")

    def _end(
        self, session_id: str, reason: str, *, sent: int | None = None, received: int | None = None
    ) -> None:
        self._cut.discard(session_id)
        self._seen.pop(session_id, None)
        self._credentials.pop(session_id, None)
        known = self._sessions.pop(session_id, None)
        if known is not None:
            self._by_session.pop(known[0].id, None)
            known[0].close(reason, sent=sent, received=received)

    # ------------------------------------------------------------ revocation

    def _on_gate_close(self, session: Session, reason: str) -> None:
        if self._previous_on_close is not None:
            self._previous_on_close(session, reason)
        session_id = self._by_session.pop(session.id, None)
        if session_id is None or reason in {"ended", "replaced", "refused", "lost"}:
            return
        known = self._sessions.pop(session_id, None)
        self._cut.add(session_id)
        # Before the push: the relay's revalidate may reach a replica that has not
        # applied this revocation yet; the shared mark answers it 401 all the same.
        horizon = 2 * (self.revalidate_seconds or 60)
        self._tabled(self.table.cut, session_id, time.time() + horizon)
        url = self.nodes.get(known[1]) if known is not None else None
        loop = self._loop
        if url is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._spawn_push, url, session_id)

    def _spawn_push(self, url: str, session_id: str) -> None:
        task = asyncio.ensure_future(self._push(url, session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(self, url: str, session_id: str, *, attempts: int = 5) -> None:
        """Ask the relay to revalidate now; retried with backoff, bounded by the cadence."""
        client = self._client or httpx.AsyncClient(timeout=2.0)
        try:
            for attempt in range(attempts):
                try:
                    response = await client.post(
                        f"{url.rstrip('/')}/sessions/revalidate", params={"id": session_id}
                    )
                    if response.status_code < 500:  # noqa: PLR2004
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1 * 2**attempt)
            _log.warning("moq_auth.push_lost", id=session_id)
        finally:
            if self._client is None:
                await client.aclose()

    async def aclose(self) -> None:
        """Stop pushing; forget the sessions; release the table."""
        for task in list(self._tasks):
            task.cancel()
        self.gate.on_close = self._previous_on_close
        self.table.close()


def create_moq_auth_app(server: MoqAuthServer) -> Starlette:
    """``POST /``: the contract's endpoint; ``GET /healthz``."""

    async def auth(request: Request) -> Response:
        raw = await _capped_body(request)
        if raw is None:
            return JSONResponse(
                {"code": "REQUEST_TOO_LARGE", "reason": "the request is too large"}, status_code=413
            )
        status, body = await server.answer(raw)
        return JSONResponse(body, status_code=status)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[Route] = [
        Route("/", auth, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.server = server
    return app


async def _capped_body(request: Request) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            return None
    return bytes(body)
