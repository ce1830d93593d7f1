"""Indexes over live sessions, so a revocation costs what it cuts and expiry is a heap.

Each live session is filed under the values of its grant that revocations name
(kid, jti, token id, subject, tenant, org, issuer). A revocation looks up its
candidates and checks only those; an expiry sweep pops a heap of ``exp`` times
instead of scanning every session. Entries are kept in step with the grant on
connect, refresh and close (the gate holds its lock around every change).
"""

from __future__ import annotations

import heapq
from typing import Final, final

from relaypass._grant import Grant

__all__ = ["FIELDS", "SessionIndex"]

#: Grant attributes that revocations select on.
FIELDS: Final = ("kid", "jti", "token_id", "subject", "tenant", "org", "issuer")


@final
class SessionIndex:
    """Session ids by grant attribute, and an expiry heap (lazily cleaned).

    A value held by one session maps to its id, by more to a set of ids: most
    values (a jti, a token id) belong to one session, and a set costs 216 bytes.
    """

    __slots__ = ("_by", "_heap")

    def __init__(self) -> None:
        self._by: dict[str, dict[object, int | set[int]]] = {f: {} for f in FIELDS}
        self._heap: list[tuple[float, int]] = []

    def add(self, session_id: int, grant: Grant) -> None:
        """File a session under its grant."""
        for table, value in self._entries(grant):
            filed = table.get(value)
            if filed is None:
                table[value] = session_id
            elif isinstance(filed, set):
                filed.add(session_id)
            elif filed != session_id:
                table[value] = {filed, session_id}
        if grant.expires_at is not None:
            heapq.heappush(self._heap, (grant.expires_at, session_id))

    def remove(self, session_id: int, grant: Grant) -> None:
        """Unfile a session (its grant as it was filed)."""
        for table, value in self._entries(grant):
            filed = table.get(value)
            if filed is None:
                continue
            if isinstance(filed, set):
                filed.discard(session_id)
                if len(filed) == 1:
                    table[value] = next(iter(filed))
                elif not filed:
                    del table[value]
            elif filed == session_id:
                del table[value]

    def _entries(self, grant: Grant) -> list[tuple[dict[object, int | set[int]], object]]:
        """The table and value of each field the grant has."""
        by = self._by
        return [(by[f], v) for f in FIELDS if (v := getattr(grant, f)) is not None]

    def candidates(self, field: str, value: object) -> list[int]:
        """Sessions whose grant has ``field == value``."""
        filed = self._by[field].get(value)
        if filed is None:
            return []
        return list(filed) if isinstance(filed, set) else [filed]

    def due(self, now: float) -> list[int]:
        """Sessions whose filed ``exp`` has passed (the caller checks the current grant)."""
        heap, out = self._heap, []
        while heap and heap[0][0] <= now:
            out.append(heapq.heappop(heap)[1])
        return out
