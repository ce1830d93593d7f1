from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, inspect, select

from relaypass import (
    InvalidApiKeyError,
    InvalidPermissionsError,
    InvalidRequestError,
    Key,
    Verifier,
    sign_jwt,
)
from relaypass._alg import Algorithm
from relaypass._apikeys import ApiKeyHasher
from relaypass._keyscope import KeyScope
from relaypass.server.db import models
from relaypass.server.db.migrate import downgrade, upgrade
from relaypass.server.db.store import KeyState, Store
from relaypass.server.scopes import ALL_SCOPES
from tests._cp import sqlite_store
from tests.server.conftest import MsClock


def test_migrations_create_every_table_and_step_back(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "orgs",
        "api_keys",
        "signing_keys",
        "service_account_keys",
        "tenants",
        "resources",
        "audit_log",
        "idempotency",
    } <= tables
    downgrade(store.engine, "base")
    assert "api_keys" not in set(inspect(store.engine).get_table_names())
    upgrade(store.engine)
    assert "api_keys" in set(inspect(store.engine).get_table_names())


def test_api_key_is_shown_once_and_stored_hashed(store: Store) -> None:
    org = store.create_org("acme")
    record, secret = store.create_api_key(org.id, "ci", ["tokens:mint"])
    assert store.verify_api_key(secret) == record
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM api_keys"))
    assert secret not in dump
    listed = store.list_api_keys(org.id, holding=ALL_SCOPES)
    assert listed[0]["display"].endswith(secret[-4:])
    assert secret not in str(listed)


def test_unknown_revoked_and_expired_keys_are_invalid_api_key(
    store: Store, ms_clock: MsClock
) -> None:
    org = store.create_org("acme")
    _, revoked = store.create_api_key(org.id, "a", [])
    record, _ = store.create_api_key(org.id, "b", [], expires_at_ms=ms_clock.now_ms + 1000)
    store.revoke_api_key(org.id, store.verify_api_key(revoked).id, holding=ALL_SCOPES)
    with pytest.raises(InvalidApiKeyError):
        store.verify_api_key(revoked)
    other_server = Store(store.engine, kek=store._kek, hasher=ApiKeyHasher(b"p" * 32))
    _, good = store.create_api_key(org.id, "c", [])
    with pytest.raises(InvalidApiKeyError):  # a different pepper: the key is unknown
        other_server.verify_api_key(good)
    ms_clock.advance(2)
    _, expiring = store.create_api_key(org.id, "d", [], expires_at_ms=ms_clock.now_ms + 1000)
    ms_clock.advance(1)
    with pytest.raises(InvalidApiKeyError):
        store.verify_api_key(expiring)
    assert record.label == "b"


def test_reroll_keeps_the_old_key_for_the_grace_period(store: Store, ms_clock: MsClock) -> None:
    org = store.create_org("acme")
    old_record, old = store.create_api_key(org.id, "ci", ["tokens:mint"])
    new_record, new = store.reroll_api_key(
        org.id, old_record.id, holding=ALL_SCOPES, grace_seconds=60
    )
    assert new_record.scopes == ("tokens:mint",)
    assert store.verify_api_key(old).id == old_record.id
    assert store.verify_api_key(new).id == new_record.id
    ms_clock.advance(61)
    with pytest.raises(InvalidApiKeyError):
        store.verify_api_key(old)
    assert store.verify_api_key(new)


def test_another_orgs_key_is_not_found(store: Store) -> None:
    a, b = store.create_org("a"), store.create_org("b")
    record, _ = store.create_api_key(a.id, "k", [])
    with pytest.raises(InvalidRequestError, match="no such API key"):
        store.revoke_api_key(b.id, record.id, holding=ALL_SCOPES)


def test_idempotent_create_replays_the_same_key(store: Store) -> None:
    org = store.create_org("acme")
    first = store.create_api_key(org.id, "ci", ["tokens:mint"], idempotency_key="req-1")
    again = store.create_api_key(org.id, "ci", ["tokens:mint"], idempotency_key="req-1")
    assert first == again
    assert len(store.list_api_keys(org.id, holding=ALL_SCOPES)) == 1
    with pytest.raises(InvalidRequestError, match="different request"):
        store.create_api_key(org.id, "other", ["tokens:mint"], idempotency_key="req-1")


