"""A process killed in the middle of a create leaves the store consistent; the retry succeeds."""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap

from relaypass._apikeys import ApiKeyHasher
from relaypass.server.db.store import Store, make_engine
from relaypass.server.scopes import ALL_SCOPES
from relaypass.server.secrets import KeyEncryptionKey

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from relaypass._apikeys import ApiKeyHasher
    from relaypass.server.db.store import Store, make_engine
    from relaypass.server.secrets import KeyEncryptionKey

    url, kek, pepper, org_id = sys.argv[1:5]
    store = Store(make_engine(url), kek=KeyEncryptionKey(bytes.fromhex(kek)),
                  hasher=ApiKeyHasher(bytes.fromhex(pepper)))

    original = Store._audit
    def die_mid_transaction(self, session, *args, **kwargs):
        original(self, session, *args, **kwargs)
        session.flush()                      # the rows are written, not committed
        os.kill(os.getpid(), signal.SIGKILL)
    Store._audit = die_mid_transaction
    store.create_api_key(org_id, "ci", ["tokens:mint"], idempotency_key="create-ci")
    """
)


def test_killed_create_leaves_nothing_and_the_retry_succeeds(database_url: str) -> None:
    kek, pepper = secrets.token_bytes(32), secrets.token_bytes(32)
    store = Store(make_engine(database_url), kek=KeyEncryptionKey(kek), hasher=ApiKeyHasher(pepper))
    store.migrate()
    org = store.create_org("acme")
    before = store.audit_log(org.id)
    done = subprocess.run(  # noqa: S603 - our own helper script
        [sys.executable, "-c", CHILD, database_url, kek.hex(), pepper.hex(), org.id],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr.decode()
    assert store.list_api_keys(org.id, holding=ALL_SCOPES) == []
    assert store.audit_log(org.id) == before
    record, secret = store.create_api_key(
        org.id, "ci", ["tokens:mint"], idempotency_key="create-ci"
    )
    assert store.verify_api_key(secret) == record
    assert len(store.list_api_keys(org.id, holding=ALL_SCOPES)) == 1
    assert store.create_api_key(org.id, "ci", ["tokens:mint"], idempotency_key="create-ci") == (
        record,
        secret,
    )
    store.engine.dispose()
