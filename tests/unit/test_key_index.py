"""The running gateway's personal-key index (llmgw.services.key_index): who a token is, from memory;
reloaded only when another process has committed to the database; last use kept in memory."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from llmgw.services.key_index import LEGACY, KeyIndex, Principal
from llmgw.services.tokens import parse
from llmgw.storage import Store
from tests.support import raw_db
from tests.support.accounts_rows import add_key, add_user, create_schema, execute, last_used


@pytest.fixture
def db(database: str) -> str:
    create_schema(database)
    return database


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    with Store.open(db) as s:
        yield s


def who(index: KeyIndex, token: str) -> Principal | str:
    parsed = parse(token)
    assert parsed is not None
    return index.identify(parsed)


def test_a_valid_key_is_its_owner(db: str, store: Store) -> None:
    ada = add_user(db, "ada", role="admin")
    key = add_key(db, ada)
    index = KeyIndex(store)
    index.load()
    assert who(index, key.token) == Principal(ada, key.key_id, "ada", "admin", key_public_id=key.public_id)
    assert Principal(None, None, "legacy", "legacy") == LEGACY and not LEGACY.is_admin


def test_every_refusal_says_why(db: str, store: Store) -> None:
    bob = add_user(db, "bob")
    off = add_user(db, "off", disabled=True)
    gone = add_user(db, "gone")
    now = time.time()
    revoked = add_key(db, bob, revoked_at=now - 1)
    expired = add_key(db, bob, expires_at=now - 1)
    later = add_key(db, bob, expires_at=now + 3600)
    disabled = add_key(db, off)
    deleted = add_key(db, gone)
    execute(db, "DELETE FROM users WHERE id = ?", (gone,))
    good = add_key(db, bob)
    index = KeyIndex(store)
    index.load()
    wrong_secret = good.token[:-1] + ("A" if good.token[-1] != "A" else "B")
    unknown = f"llmgw-{'0' * 16}-{good.secret}"
    assert who(index, revoked.token) == "revoked"
    assert who(index, expired.token) == "expired"
    assert isinstance(who(index, later.token), Principal)
    assert who(index, disabled.token) == "user disabled"
    assert who(index, deleted.token) == "unknown key"
    assert who(index, unknown) == "unknown key"
    assert who(index, wrong_secret) == "wrong secret"
    assert who(index, good.token) == Principal(bob, good.key_id, "bob", "user", key_public_id=good.public_id)


def test_reloads_only_when_another_process_committed(db: str, store: Store) -> None:
    index = KeyIndex(store)
    index.load()
    assert index.refresh() is False  # nothing changed: one PRAGMA, no query of the keys
    store.touch_api_keys({1: 1.0})  # our own connection's writes never trigger a reload
    assert index.refresh() is False
    ada = add_user(db, "ada")
    key = add_key(db, ada)
    assert who(index, key.token) == "unknown key"  # not seen until the refresh
    assert index.refresh() is True
    assert isinstance(who(index, key.token), Principal)
    execute(db, "UPDATE api_keys SET revoked_at = ? WHERE id = ?", (time.time(), key.key_id))
    assert index.refresh() is True
    assert who(index, key.token) == "revoked"


def test_a_change_through_our_own_connection_needs_invalidate(db: str, store: Store) -> None:
    index = KeyIndex(store)
    index.load()
    with store._lock, store._immediate():  # as a portal in the same process would write
        store._db.execute(
            "INSERT INTO users (id, name, role, created_at, updated_at) VALUES (9, 'own', 'user', 0, 0)"
        )
    if store.postgres:  # its counter is bumped by triggers: whoever commits, this connection too
        assert index.refresh() is True and index.user_count == 0
        return
    assert index.refresh() is False  # data_version counts other connections only
    index.invalidate()
    assert index.refresh() is True and index.user_count == 0  # reloaded (a user without keys)


def test_expiry_is_checked_against_the_clock_per_request(db: str, store: Store) -> None:
    now = [1000.0]
    ada = add_user(db, "ada")
    key = add_key(db, ada, expires_at=1500.0)
    index = KeyIndex(store, clock=lambda: now[0])
    index.load()
    assert isinstance(who(index, key.token), Principal)
    now[0] = 1500.0
    assert who(index, key.token) == "expired"


def test_last_use_is_kept_in_memory_and_written_in_one_batch(db: str, store: Store) -> None:
    now = [1000.0]
    ada = add_user(db, "ada")
    k1, k2 = add_key(db, ada), add_key(db, ada)
    index = KeyIndex(store, clock=lambda: now[0])
    index.load()
    with raw_db.statements(store) as statements:
        for i in range(100):
            now[0] = 1000.0 + i
            assert isinstance(who(index, k1.token), Principal)
        assert isinstance(who(index, k2.token), Principal)
    assert statements == []  # 101 requests identified, not one statement
    assert last_used(db, k1.key_id) is None
    pending = index.take_last_used()
    assert pending == {k1.key_id: 1099.0, k2.key_id: 1099.0}
    assert index.take_last_used() == {}
    index.write_last_used(pending)
    assert (last_used(db, k1.key_id), last_used(db, k2.key_id)) == (1099.0, 1099.0)


def test_a_refused_key_is_not_marked_used(db: str, store: Store) -> None:
    ada = add_user(db, "ada")
    key = add_key(db, ada, revoked_at=1.0)
    index = KeyIndex(store)
    index.load()
    assert who(index, key.token) == "revoked"
    assert index.take_last_used() == {}
    assert index.key_count == 1
