"""Which schema steps a database file has had, read with plain `sqlite3`: `Store.open` imports the
migrations (and sqlite-utils, ~100 ms of a command's start) only when one is pending, so opening an
up-to-date file for a listing costs one query."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from llmgw.errors import DatabaseTooNew, DatabaseUnreadable

# sqlite-utils `Migrations`' own table and this project's set name in it (storage/migrations.py).
MIGRATIONS_TABLE = "_sqlite_migrations"
MIGRATION_SET = "llmgw"
# Every step of storage/migrations.py, in order: importing that module checks that this list is its
# own, so a new step cannot be left out of it.
MIGRATION_NAMES = (
    "m001_requests",
    "m002_token_details",
    "m003_auth_failures",
    "m004_accounts",
    "m005_usage_source_and_cost",
    "m006_rollups",
    "m007_limits",
    "m008_upstream_key_state",
    "m009_ids_never_reused",
    "m010_key_creation_switch",
    "m011_stored_responses",
    "m012_error_kind",
    "m013_model_access",
    "m014_budget_alerts",
    "m015_rollups_per_upstream_model_and_error_kind",
    "m016_request_log_indexes",
    "m017_shared_state",
)


def applied(conn: sqlite3.Connection) -> list[str]:
    """The steps the database at `conn` has recorded, in the order they were (none for a new file).
    Reads only."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]
    ).fetchone()
    if exists is None:
        return []
    query = f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid"
    return [r[0] for r in conn.execute(query, [MIGRATION_SET])]


def pending(conn: sqlite3.Connection) -> list[str]:
    """This version's steps the database at `conn` has not recorded, in order (all of them for a new
    file). Reads only."""
    done = set(applied(conn))
    return [name for name in MIGRATION_NAMES if name not in done]


def refuse_unknown(conn: sqlite3.Connection, path: Path) -> list[str]:
    """This version's pending steps for the database at `conn`; raises DatabaseTooNew, naming them, when
    it records steps this version does not know (a newer llmgw upgraded it). Reads only."""
    try:
        done = applied(conn)
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise DatabaseUnreadable(
            f"the database {path} cannot be read: {exc}. Point LLMGW_DATABASE (or [server] database) at "
            "the right file, or restore it from a backup; `llmgw db check` says more."
        ) from exc
    unknown = tuple(name for name in done if name not in MIGRATION_NAMES)
    if unknown:
        raise DatabaseTooNew(str(path), unknown)
    return [name for name in MIGRATION_NAMES if name not in done]


def check_known(path: Path) -> None:
    """Raise DatabaseTooNew when the database file at `path` was upgraded by a newer llmgw; nothing when
    there is no file. Changes nothing: no file created, no pragma set, no migration applied, and SQLite's
    -wal and -shm files, made by the read, removed again as the last connection closes (a read-only
    connection could not remove them)."""
    if not path.is_file():
        return
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        refuse_unknown(conn, path)
    finally:
        conn.close()


class Rows(Protocol):
    """What a statement's caller reads back: a `sqlite3.Cursor`, or psycopg's on PostgreSQL."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Sql(Protocol):
    """What a table function that only runs statements needs of its connection. Both a plain
    `sqlite3.Connection` (an account use case's, inside the transaction `Store.accounts` holds: no
    sqlite-utils on a listing's path), a `sqlite_utils.Database` and PostgreSQL's `postgres.PgSql` are
    one; they run a statement alike inside a transaction."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Rows: ...
