"""Idempotent creates: a create's outcome recorded in its own transaction, replayed on retry.

The outcome is sealed under the KEK (an API key's creation response holds the
key once) and bound to the org, procedure and key; a key reused with another
request is refused, and a record older than a day is forgotten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relaypass.errors import InvalidKeyError, InvalidRequestError
from relaypass.server.db import models
from relaypass.server.db._part import StorePart

__all__ = ["IDEMPOTENCY_TTL_MS", "IdempotencyStore"]

IDEMPOTENCY_TTL_MS: Final = 24 * 3600 * 1000


class IdempotencyStore(StorePart):
    """Mixed into :class:`~relaypass.server.db.store.Store`: the creates' replay."""

    def _idempotent(
        self,
        org_id: str,
        procedure: str,
        key: str | None,
        request: dict[str, Any],
        create: Callable[[Session], dict[str, Any]],
    ) -> dict[str, Any]:
        if key is None:
            with self.transaction() as session:
                return create(session)
        if not 0 < len(key) <= 128:  # noqa: PLR2004 - column size
            msg = "idempotency keys are 1-128 characters"
            raise InvalidRequestError(msg)
        request_hash = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        aad = f"{org_id}:{procedure}:{key}"
        replay = self._replay(org_id, procedure, key, request_hash, aad)
        if replay is not None:
            return replay
        try:
            with self.transaction() as session:
                out = create(session)
                session.add(
                    models.IdempotencyRecord(
                        org_id=org_id,
                        procedure=procedure,
                        key=key,
                        request_hash=request_hash,
                        response={"sealed": self._kek.seal(json.dumps(out).encode(), aad).hex()},
                        created_at_ms=self._now(),
                    )
                )
        except IntegrityError:
            # A concurrent request with the same key committed first: replay it.
            replay = self._replay(org_id, procedure, key, request_hash, aad)
            if replay is None:
                raise
            return replay
        return out

    def _replay(
        self, org_id: str, procedure: str, key: str, request_hash: str, aad: str
    ) -> dict[str, Any] | None:
        with self.transaction() as session:
            row = session.scalars(
                select(models.IdempotencyRecord).where(
                    models.IdempotencyRecord.org_id == org_id,
                    models.IdempotencyRecord.procedure == procedure,
                    models.IdempotencyRecord.key == key,
                )
            ).first()
            if row is None:
                return None
            if self._now() - row.created_at_ms > IDEMPOTENCY_TTL_MS:
                session.delete(row)
                return None
            if row.request_hash != request_hash:
                msg = "this idempotency key was used with a different request"
                raise InvalidRequestError(msg)
            try:
                sealed = bytes.fromhex(str(row.response["sealed"]))
                out: dict[str, Any] = json.loads(self._kek.open(sealed, aad))
            except (InvalidKeyError, ValueError, KeyError) as exc:
                msg = "stored idempotent response cannot be read"
                raise InvalidRequestError(msg) from exc
            return out
