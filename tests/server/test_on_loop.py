"""Mints run on the event loop until they would block, and lose nothing doing so.

The first mint of a fresh worker misses its caches: it moves to a worker thread
(counted in ``relaypass_loop_calls_moved_to_thread``); later ones stay on the
loop. Either way the audit row is committed before the token is answered, and
the rate limit counts the call once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from relaypass._tokens import decode_unverified
from relaypass.server.app import bootstrap, create_app
from relaypass.server.db.store import Store
from relaypass.server.settings import Settings
from tests._cp import call, rpc, sqlite_store


def _control_plane(tmp_path: Path, **settings: Any) -> tuple[FastAPI, Store, str, str]:
    store = sqlite_store(tmp_path, key_propagation_seconds=0)
    first = bootstrap(store)
    assert first is not None
    org, key = first
    app = create_app(Settings(data_dir=tmp_path, key_propagation_seconds=0, **settings), store)
    for name, body in (
        ("tenants.create", {"orgId": org, "tenantId": "t"}),
        ("streams.signingKeys.create", {"orgId": org, "label": "k"}),
    ):
        assert rpc(app, key, name, body).status_code == 200
    return app, store, org, key


def moved_to_thread(app: FastAPI) -> float:
    text = call(app, "GET", "/metrics").text
    found = re.search(
        r'relaypass_loop_calls_moved_to_thread_total\{procedure="tokens.relay.mint"\} ([\d.]+)',
        text,
    )
    return float(found.group(1)) if found else 0.0


def _mint(app: FastAPI, key: str, org: str) -> Any:
    return rpc(app, key, "tokens.relay.mint", {"orgId": org, "tenant": "t", "ns": ["a/*"]})


def test_warm_mints_stay_on_the_loop_and_are_audited_before_they_answer(tmp_path: Path) -> None:
    app, store, org, key = _control_plane(tmp_path)
    moved = []
    for _ in range(3):
        answer = _mint(app, key, org)
        assert answer.status_code == 200, answer.text
        _, claims = decode_unverified(answer.json()["token"])
        audited = [e["detail"].get("jti") for e in store.audit_log(org, action="token.mint")]
        assert claims["jti"] in audited  # committed before the answer left
        moved.append(moved_to_thread(app))
    assert moved == [1.0, 1.0, 1.0]  # the cold first mint moved; the warm ones did not
    assert len(store.audit_log(org, action="token.mint")) == 3  # one row each, none twice
    store.close()


def test_a_mint_moved_off_the_loop_counts_once_against_the_rate_limit(tmp_path: Path) -> None:
    app, store, org, key = _control_plane(tmp_path, mint_rate_per_minute=2)
    assert _mint(app, key, org).status_code == 200  # cold: tried on the loop, then a thread
    assert moved_to_thread(app) == 1.0
    assert _mint(app, key, org).status_code == 200  # counted twice, this one would be refused
    refused = _mint(app, key, org)
    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED"
    store.close()


def test_a_refusal_on_the_loop_is_answered_like_one_in_a_thread(tmp_path: Path) -> None:
    app, store, org, key = _control_plane(tmp_path)
    assert _mint(app, key, org).status_code == 200  # warm the caches
    for body, code in (
        ({"orgId": org, "tenant": "nobody", "ns": ["a/*"]}, "INVALID_PERMISSIONS"),
        ({"orgId": org, "tenant": "t", "ns": ["a/b*"]}, "INVALID_REQUEST"),
        ({"orgId": org, "tenant": "t", "ns": ["a/*"], "extra": 1}, "INVALID_REQUEST"),
    ):
        refused = rpc(app, key, "tokens.relay.mint", body)
        assert refused.json()["code"] == code, refused.text
    store.close()


def test_a_key_verified_by_the_middleware_serves_only_its_own_header() -> None:
    from starlette.requests import Request

    from relaypass.server.current import VERIFIED_KEY
    from relaypass.server.db.store import ApiKeyRecord
    from relaypass.server.wire._common import meta_of

    record = ApiKeyRecord("key_a", "org_a", "a", ("keys:admin",), "live")

    def request(header: str, state: object = record) -> Request:
        return Request(
            {
                "type": "http",
                "method": "POST",
                "path": "/rpc/x",
                "headers": [(b"authorization", header.encode())],
                "state": {VERIFIED_KEY: ("Bearer rp_a", state)},
            }
        )

    assert meta_of(request("Bearer rp_a")).verified is record
    assert meta_of(request("Bearer rp_b")).verified is None  # another key: checked afresh
    assert meta_of(request("Bearer rp_a", "not a record")).verified is None


def test_audit_rows_handed_to_the_writer_are_written_before_close(tmp_path: Path) -> None:
    from relaypass.server.blocking import AuditRow

    store = sqlite_store(tmp_path)
    first = bootstrap(store)
    assert first is not None
    org, _ = first
    rows: list[AuditRow] = [
        (1, org, "k", "token.mint", "relay", {"jti": f"j{i}"}) for i in range(50)
    ]
    done = [store.commit_audit(rows[i : i + 5]) for i in range(0, 50, 5)]
    store.close()  # joins the writer: everything handed over is committed
    assert all(f.done() and f.exception() is None for f in done)
    reopened = Store(store.engine, kek=store._kek, hasher=store._hasher)
    assert len(reopened.audit_log(org, action="token.mint", limit=100)) == 50


def _rows(org: str, tag: str, count: int) -> list[Any]:
    return [(1, org, "k", "token.mint", "relay", {"jti": f"{tag}{i}"}) for i in range(count)]


def _audited(store: Store, org: str) -> list[str]:
    return sorted(e["detail"]["jti"] for e in store.audit_log(org, action="token.mint", limit=500))


def test_calls_of_one_turn_of_the_loop_share_one_commit_on_the_loop(tmp_path: Path) -> None:
    """The first turn's rows go to the writer thread (which opens the loop's connection, so
    the loop never waits for the pool); later turns are committed on the loop, each in one
    transaction, with no thread in between."""
    import asyncio

    store = sqlite_store(tmp_path)
    first = bootstrap(store)
    assert first is not None
    org, _ = first
    appender = store._appender
    on_loop: list[int] = []
    handed: list[int] = []
    write, submit = appender.write_without_waiting, appender.submit

    def written(rows: list[Any]) -> bool:
        done = write(rows)
        if done:
            on_loop.append(len(rows))
        return done

    def submitted(rows: list[Any]) -> Any:
        handed.append(len(rows))
        return submit(rows)

    appender.write_without_waiting = written  # type: ignore[method-assign]
    appender.submit = submitted  # type: ignore[method-assign]

    async def turn(tag: str) -> None:
        pending = [store.commit_audit_on_loop(_rows(org, f"{tag}{n}_", 3)) for n in range(8)]
        await asyncio.gather(*pending)

    async def turns() -> None:
        for tag in "abc":
            await turn(tag)

    asyncio.run(turns())
    assert handed == [24]  # the first turn, by the writer thread
    assert on_loop == [24, 24]  # then one commit per turn, on the loop
    assert len(_audited(store, org)) == 72  # durable when the awaits returned
    store.close()


def test_rows_wait_for_a_locked_database_on_the_writer_thread_not_on_the_loop(
    tmp_path: Path,
) -> None:
    """Another writer holds SQLite's lock: the loop does not wait for it (it keeps serving);
    the writer thread does, and the call returns once its rows are committed."""
    import asyncio
    import sqlite3
    import time

    store = sqlite_store(tmp_path)
    first = bootstrap(store)
    assert first is not None
    org, _ = first
    other = sqlite3.connect(tmp_path / "relaypass.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock

    async def scenario() -> tuple[float, int]:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, other.execute, "COMMIT")
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(ticking())
        await store.commit_audit_on_loop(_rows(org, "w", 5))
        ticker.cancel()
        return time.perf_counter() - started, ticks

    waited, ticks = asyncio.run(scenario())
    assert waited >= 0.25  # committed only after the other writer let go
    assert ticks >= 10  # the loop went on running meanwhile
    assert _audited(store, org) == [f"w{i}" for i in range(5)]
    other.close()
    store.close()


def test_a_caller_cancelled_while_it_waits_leaves_the_others_commit_alone(tmp_path: Path) -> None:
    import asyncio

    store = sqlite_store(tmp_path)
    first = bootstrap(store)
    assert first is not None
    org, _ = first

    async def scenario() -> None:
        doomed = asyncio.create_task(store.commit_audit_on_loop(_rows(org, "x", 2)))
        kept = asyncio.create_task(store.commit_audit_on_loop(_rows(org, "y", 2)))
        await asyncio.sleep(0)  # both joined the turn
        doomed.cancel()
        await kept

    asyncio.run(scenario())
    assert _audited(store, org) == ["x0", "x1", "y0", "y1"]  # handed over: written all the same
    store.close()


def _cache_misses(app: FastAPI) -> dict[str, float]:
    text = call(app, "GET", "/metrics").text
    return {
        found.group(1): float(found.group(2))
        for found in re.finditer(r'relaypass_cache_misses_total\{cache="(\w+)"\} ([\d.]+)', text)
    }


def test_metrics_count_the_reads_a_cache_miss_makes(tmp_path: Path) -> None:
    """A key used for the first time is read (with its org's scope and signing key, in the same
    read); while its entries last, the org's mints read nothing."""
    app, _, _, key = _control_plane(tmp_path)
    made = rpc(app, key, "orgs.create", {"name": "second", "namespaces": ["second"]}).json()
    other, second = made["adminKey"]["key"], made["orgId"]
    before = _cache_misses(app)
    assert set(before) == {"api_key", "signing_key", "scope", "tenant"}
    assert rpc(app, other, "streams.signingKeys.create", {"label": "k"}).status_code == 200
    assert _cache_misses(app)["api_key"] == before["api_key"] + 1  # its first use
    assert rpc(app, other, "tenants.create", {"tenantId": "t"}).status_code == 200
    body = {"orgId": second, "tenant": "t", "ns": ["second/a/*"]}
    first = rpc(app, other, "tokens.relay.mint", body)
    assert first.status_code == 200, first.text
    steady = _cache_misses(app)
    for _ in range(3):
        assert rpc(app, other, "tokens.relay.mint", body).status_code == 200
    assert _cache_misses(app) == steady  # everything cached: no read
