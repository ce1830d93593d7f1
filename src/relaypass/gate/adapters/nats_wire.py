"""What the NATS auth callout translates, and the NATS JWTs it reads and writes.

Paths become subjects, grants become permissions and user names; the server's
requests and the callout's answers are NATS JWTs.

Segments become subject tokens, ``*`` stays ``*``, a trailing ``**`` becomes ``>``
(plus the prefix itself); characters a subject token cannot hold are
percent-encoded. A user name carries the token's identity (never the token), so
a callout that restarts can hold the clients admitted before to the revocations
it missed. A NATS JWT is verified against the nkey in its ``iss``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Final

import nkeys
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from relaypass._b64 import b64decode, b64encode
from relaypass._grant import Grant
from relaypass._scopes import PathError, PatternSet, split_path
from relaypass.errors import InvalidPermissionsError, InvalidTokenError, RelaypassError

__all__ = [
    "INBOX",
    "MAX_NATS_JWT",
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

INBOX: Final = "_INBOX.>"
_NAME_PREFIX: Final = "relaypass1."
_SAFE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~!&'()+,;=@:#[]^`{|}\"/?\\<"
) - {"/"}
_HEADER: Final = {"typ": "JWT", "alg": "ed25519-nkey"}
#: The longest NATS JWT (or user name) read.
MAX_NATS_JWT: Final = 16 * 1024
_PUBLIC_PREFIXES: Final = frozenset(
    {nkeys.PREFIX_BYTE_SERVER, nkeys.PREFIX_BYTE_ACCOUNT, nkeys.PREFIX_BYTE_OPERATOR,
     nkeys.PREFIX_BYTE_USER}
)  # fmt: skip


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
    if not name.startswith(_NAME_PREFIX) or len(name) > MAX_NATS_JWT:
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
    if len(token) > MAX_NATS_JWT or token.count(".") != 2:  # noqa: PLR2004 - three parts
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
