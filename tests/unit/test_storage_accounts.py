"""The account tables' storage functions the running gateway uses (m004): key records, data_version,
last-used times. The account rules themselves are tested through llmgw.services."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from llmgw.storage import ApiKeyRecord, Store, is_database_url
from tests.support import raw_db


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


def add_user_and_key(where: str, *, revoked: float | None = None) -> None:
    """What another process (the CLI) would write, through its own connection."""
    now = time.time()
    with raw_db.connection(where) as conn:
        conn.execute(
            "INSERT INTO users (id, name, role, password_hash, disabled, created_at, updated_at) "
            "VALUES (7, 'ada', 'admin', NULL, 0, ?, ?)",
            (now, now),
        )
        conn.execute(
            "INSERT INTO api_keys (id, public_id, user_id, name, secret_hash, created_at, revoked_at) "
            "VALUES (3, 'a1b2c3d4e5f60718', 7, 'laptop', 'ff00', ?, ?)",
            (now, revoked),
        )


def test_key_records_carry_the_owner_state(store: Store, database: str) -> None:
    assert store.api_key_records() == []
    add_user_and_key(database, revoked=123.0)
    assert store.api_key_records() == [
        ApiKeyRecord(
            key_id=3,
            public_id="a1b2c3d4e5f60718",
            secret_hash="ff00",
            name="laptop",
            user_id=7,
            user_name="ada",
            role="admin",
            user_disabled=False,
            expires_at=None,
            revoked_at=123.0,
        )
    ]


def test_data_version_moves_when_another_process_commits(store: Store, database: str) -> None:
    before = store.data_version()
    assert store.data_version() == before  # nothing happened
    store.touch_api_keys({})  # our own connection: no change either way
    add_user_and_key(database)
    assert store.data_version() != before
    if is_database_url(database):  # PostgreSQL's counter moves for what the index reads, not a key's use
        after = store.data_version()
        store.touch_api_keys({3: 500.0})
        assert store.data_version() == after


def test_touch_never_moves_last_used_backwards(store: Store, database: str) -> None:
    add_user_and_key(database)
    store.touch_api_keys({3: 200.0})
    store.touch_api_keys({3: 100.0})
    assert raw_db.rows(database, "SELECT last_used_at FROM api_keys WHERE id = 3") == [(200.0,)]


def test_deleting_a_user_deletes_their_keys(store: Store, database: str) -> None:
    add_user_and_key(database)
    with raw_db.connection(database) as conn:
        conn.execute("DELETE FROM users WHERE id = 7")
    assert store.api_key_records() == []
