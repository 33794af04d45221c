"""The account tables' storage functions the running gateway uses (m004): key records, data_version,
last-used times. The account rules themselves are tested through llmgw.services."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgw.storage import ApiKeyRecord, Store


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


def add_user_and_key(path: Path, *, revoked: float | None = None) -> None:
    """What another process (the CLI) would write, through its own connection."""
    now = time.time()
    with sqlite3.connect(path) as conn:
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


def test_key_records_carry_the_owner_state(store: Store, tmp_path: Path) -> None:
    assert store.api_key_records() == []
    add_user_and_key(tmp_path / "llmgw.db", revoked=123.0)
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


def test_data_version_moves_when_another_process_commits(store: Store, tmp_path: Path) -> None:
    before = store.data_version()
    assert store.data_version() == before  # nothing happened
    store.touch_api_keys({})  # our own connection: no change either way
    add_user_and_key(tmp_path / "llmgw.db")
    assert store.data_version() != before


def test_touch_never_moves_last_used_backwards(store: Store, tmp_path: Path) -> None:
    add_user_and_key(tmp_path / "llmgw.db")
    store.touch_api_keys({3: 200.0})
    store.touch_api_keys({3: 100.0})
    with sqlite3.connect(tmp_path / "llmgw.db") as conn:
        assert conn.execute("SELECT last_used_at FROM api_keys WHERE id = 3").fetchone()[0] == 200.0


def test_deleting_a_user_deletes_their_keys(store: Store, tmp_path: Path) -> None:
    add_user_and_key(tmp_path / "llmgw.db")
    with sqlite3.connect(tmp_path / "llmgw.db") as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM users WHERE id = 7")
    assert store.api_key_records() == []
