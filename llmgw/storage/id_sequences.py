"""Ids never handed out twice (migration m009).

Before m009, `users.id` and `api_keys.id` were plain rowids: SQLite gives the next row the highest id
+ 1, so deleting the newest user (or key) gave their id to the next one created, and with it the ledger
rows, rollups and spend filed under that number. m009, in one transaction with foreign keys off (the
procedure of SQLite's ALTER TABLE documentation: create the new table, copy, drop, rename):

1. rebuilds both tables with AUTOINCREMENT, every row and id kept (sessions, keys, limits still point
   at them);
2. detaches history a reuse had already mixed: ledger rows (and hourly rollups) filed under an account's
   id from BEFORE that account was created belong to whoever had the id earlier, so they move to a new
   id of their own (named after the deleted user if the audit log knows them). Rollups of whole hours
   before the creation move as they are; in the hour it happened, only the raw rows still kept say
   which requests were whose (rows retention purged from that one hour stay where they are);
3. keeps deleted users' names (`deleted_accounts`) from the audit log's `user.deleted` entries;
4. starts both sequences above every id anything still names (accounts, tombstones, ledger, rollups,
   limits, sessions, the audit log), so no new account gets a number the ledger gives someone else.

Safe to run again after a crash before the step was recorded: each part finds nothing left to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from llmgw.storage import deleted_accounts, rollups

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["never_reuse_ids"]

_USERS = """
CREATE TABLE users_m009 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""
_USER_COLUMNS = "id, name, role, password_hash, disabled, created_at, updated_at"
_KEYS = """
CREATE TABLE api_keys_m009 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL,
    last_used_at REAL
)
"""
_KEY_COLUMNS = "id, public_id, user_id, name, secret_hash, created_at, expires_at, revoked_at, last_used_at"
_NUMERIC = "GLOB '[0-9]*' AND target_id NOT GLOB '*[^0-9]*'"

# Where each kind of id is named: (table, column) pairs read for the highest id ever used.
_USER_ID_HOLDERS = (
    ("users", "id"),
    ("deleted_users", "id"),
    ("requests", "user_id"),
    ("usage_hourly", "user_id"),
    ("limits", "user_id"),
    ("sessions", "user_id"),
    ("audit_log", "actor_user_id"),
)
_KEY_ID_HOLDERS = (
    ("api_keys", "id"),
    ("deleted_keys", "id"),
    ("requests", "api_key_id"),
    ("usage_hourly", "api_key_id"),
    ("limits", "api_key_id"),
)


@contextmanager
def _foreign_keys_off(conn: sqlite3.Connection) -> Iterator[None]:
    """Foreign keys off around one write transaction (the pragma is a no-op inside a transaction, and
    with it on, dropping `users` would cascade-delete every key, session and limit)."""
    if conn.in_transaction:
        raise RuntimeError("m009 must start outside a transaction")
    was_on = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    finally:
        conn.execute(f"PRAGMA foreign_keys={'ON' if was_on else 'OFF'}")


def _foreign_key_problems(db: sqlite_utils.Database) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in db.execute("PRAGMA foreign_key_check").fetchall()}


def _autoincrement(db: sqlite_utils.Database, table: str) -> bool:
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()[0]
    return "AUTOINCREMENT" in sql.upper()


def _rebuild(db: sqlite_utils.Database, table: str, create: str, columns: str) -> None:
    if _autoincrement(db, table):
        return
    db.execute(create)
    db.execute(f"INSERT INTO {table}_m009 ({columns}) SELECT {columns} FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_m009 RENAME TO {table}")


def _highest(db: sqlite_utils.Database, holders: tuple[tuple[str, str], ...], audit_type: str | None) -> int:
    found = [db.execute(f"SELECT MAX({column}) FROM {table}").fetchone()[0] or 0 for table, column in holders]
    if audit_type is not None:
        found.append(
            db.execute(
                f"SELECT MAX(CAST(target_id AS INTEGER)) FROM audit_log "
                f"WHERE target_type = ? AND target_id {_NUMERIC}",
                [audit_type],
            ).fetchone()[0]
            or 0
        )
    return max(found)


