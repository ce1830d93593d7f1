"""``relaypass gate serve``: the gate as an HTTP auth service for media servers that call out.

* **nginx-rtmp** ``on_publish`` / ``on_play`` / ``on_update`` / ``on_done``
  (``POST /rtmp/<event>``, form fields). The stream URL's query arrives as
  top-level fields: ``jwt=<token>``, or ``key=<stream key>`` where the token
  would not fit (nginx-rtmp truncates ``name?args`` at 255 bytes). The path
  authorized is ``<app>/<name>``. A 2xx answer admits; anything else makes
  nginx-rtmp drop the client. ``on_update`` (every ``notify_update_timeout``)
  re-checks the pinned session, which is how a revoked or expired stream is
  cut mid-stream.
* **nginx auth_request** for HLS (``GET /auth/hls``, URI in
  ``X-Original-URI``): the token rides in the path, since players drop query
  strings on segment requests -
  ``/<location>/<token or stream key>/<stream path>/<file>``. Every playlist and
  segment request is checked, so a revoked token stops at the next fetch.
* **Stream keys** (``POST /v1/stream-keys`` with ``Authorization: Bearer``): a
  short opaque key (``sk_`` + 22 characters) standing for a valid token until
  it expires. Only its SHA-256 is stored (in memory, or in Redis so that every
  gate instance resolves it); the token is verified again on every use, so
  revocation applies to its keys too.

Refusals answer ``401`` (``INVALID_TOKEN``) or ``403`` (the other codes) with
``{"code": ...}``; the reason is logged, never returned, and no token or key
is written to a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.parse
from collections.abc import AsyncIterator
from typing import Final, final

import anyio.to_thread
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from relaypass._grant import Grant
from relaypass._head_limits import head_refusal
from relaypass.errors import (
    ErrorCode,
    InvalidRequestError,
    InvalidTokenError,
    MalformedTokenError,
    RelaypassError,
)
from relaypass.gate.adapters.stream_keys import (
    DEFAULT_STREAM_KEY_TTL,
    MAX_STREAM_KEY_TTL,
    FileStreamKeys,
    MemoryStreamKeys,
    RedisStreamKeys,
    SharedStreamKeys,
    StreamKeys,
    is_stream_key,
    new_stream_key,
    stream_key_digest,
)
from relaypass.gate.session import Gate, Session

__all__ = [  # the stream-key stores are re-exported: they were defined here
    "MAX_FORM_BYTES",
    "FileStreamKeys",
    "MemoryStreamKeys",
    "RedisStreamKeys",
    "SharedStreamKeys",
    "StreamKeys",
    "create_gate_app",
    "new_stream_key",
]

#: nginx-rtmp notifications are a few hundred bytes; anything larger is refused unread.
MAX_FORM_BYTES: Final = 16 * 1024
MAX_URI_BYTES: Final = 8192

_log = structlog.get_logger("relaypass.gate.adapters.http")


def _ok(**body: object) -> JSONResponse:
    return JSONResponse(body or {"ok": True})


def _form(raw: bytes) -> dict[str, str]:
    """A urlencoded body, strictly: one value per field, ASCII-safe UTF-8."""
    if len(raw) > MAX_FORM_BYTES:
        msg = "notification body is too large"
        raise InvalidRequestError(msg)
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode(), keep_blank_values=True, strict_parsing=False, max_num_fields=64
        )
    except (UnicodeDecodeError, ValueError) as exc:
        msg = "notification body is not a form"
        raise InvalidRequestError(msg) from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            msg = f"field {name!r} is repeated"
            raise InvalidRequestError(msg)
        fields[name] = value
    return fields


def _credential(fields: dict[str, str]) -> str | None:
    """``jwt`` or ``key``, never both."""
    given = [fields[name] for name in ("jwt", "key") if fields.get(name)]
    if len(given) > 1:
        msg = "give jwt or key, not both"
        raise InvalidTokenError(msg)
    return given[0] if given else None


_RTMP_EVENTS: Final = frozenset({"on_publish", "on_play", "on_update", "on_done"})
_SEGMENT_OK: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def _stream_path(app: str, name: str) -> str:
    for part in (app, name):
        if not part or len(part) > 255 or not set(part) <= _SEGMENT_OK or part in {".", ".."}:  # noqa: PLR2004
            msg = "app and stream name must be plain path segments"
            raise InvalidRequestError(msg)
    return f"{app}/{name}"


def _authorize(session: Session, kind: str, path: str) -> None:
    if kind == "publish":
        session.authorize_publish(path)
    else:
        session.authorize_subscribe(path)


@final
class _Service:
    def __init__(self, gate: Gate, keys: StreamKeys, hls_location: str) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "relaypass_gate_decisions",
            "Auth decisions by kind (rtmp, hls, stream_key) and code (OK or an error code)",
            ["kind", "code"],
            registry=self.registry,
        )
        self.gate = gate
        gate.rooms.register_metrics(self.registry)
        if gate.usage is not None:  # recorded (the gate follows the control plane's Redis)
            gate.usage.register_metrics(self.registry)
        self.keys = keys
        self.hls_location = "/" + hls_location.strip("/") + "/"
        self.max_keyset_age_seconds: float | None = None
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str, str], Session] = {}

    def refuse(self, exc: RelaypassError, kind: str, **fields: object) -> JSONResponse:
        """Log the reason, count the code, answer only the code."""
        _log.info(f"{kind}.refused", code=exc.code.value, reason=exc.reason, **fields)
        self.decisions.labels(kind, exc.code.value).inc()
        return JSONResponse({"code": exc.code.value}, status_code=exc.auth_status)

    def allowed(self, kind: str) -> None:
        """Count an admitted request."""
        self.decisions.labels(kind, "OK").inc()

    # ------------------------------------------------------------ tokens

    def token_of(self, credential: str) -> str:
        """The token a request presents, directly or through a stream key."""
        if not is_stream_key(credential):
            return credential
        token = self.keys.get(stream_key_digest(credential))
        if token is None:
            msg = "unknown or expired stream key"
            raise InvalidTokenError(msg)
        return token

    def grant(self, credential: str | None, path: str = "") -> Grant:
        """A stateless grant (no session is pinned), for per-request checks."""
        if credential is None:
            return self.gate.anonymous_grant()
        return self.gate.request_grant(self.token_of(credential), self._joined(path))

    def _joined(self, path: str) -> str:
        """The connection path: the stream itself for room tokens (the room), else none.

        Relay and session grants hold absolute paths; a room token is held to
        the room it names, which here is the stream (``<app>/<name>``).
        """
        return path if self.gate.kind.connection_is_room() else ""

    # ------------------------------------------------------------ nginx-rtmp

    async def rtmp(self, request: Request) -> Response:
        event = request.path_params["event"]
        if event not in _RTMP_EVENTS:
            return JSONResponse({"code": ErrorCode.INVALID_REQUEST.value}, status_code=404)
        body = await request.body()
        # Verification may wait on a key fetch or Redis: never on the event loop.
        return await anyio.to_thread.run_sync(self._rtmp, event, body)

    def _rtmp(self, event: str, body: bytes) -> Response:
        try:
            fields = _form(body)
            path = _stream_path(fields.get("app", ""), fields.get("name", ""))
            credential = _credential(fields)
            client = (fields.get("addr", ""), fields.get("clientid", ""), path)
            if event == "on_done":
                self._done(client, fields.get("call", ""))
                return _ok()
            if event == "on_update":
                self._update(client, fields.get("call", ""), credential, path)
                return _ok()
            kind = "publish" if event == "on_publish" else "play"
            session = self._connect(credential, path)
            try:
                _authorize(session, kind, path)
            except RelaypassError:
                session.close("refused")
                raise
            self._pin((*client, kind), session)
        except RelaypassError as exc:
            return self.refuse(exc, "rtmp", rtmp_event=event)
        self.allowed("rtmp")
        _log.info("rtmp.admitted", rtmp_event=event, path=path, session=session.id)
        return _ok()

    def _connect(self, credential: str | None, path: str) -> Session:
        token = None if credential is None else self.token_of(credential)
        return self.gate.connect(token, self._joined(path))  # paths are absolute: <app>/<name>

    def _pin(self, key: tuple[str, str, str, str], session: Session) -> None:
        with self._lock:
            old = self._sessions.pop(key, None)
            self._sessions[key] = session
        if old is not None:
            old.close("replaced")

    def _update(self, client: tuple[str, str, str], call: str, cred: str | None, path: str) -> None:
        kind = "publish" if call == "update_publish" else "play"
        with self._lock:
            session = self._sessions.get((*client, kind))
        if session is None:  # e.g. the gate restarted mid-stream: check from scratch
            session = self._connect(cred, path)
            self._pin((*client, kind), session)
        try:
            _authorize(session, kind, path)  # raises once revoked or expired
        except RelaypassError:
            with self._lock:
                self._sessions.pop((*client, kind), None)
            session.close("cut")
            raise

    def _done(self, client: tuple[str, str, str], call: str) -> None:
        kind = "publish" if call == "publish_done" else "play"
        with self._lock:
            session = self._sessions.pop((*client, kind), None)
        if session is not None:
            session.close("disconnected")

    # ------------------------------------------------------------ HLS auth_request

    async def hls(self, request: Request) -> Response:
        uri = request.headers.get("x-original-uri", "")
        return await anyio.to_thread.run_sync(self._hls, uri)

    def _hls(self, uri: str) -> Response:
        try:
            credential, path = self._hls_target(uri)
            self.grant(credential, path).authorize_subscribe(path)
        except RelaypassError as exc:
            return self.refuse(exc, "hls")
        self.allowed("hls")
        return Response(status_code=204)

    def _hls_target(self, uri: str) -> tuple[str | None, str]:
        if not uri or len(uri) > MAX_URI_BYTES:
            msg = "X-Original-URI is missing or too long"
            raise InvalidRequestError(msg)
        raw_path = urllib.parse.urlsplit(uri).path
        if not raw_path.startswith(self.hls_location):
            msg = "URI is outside the HLS location"
            raise InvalidRequestError(msg)
        parts = urllib.parse.unquote(raw_path[len(self.hls_location) :]).split("/")
        if len(parts) < 3:  # noqa: PLR2004 - credential, at least one stream segment, file
            msg = "expected <credential>/<stream path>/<file>"
            raise MalformedTokenError(msg)
        credential, *stream, _file = parts
        if any(not s or s in {".", ".."} or not set(s) <= _SEGMENT_OK for s in stream):
            msg = "stream path must be plain segments"
            raise InvalidRequestError(msg)
        return (credential or None), "/".join(stream)

    # ------------------------------------------------------------ stream keys

    async def create_stream_key(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        return await anyio.to_thread.run_sync(self._create_stream_key, authorization)

    def _create_stream_key(self, authorization: str) -> Response:
        scheme, _, token = authorization.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                msg = "a bearer token is required"
                raise MalformedTokenError(msg)
            grant = self.gate.request_grant(token)
            now = self.gate.clock.now()
            ttl = DEFAULT_STREAM_KEY_TTL
            if grant.expires_at is not None:
                ttl = int(grant.expires_at - now)
            ttl = max(1, min(ttl, MAX_STREAM_KEY_TTL))
            stream_key = new_stream_key()
            self.keys.put(stream_key_digest(stream_key), token, ttl)
        except RelaypassError as exc:
            return self.refuse(exc, "stream_key")
        self.allowed("stream_key")
        _log.info("stream_key.created", subject=grant.subject, ttl=ttl)
        return JSONResponse(
            {"streamKey": stream_key, "expiresAt": int(now + ttl)},
            status_code=201,
            headers={"cache-control": "no-store"},
        )

    def sweep(self) -> int:
        """End sessions past ``exp`` and forget pinned sessions the gate has closed.

        nginx sends ``on_done`` when a client leaves, but not when nginx itself dies;
        this bounds what such clients leave behind.
        """
        expired = self.gate.expire_sessions()
        with self._lock:
            for key in [k for k, s in self._sessions.items() if not s.open]:
                del self._sessions[key]
        return expired

    async def metrics(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(self, _request: Request) -> Response:
        return _ok(sessions=len(self.gate.sessions))

    async def readyz(self, _request: Request) -> Response:
        """Not ready while the key set is older than allowed (its source went quiet)."""
        age_of = getattr(self.gate.keys, "age_seconds", None)
        age = age_of() if callable(age_of) else 0.0
        if self.max_keyset_age_seconds is not None and age > self.max_keyset_age_seconds:
            return JSONResponse(
                {"status": "unavailable", "keysetAgeSeconds": None if age == float("inf") else age},
                status_code=503,
            )
        return _ok(status="ready", keysetAgeSeconds=age)


def create_gate_app(
    gate: Gate,
    *,
    stream_keys: StreamKeys | None = None,
    hls_location: str = "/hls",
    sweep_seconds: float = 5.0,
    max_keyset_age_seconds: float | None = None,
) -> Starlette:
    """The auth service's ASGI app."""
    service = _Service(gate, stream_keys or MemoryStreamKeys(), hls_location)
    service.max_keyset_age_seconds = max_keyset_age_seconds
    routes = [
        Route("/rtmp/{event:str}", service.rtmp, methods=["POST"]),
        Route("/auth/hls", service.hls, methods=["GET"]),
        Route("/v1/stream-keys", service.create_stream_key, methods=["POST"]),
        Route("/healthz", service.healthz, methods=["GET"]),
        Route("/readyz", service.readyz, methods=["GET"]),
        Route("/metrics", service.metrics, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def sweep_forever() -> None:
            while True:
                await asyncio.sleep(sweep_seconds)
                service.sweep()

        sweeper = asyncio.create_task(sweep_forever())
        try:
            yield
        finally:
            sweeper.cancel()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(_HeadLimits)
    return app


class _HeadLimits:
    """A head over :mod:`relaypass._head_limits`' limits: 431 or 414, as problem+json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = head_refusal(scope) if scope["type"] == "http" else None
        if refused is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"type": f"https://relaypass.dev/errors/{refused.code.value.lower()}",
             "title": refused.code.value, "status": refused.http_status,
             "code": refused.code.value, "detail": refused.reason}
        ).encode()  # fmt: skip
        response = Response(
            body, status_code=refused.http_status, media_type="application/problem+json"
        )
        await response(scope, receive, send)