def test_concurrent_idempotent_creates_make_one_key(store: Store) -> None:
    org = store.create_org("acme")
    results: list[tuple[object, str]] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            results.append(
                store.create_api_key(org.id, "ci", ["tokens:mint"], idempotency_key="same")
            )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({secret for _, secret in results}) == 1
    assert len(store.list_api_keys(org.id, holding=ALL_SCOPES)) == 1


def test_signing_key_lifecycle(store: Store, ms_clock: MsClock) -> None:
    org = store.create_org("acme")
    first = store.create_signing_key(org.id, "first")
    assert store.list_signing_keys(org.id)[0]["state"] == KeyState.PENDING
    assert first["kid"] in store.published_keys(org.id)  # gates learn it before it signs
    with pytest.raises(InvalidRequestError, match="propagation"):
        store.active_signing_key(org.id)
    ms_clock.advance(60)
    key = store.active_signing_key(org.id)
    assert key.kid == first["kid"]
    token = sign_jwt({"sub": "t", "exp": 4102444800}, key)
    assert Verifier(store.published_keys(org.id)).verify(token).kid == first["kid"]

    second = store.create_signing_key(org.id, "second")
    ms_clock.advance(60)
    store.retire_signing_key(org.id, first["kid"])
    states = {k["kid"]: k["state"] for k in store.list_signing_keys(org.id)}
    assert states == {first["kid"]: KeyState.RETIRING, second["kid"]: KeyState.ACTIVE}
    assert store.active_signing_key(org.id).kid == second["kid"]
    assert first["kid"] in store.published_keys(org.id)  # old tokens still verify
    ms_clock.advance(3600)
    assert first["kid"] not in store.published_keys(org.id)
    store.revoke_signing_key(org.id, second["kid"])
    assert second["kid"] not in store.published_keys(org.id)
    with pytest.raises(InvalidRequestError):
        store.active_signing_key(org.id)


def test_private_keys_are_sealed_at_rest(store: Store, ms_clock: MsClock) -> None:
    org = store.create_org("acme")
    created = store.create_signing_key(org.id, "k")
    ms_clock.advance(60)
    private = store.active_signing_key(org.id).to_jwk(private=True)
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM signing_keys"))
    assert str(private["d"]) not in dump
    assert created["kid"] in dump


def test_hmac_signing_keys_are_refused(store: Store) -> None:
    org = store.create_org("acme")
    with pytest.raises(InvalidRequestError):
        store.create_signing_key(org.id, "k", alg="HS256")  # type: ignore[arg-type]


def test_audit_log_records_who_did_what_without_secrets(store: Store) -> None:
    org = store.create_org("acme")
    _, secret = store.create_api_key(org.id, "ci", ["tokens:mint"], actor="key_admin")
    store.record(org.id, "key_admin", "token.mint", "relay", {"jti": "j1", "ttl": 60})
    log = store.audit_log(org.id)
    assert [e["action"] for e in log] == ["token.mint", "api_key.create", "org.create"]
    assert log[1]["actor"] == "key_admin"
    assert secret not in str(log)
    assert [e["action"] for e in store.audit_log(org.id, action="token.mint")] == ["token.mint"]


