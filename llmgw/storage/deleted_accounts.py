"""`deleted_users` and `deleted_keys` (migration m009): what a deleted user or key was called, kept
under the id it had, so ledger rows and rollups (which keep `user_id` / `api_key_id` as plain numbers)
still name them in reports. The ids themselves are never handed out again (`users` and `api_keys` are
AUTOINCREMENT since m009), and the names are free for new accounts.

`Accounts` (storage/accounts.py) calls these inside an account use case's transaction.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

    from llmgw.storage.schema import Sql


__all__ = ["DeletedKey", "create_tables", "deleted_keys", "deleted_user_names", "record_user_deletion"]


@dataclasses.dataclass(frozen=True, slots=True)
class DeletedKey:
    """A key deleted with its user: its id, as the ledger names it, and what people knew it by."""

    id: int
    public_id: str
    name: str
    user_id: int


def create_tables(db: sqlite_utils.Database) -> None:
    """Create both tables (migration m009 only; IF NOT EXISTS: that step may run again after a crash)."""
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS deleted_users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            deleted_at REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS deleted_keys (
            id INTEGER PRIMARY KEY,
            public_id TEXT NOT NULL,
            name TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            deleted_at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_deleted_keys_user_id ON deleted_keys (user_id)")


def record_user_deletion(db: Sql, user_id: int, now: float) -> None:
    """Keep the names of a user about to be deleted and of their keys (call before the DELETE)."""
    db.execute(
        "INSERT INTO deleted_keys (id, public_id, name, user_id, deleted_at) "
        "SELECT id, public_id, name, user_id, ? FROM api_keys WHERE user_id = ? "
        "ON CONFLICT (id) DO UPDATE SET public_id = excluded.public_id, name = excluded.name, "
        "user_id = excluded.user_id, deleted_at = excluded.deleted_at",
        [now, user_id],
    )
    db.execute(
        "INSERT INTO deleted_users (id, name, deleted_at) SELECT id, name, ? FROM users WHERE id = ? "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, deleted_at = excluded.deleted_at",
        [now, user_id],
    )


def deleted_user_names(db: Sql) -> dict[int, str]:
    """Every deleted user's name by the id they had."""
    return {r[0]: r[1] for r in db.execute("SELECT id, name FROM deleted_users").fetchall()}


def deleted_keys(db: Sql, user_id: int | None = None) -> list[DeletedKey]:
    """Every deleted key (or those a user had)."""
    sql = "SELECT id, public_id, name, user_id FROM deleted_keys"
    rows = db.execute(sql, []) if user_id is None else db.execute(sql + " WHERE user_id = ?", [user_id])
    return [DeletedKey(*r) for r in rows.fetchall()]
