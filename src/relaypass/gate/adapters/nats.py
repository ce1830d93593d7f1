"""NATS auth callout: relay tokens admitted to NATS, mapped to subjects, cut on revocation.

nats-server (2.10 and later) hands every connection it cannot authenticate
itself to an *auth callout* service on ``$SYS.REQ.USER.AUTH``: a JWT the
server signed, describing the client and its ``connect`` options. This module
is that service for relaypass tokens:

- The client presents its relaypass token as the NATS ``auth_token`` (the
  ``token`` option of nats.py / nats.ws; ``pass`` is read too, for clients that
  only send a user and password). The gate verifies it with its key sources
  and tenancy scopes (profile ``relay``).
- Its namespace patterns become subject permissions: segments become tokens,
  ``*`` stays ``*``, a trailing ``**`` becomes ``>`` (plus the prefix itself,
  since ``a/**`` covers ``a``). Publish and subscribe stay separate; the
  client may subscribe to ``_INBOX.>`` and answer requests it received
  (``resp``), so request/reply works. Characters that cannot appear in a
  subject token (``.``, ``*``, ``>``, ``$``, ``%``, whitespace, non-ASCII) are
  percent-encoded (:func:`path_to_subject`); a ``**`` inside a pattern has no
  subject form and is refused.
- The NATS user lives in the NATS account mapped to the token's org and tenant
  (``accounts``, by ``org/tenant``), so tenants are isolated by the broker too; a
  tenant without an account is refused. The subjects of other orgs' namespaces
  are on the user's deny lists. The user expires at the token's ``exp`` (the server
  disconnects it then).
- A refused token gets an authorization error, and nothing else: the reason is
  logged here.
- A restarted callout files again the clients admitted before it (the user
  name it gave each is the token's identity, reported by the servers' ``CONNZ``),
  kicks those revoked meanwhile, and cuts the rest on later revocations.
- Live revocation: every admitted client is a gate session; when the gate cuts
  one (key, token, subject, tenant or org revoked), this service asks the
  client's server to disconnect it with the server's own
  ``$SYS.REQ.SERVER.<server id>.KICK`` request (2.10+), through a system-account
  connection. Disconnects are followed on ``$SYS.ACCOUNT.*.DISCONNECT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

import nkeys
import structlog

from relaypass._grant import Grant
from relaypass.errors import InvalidPermissionsError, InvalidTokenError, RelaypassError
from relaypass.gate.adapters import nats_wire as _wire
from relaypass.gate.adapters.nats_wire import *  # noqa: F403 - defined here before: kept
from relaypass.gate.adapters.nats_wire import (
    NatsJwtError,
    decode_nats_jwt,
    encode_nats_jwt,
    grant_from_name,
    identity_name,
    permissions_for,
)
from relaypass.gate.session import Gate, Session

__all__ = ["AUTH_SUBJECT", "NatsCallout"]
__all__ += _wire.__all__

AUTH_SUBJECT: Final = "$SYS.REQ.USER.AUTH"
_KICK: Final = "$SYS.REQ.SERVER.{}.KICK"
_CONNZ: Final = "$SYS.REQ.SERVER.PING.CONNZ"
_CONNZ_LIMIT: Final = 100_000
_DISCONNECTS: Final = "$SYS.ACCOUNT.*.DISCONNECT"

_log = structlog.get_logger("relaypass.gate.adapters.nats")


# ------------------------------------------------------------------ the service


@dataclass(frozen=True, slots=True)
class _Client:
    server_id: str
    cid: int


@final
class NatsCallout:
    """The auth callout service: answer the server's requests, kick revoked clients.

    ``issuer`` is the account nkey the server trusts for callout responses (its
    ``auth_callout { issuer }``); ``accounts`` maps ``org/tenant`` (for tokens
    of an org's key) or a bare ``tenant`` (keys bound to no org) to the NATS
    account its users join.
    """

    def __init__(
        self,
        gate: Gate,
        *,
        issuer: nkeys.KeyPair,
        accounts: Mapping[str, str],
        servers: list[str],
        callout_user: tuple[str, str],
        system_user: tuple[str, str] | None = None,
    ) -> None:
        if not gate.kind.maps_to_subjects:
            msg = "the NATS callout admits relay tokens: a gate with profile='relay'"
            raise ValueError(msg)
        self.gate = gate
        self.issuer = issuer
        self.issuer_public = issuer.public_key.decode()
        self.accounts = dict(accounts)
        self.servers = servers
        self.callout_user = callout_user
        self.system_user = system_user
        self._clients: dict[int, _Client] = {}
        self._by_client: dict[_Client, Session] = {}
        self._nc: Any = None
        self._sys: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._previous_on_close = gate.on_close

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Connect and serve the callout subject (and the system account, for kicks)."""
        import nats  # noqa: PLC0415 - the client library is this adapter's own dependency

        self._loop = asyncio.get_running_loop()
        user, password = self.callout_user
        self._nc = await nats.connect(
            servers=self.servers, user=user, password=password, name="relaypass-callout",
            max_reconnect_attempts=-1,
        )  # fmt: skip
        await self._nc.subscribe(AUTH_SUBJECT, cb=self._on_request)
        if self.system_user is not None:
            sys_user, sys_password = self.system_user
            self._sys = await nats.connect(
                servers=self.servers, user=sys_user, password=sys_password,
                name="relaypass-callout-sys", max_reconnect_attempts=-1,
            )  # fmt: skip
            await self._sys.subscribe(_DISCONNECTS, cb=self._on_disconnect)
        self.gate.on_close = self._on_gate_close
        await self._nc.flush()
        if self._sys is not None:
            await self._sys.flush()
            await self.reconcile()

    async def reconcile(self, *, wait_seconds: float = 0.5) -> int:
        """File again the clients admitted before this service started; kick the revoked.

        Every server answers ``CONNZ``; a client whose user name is one this service
        wrote (:func:`identity_name`) is held to the gate's revocations now, and cut
        by later ones like any session. What is known of a client is its token's
        identity, never the token. Answers the number of clients kicked.
        """
        if self._sys is None:
            return 0
        kicked = 0
        for server_id, connection in await self._connections(wait_seconds):
            grant = grant_from_name(str(connection.get("authorized_user") or ""))
            cid = connection.get("cid")
            if grant is None or not isinstance(cid, int):
                continue
            client = _Client(server_id, cid)
            if client in self._by_client:
                continue
            try:
                session = self.gate.adopt(grant)
            except RelaypassError as exc:
                kicked += 1
                _log.info("nats.reconciled_kick", cid=cid, code=exc.code.value)
                await self._kick(client, "revoked while the callout was away")
                continue
            self._track(client, session)
        return kicked

    async def _connections(self, wait_seconds: float) -> list[tuple[str, dict[str, Any]]]:
        """(server id, connection) of every client of every server, by a CONNZ ping."""
        inbox = self._sys.new_inbox()
        answers: list[bytes] = []

        async def collect(msg: Any) -> None:  # noqa: ANN401 - nats.py's Msg
            answers.append(msg.data)

        subscription = await self._sys.subscribe(inbox, cb=collect)
        request = json.dumps({"auth": True, "limit": _CONNZ_LIMIT}).encode()
        await self._sys.publish(_CONNZ, request, reply=inbox)
        await self._sys.flush()
        await asyncio.sleep(wait_seconds)
        await subscription.unsubscribe()
        found: list[tuple[str, dict[str, Any]]] = []
        for raw in answers:
            try:
                data = json.loads(raw)["data"]
                server_id = str(data["server_id"])
                connections = data.get("connections") or []
            except (ValueError, KeyError, TypeError):
                continue
            found.extend((server_id, c) for c in connections if isinstance(c, dict))
        return found

    async def close(self) -> None:
        """Stop serving."""
        self.gate.on_close = self._previous_on_close
        for connection in (self._nc, self._sys):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.drain()
        for task in list(self._tasks):
            task.cancel()

    # -------------------------------------------------------------- callout

    async def _on_request(self, msg: Any) -> None:  # noqa: ANN401 - nats.py's Msg
        response = await asyncio.to_thread(self.respond, msg.data.decode())
        if response is not None:
            await msg.respond(response.encode())

    def respond(self, request_jwt: str) -> str | None:
        """The signed response to one authorization request (``None``: not a request)."""
        try:
            request = decode_nats_jwt(request_jwt)
        except NatsJwtError as exc:
            _log.warning("nats.bad_request", reason=exc.reason)
            return None
        nats_claims = request.get("nats") or {}
        user_nkey = str(nats_claims.get("user_nkey") or "")
        server = nats_claims.get("server_id") or {}
        server_id = str(server.get("id") or "")
        client = nats_claims.get("client_info") or {}
        options = nats_claims.get("connect_opts") or {}
        cid = client.get("id")
        token = options.get("auth_token") or options.get("pass") or ""
        response: dict[str, Any] = {"type": "authorization_response", "version": 2}
        try:
            session, account, user_jwt = self._admit(str(token), user_nkey)
        except RelaypassError as exc:
            _log.info("nats.refused", code=exc.code.value, reason=exc.reason, cid=cid)
            response["error"] = "authorization violation"  # the code stays in our log
        else:
            response["jwt"] = user_jwt
            if isinstance(cid, int):
                self._track(_Client(server_id, cid), session)
            _log.info("nats.admitted", account=account, cid=cid, session=session.id)
        now = int(time.time())
        return encode_nats_jwt(
            {"jti": secrets.token_hex(16), "iat": now, "iss": self.issuer_public,
             "sub": user_nkey, "aud": server_id, "nats": response},
            self.issuer,
        )  # fmt: skip

    def _admit(self, token: str, user_nkey: str) -> tuple[Session, str, str]:
        if not token:
            msg = "no relaypass token in the connect options"
            raise InvalidTokenError(msg)
        session = self.gate.connect(token)
        grant = session.grant
        try:
            account = self._account(grant)
            permissions = permissions_for(grant)
        except RelaypassError:
            session.close("refused")
            raise
        now = int(time.time())
        claims: dict[str, Any] = {
            "jti": secrets.token_hex(16),
            "iat": now,
            "iss": self.issuer_public,
            "sub": user_nkey,
            "aud": account,
            "name": identity_name(grant),
            "nats": {**permissions, "subs": -1, "data": -1, "payload": -1, "type": "user",
                     "version": 2},
        }  # fmt: skip
        if grant.expires_at is not None:
            claims["exp"] = int(grant.expires_at)
        return session, account, encode_nats_jwt(claims, self.issuer)

    def _account(self, grant: Grant) -> str:
        """The NATS account of the token's (org, tenant).

        A token of an org's key is mapped by ``org/tenant`` only: tenant ids are
        chosen by each org, so a bare ``tenant`` entry would map the same-named
        tenant of every org. A bare entry serves keys bound to no org (a gate of
        one deployment that publishes no org bindings).
        """
        tenant = grant.tenant or ""
        name = f"{grant.org}/{tenant}" if grant.org is not None else tenant
        account = self.accounts.get(name)
        if not account:
            msg = "the token's tenant has no NATS account"
            raise InvalidPermissionsError(msg)
        return account

    # -------------------------------------------------------------- revocation

    def _track(self, client: _Client, session: Session) -> None:
        self._clients[session.id] = client
        old = self._by_client.pop(client, None)
        self._by_client[client] = session
        if old is not None:
            old.close("replaced")

    def _on_gate_close(self, session: Session, reason: str) -> None:
        if self._previous_on_close is not None:
            self._previous_on_close(session, reason)
        client = self._clients.pop(session.id, None)
        if client is None:
            return
        self._by_client.pop(client, None)
        if reason in {"disconnected", "replaced", "refused"}:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._spawn_kick, client, reason)

    def _spawn_kick(self, client: _Client, reason: str) -> None:
        task = asyncio.ensure_future(self._kick(client, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _kick(self, client: _Client, reason: str) -> None:
        if self._sys is None:
            _log.warning("nats.cannot_kick", reason="no system-account connection", cid=client.cid)
            return
        payload = json.dumps({"cid": client.cid}).encode()
        try:
            await self._sys.request(_KICK.format(client.server_id), payload, timeout=2)
        except Exception as exc:  # noqa: BLE001 - logged; the user still expires at exp
            _log.warning("nats.kick_failed", cid=client.cid, error=type(exc).__name__)
            return
        _log.info("nats.kicked", cid=client.cid, reason=reason)

    async def _on_disconnect(self, msg: Any) -> None:  # noqa: ANN401 - nats.py's Msg
        try:
            event = json.loads(msg.data)
            client = _Client(str(event["server"]["id"]), int(event["client"]["id"]))
        except (ValueError, KeyError, TypeError):
            return
        session = self._by_client.get(client)
        if session is not None:
            session.close("disconnected")