def test_an_orgs_audit_page_is_read_from_an_index_in_order(tmp_path: Path) -> None:
    """Newest first, filtered by time or not, with no sort of the org's rows (SQLite's plan).

    Every mint adds a row: an org's log grows without bound, and a page of it must not
    cost a sort of all of it. The org index behind the log (``audit_org_index``) serves
    it, newest first, and only the page's rows merged with the few not indexed yet are
    sorted; ``ix_audit_log_at_ms`` serves the platform's log.
    """
    store = sqlite_store(tmp_path)
    seen: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if "FROM audit_log" in statement:
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    store.audit_log("org_1", limit=10)
    store.audit_log("org_1", since_ms=1, until_ms=2, limit=10)
    store.audit_log(None, limit=10)
    event.remove(store.engine, "before_cursor_execute", capture)
    assert len(seen) == 3
    raw = store.engine.raw_connection()
    try:
        plans = [
            " / ".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, values))
            for statement, values in seen
        ]
        for plan in plans[:2]:
            indexed = plan[plan.index("LEFT-MOST SUBQUERY") : plan.index("UNION ALL")]
            assert "SEARCH audit_org_index USING PRIMARY KEY (org_id=?" in indexed, plan
            assert "TEMP B-TREE" not in indexed, plan  # the org's rows come in order
            assert "SCAN audit_log" not in plan, plan
        assert "USING INDEX ix_audit_log_at_ms" in plans[2], plans[2]
        assert "TEMP B-TREE" not in plans[2], plans[2]  # no sort
    finally:
        raw.close()
        store.close()


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    org = store.create_org("acme")

    class HalfDoneError(Exception):
        pass

    def half_done() -> None:
        with store.transaction() as session:
            session.add(models.Org(id="org_half", name="half", created_at_ms=1))
            session.flush()
            raise HalfDoneError

    with pytest.raises(HalfDoneError):
        half_done()
    assert store.count_orgs() == 1
    assert org.id


def test_signing_key_ids_are_valid_kids(store: Store, ms_clock: MsClock) -> None:
    org = store.create_org("acme")
    store.create_signing_key(org.id, "k")
    ms_clock.advance(60)
    key = store.active_signing_key(org.id)
    assert Key.from_jwk(key.to_jwk(private=True)).kid == key.kid


def test_revocation_through_another_worker_lands_within_the_cache_bound(
    store: Store, ms_clock: MsClock
) -> None:
    org = store.create_org("acme")
    record, secret = store.create_api_key(org.id, "ci", [])
    assert store.verify_api_key(secret) == record  # cached here now
    other_worker = Store(store.engine, kek=store._kek, hasher=store._hasher, clock_ms=ms_clock)
    other_worker.revoke_api_key(org.id, record.id, holding=ALL_SCOPES)
    with pytest.raises(InvalidApiKeyError):
        other_worker.verify_api_key(secret)  # at once where it was revoked
    ms_clock.advance(4.9)
    assert store.verify_api_key(secret) == record  # within the documented 5 s
    ms_clock.advance(0.2)
    with pytest.raises(InvalidApiKeyError):
        store.verify_api_key(secret)


def test_last_used_is_recorded(store: Store, ms_clock: MsClock) -> None:
    org = store.create_org("acme")
    _, secret = store.create_api_key(org.id, "ci", [])
    store.verify_api_key(secret)
    first = store.list_api_keys(org.id, holding=ALL_SCOPES)[0]["last_used_at_ms"]
    assert first == ms_clock.now_ms
    ms_clock.advance(61)
    store.verify_api_key(secret)
    assert store.list_api_keys(org.id, holding=ALL_SCOPES)[0]["last_used_at_ms"] == ms_clock.now_ms


def test_a_key_read_again_after_its_entry_expired_writes_last_used_once_a_minute(
    store: Store, ms_clock: MsClock
) -> None:
    """A miss reads the key; it writes ``last_used_at_ms`` only when a minute has passed."""
    org = store.create_org("acme")
    _, secret = store.create_api_key(org.id, "ci", [])
    store.verify_api_key(secret)
    written = store.list_api_keys(org.id, holding=ALL_SCOPES)[0]["last_used_at_ms"]
    with _api_key_updates(store) as updates:
        for _ in range(5):
            ms_clock.advance(6)  # past the entry's 5 s bound: read from the database again
            store.verify_api_key(secret)
        assert updates == []
        assert store.list_api_keys(org.id, holding=ALL_SCOPES)[0]["last_used_at_ms"] == written
        ms_clock.advance(31)  # a minute since the last write
        store.verify_api_key(secret)
        assert len(updates) == 1


