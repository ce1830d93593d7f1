"""The audit trail's writer: rows appended off the request, committed in groups."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine

from relaypass.server.blocking import AuditRow

__all__ = ["AuditAppender", "LoopCommits"]


class AuditAppender:
    """Audit appends with group commit, on one long-lived DB-API connection.

    Every caller's row is durable before ``append`` returns, but concurrent
    callers share commits: whoever takes the write lock writes every row queued
    so far in one transaction (one fsync for the batch), and the callers whose
    rows it carried return at once. A failed batch fails every caller in it
    (nothing of it was committed), after one reconnect.
    """

    _COLUMNS: Final = "at_ms, org_id, actor, action, target, detail"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        mark = "?" if self._sqlite else "%s"
        self._sql = f"INSERT INTO audit_log ({self._COLUMNS}) VALUES ({', '.join([mark] * 6)})"  # noqa: S608 - constants only
        self._lock = threading.Lock()  # the writer's
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._scheduled = False  # a flush of the queue is on its way to the writer thread
        self._writer: threading.Thread | None = None
        self._wake: queue.SimpleQueue[str] = queue.SimpleQueue()  # "flush" or "stop"
        self._conn: Any = None
        self._now: Any = None  # write_without_waiting's connection
        self._now_lock = threading.Lock()

    def _params(self, row: AuditRow) -> tuple[Any, ...]:
        *head, detail = row
        return (*head, json.dumps(detail) if self._sqlite else _pg_json(detail))

    def _pending(self, row: AuditRow) -> _Pending:
        return _Pending(self._params(row))

    def append(self, row: AuditRow) -> None:
        """Write one row, durable on return (sharing a commit with concurrent callers)."""
        pending = self._pending(row)
        with self._queue_lock:
            self._queue.append(pending)
        with self._lock:
            if not pending.written:  # nobody carried it yet: write everything queued
                self._write_queued()
        if pending.error is not None:
            raise pending.error

    def submit(self, rows: list[AuditRow]) -> Future[None]:
        """Queue rows for the writer thread; the future is done once they are committed."""
        done: Future[None] = Future()
        if not rows:
            done.set_result(None)
            return done
        pendings = [self._pending(row) for row in rows]
        pendings[-1].future = done  # rows of one batch commit together
        with self._queue_lock:
            self._queue.extend(pendings)
            scheduled, self._scheduled = self._scheduled, True
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run_writer, args=(self._wake,), name="relaypass-audit", daemon=True
                )
                self._writer.start()
            if not scheduled:
                self._wake.put("flush")  # one cheap C call; the writer takes everything queued
        return done

    def _run_writer(self, wake: queue.SimpleQueue[str]) -> None:
        while wake.get() == "flush":
            self._flush()
        self._flush()  # closing: rows handed over are written first

    def _flush(self) -> None:
        with self._lock:
            self._write_queued()

    def _write_queued(self) -> None:
        """Write every row queued so far in one transaction (the caller holds the writer lock)."""
        with self._queue_lock:
            batch, self._queue, self._scheduled = self._queue, [], False
        if batch:
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = self._engine.raw_connection()
                cursor = self._conn.cursor()
                cursor.executemany(self._sql, [p.params for p in batch])
                cursor.close()  # before the commit: nothing may fail once it is done
                self._conn.commit()
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                self._discard()
                if attempt == 2:  # noqa: PLR2004 - one reconnect
                    for p in batch:
                        p.error, p.written = exc, True
                        if p.future is not None:
                            p.future.set_exception(exc)
                    return
            else:
                with contextlib.suppress(Exception):  # without it, rows keep coming here
                    self._open_for_now()  # once, before the first answers: later turns need it
                for p in batch:
                    p.written = True
                    if p.future is not None:
                        p.future.set_result(None)
                return

    def _open_for_now(self) -> None:
        """Open :meth:`write_without_waiting`'s connection (here, never on the loop)."""
        if not self._sqlite or self._now is not None:
            return
        with self._now_lock:
            if self._now is None:
                now = self._engine.raw_connection()  # may wait for the pool: fine on this thread
                setup = now.cursor()
                setup.execute("PRAGMA busy_timeout=0")
                setup.close()
                self._now = now

    def write_without_waiting(self, rows: list[AuditRow]) -> bool:
        """Commit ``rows`` on the calling thread if that needs no wait: whether it did.

        SQLite only, on a connection of its own that never waits for the database's
        lock (busy timeout 0), for another thread using it, or for the pool (the writer
        thread opens it, after its first write): when any of those is taken, or the write
        fails, nothing was committed and the caller hands the rows to :meth:`submit`,
        which waits and retries as always.
        """
        if self._now is None or not self._now_lock.acquire(blocking=False):
            return False
        now = self._now
        try:
            if now is None:  # closed meanwhile
                return False
            cursor = now.cursor()
            cursor.executemany(self._sql, [self._params(row) for row in rows])
            cursor.close()  # before the commit: a failure after it would write the rows twice
            now.commit()
        except sqlite3.OperationalError:  # locked by another writer (or failed): rolled back
            with contextlib.suppress(Exception):
                now.rollback()
            return False
        except Exception:  # noqa: BLE001 - anything else: a fresh connection next time
            self._now = None
            _drop(now)
            return False
        else:
            return True
        finally:
            self._now_lock.release()

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _drop(conn)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._queue_lock:
            writer, wake = self._writer, self._wake
            self._writer, self._wake = None, queue.SimpleQueue()  # a later submit starts anew
        if writer is not None:
            wake.put("stop")
            writer.join(timeout=30)  # rows handed over are written first
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
        with self._now_lock:
            now, self._now = self._now, None
            if now is not None:
                now.close()


