"""ASGI middleware: the gate in front of a Python relay's HTTP and WebSocket endpoints.

::

    app = GateMiddleware(relay_app, gate)

The token is read from ``Authorization: Bearer``, from the ``jwt`` query
parameter, or, since browsers cannot set headers on a WebSocket, from a
``Sec-WebSocket-Protocol`` entry ``relaypass.jwt.<token>`` (the middleware then
selects the plain ``relaypass`` subprotocol if the client offered it). The
connection path (without the leading ``/``) is the session path, and the
``Origin`` header is passed for origin-pinned tokens.

* **WebSocket**: the gate verifies at the handshake; a refusal closes before
  accept (the client sees HTTP 403), except for a client that offered the
  ``relaypass.v2`` subprotocol (the package for pages): a browser cannot read a
  refused handshake, so the socket is accepted and closed at once with the
  stable code as the close reason (4401, or a room's own code below). An
  admitted connection gets its :class:`~relaypass.gate.Session` in
  ``scope["state"]["relaypass"]`` so the app can ``authorize_publish``/
  ``authorize_subscribe`` per message. When the gate ends the session
  (revocation, or ``exp``), the middleware closes the socket with code 4401
  and tells the app ``websocket.disconnect``.
  **In-band refresh**: a client keeps its session past ``exp`` by sending a
  text frame ``{"type": "relaypass.refresh", "token": "<fresh JWT>"}``; the
  middleware consumes it (the app never sees it), pins the new grant (same
  subject and tenant; it may narrow or widen) and answers
  ``{"type": "relaypass.refreshed", "exp": <seconds>}``, or
  ``{"type": "relaypass.refresh_failed", "code": "<stable code>"}`` while the
  old grant stays until its own ``exp``.
* **Rooms** (VideoSDK): the ``participant`` query parameter names the identity
  a client joins as (a token that pins another is refused
  ``UNAUTHORIZED_PARTICIPANT``; a token without one gets a generated
  identity). A ``relaypass.v2`` client's first frame is
  ``{"type": "relaypass.welcome", "exp"}``, in a room with ``participant``,
  ``state`` (``waiting``/``admitted``) and ``tier``. A
  moderator sends ``{"type": "relaypass.moderate", "id", "action",
  "participant"?, "grant"?, "isViewer"?}`` (``admit``, ``deny``, ``admitAll``,
  ``update``, ``remove``, ``end``) and gets ``relaypass.moderated`` or
  ``relaypass.moderate_failed`` with the code; any member sends
  ``{"type": "relaypass.participants", "id", "tier"?}`` and gets the list in a
  ``relaypass.participants`` frame (or ``relaypass.participants_failed``).
  The middleware recognizes its frames by a ``"type"`` member at their start
  (within the first 64 characters), so an app's own messages are not parsed.
  What the gate tells a room session arrives as a text
  frame ``{"type": "relaypass.<event>", ...}`` — ``admitted``,
  ``grant-changed`` (with ``stopSources``: tracks to stop now),
  ``participant-count-changed`` ``{speaker, viewer, total}``,
  ``participant-waiting`` (to moderators). A room session the gate ends closes
  with its own code and the stable code as the close reason: 4403
  ``ENTRY_DENIED``, 4408 ``ENTRY_TIMEOUT``, 4409 ``DUPLICATE_IDENTITY``,
  4410 ``PARTICIPANT_REMOVED``, 4404 ``ROOM_ENDED``; other cuts are 4401.
* **HTTP**: each request is checked on its own; a refusal is a JSON
  ``{"code": ...}`` with 401 or 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, final

import anyio.to_thread
import orjson
import structlog

from relaypass._json import StrictJSONError, loads_object
from relaypass.errors import InvalidRequestError, InvalidTokenError, RelaypassError
from relaypass.gate.expiry import ExpiryTimer
from relaypass.gate.rooms import CLOSE_CODES
from relaypass.gate.session import Gate, Session

__all__ = ["CLOSE_CODE_CUT", "ROOM_CLOSE_CODES", "SUBPROTOCOL", "SUBPROTOCOL_V2", "GateMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: WebSocket close code when the gate ends a live session (4000-4999: application).
CLOSE_CODE_CUT: Final = 4401
#: Room sessions the gate ends for a room's reason: WebSocket close code by reason.
ROOM_CLOSE_CODES: Final = {
    "entry_denied": 4403,
    "room_ended": 4404,
    "entry_timeout": 4408,
    "replaced": 4409,
    "removed": 4410,
}
SUBPROTOCOL: Final = "relaypass"
#: ``relaypass`` and, for pages, a ``relaypass.welcome`` first frame and refusals
#: told by close code; selected over ``relaypass`` when offered.
SUBPROTOCOL_V2: Final = "relaypass.v2"
_PROTOCOL_TOKEN_PREFIX: Final = "relaypass.jwt."  # noqa: S105 - a prefix, not a secret
_MAX_HEADER: Final = 8192
_REFRESH_TYPE: Final = "relaypass.refresh"
_MODERATE_TYPE: Final = "relaypass.moderate"
_PARTICIPANTS_TYPE: Final = "relaypass.participants"
#: The frames the middleware answers itself (the app never sees them).
_GATE_FRAMES: Final = frozenset({_REFRESH_TYPE, _MODERATE_TYPE, _PARTICIPANTS_TYPE})
_MAX_GATE_FRAME: Final = 16 * 1024
_MAX_FRAME_ID: Final = 64

_log = structlog.get_logger("relaypass.gate.adapters.asgi")


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        if len(raw_value) > _MAX_HEADER:
            msg = "a request header is too long"
            raise InvalidTokenError(msg)
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def credentials(
    scope: Scope, headers: dict[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The token a connection presents and the subprotocol to select, strictly.

    More than one place carrying a token is refused rather than guessed at.
    ``headers`` are the scope's, when the caller has read them already.
    """
    if headers is None:
        headers = _headers(scope)
    found: list[str] = []
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            msg = "authorization must be a bearer token"
            raise InvalidTokenError(msg)
        found.append(token)
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        values = urllib.parse.parse_qs(query, max_num_fields=32).get("jwt")
        if values is not None:
            found.extend(values)
    selected = None
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    found.extend(
        p[len(_PROTOCOL_TOKEN_PREFIX) :] for p in offered if p.startswith(_PROTOCOL_TOKEN_PREFIX)
    )
    if SUBPROTOCOL_V2 in offered:
        selected = SUBPROTOCOL_V2
    elif SUBPROTOCOL in offered:
        selected = SUBPROTOCOL
    if len(found) > 1:
        msg = "more than one token was presented"
        raise InvalidTokenError(msg)
    return (found[0] if found else None), selected


