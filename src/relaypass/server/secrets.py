"""Server-side secrets: the key-encryption key (AES-256-GCM) and the API-key pepper.

Each comes from the environment (base64url of 32 bytes) or, failing that, from
a file in the data directory that is generated once with mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _random
from pathlib import Path
from typing import Final, final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relaypass._b64 import b64decode, b64encode
from relaypass.errors import InvalidKeyError

__all__ = [
    "KeyEncryptionKey",
    "SecretsMismatchError",
    "generate_secret",
    "load_or_create_secret",
    "pepper_check",
]

_VERSION: Final = b"\x01"
_NONCE: Final = 12


class SecretsMismatchError(Exception):
    """A replica's secret differs from the one the database was made with."""

    def __init__(self, variable: str, what: str) -> None:
        super().__init__(
            f"this replica's {what} differs from the one the database was made with: "
            f"set {variable} to the value every replica shares (relaypass admin secrets)"
        )
        self.variable = variable


def generate_secret() -> str:
    """A fresh 32-byte secret, base64url, for ``RELAYPASS_KEK`` or ``RELAYPASS_API_KEY_PEPPER``."""
    return b64encode(_random.token_bytes(32))


def pepper_check(pepper: bytes) -> str:
    """A value that shows which pepper a database was made with, and reveals nothing of it."""
    return hmac.new(pepper, b"relaypass pepper check", hashlib.sha256).hexdigest()


def load_or_create_secret(value: str | None, path: Path) -> bytes:
    """32 bytes from ``value`` (base64url) or from ``path``, created if missing."""
    if value:
        try:
            raw = b64decode(value.strip())
        except ValueError:
            msg = "secret must be base64url of 32 bytes"
            raise InvalidKeyError(msg) from None
    elif path.exists():
        raw = b64decode(path.read_text(encoding="ascii").strip())
    else:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        raw = _random.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker won the race: use its secret
            raw = b64decode(path.read_text(encoding="ascii").strip())
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(b64encode(raw) + "\n")
    if len(raw) != 32:  # noqa: PLR2004 - AES-256 / 256-bit pepper
        msg = "secret must be 32 bytes"
        raise InvalidKeyError(msg)
    return raw


@final
class KeyEncryptionKey:
    """Encrypts private keys at rest with AES-256-GCM; the AAD binds each blob to its row."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: str) -> bytes:
        """``version || nonce || ciphertext+tag``."""
        nonce = _random.token_bytes(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, aad.encode("utf-8"))

    def open(self, blob: bytes, aad: str) -> bytes:
        """Decrypt, refusing a blob moved to another row or tampered with."""
        if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
            msg = "sealed key blob is malformed"
            raise InvalidKeyError(msg)
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], aad.encode("utf-8"))
        except InvalidTag:
            msg = "sealed key blob does not open under this key-encryption key"
            raise InvalidKeyError(msg) from None

    def __repr__(self) -> str:
        return "KeyEncryptionKey(<secret>)"