def _detach(db: sqlite_utils.Database, table: str, column: str, next_id: Iterator[int]) -> dict[int, int]:
    """Move each account's rows from before its creation to a new id; returns {old id: new id}."""
    hour = rollups.HOUR
    # One pass over each table (CROSS JOIN: the ledger outermost, each account found by its key).
    mixed = db.execute(
        f"SELECT id, created_at FROM {table} WHERE id IN ("
        f"SELECT r.{column} FROM requests AS r CROSS JOIN {table} AS a ON a.id = r.{column} "
        "WHERE r.created_at < a.created_at UNION "
        f"SELECT h.{column} FROM usage_hourly AS h CROSS JOIN {table} AS a ON a.id = h.{column} "
        f"WHERE h.hour_start < CAST(a.created_at / {hour} AS INTEGER) * {hour}) ORDER BY id"
    ).fetchall()
    moved: dict[int, int] = {}
    # m009 runs before m015 rebuilt the rollups: it reads and writes them in m006's layout.
    sources = ", ".join(rollups.M006.source_columns)
    position = rollups.M006.source_columns.index(column)
    for old, created_at in mixed:
        new = next(next_id)
        boundary = int(created_at // hour) * hour  # the hour the account was created in
        # Whole hours before it: the rollups and the raw rows move as they are.
        db.execute(
            f"UPDATE usage_hourly SET {column} = ? WHERE {column} = ? AND hour_start < ?",
            [new, old, boundary],
        )
        db.execute(
            f"UPDATE requests SET {column} = ? WHERE {column} = ? AND created_at < ?", [new, old, boundary]
        )
        # That hour: each raw row's contribution moves from the old id's rollup to the new one's.
        rows = db.execute(
            f"SELECT request_id, {sources} FROM requests "
            f"WHERE {column} = ? AND created_at >= ? AND created_at < ?",
            [old, boundary, created_at],
        ).fetchall()
        before = [r[1:] for r in rows]
        after = [(*r[:position], new, *r[position + 1 :]) for r in before]
        rollups.record(db, before, after, rollups.M006)
        db.conn.executemany(
            f"UPDATE requests SET {column} = ? WHERE request_id = ?", [(new, r[0]) for r in rows]
        )
        moved[old] = new
    return moved


def _keep_deleted_user_names(db: sqlite_utils.Database, detached: dict[int, int]) -> None:
    """Tombstones from the audit log: each deleted id's latest name; a detached history gets the name
    of the user deleted under that id before the current holder was created."""
    db.execute(
        "INSERT OR IGNORE INTO deleted_users (id, name, deleted_at) "
        "SELECT CAST(target_id AS INTEGER) AS user_id, target_name, MAX(at) FROM audit_log "
        f"WHERE action = 'user.deleted' AND target_type = 'user' AND target_id {_NUMERIC} "
        "AND target_name IS NOT NULL AND CAST(target_id AS INTEGER) NOT IN (SELECT id FROM users) "
        "GROUP BY user_id"
    )
    for old, new in detached.items():
        db.execute(
            "INSERT OR IGNORE INTO deleted_users (id, name, deleted_at) "
            "SELECT ?, a.target_name, MAX(a.at) FROM audit_log AS a JOIN users AS u ON u.id = ? "
            "WHERE a.action = 'user.deleted' AND a.target_type = 'user' AND a.target_id = ? "
            "AND a.target_name IS NOT NULL AND a.at <= u.created_at HAVING COUNT(*) > 0",
            [new, old, str(old)],
        )


def _start_above(db: sqlite_utils.Database, table: str, highest: int) -> None:
    updated = db.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", [highest, table]
    ).rowcount
    if not updated:
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, highest])


def never_reuse_ids(db: sqlite_utils.Database) -> None:
    """Migration m009 (see the module's docstring), in one transaction with foreign keys off."""
    with _foreign_keys_off(db.conn):
        problems = _foreign_key_problems(db)
        _rebuild(db, "users", _USERS, _USER_COLUMNS)
        _rebuild(db, "api_keys", _KEYS, _KEY_COLUMNS)
        db.execute("CREATE INDEX IF NOT EXISTS idx_api_keys_user_id ON api_keys (user_id)")
        deleted_accounts.create_tables(db)
        top_user = _highest(db, _USER_ID_HOLDERS, "user")
        top_key = _highest(db, _KEY_ID_HOLDERS, None)

        def counter(start: int) -> Iterator[int]:
            while True:
                start += 1
                yield start

        user_ids, key_ids = counter(top_user), counter(top_key)
        detached_users = _detach(db, "users", "user_id", user_ids)
        detached_keys = _detach(db, "api_keys", "api_key_id", key_ids)
        _keep_deleted_user_names(db, detached_users)
        _start_above(db, "users", top_user + len(detached_users))
        _start_above(db, "api_keys", top_key + len(detached_keys))
        new_problems = _foreign_key_problems(db) - problems
        if new_problems:
            raise RuntimeError(
                f"m009 would leave rows referencing missing parents: {sorted(new_problems)[:5]}"
            )
