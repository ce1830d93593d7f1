"""What both wires share: reading the call's headers, and the JSON body rule."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from relaypass.server.current import VERIFIED_KEY
from relaypass.server.db.store import ApiKeyRecord
from relaypass.server.dispatch import CallMeta

__all__ = ["JSON_TYPES", "is_json_content_type", "meta_of"]

JSON_TYPES: Final = ("application/json",)


def is_json_content_type(value: str | None) -> bool:
    """A body with no ``Content-Type`` is taken as JSON; otherwise it must say JSON.

    ``curl -d`` sends ``application/x-www-form-urlencoded``: that is refused
    with a message naming the header to send, rather than guessed at.
    """
    if value is None or not value.strip():
        return True
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def meta_of(request: Request) -> CallMeta:
    """The call's authorization, idempotency key and origin (and the key, if checked already)."""
    headers = request.headers
    idempotency = headers.get("idempotency-key")
    authorization = headers.get("authorization")
    checked, record = request.scope.get("state", {}).get(VERIFIED_KEY, (None, None))
    return CallMeta(
        authorization=authorization,
        idempotency_key=idempotency[:128] if idempotency else None,
        origin=headers.get("origin"),
        verified=record if checked == authorization and isinstance(record, ApiKeyRecord) else None,
    )
