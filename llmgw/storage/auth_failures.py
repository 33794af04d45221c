"""The `auth_failures` table: requests refused for a missing or wrong key, counted per minute.

A flood of wrong keys must not add a ledger row each. Each gateway run (`run`, a random id) writes its
running count for a minute, and a write keeps the larger of the stored and the new count: writing the
same count again, or an older one (a spool replayed after a later direct write), changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llmgw.storage.postgres import is_postgres

if TYPE_CHECKING:
    import sqlite_utils


__all__ = ["add", "count"]

_UPSERT_SQL = """
INSERT INTO auth_failures (minute, run, count) VALUES (?, ?, ?)
ON CONFLICT (minute, run) DO UPDATE SET count = {greatest}(auth_failures.count, excluded.count)
"""


def add(db: sqlite_utils.Database, run: str, counts: Sequence[tuple[int, int]]) -> None:
    """Store run `run`'s counts as (minute, count) pairs (the caller holds the transaction)."""
    greatest = "GREATEST" if is_postgres(db) else "max"  # SQLite's max of two values
    db.conn.executemany(_UPSERT_SQL.format(greatest=greatest), [(minute, run, n) for minute, n in counts])


def count(db: sqlite_utils.Database, since: float | None) -> int:
    """Failed authentications in the minutes that end after `since` (unix seconds; None = all time)."""
    if since is None:
        return int(db.execute("SELECT COALESCE(SUM(count), 0) FROM auth_failures").fetchone()[0])
    sql = "SELECT COALESCE(SUM(count), 0) FROM auth_failures WHERE minute + 60 > ?"
    return int(db.execute(sql, [since]).fetchone()[0])
