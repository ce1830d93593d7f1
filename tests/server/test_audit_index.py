"""The audit log read by org: on SQLite through the org index written behind the log.

Whatever has been indexed, a page of an org's log is the page the log itself holds
(held to a reference over random logs and filters, on SQLite and PostgreSQL); SQLite
reads it without scanning the whole log; the indexer only moves forward and skips what
is there; the migration indexes a log that already holds rows and steps back.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, update

from relaypass.server.db import models
from relaypass.server.db.audit_index import MARK, index_behind, org_page
from relaypass.server.db.migrate import downgrade, upgrade
from relaypass.server.db.store import Store
from tests._cp import sqlite_store
from tests.server.conftest import MsClock

ORGS = ("org_a", "org_b", "org_c")
ACTIONS = ("token.mint", "apiKey.create", "tenant.create")
ACTORS = ("key_1", "key_2")


def _append(store: Store, ms_clock: MsClock, rng: random.Random, count: int) -> None:
    """``count`` rows of random orgs, actions and actors; times jump back now and then, so
    a later id may be older (as rows of the writer thread and the loop's can be), and tie."""
    for _ in range(count):
        ms_clock.now_ms += rng.choice((-3, 0, 0, 1, 1, 2, 5))
        store.record(rng.choice(ORGS), rng.choice(ACTORS), rng.choice(ACTIONS), None, {})


def _expected(rows: list[dict[str, Any]], org: str, query: dict[str, Any]) -> list[int]:
    kept = [
        r for r in rows
        if r["org_id"] == org
        and query.get("action") in (None, r["action"])
        and query.get("actor") in (None, r["actor"])
        and (query.get("since_ms") is None or r["at_ms"] >= query["since_ms"])
        and (query.get("until_ms") is None or r["at_ms"] < query["until_ms"])
    ]  # fmt: skip
    kept.sort(key=lambda r: (r["at_ms"], r["id"]), reverse=True)
    start = query.get("offset", 0)
    return [r["id"] for r in kept[start : start + query.get("limit", 100)]]


def _every_row(store: Store) -> list[dict[str, Any]]:
    return store.audit_log(limit=1000)  # no org: the log itself, newest first


def _queries(rng: random.Random, times: list[int]) -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = [{}, {"limit": 5}, {"limit": 5, "offset": 7}]
    for _ in range(25):
        query: dict[str, Any] = {
            "limit": rng.choice((1, 3, 10, 100)),
            "offset": rng.choice((0, 2, 9)),
        }
        if rng.random() < 0.4:
            query["action"] = rng.choice(ACTIONS)
        if rng.random() < 0.3:
            query["actor"] = rng.choice(ACTORS)
        if rng.random() < 0.4:
            query["since_ms"] = rng.choice(times)
        if rng.random() < 0.3:
            query["until_ms"] = rng.choice(times)
        queries.append(query)
    return queries


@pytest.mark.parametrize("seed", range(4))
def test_an_orgs_page_is_the_logs_whatever_was_indexed(
    store: Store, ms_clock: MsClock, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a seeded, reproducible log
    for indexed_in_between in (None, 40, 10_000):  # nothing yet, part of the log, all of it
        _append(store, ms_clock, rng, 60)
        if indexed_in_between is not None:
            index_behind(store.engine, most=indexed_in_between, chunk_rows=7)
        rows = _every_row(store)
        times = sorted({r["at_ms"] for r in rows})
        for query in _queries(rng, times):
            for org in (*ORGS, "org_none"):
                got = [e["id"] for e in store.audit_log(org, **query)]
                assert got == _expected(rows, org, query), (org, query)


def _plan(store: Store, query: dict[str, Any]) -> str:
    filters = {"action": None, "actor": None, "since_ms": None, "until_ms": None} | query
    statement = org_page("org_a", limit=50, offset=0, **filters).compile(
        store.engine, compile_kwargs={"literal_binds": True}
    )
    with store.engine.connect() as conn:
        return "\n".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}"))


def test_sqlite_reads_an_orgs_page_without_scanning_the_log(tmp_path: Path) -> None:
    """The indexed part from the org's entries, the rest by a range of ids: no full scan,
    with a filter on an indexed column of the log or not."""
    store = sqlite_store(tmp_path)
    try:
        for query in (
            {},
            {"action": "token.mint", "since_ms": 5},
            {"actor": "key_1", "until_ms": 9},
        ):
            plan = _plan(store, query)
            assert "SEARCH audit_org_index USING PRIMARY KEY (org_id=?" in plan, plan
            assert "SEARCH audit_log USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
            assert "SCAN audit_log" not in plan, plan  # what a read of the whole log says
    finally:
        store.close()


def _mark(store: Store) -> int:
    with store.engine.connect() as conn:
        value = conn.execute(select(models.Meta.value).where(models.Meta.name == MARK)).scalar()
    assert value is not None
    return int(value)


def _entries(store: Store) -> list[tuple[str, int, int]]:
    entry = models.AuditOrgEntry
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(entry.org_id, entry.at_ms, entry.id))]  # type: ignore[misc]


def test_the_indexer_moves_forward_and_skips_what_is_there(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    try:
        for n in range(12):
            store.record(ORGS[n % 3], "key_1", "token.mint", None, {})
        first = _mark(store)
        assert index_behind(store.engine, most=5) == 5
        assert _mark(store) == first + 5
        assert index_behind(store.engine, chunk_rows=2) == 7  # in ranges of orgs
        assert index_behind(store.engine) == 0  # nothing new: the mark stays
        every = [(r["org_id"], r["at_ms"], r["id"]) for r in _every_row(store)]
        assert sorted(_entries(store)) == sorted(every)
        with store.engine.begin() as conn:  # a mark set back (an older copy of the database)
            conn.execute(
                update(models.Meta).where(models.Meta.name == MARK).values(value=str(first))
            )
        assert index_behind(store.engine) == 12  # indexed again: the entries there are kept
        assert sorted(_entries(store)) == sorted(every)
    finally:
        store.close()


def test_the_service_indexes_in_the_background(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    try:
        store.record("org_a", "key_1", "token.mint", None, {})
        store.index_audit()
        last = _every_row(store)[0]["id"]
        deadline = time.monotonic() + 10
        while _mark(store) < last:
            assert time.monotonic() < deadline, "the log was not indexed"
            time.sleep(0.05)
        assert [e[2] for e in _entries(store)] == [last]
    finally:
        store.close()


def test_the_migration_indexes_a_log_that_holds_rows_and_steps_back(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    try:
        downgrade(store.engine, "0010")
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("audit_log")}
        assert "ix_audit_org_at" in indexes
        for n in range(9):
            store.record(ORGS[n % 3], "key_1", "token.mint", None, {})
        store.record(None, "key_1", "system.start", None, {})  # type: ignore[arg-type]
        upgrade(store.engine)
        assert "ix_audit_org_at" not in {
            i["name"] for i in inspect(store.engine).get_indexes("audit_log")
        }
        every = _every_row(store)
        assert _mark(store) == max(r["id"] for r in every)
        assert sorted(_entries(store)) == sorted(
            (r["org_id"], r["at_ms"], r["id"]) for r in every if r["org_id"] is not None
        )
        downgrade(store.engine, "0010")
        assert "audit_org_index" not in inspect(store.engine).get_table_names()
        assert "ix_audit_org_at" in {
            i["name"] for i in inspect(store.engine).get_indexes("audit_log")
        }
    finally:
        store.close()
