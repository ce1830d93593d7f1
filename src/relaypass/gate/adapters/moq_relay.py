"""A MoQ relay that admits a session only with a valid token and keeps it to its grant.

Built on the ``moq-rs`` bindings (``pip install 'relaypass[relay]'``). As in
moq-relay, the client connects to ``https://relay/<root>?jwt=<token>``: the
URL path is the session's root, and the paths it announces or subscribes are
relative to it. The token is verified once by the :class:`~relaypass.gate.Gate`
(profile ``moq``), which pins its grant to the session.

How scoping works with what the bindings expose (they have no origin
filters): every session gets two private origins.

* **Ingest** - what the client announces lands in the session's own origin.
  Each announcement is checked with ``authorize_publish``; an allowed
  broadcast is re-created in the relay's shared *hub* origin at
  ``<root>/<path>``, and each track a subscriber asks for is copied from the
  publisher frame by frame. A refused announcement is logged and never
  reaches the hub.
* **Egress** - the hub's announcements under the root are mirrored into the
  session's outgoing origin only where ``authorize_subscribe`` allows, and a
  request is served with the hub's own broadcast (no copy per subscriber).

The cost of per-path scoping is therefore one Python hop per published frame
(on ingest), independent of the number of subscribers; ``bench/relay.py``
measures it against an unscoped ``moq.Server``. A session ends when its
token expires (timer at ``exp``) or is revoked (the gate's cutoff), with
close code 401, and its broadcasts are withdrawn from the hub.

**In-band refresh.** A session outlives its token by announcing the reserved
broadcast :data:`REFRESH_BROADCAST` with a track :data:`REFRESH_TRACK` and
writing each fresh token as a frame (:class:`RefreshChannel` does it). The
relay reads that track itself, never forwards it, and pins each new grant to
the session (same subject; it may narrow or widen); a refused token is logged
and the old grant stays until its own ``exp``. With an auth server
(``auth=``), the fresh token becomes the session's credential and the relay
revalidates at once: the auth server decides it as it decides the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from typing import Any, Final, final

import moq
import structlog

from relaypass.errors import (
    InvalidPermissionsError,
    RelaypassError,
)
from relaypass.gate.adapters.moq_auth_client import AuthClient, AuthSession, Refused
from relaypass.gate.adapters.moq_connection import (
    NOT_FOUND,
    Connection,
    copy_track,
    join_path,
    relative_to,
    transport_name,
)
from relaypass.gate.adapters.moq_credentials import (
    MAX_QUERY_BYTES,
    MAX_REFRESH_FRAME,
    REFRESH_BROADCAST,
    REFRESH_TRACK,
    RefreshChannel,
    check_broadcast_path,
    token_from_query,
)
from relaypass.gate.expiry import ExpiryTimer
from relaypass.gate.session import Gate, Session

__all__ = [  # the client's side is re-exported: it was defined here
    "CLOSE_CODE_REVOKED",
    "MAX_QUERY_BYTES",
    "REFRESH_BROADCAST",
    "REFRESH_TRACK",
    "MoqRelay",
    "RefreshChannel",
    "token_from_query",
]

#: Close code sent when the gate ends a session (revoked, expired): the protocol's
#: "unauthorized" session error, so ``moq.is_auth`` is true and clients stop redialling.
CLOSE_CODE_REVOKED: Final = 2
_log = structlog.get_logger("relaypass.gate.adapters.moq_relay")


@final
class MoqRelay:
    """A token-gated MoQ relay.

    ::

        gate = Gate(DirectoryKeySource("keys/"), profile="moq")
        async with MoqRelay(gate, bind="[::]:4443", tls_cert=[...], tls_key=[...]) as relay:
            await relay.serve_forever()
    """

    def __init__(
        self,
        gate: Gate,
        *,
        bind: str = "127.0.0.1:4443",
        tls_cert: Sequence[str] = (),
        tls_key: Sequence[str] = (),
        tls_generate: Sequence[str] = (),
        auth: AuthClient | None = None,
    ) -> None:
        """``auth``: ask that auth server per session instead of verifying tokens here.

        The relay then needs a gate with no keys of its own; it closes ``auth`` when
        it stops.
        """
        if not gate.kind.paths_relative_to_connection:
            msg = "the MoQ relay needs a gate with profile='moq'"
            raise ValueError(msg)
        if not tls_cert and not tls_generate:
            tls_generate = ("localhost",)
        self.gate = gate
        self._server = moq.Server(
            bind,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_generate=tls_generate,
            publish=moq.OriginProducer(),
            subscribe=moq.OriginProducer(),
        )
        self._hub = moq.OriginProducer()
        # path -> publishers' hub broadcasts, newest last (a reconnecting publisher wins).
        self._hub_broadcasts: dict[str, list[moq.BroadcastProducer]] = {}
        self._connections: dict[int, Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accept_task: asyncio.Task[None] | None = None
        self._admissions: set[asyncio.Task[None]] = set()
        self._previous_on_close = gate.on_close
        self._auth = auth
        self._fingerprints: list[str] = []
        self._by_auth: dict[str, Connection] = {}  # the auth server's session id -> connection
        self._reports: set[asyncio.Future[None]] = set()  # `end` events on their way

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> MoqRelay:
        self._loop = asyncio.get_running_loop()
        await self._server.__aenter__()  # type: ignore[no-untyped-call]  # moq-rs leaves it bare
        # Read once, before the accept loop holds the server (then the bindings answer Busy).
        self._fingerprints = list(self._server.cert_fingerprints())
        self.gate.on_close = self._on_gate_close
        self._accept_task = asyncio.create_task(self._accept_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.gate.on_close = self._previous_on_close
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
        for conn in list(self._connections.values()):
            conn.gate_session.close("shutdown")
            self._teardown(conn, 0)
        if self._reports:  # the auth server hears of every close, shutdown included
            await asyncio.wait(self._reports, timeout=2.0)
        if self._auth is not None:
            await self._auth.aclose()
        await self._server.__aexit__(None, None, None)

    @property
    def local_addr(self) -> str:
        """``host:port`` the relay listens on."""
        return self._server.local_addr

    def cert_fingerprints(self) -> list[str]:
        """SHA-256 of the TLS certificates (for ``serverCertificateHashes``)."""
        return list(self._fingerprints)

    @property
    def connections(self) -> int:
        """Sessions currently admitted."""
        return len(self._connections)

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        await asyncio.Event().wait()

    # ------------------------------------------------------------ admission

    async def _accept_loop(self) -> None:
        async for request in self._server:
            self._spawn(None, self._admit(request))

    def _spawn(self, conn: Connection | None, coro: Coroutine[Any, Any, None]) -> None:
        # Strong references: the loop keeps only weak ones to running tasks.
        owner = self._admissions if conn is None else conn.tasks
        task = asyncio.create_task(coro)
        owner.add(task)
        task.add_done_callback(owner.discard)

    async def _admit(self, request: moq.Request) -> None:
        root = request.path.strip("/")
        auth_session: AuthSession | None = None
        try:
            if self._auth is not None:
                auth_session = self._auth.new_session(root, request.query, None)
                auth_session.transport = transport_name(request.transport)
                grant, _tier = await self._auth.connect(auth_session)
                gate_session = self.gate.adopt(grant, root)
            else:
                # Verification may wait on a key fetch: never on the event loop.
                gate_session = await asyncio.to_thread(
                    self.gate.connect, token_from_query(request.query), root
                )
        except RelaypassError as exc:
            _log.info("moq.refused", code=exc.code.value, reason=exc.reason, root=root)
            with contextlib.suppress(moq.Error):
                await request.reject(exc.auth_status)
            if self._auth is not None and auth_session is not None:
                await self._auth.end(auth_session, "refused", 0, 0)
            return
        conn = Connection(gate_session, root, auth=auth_session)
        request.set_consume(conn.ingest)
        request.set_publish(conn.egress)
        try:
            conn.moq_session = await request.accept()
        except moq.Error as exc:
            _log.info("moq.handshake_failed", error=type(exc).__name__, root=root)
            gate_session.close("handshake failed")
            return
        self._connections[gate_session.id] = conn
        if not gate_session.open:  # revoked between connect and accept
            self._teardown(conn, CLOSE_CODE_REVOKED)
            return
        _log.info("moq.admitted", session=gate_session.id, root=root)
        self._spawn(conn, self._ingest(conn))
        self._spawn(conn, self._egress(conn))
        if conn.auth is not None:
            self._by_auth[conn.auth.id] = conn
            self._spawn(conn, self._revalidate(conn))
        conn.expiry = ExpiryTimer(self.gate, gate_session, asyncio.get_running_loop())
        await self._wait_closed(conn)

    async def _wait_closed(self, conn: Connection) -> None:
        assert conn.moq_session is not None  # noqa: S101 - set by _admit before this runs
        session_closed = asyncio.ensure_future(conn.moq_session.closed())
        cut = asyncio.ensure_future(conn.closed.wait())
        try:
            await asyncio.wait({session_closed, cut}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (session_closed, cut):
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError, moq.Error):
                    await waiter
        if conn.gate_session.open:
            conn.gate_session.close("disconnected")  # -> _on_gate_close -> teardown

    # ------------------------------------------------------------ cutoff

    def _on_gate_close(self, session: Session, reason: str) -> None:
        """The gate ended a session (revocation may arrive on another thread)."""
        if self._previous_on_close is not None:
            self._previous_on_close(session, reason)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        code = 0 if reason in {"disconnected", "shutdown"} else CLOSE_CODE_REVOKED
        loop.call_soon_threadsafe(self._close_session, session.id, reason, code)

    def _close_session(self, session_id: int, reason: str, code: int) -> None:
        conn = self._connections.get(session_id)
        if conn is None:
            return
        if code:
            _log.info("moq.cut", session=session_id, reason=reason)
        self._teardown(conn, code)

    def _teardown(self, conn: Connection, code: int) -> None:
        if self._connections.pop(conn.gate_session.id, None) is not None and conn.auth is not None:
            self._report_end(conn)
        conn.closed.set()
        if conn.expiry is not None:
            conn.expiry.cancel()
        for task in list(conn.tasks):
            task.cancel()
        for route in conn.routes.values():
            route.cancel()
        conn.routes.clear()
        for path, broadcast in conn.published.items():
            self._withdraw(path, broadcast)
        conn.published.clear()
        if conn.moq_session is not None:
            with contextlib.suppress(moq.Error):
                conn.moq_session.cancel(code) if code else conn.moq_session.shutdown()

    # ------------------------------------------------------------ ingest

    async def _ingest(self, conn: Connection) -> None:
        consumer = conn.consumer = conn.ingest.consume()
        async for update in consumer.announced("", hidden=True):
            path = update.prefix
            if path == REFRESH_BROADCAST:
                if update.active:
                    self._spawn(conn, self._follow_refreshes(conn, consumer))
                continue
            if not update.active:
                conn.refused.discard(path)
                broadcast = conn.published.pop(path, None)
                if broadcast is not None:
                    self._withdraw(join_path(conn.root, path), broadcast)
                continue
            try:
                check_broadcast_path(path)
                conn.gate_session.authorize_publish(path)
            except RelaypassError as exc:
                _log.info("moq.publish_refused", session=conn.gate_session.id, code=exc.code.value)
                if isinstance(exc, InvalidPermissionsError):
                    conn.refused.add(path)  # a wider grant may let it through later
                continue
            if path in conn.published:
                continue  # a metadata update of a route already forwarded
            await self._forward(conn, consumer, path)

    async def _forward(self, conn: Connection, consumer: moq.OriginConsumer, path: str) -> None:
        """Re-create a client's allowed broadcast in the hub, tracks copied on demand."""
        conn.consumer = consumer
        try:
            source = await consumer.request_broadcast(path)
        except moq.Error:
            return  # withdrawn before it could be resolved
        hub_path = join_path(conn.root, path)
        broadcast = self._hub.create_broadcast(hub_path)
        conn.published[path] = broadcast
        self._hub_broadcasts.setdefault(hub_path, []).append(broadcast)
        self._spawn(conn, self._serve_tracks(conn, source, broadcast.dynamic()))
        broadcast.announce()

    async def _follow_refreshes(self, conn: Connection, consumer: moq.OriginConsumer) -> None:
        """Pin every token the client writes on its refresh track to its session."""
        session = conn.gate_session
        try:
            source = await consumer.request_broadcast(REFRESH_BROADCAST)
            track = await source.subscribe_track(REFRESH_TRACK)
            while (frame := await track.read_frame()) is not None:
                if len(frame.payload) > MAX_REFRESH_FRAME:
                    _log.info("moq.refresh_refused", session=session.id, code="INVALID_TOKEN")
                    continue
                try:
                    token = frame.payload.decode("ascii")
                    if conn.auth is not None:  # the auth server decides: revalidate with it
                        conn.auth.present(token)
                        conn.wake.set()
                        continue
                    await asyncio.to_thread(session.refresh, token)
                except (RelaypassError, UnicodeDecodeError) as exc:
                    code = exc.code.value if isinstance(exc, RelaypassError) else "INVALID_TOKEN"
                    _log.info("moq.refresh_refused", session=session.id, code=code)
                    continue
                _log.info("moq.refreshed", session=session.id, exp=session.grant.expires_at)
        except moq.Error:
            return  # the client withdrew the channel or left

    async def _serve_tracks(
        self, conn: Connection, source: moq.BroadcastConsumer, dynamic: moq.BroadcastDynamic
    ) -> None:
        async with dynamic:
            async for request in dynamic:
                try:
                    upstream = await source.subscribe_track(request.name)
                except moq.Error:
                    request.abort(NOT_FOUND)
                    continue
                self._spawn(conn, copy_track(upstream, request.accept(upstream.info())))

    def _withdraw(self, hub_path: str, broadcast: moq.BroadcastProducer) -> None:
        stack = self._hub_broadcasts.get(hub_path, [])
        if broadcast in stack:
            stack.remove(broadcast)
        if not stack:
            self._hub_broadcasts.pop(hub_path, None)
        with contextlib.suppress(moq.Error):
            broadcast.close()

    # ------------------------------------------------------------ egress

    async def _egress(self, conn: Connection) -> None:
        prefix = conn.root
        async for update in self._hub.consume().announced(prefix, hidden=True):
            hub_path = update.prefix
            relative = relative_to(prefix, hub_path)
            if relative is None:
                continue
            route = conn.routes.pop(relative, None)
            if route is not None:
                route.cancel()
            conn.withheld.discard(relative)
            if not update.active:
                continue
            if not conn.gate_session.grant.can_subscribe(relative):
                conn.withheld.add(relative)  # a wider grant may show it later
                continue
            self._route(conn, relative)

    def _route(self, conn: Connection, relative: str) -> None:
        """Mirror the hub's broadcast at ``relative`` into the session's outgoing origin."""
        dynamic = conn.egress.dynamic(relative)
        conn.routes[relative] = dynamic
        self._spawn(
            conn, self._serve_broadcast(conn, dynamic, relative, join_path(conn.root, relative))
        )

    async def _serve_broadcast(
        self, conn: Connection, dynamic: moq.OriginDynamic, relative: str, hub_path: str
    ) -> None:
        with contextlib.suppress(moq.Error):  # the route was cancelled (withdrawn or narrowed)
            async for request in dynamic:
                stack = self._hub_broadcasts.get(hub_path)
                try:
                    conn.gate_session.authorize_subscribe(request.path)
                except RelaypassError as exc:
                    _log.info(
                        "moq.subscribe_refused", session=conn.gate_session.id, code=exc.code.value
                    )
                    request.reject(403)
                    continue
                if request.path != relative or not stack:
                    request.reject(NOT_FOUND)
                    continue
                request.accept(stack[-1])

    # ------------------------------------------------------------ auth server

    async def _revalidate(self, conn: Connection) -> None:
        """Ask the auth server again on its cadence, or now when it pushes; resize or close."""
        assert self._auth is not None  # noqa: S101 - spawned only with an auth server
        assert conn.auth is not None  # noqa: S101
        session = conn.gate_session
        while session.open:
            cadence = conn.auth.cadence
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wake.wait(), cadence)
            conn.wake.clear()
            try:
                grant = await self._auth.revalidate(conn.auth, until=session.grant.expires_at)
            except RelaypassError as exc:
                _log.info("moq.revalidate_closed", session=session.id, code=exc.code.value)
                session.close("revoked" if isinstance(exc, Refused) else "expired")
                return
            self.gate.regrant(session, grant)
            self._resize(conn)

    def _resize(self, conn: Connection) -> None:
        """Hold the live session to its new grant: narrower closes, wider opens."""
        grant = conn.gate_session.grant
        for relative in [r for r in conn.routes if not grant.can_subscribe(r)]:
            conn.routes.pop(relative).cancel()
            conn.withheld.add(relative)
        for relative in [r for r in conn.withheld if grant.can_subscribe(r)]:
            conn.withheld.discard(relative)
            if relative not in conn.routes:
                self._route(conn, relative)
        for path in [p for p in conn.published if not grant.can_publish(p)]:
            self._withdraw(join_path(conn.root, path), conn.published.pop(path))
            conn.refused.add(path)
        consumer = conn.consumer
        for path in [p for p in conn.refused if grant.can_publish(p)]:
            conn.refused.discard(path)
            if consumer is not None and path not in conn.published:
                self._spawn(conn, self._forward(conn, consumer, path))

    def _report_end(self, conn: Connection) -> None:
        assert self._auth is not None  # noqa: S101 - called only with an auth server
        assert conn.auth is not None  # noqa: S101
        self._by_auth.pop(conn.auth.id, None)
        sent = received = 0
        if conn.moq_session is not None:
            with contextlib.suppress(moq.Error):
                stats = conn.moq_session.stats()
                sent, received = stats.bytes_sent or 0, stats.bytes_received or 0
        reason = conn.gate_session.close_reason or "closed"
        task = asyncio.ensure_future(self._auth.end(conn.auth, reason, sent, received))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    def auth_sessions(self) -> list[AuthSession]:
        """The sessions the auth server decided, for the internal listener."""
        return [conn.auth for conn in list(self._by_auth.values()) if conn.auth is not None]

    def revalidate_now(self, session: AuthSession) -> None:
        """A push: re-ask the auth server about ``session`` now (from any thread)."""
        conn = self._by_auth.get(session.id)
        loop = self._loop
        if conn is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(conn.wake.set)
