"""The change feed: every audited write names its org; each worker drops that org's entries.

On SQLite and PostgreSQL (the ``store`` fixture), with the feed read by hand (``poll``) so the
store's hand-moved clock decides every bound; the last test runs two services' stores on one
database with the feed read in the background, on the real clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from relaypass import InvalidApiKeyError, InvalidPermissionsError, InvalidRequestError
from relaypass.server.db import models
from relaypass.server.db.changes import LONG_MS, POLL_MS, ChangeFeed
from relaypass.server.db.refresh import CACHE_MS
from relaypass.server.db.store import Store
from relaypass.server.scopes import ALL_SCOPES
from tests._cp import sqlite_store
from tests.server.conftest import MsClock


def _changed_orgs(store: Store) -> list[str]:
    with store.transaction() as session:
        return list(session.scalars(select(models.Change.org_id).order_by(models.Change.id)))


def _other_worker(store: Store, clock: MsClock) -> Store:
    return Store(store.engine, kek=store._kek, hasher=store._hasher, clock_ms=clock)


def test_every_write_to_an_orgs_cached_objects_names_the_org(store: Store) -> None:
    """Each writer whose objects a cache holds: API keys, signing keys, tenants, the org."""
    org = store.create_org("acme").id
    other = store.create_org("other").id
    record, _ = store.create_api_key(org, "ci", [])
    writers: list[tuple[str, Callable[[], object]]] = [
        ("tenant.create", lambda: store.create_tenant(org, "t", "", actor="test")),
        ("tenant.disable", lambda: store.disable_tenant(org, "t", actor="test")),
        ("signing_key.create", lambda: store.create_signing_key(org, "main")),
        ("api_key.reroll", lambda: store.reroll_api_key(org, record.id, holding=ALL_SCOPES)),
        ("api_key.revoke", lambda: store.revoke_api_key(org, record.id, holding=ALL_SCOPES)),
        ("org.set_limits", lambda: store.set_org_limits(org, {"max_sessions": 3}, actor="t")),
        ("org.disable", lambda: store.disable_org(org, actor="test")),
    ]
    for action, write in writers:
        before = _changed_orgs(store)
        write()
        added = _changed_orgs(store)[len(before) :]
        assert added, action
        assert set(added) == {org}, action
    assert other in _changed_orgs(store)  # its creation; never named by the writes above
    assert _changed_orgs(store).count(other) == 1


def test_writes_the_caches_do_not_hold_name_no_org(store: Store) -> None:
    """A room decision or a webhook edit leaves the org's cache entries alone."""
    org = store.create_org("acme").id
    before = _changed_orgs(store)
    store.room_action(org, "admitAll", "standup", actor="test")
    store.create_webhook(org, "https://hooks.example.com/a", actor="test")
    assert _changed_orgs(store) == before


def test_a_followed_feed_keeps_entries_long_and_drops_a_changed_org_at_the_next_look(
    store: Store, ms_clock: MsClock
) -> None:
    org = store.create_org("acme").id
    record, secret = store.create_api_key(org, "ci", [])
    store.create_tenant(org, "t", "", actor="test")
    assert store._changes.poll() >= 3  # healthy: the writes so far are taken
    ms_clock.advance(0.001)  # a load after the last change noticed
    assert store.verify_api_key(secret) == record
    store.require_tenant(org, "t")
    ms_clock.advance(3 * CACHE_MS / 1000)  # far past the plain bound: still cached
    assert store.cached_api_key(secret) == record
    assert store._changes.poll() == 0
    other_worker = _other_worker(store, ms_clock)
    other_worker.revoke_api_key(org, record.id, holding=ALL_SCOPES)
    other_worker.disable_tenant(org, "t", actor="test")
    assert store.cached_api_key(secret) == record  # not read yet
    assert store._changes.poll() == 2
    assert store.cached_api_key(secret) is None  # dropped: the next use reads and refuses
    with pytest.raises(InvalidApiKeyError):
        store.verify_api_key(secret)
    with pytest.raises(InvalidPermissionsError):
        store.require_tenant(org, "t")
    other_worker.close()


def test_without_the_feed_entries_get_the_plain_bound(store: Store, ms_clock: MsClock) -> None:
    org = store.create_org("acme").id
    _, secret = store.create_api_key(org, "ci", [])
    store.verify_api_key(secret)
    ms_clock.advance(CACHE_MS / 1000)
    assert store.cached_api_key(secret) is None  # never looked at the feed: 5 s