@contextlib.contextmanager
def _api_key_updates(store: Store) -> Iterator[list[str]]:
    """The ``UPDATE api_keys`` statements run while inside (each executemany counts once)."""
    updates: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            updates.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield updates
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def test_a_token_revocation_says_when_no_token_it_matches_is_left(
    store: Store, ms_clock: MsClock
) -> None:
    org = store.create_org("Revokers", namespaces=["rv"]).id
    store.revoke_token(org, "jti-1", actor="test")
    event = next(e for _, k, e in reversed(store.pending_outbox()) if k == "revoke")
    assert event["value"] == "jti-1"
    expected = ms_clock.now_ms / 1000 + store.max_token_ttl_ms / 1000 + 120
    assert event["until"] == pytest.approx(expected)


def test_concurrent_audit_appends_share_commits_and_all_are_durable(store: Store) -> None:
    org = store.create_org("Busy", namespaces=["busy"]).id
    barrier = threading.Barrier(24)

    def append(n: int) -> None:
        barrier.wait()
        for i in range(10):
            store.record(org, "bench", "token.mint", f"t{n}-{i}", {"n": n, "i": i})

    threads = [threading.Thread(target=append, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    targets = {e["target"] for e in store.audit_log(org, action="token.mint", limit=1000)}
    assert targets == {f"t{n}-{i}" for n in range(24) for i in range(10)}


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.01)


def test_keys_used_from_the_cache_write_last_used_together(store: Store, ms_clock: MsClock) -> None:
    """Due ``last_used_at_ms`` writes of many keys (many orgs) go in one statement, not one
    transaction per key."""
    made = [store.create_api_key(store.create_org(f"org{n}").id, "ci", []) for n in range(3)]
    for record, secret in made:
        assert store.verify_api_key(secret) == record
    for entry in store._api_key_cache.values():
        entry.last_used_written_ms -= 60_000  # as if the last write were a minute ago
    ms_clock.advance(1.0)  # within the entries' bound; what is written now differs
    with _api_key_updates(store) as updates:
        for record, secret in made:
            assert store.cached_api_key(secret) == record
        _eventually(
            lambda: all(
                store.list_api_keys(r.org_id, holding=ALL_SCOPES)[0]["last_used_at_ms"]
                == ms_clock.now_ms
                for r, _ in made
            )
        )
    assert len(updates) == 1


def test_an_entry_in_use_is_reloaded_before_its_bound(store: Store, ms_clock: MsClock) -> None:
    """Steady use never misses (a miss moves a call off the event loop); no entry outlives 5 s."""
    org = store.create_org("acme")
    record, secret = store.create_api_key(org.id, "ci", [])
    assert store.verify_api_key(secret) == record
    ms_clock.advance(4.0)  # in the last part of the entry's life: reloaded in the background
    assert store.cached_api_key(secret) == record
    ms_clock.advance(2.0)  # past the first load's bound, within the reload's
    _eventually(lambda: store.cached_api_key(secret) == record)
    key = store.create_signing_key(org.id, "main")
    ms_clock.advance(60)
    store.active_signing_key(org.id)
    ms_clock.advance(4.0)
    store.active_signing_key(org.id)  # reloaded in the background
    store.retire_signing_key(org.id, str(key["kid"]), actor="test")  # through this worker: at once
    with pytest.raises(InvalidRequestError):
        store.active_signing_key(org.id)


def test_a_revocation_elsewhere_reaches_a_busy_cache_before_its_bound(
    store: Store, ms_clock: MsClock
) -> None:
    org = store.create_org("acme")
    record, secret = store.create_api_key(org.id, "ci", [])
    assert store.verify_api_key(secret) == record
    other_worker = Store(store.engine, kek=store._kek, hasher=store._hasher, clock_ms=ms_clock)
    other_worker.revoke_api_key(org.id, record.id, holding=ALL_SCOPES)
    ms_clock.advance(4.0)
    assert store.cached_api_key(secret) == record  # still within the bound; reloaded meanwhile
    _eventually(lambda: store.cached_api_key(secret) is None)  # the reload dropped it
    with pytest.raises(InvalidApiKeyError):
        store.verify_api_key(secret)


def test_a_late_background_reload_never_undoes_an_invalidation_here(
    store: Store, ms_clock: MsClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload that read before a retirement through this worker writes nothing after it."""
    org = store.create_org("acme")
    key = store.create_signing_key(org.id, "main")
    ms_clock.advance(60)
    active = store.active_signing_key(org.id)
    seen = store._signing_cache[org.id][None]
    store.retire_signing_key(org.id, str(key["kid"]), actor="test")  # drops the entry at once
    store._signing_cache.setdefault(org.id, {})  # as a concurrent mint leaves it
    # The reload read the database before the retirement: it found the key still active.
    monkeypatch.setattr(store, "_active_among", lambda *_: active)
    store._reload_signing({(org.id, None): seen})
    assert None not in store._signing_cache.get(org.id, {})
    monkeypatch.undo()
    with pytest.raises(InvalidRequestError):
        store.active_signing_key(org.id)


def _statements(store: Store) -> list[str]:
    """Every SQL statement the store's engine runs from now on."""
    from sqlalchemy import event

    seen: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def record(*args: object) -> None:
        seen.append(str(args[2]))

    return seen


def test_due_entries_of_many_orgs_reload_together(store: Store, ms_clock: MsClock) -> None:
    """Entries loaded in the same moment come due together: one query per cache, not per org."""
    orgs = []
    for n in range(12):
        org = store.create_org(f"org{n}")
        store.create_tenant(org.id, "t", "", actor="test")
        store.create_signing_key(org.id, "main")
        orgs.append((org.id, store.create_api_key(org.id, "ci", [])[1]))
    ms_clock.advance(60)
    for org_id, secret in orgs:
        store.verify_api_key(secret)
        store.require_tenant(org_id, "t")
        store.active_signing_key(org_id)
        store.org_scope(org_id)
    ms_clock.advance(4.0)  # in the last part of every entry's life
    statements = _statements(store)
    busy = threading.Event()  # the reload thread is busy while every org's entries come due
    store._refresher.ahead("busy", busy.wait)
    for org_id, secret in orgs:
        assert store.cached_api_key(secret) is not None
        store.require_tenant(org_id, "t")
        store.active_signing_key(org_id)
        store.org_scope(org_id)
    busy.set()
    _eventually(lambda: not store._refresher._running)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 4, reads  # one per cache (per-org reloads: 48)
    ms_clock.advance(2.0)  # past the first loads' bound, within the reloads'
    before = len(statements)
    for org_id, secret in orgs:
        assert store.cached_api_key(secret) is not None
        store.require_tenant(org_id, "t")
        store.active_signing_key(org_id)
        store.org_scope(org_id)
    assert len(statements) == before  # every entry was reloaded: nothing read on the way


def test_a_tenant_disabled_elsewhere_leaves_a_busy_cache_before_its_bound(
    store: Store, ms_clock: MsClock
) -> None:
    org = store.create_org("acme")
    store.create_tenant(org.id, "t", "", actor="test")
    store.create_tenant(org.id, "u", "", actor="test")
    store.require_tenant(org.id, "t")
    store.require_tenant(org.id, "u")
    other_worker = Store(store.engine, kek=store._kek, hasher=store._hasher, clock_ms=ms_clock)
    other_worker.disable_tenant(org.id, "t", actor="test")
    ms_clock.advance(4.0)
    store.require_tenant(org.id, "t")  # still within the bound; rechecked meanwhile
    store.require_tenant(org.id, "u")
    _eventually(lambda: (org.id, "t") not in store._tenant_cache)
    assert (org.id, "u") in store._tenant_cache  # read in the same batch, still active
    with pytest.raises(InvalidPermissionsError):
        store.require_tenant(org.id, "t")


def test_activated_keys_are_looked_for_among_the_unannounced_only(
    store: Store, ms_clock: MsClock
) -> None:
    """Each key's activation is noticed once; a later look reads only keys not noticed yet."""
    orgs = [store.create_org(f"org{n}").id for n in range(3)]
    for org_id in orgs:
        store.create_signing_key(org_id, "main")
    ms_clock.advance(60)
    store.announce_activated_keys()
    statements = _statements(store)
    store.announce_activated_keys()  # nothing new: no notice added twice, no per-key read
    assert len([s for s in statements if "webhook_notices" in s]) == 1
    store.create_signing_key(orgs[0], "next")
    ms_clock.advance(60)
    store.announce_activated_keys()
    with store.transaction() as session:
        notices = session.scalars(select(models.WebhookNotice)).all()
    assert sorted(n.kind for n in notices) == ["activated"] * 4


def test_an_api_key_read_from_the_database_brings_its_orgs_scope_and_signing_key(
    store: Store, ms_clock: MsClock
) -> None:
    """An org idle past the caches' bound pays one read on its next mint, not three."""
    org = store.create_org("acme", namespaces=["acme"])
    store.create_signing_key(org.id, "main", alg=Algorithm.ES256)
    _, secret = store.create_api_key(org.id, "ci", [])
    ms_clock.advance(60)
    store.verify_api_key(secret)
    statements = _statements(store)
    assert store.org_scope(org.id) == KeyScope.for_roots(["acme"])
    assert store.active_signing_key(org.id, "relay").alg == Algorithm.ES256
    assert store.active_signing_key(org.id).alg == Algorithm.ES256
    with pytest.raises(InvalidRequestError):  # no key of its algorithm: read, and refused
        store.active_signing_key(org.id, "service_account")
    assert len(statements) == 1, statements  # only the refusal read the database
    ms_clock.advance(6)  # past every bound: nothing served from the warm entries
    store.retire_signing_key(org.id, store.list_signing_keys(org.id)[0]["kid"], actor="t")
    store.verify_api_key(secret)
    with pytest.raises(InvalidRequestError):
        store.active_signing_key(org.id, "relay")


def test_an_entry_used_once_in_its_life_is_reloaded_without_a_request_near_its_bound(
    store: Store, ms_clock: MsClock
) -> None:
    """An org seen once every few seconds stays warm; one not seen since its load expires."""
    org = store.create_org("acme")
    _, used = store.create_api_key(org.id, "used", [])
    _, idle = store.create_api_key(org.id, "idle", [])
    store.verify_api_key(used)
    store.verify_api_key(idle)
    first_bound = store._api_key_cache[_digest(store, used)].valid_until_ms
    ms_clock.advance(1.0)
    assert store.cached_api_key(used) is not None  # one use, early in the entry's life
    ms_clock.advance(3.0)  # due now; no request comes
    _eventually(lambda: store._api_key_cache[_digest(store, used)].valid_until_ms > first_bound)
    time.sleep(0.3)  # several of the reloader's looks
    ms_clock.advance(2.0)  # past the first loads' bound
    assert store.cached_api_key(used) is not None  # reloaded: no miss
    assert store.cached_api_key(idle) is None  # never used since its load: left to expire


def _digest(store: Store, secret: str) -> str:
    from relaypass._apikeys import parse_api_key

    return store._hasher.digest(parse_api_key(secret, prefix=store.api_key_prefix))


def test_a_reload_that_finds_the_same_signing_key_keeps_the_key_it_holds(
    store: Store, ms_clock: MsClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thousand orgs' keys reloaded every few seconds are not unsealed and parsed each time."""
    org = store.create_org("acme")
    store.create_signing_key(org.id, "main")
    ms_clock.advance(60)
    held = store.active_signing_key(org.id)
    bound = store._signing_cache[org.id][None][1]

    class Sealed:
        def open(self, *_: object) -> bytes:
            raise AssertionError("unsealed again")

    monkeypatch.setattr(store, "_kek", Sealed())
    ms_clock.advance(4.0)
    assert store.active_signing_key(org.id) is held  # a use: reloaded near its bound
    _eventually(lambda: store._signing_cache[org.id][None][1] > bound)
    assert store._signing_cache[org.id][None][0] is held
