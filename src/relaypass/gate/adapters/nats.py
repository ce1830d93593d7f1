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
import base64
import contextlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, final

import nkeys
import structlog
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from relaypass._b64 import b64decode, b64encode
from relaypass._grant import Grant
from relaypass._scopes import PathError, PatternSet, split_path
from relaypass.errors import InvalidPermissionsError, InvalidTokenError, RelaypassError
from relaypass.gate.session import Gate, Session

__all__ = [
    "AUTH_SUBJECT",
    "INBOX",
    "NatsCallout",
    "NatsJwtError",
    "decode_nats_jwt",
    "encode_nats_jwt",
    "grant_from_name",
    "identity_name",
    "path_to_subject",
    "pattern_subjects",
    "permissions_for",
    "subject_token",
]

AUTH_SUBJECT: Final = "$SYS.REQ.USER.AUTH"
INBOX: Final = "_INBOX.>"
_KICK: Final = "$SYS.REQ.SERVER.{}.KICK"
_CONNZ: Final = "$SYS.REQ.SERVER.PING.CONNZ"
_CONNZ_LIMIT: Final = 100_000
_NAME_PREFIX: Final = "relaypass1."
_DISCONNECTS: Final = "$SYS.ACCOUNT.*.DISCONNECT"
_SAFE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~!&'()+,;=@:#[]^`{|}\"/?\\<"
) - {"/"}
_HEADER: Final = {"typ": "JWT", "alg": "ed25519-nkey"}
_MAX_JWT: Final = 16 * 1024
_PUBLIC_PREFIXES: Final = frozenset(
    {nkeys.PREFIX_BYTE_SERVER, nkeys.PREFIX_BYTE_ACCOUNT, nkeys.PREFIX_BYTE_OPERATOR,
     nkeys.PREFIX_BYTE_USER}
)  # fmt: skip

_log = structlog.get_logger("relaypass.gate.adapters.nats")


class NatsJwtError(InvalidTokenError):
    """A NATS JWT (the server's request) is malformed or not signed by its issuer."""


# ------------------------------------------------------------------ subjects


def subject_token(segment: str) -> str:
    """One path segment as one subject token: unsafe characters percent-encoded (UTF-8)."""
    out: list[str] = []
    for char in segment:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode())
    return "".join(out)


def path_to_subject(path: str) -> str:
    """The subject a client uses for a path: ``voice/sid_xyz/mic`` -> ``voice.sid_xyz.mic``."""
    segments = split_path(path)
    if not segments:
        msg = "the empty path has no subject"
        raise PathError(msg)
    return ".".join(subject_token(s) for s in segments)


def pattern_subjects(pattern: str) -> list[str]:
    """The subject filters one namespace pattern grants (``a/**`` -> ``a``, ``a.>``)."""
    segments = list(PatternSet([pattern]).patterns[0].split("/")) if pattern.strip("/") else []
    if "**" in segments[:-1]:
        msg = "a '**' inside a pattern has no NATS subject form"
        raise InvalidPermissionsError(msg)
    trailing = bool(segments) and segments[-1] == "**"
    head = segments[:-1] if trailing else segments
    tokens = ["*" if s == "*" else subject_token(s) for s in head]
    subjects = [".".join(tokens)] if tokens else []
    if trailing:
        subjects.append(".".join([*tokens, ">"]))
    return subjects


def _subjects(patterns: PatternSet) -> list[str]:
    return sorted({s for p in patterns.patterns for s in pattern_subjects(p)})


def permissions_for(grant: Grant) -> dict[str, Any]:
    """The NATS user permissions of a grant (publish and subscribe kept apart).

    The grant's fence (the namespaces other orgs own inside its key's reach)
    becomes a deny list on both sides, which NATS applies before the allow
    list: whatever a token claims, another org's subjects are never reachable.
    """
    publish = _subjects(grant.publish)
    subscribe = _subjects(grant.subscribe)
    fenced = _subjects(grant.fence)
    pub: dict[str, list[str]] = {"allow": publish} if publish else {"deny": [">"]}
    sub: dict[str, list[str]] = {"allow": [*subscribe, INBOX]}
    if fenced:
        if publish:
            pub["deny"] = fenced
        sub["deny"] = fenced
    return {"pub": pub, "sub": sub, "resp": {"max": 1, "ttl": 0}}