def test_a_load_that_began_before_a_change_was_noticed_gets_the_plain_bound() -> None:
    """It may have read the database before the change committed: it must not be kept long."""
    now = [1_000_000]
    feed = ChangeFeed(lambda _after: [(1, "org_a")], lambda _org: None, lambda _ms: None,
                      lambda: now[0])  # fmt: skip
    assert feed.until(now[0]) == now[0] + CACHE_MS  # not read yet
    began = now[0]
    assert feed.poll() == 1  # noticed now
    assert feed.until(began) == began + CACHE_MS
    now[0] += 1
    assert feed.until(now[0]) == now[0] + LONG_MS
    assert feed.poll() == 0  # the same id again (read within the overlap): taken already


def test_ids_committed_out_of_order_are_still_taken() -> None:
    """PostgreSQL hands out ids before commit: a lower id may appear after a higher one."""
    rows: list[tuple[int, str]] = [(5, "org_a")]
    forgotten: list[str | None] = []
    feed = ChangeFeed(lambda after: [r for r in rows if r[0] > after], forgotten.append,
                      lambda _ms: None, lambda: 1_000)  # fmt: skip
    feed.poll()
    rows.append((4, "org_b"))  # committed late
    assert feed.poll() == 1
    assert forgotten == ["org_a", "org_b"]


def test_a_feed_that_cannot_be_read_shortens_then_drops_everything() -> None:
    now = [1_000_000]
    failing = [False]
    forgotten: list[str | None] = []

    def read(_after: int) -> list[tuple[int, str]]:
        if failing[0]:
            raise OSError("the database is away")
        return []

    feed = ChangeFeed(read, forgotten.append, lambda _ms: None, lambda: now[0])
    feed.poll()
    now[0] += 1
    assert feed.until(now[0]) == now[0] + LONG_MS
    failing[0] = True
    feed.poll()
    assert feed.until(now[0]) == now[0] + CACHE_MS  # a failed look: no long entry any more
    assert forgotten == []  # what was read recently still holds
    now[0] += CACHE_MS - POLL_MS
    feed.poll()
    assert forgotten == [None]  # as long as the plain bound unseen: every entry goes
    failing[0] = False
    feed.poll()
    assert feed.until(now[0]) == now[0] + CACHE_MS  # began before the recovery
    now[0] += 1
    assert feed.until(now[0]) == now[0] + LONG_MS


def test_a_pending_key_bounds_the_cached_choice_at_its_activation(
    store: Store, ms_clock: MsClock
) -> None:
    """The active key changes with no write when a pending one activates: no later than then."""
    org = store.create_org("acme").id
    first = store.create_signing_key(org, "first")
    ms_clock.advance(60)  # the propagation delay: first is active
    store._changes.poll()
    ms_clock.advance(0.001)
    assert store.active_signing_key(org).kid == first["kid"]
    second = store.create_signing_key(org, "second")  # pending for 60 s, through this worker
    store._changes.poll()
    ms_clock.advance(0.001)
    assert store.active_signing_key(org).kid == first["kid"]
    _, until = store._signing_cache[org][None]
    with store.transaction() as session:
        row = session.scalars(
            select(models.SigningKey).where(models.SigningKey.kid == second["kid"])
        ).one()
    assert until == row.active_at_ms < ms_clock.now_ms + LONG_MS  # the activation: sooner
    ms_clock.advance(60)
    assert store.active_signing_key(org).kid == second["kid"]


def _eventually(check: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "not in time"
        time.sleep(0.02)
    return time.monotonic() - started


def test_two_workers_following_the_feed_see_each_others_changes_within_a_look(
    tmp_path: Path,
) -> None:
    """Real clock, background looks: a key revoked by one worker fails on the other within
    about a second (the plain bound is 5 s), though its entry there is kept a minute."""
    worker = sqlite_store(tmp_path)
    other = Store(worker.engine, kek=worker._kek, hasher=worker._hasher)
    try:
        org = worker.create_org("acme").id
        worker.create_signing_key(org, "main")
        record, secret = worker.create_api_key(org, "ci", [])
        for store in (worker, other):
            store.follow_changes()
        _eventually(lambda: worker._changes.healthy and other._changes.healthy, 5)
        time.sleep(0.01)
        assert other.verify_api_key(secret) == record
        until = other._api_key_cache[next(iter(other._api_key_cache))].valid_until_ms
        assert until - time.time() * 1000 > 30_000  # kept long
        worker.revoke_api_key(org, record.id, holding=ALL_SCOPES)
        took = _eventually(lambda: other.cached_api_key(secret) is None, 5)
        assert took < 2 * POLL_MS / 1000 + 0.5
        with pytest.raises(InvalidApiKeyError):
            other.verify_api_key(secret)
        with pytest.raises(InvalidRequestError):
            other.active_signing_key("org_none")
    finally:
        other.close()
        worker.close()