class LoopCommits:
    """The audit rows of calls run on an event loop, committed on that loop in groups.

    Every call that reaches its commit in one turn of the loop shares one: the first
    schedules a callback that commits all their rows at once, on the loop, with
    :meth:`AuditAppender.write_without_waiting` (SQLite in WAL mode, ``synchronous=NORMAL``:
    a commit is a write to the log, no fsync). No thread is woken and none has to get the
    interpreter back before the answers leave. Rows that cannot be written without waiting
    (the database locked by another writer, a failure, PostgreSQL) go to the writer thread
    as before. Either way a call's rows are committed before its await returns.
    """

    def __init__(self, appender: AuditAppender) -> None:
        self._appender = appender
        #: Per running loop, the rows of this turn and their callers' futures.
        self._turns: dict[asyncio.AbstractEventLoop, _Turn] = {}

    async def commit(self, rows: list[AuditRow]) -> None:
        """Commit ``rows`` with the others of this turn of the running loop."""
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = _Turn([], [])
            loop.call_soon(self._flush, loop)
        turn.rows.extend(rows)
        # A future per caller: one cancelled while it waits cancels only its own (its
        # rows are written with the others all the same).
        done: asyncio.Future[None] = loop.create_future()
        turn.waiting.append(done)
        await done

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        turn = self._turns.pop(loop)
        if self._appender.write_without_waiting(turn.rows):
            _settle(turn.waiting, None)
            return
        handed = self._appender.submit(turn.rows)
        handed.add_done_callback(
            lambda f: loop.call_soon_threadsafe(_settle, turn.waiting, f.exception())
        )


def _drop(conn: Any) -> None:  # noqa: ANN401 - a pooled DB-API connection
    """Roll back a failed connection and take it out of the pool."""
    with contextlib.suppress(Exception):
        conn.rollback()
    with contextlib.suppress(Exception):
        conn.invalidate()


@dataclass(slots=True)
class _Turn:
    rows: list[AuditRow]
    waiting: list[asyncio.Future[None]]


def _settle(waiting: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for done in waiting:
        if done.done():  # its caller was cancelled
            continue
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(None)


@dataclass(slots=True)
class _Pending:
    params: tuple[Any, ...]
    written: bool = False
    error: Exception | None = None
    future: Future[None] | None = None


def _pg_json(detail: dict[str, Any]) -> object:
    from psycopg.types.json import Json  # noqa: PLC0415 - only with PostgreSQL

    return Json(detail)