# ------------------------------------------------------------------ identity


def identity_name(grant: Grant) -> str:
    """The NATS user name of an admitted client: its token's identity, never the token.

    The server reports it for each connection (``CONNZ``'s ``authorized_user``), so
    a callout that restarts can hold clients admitted before to the revocations it
    missed. Identifiers only (kid, jti, subject, org, tenant, issued and expiry
    times, the token's digest): nothing here lets anyone connect.
    """
    fields = {
        "s": grant.subject, "t": grant.tenant, "o": grant.org, "k": grant.kid,
        "j": grant.jti, "h": grant.token_id, "i": grant.issued_at, "e": grant.expires_at,
    }  # fmt: skip
    compact = {k: v for k, v in fields.items() if v is not None}
    return _NAME_PREFIX + b64encode(json.dumps(compact, separators=(",", ":")).encode())


def grant_from_name(name: str) -> Grant | None:
    """The grant :func:`identity_name` describes (``None``: a name this service did not write)."""
    if not name.startswith(_NAME_PREFIX) or len(name) > _MAX_JWT:
        return None
    try:
        fields = json.loads(b64decode(name.removeprefix(_NAME_PREFIX)))
    except (ValueError, RelaypassError):
        return None
    if not isinstance(fields, dict):
        return None

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    def number(key: str) -> float | None:
        value = fields.get(key)
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    return Grant(
        profile="relay", subject=text("s"), tenant=text("t"), org=text("o"), kid=text("k"),
        jti=text("j"), token_id=text("h"), issued_at=number("i"), expires_at=number("e"),
    )  # fmt: skip


# ------------------------------------------------------------------ NATS JWTs


def encode_nats_jwt(claims: Mapping[str, Any], signer: nkeys.KeyPair) -> str:
    """A NATS JWT (``ed25519-nkey``) signed by an nkey."""
    header = b64encode(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = b64encode(json.dumps(dict(claims), separators=(",", ":")).encode())
    signature = signer.sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{b64encode(signature)}"


def decode_nats_jwt(token: str) -> dict[str, Any]:
    """The claims of a NATS JWT, after checking it is signed by the nkey in its ``iss``."""
    if len(token) > _MAX_JWT or token.count(".") != 2:  # noqa: PLR2004 - three parts
        msg = "not a NATS JWT"
        raise NatsJwtError(msg)
    header_b64, body_b64, signature_b64 = token.split(".")
    try:
        header = json.loads(b64decode(header_b64))
        claims = json.loads(b64decode(body_b64))
        signature = b64decode(signature_b64)
    except ValueError:
        msg = "a NATS JWT part is not base64url JSON"
        raise NatsJwtError(msg) from None
    if not isinstance(header, dict) or header.get("alg") not in {"ed25519-nkey", "ed25519"}:
        msg = "a NATS JWT is signed ed25519-nkey"
        raise NatsJwtError(msg)
    if not isinstance(claims, dict) or not isinstance(claims.get("iss"), str):
        msg = "a NATS JWT names its issuer"
        raise NatsJwtError(msg)
    try:
        VerifyKey(_public_key(claims["iss"])).verify(f"{header_b64}.{body_b64}".encode(), signature)
    except (ValueError, BadSignatureError):
        msg = "a NATS JWT's signature does not verify"
        raise NatsJwtError(msg) from None
    return claims


def _public_key(text: str) -> bytes:
    """The raw Ed25519 key of a public nkey (``N…`` server, ``A…`` account, ``U…`` user)."""
    if len(text) != 56:  # noqa: PLR2004 - base32 of 1 prefix + 32 key + 2 CRC bytes
        msg = "a public nkey is 56 characters"
        raise ValueError(msg)
    raw = base64.b32decode(text)
    if nkeys.crc16_checksum(raw[:-2]) != raw[-2:]:
        msg = "the public nkey's checksum does not match"
        raise ValueError(msg)
    if raw[0] & 0xF8 not in _PUBLIC_PREFIXES:
        msg = "not a public nkey"
        raise ValueError(msg)
    return raw[1:33]


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