@final
class GateMiddleware:
    """Verify at connect, pin the session to the connection, cut it when the gate says so."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate
        self._cuts: dict[int, Callable[[str], object]] = {}
        self._notify: dict[int, Callable[[dict[str, Any]], object]] = {}
        self._previous_on_event = gate.rooms.on_event
        gate.rooms.on_event = self._on_room_event
        self._previous_on_close = gate.on_close
        gate.on_close = self._on_gate_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _connect(self, scope: Scope) -> tuple[Session, str | None]:
        headers = _headers(scope)
        token, subprotocol = credentials(scope, headers)
        origin = headers.get("origin")
        path = scope["path"].lstrip("/")
        return self.gate.connect(token, path, origin, participant=_participant(scope)), subprotocol

    # ------------------------------------------------------------------ http

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            session, _ = await anyio.to_thread.run_sync(self._connect, scope)
        except RelaypassError as exc:
            _log.info("asgi.refused", code=exc.code.value, reason=exc.reason, path=scope["path"])
            body = b'{"code":"%s"}' % exc.code.value.encode()
            headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
            start = {"type": "http.response.start", "status": exc.auth_status, "headers": headers}
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["relaypass"] = session

        async def send_and_end(message: Message) -> None:
            # The session ends with the response: before its last byte leaves, so a
            # client that has the whole answer never finds the session still open.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                session.close("done")
            await send(message)

        try:
            await self.app(scope, receive, send_and_end)
        finally:
            session.close("done")

    # ------------------------------------------------------------------ websocket

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # Verification may wait on a key fetch: never on the event loop.
            session, subprotocol = await anyio.to_thread.run_sync(self._connect, scope)
        except RelaypassError as exc:
            _log.info("asgi.refused", code=exc.code.value, reason=exc.reason, path=scope["path"])
            first = await receive()  # websocket.connect
            if first["type"] != "websocket.connect":
                return
            if _offers_subprotocol(scope):
                # A page cannot read a refused handshake: accept, then close with the code.
                accept = {"type": "websocket.accept", "subprotocol": SUBPROTOCOL_V2}
                await send(accept)
                code = ROOM_CLOSE_CODES.get(_REASON_OF.get(exc.code, ""), CLOSE_CODE_CUT)
                await send({"type": "websocket.close", "code": code, "reason": exc.code.value})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        loop = asyncio.get_running_loop()
        guard = _Guard(receive, send, subprotocol, session)
        self._cuts[session.id] = lambda reason: loop.call_soon_threadsafe(guard.cut_for, reason)
        self._notify[session.id] = lambda event: loop.call_soon_threadsafe(guard.notify, event)
        timer = ExpiryTimer(self.gate, session, loop)
        scope.setdefault("state", {})["relaypass"] = session
        watcher = asyncio.ensure_future(guard.close_when_cut())
        try:
            await self.app(scope, guard.receive, guard.send)
        finally:
            watcher.cancel()
            timer.cancel()
            self._cuts.pop(session.id, None)
            self._notify.pop(session.id, None)
            session.close("disconnected")

    def _on_gate_close(self, session: Session, reason: str) -> None:
        if self._previous_on_close is not None:
            self._previous_on_close(session, reason)
        cut = self._cuts.pop(session.id, None)
        if cut is not None and reason not in {"disconnected", "done"}:
            _log.info("asgi.cut", session=session.id, reason=reason)
            cut(reason)

    def _on_room_event(self, session: Session, event: dict[str, Any]) -> None:
        if self._previous_on_event is not None:
            self._previous_on_event(session, event)
        notify = self._notify.get(session.id)
        if notify is not None:
            notify({**event, "type": f"relaypass.{event['type']}"})


#: A refusal's code -> the room reason whose close code it shares.
_REASON_OF: Final = {code: reason for reason, code in CLOSE_CODES.items()}


def _participant(scope: Scope) -> str | None:
    """The identity the client names (``participant`` query parameter), at most one."""
    query = scope.get("query_string", b"").decode("latin-1")
    if "participant=" not in query:
        return None
    values = urllib.parse.parse_qs(query, max_num_fields=32).get("participant")
    if values is None:
        return None
    if len(values) > 1:
        msg = "name one participant"
        raise InvalidRequestError(msg)
    return str(values[0])


def _offers_subprotocol(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"sec-websocket-protocol" and len(value) <= _MAX_HEADER:
            offered = {p.strip() for p in value.decode("latin-1").split(",")}
            if SUBPROTOCOL_V2 in offered:
                return True
    return False


def _gate_frame(message: Message) -> dict[str, Any] | None:
    """A frame the middleware answers itself (refresh, moderate, participants), or ``None``."""
    text = message.get("text") if message.get("type") == "websocket.receive" else None
    if not isinstance(text, str) or '"relaypass.' not in text[:64]:
        return None
    if len(text) > _MAX_GATE_FRAME:
        return None
    try:
        parsed: dict[str, Any] = loads_object(text.encode())
    except StrictJSONError:
        return None
    if parsed.get("type") not in _GATE_FRAMES:
        return None
    return parsed


@final
class _Guard:
    """Stands between the app and one WebSocket: adds the subprotocol, closes on a cut."""

    def __init__(
        self, receive: Receive, send: Send, subprotocol: str | None, session: Session
    ) -> None:
        self._receive = receive
        self._send = send
        self._subprotocol = subprotocol
        self._session = session
        self.cut = asyncio.Event()
        self.close_code = CLOSE_CODE_CUT
        self.close_reason = ""
        self._pending_sends: set[asyncio.Task[None]] = set()
        self.accepted = False
        self.closed = False

    async def send(self, message: Message) -> None:
        if message["type"] == "websocket.accept":
            self.accepted = True
            chosen = message.get("subprotocol")
            if self._subprotocol is not None and chosen in {None, SUBPROTOCOL}:
                # An app that accepts "relaypass" serves a v2 client the same way.
                message = {**message, "subprotocol": self._subprotocol}
            await self._send(message)
            if self._subprotocol == SUBPROTOCOL_V2:
                await self.welcome()
            return
        if message["type"] == "websocket.close":
            if self.closed:
                return
            self.closed = True
        elif self.closed:
            return  # the gate already closed this socket
        await self._send(message)

    async def receive(self) -> Message:
        while True:
            message = await self._receive_one()
            frame = _gate_frame(message)
            if frame is None:
                return message
            if frame["type"] == _REFRESH_TYPE:
                token = frame.get("token")
                await self._refresh(token if isinstance(token, str) else "")
            else:
                await self._answer(frame)

    async def welcome(self) -> None:
        """Tell a client the session is open, and in a room who it joined as (maybe generated)."""
        grant = self._session.grant
        expires = grant.expires_at
        event: dict[str, Any] = {
            "type": "relaypass.welcome", "exp": int(expires) if expires else None
        }  # fmt: skip
        if grant.room is not None:
            event["participant"] = grant.participant
            event["state"] = "waiting" if self._session.pending else "admitted"
            event["tier"] = "viewer" if grant.is_viewer else "speaker"
        await self.send({"type": "websocket.send", "text": orjson.dumps(event).decode()})

    async def _answer(self, frame: dict[str, Any]) -> None:
        """A moderator's decision or a participant list, asked in-band."""
        kind = frame["type"]
        frame_id = frame.get("id")
        reply: dict[str, Any] = {"type": f"{kind}_failed"}
        if isinstance(frame_id, str | int) and len(str(frame_id)) <= _MAX_FRAME_ID:
            reply["id"] = frame_id
        try:
            if kind == _MODERATE_TYPE:
                await anyio.to_thread.run_sync(self._moderate, frame)
                reply["type"] = "relaypass.moderated"
                reply["action"] = frame.get("action")
            else:
                tier = frame.get("tier")
                if tier is not None and not isinstance(tier, str):
                    msg = "tier is speaker or viewer"
                    raise InvalidRequestError(msg)
                listed = await anyio.to_thread.run_sync(self._session.participants, tier)
                reply["type"] = _PARTICIPANTS_TYPE
                reply["participants"] = listed
        except RelaypassError as exc:
            _log.info("asgi.frame_refused", session=self._session.id, frame=kind,
                      code=exc.code.value, reason=exc.reason)  # fmt: skip
            reply["code"] = exc.code.value
        await self.send({"type": "websocket.send", "text": orjson.dumps(reply).decode()})

    def _moderate(self, frame: dict[str, Any]) -> None:
        action, participant, viewer = (
            frame.get("action"), frame.get("participant"), frame.get("isViewer")
        )  # fmt: skip
        if (
            not isinstance(action, str)
            or not isinstance(participant, str | None)
            or not (isinstance(viewer, bool | None))
        ):
            msg = "moderate takes action, participant, grant and isViewer"
            raise InvalidRequestError(msg)
        self._session.moderate(action, participant, grant=frame.get("grant"), is_viewer=viewer)

    async def _refresh(self, token: str) -> None:
        try:
            await anyio.to_thread.run_sync(self._session.refresh, token)
        except RelaypassError as exc:
            _log.info("asgi.refresh_refused", session=self._session.id, code=exc.code.value,
                      reason=exc.reason)  # fmt: skip
            reply: dict[str, object] = {"type": "relaypass.refresh_failed", "code": exc.code.value}
        else:
            expires = self._session.grant.expires_at
            reply = {"type": "relaypass.refreshed", "exp": int(expires) if expires else None}
        await self.send({"type": "websocket.send", "text": orjson.dumps(reply).decode()})

    async def _receive_one(self) -> Message:
        if not self.cut.is_set():
            incoming = asyncio.ensure_future(self._receive())
            waiter = asyncio.ensure_future(self.cut.wait())
            done, _ = await asyncio.wait({incoming, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if incoming in done:
                waiter.cancel()
                return incoming.result()
            incoming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await incoming
        await self._close_cut()
        return {"type": "websocket.disconnect", "code": self.close_code}

    def cut_for(self, reason: str) -> None:
        """Close for the gate's ``reason`` (room reasons get their own code)."""
        self.close_code = ROOM_CLOSE_CODES.get(reason, CLOSE_CODE_CUT)
        code = CLOSE_CODES.get(reason)
        self.close_reason = code.value if code is not None else ""
        self.cut.set()

    def notify(self, event: dict[str, Any]) -> None:
        """Send a gate event to the client as a JSON text frame (from the loop's thread)."""
        if not self.accepted or self.closed:
            return
        message = {"type": "websocket.send", "text": orjson.dumps(event).decode()}
        task = asyncio.ensure_future(self.send(message))
        self._pending_sends.add(task)
        task.add_done_callback(self._pending_sends.discard)

    async def close_when_cut(self) -> None:
        await self.cut.wait()
        await self._close_cut()

    async def _close_cut(self) -> None:
        if self.accepted and not self.closed:
            self.closed = True
            with contextlib.suppress(OSError, RuntimeError):
                await self._send(
                    {
                        "type": "websocket.close",
                        "code": self.close_code,
                        "reason": self.close_reason,
                    }
                )
