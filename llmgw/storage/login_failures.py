"""`login_failures` (m017, PostgreSQL only): the portal's login throttle's counts
(services/login_throttle.py), shared by every instance: per (account, address) pair, per address and per
account, each a count and the time of its last failure. Each call is one statement or one transaction;
the rules (how many are free, how long to wait) stay in the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmgw.storage.postgres import PgSql as Sql

__all__ = ["count", "forget", "give_back", "prune", "read"]

Entry = tuple[str, str]  # (kind, name): kind "pair", "address" or "account"


def read(db: Sql, entries: Sequence[Entry]) -> dict[Entry, tuple[int, float]]:
    """The (count, last failure) of each entry that has one."""
    kinds, names = [k for k, _ in entries], [n for _, n in entries]
    rows = db.execute(
        "SELECT f.kind, f.name, f.count, f.last FROM login_failures AS f "
        "JOIN unnest(?::text[], ?::text[]) AS e (kind, name) ON f.kind = e.kind AND f.name = e.name",
        [kinds, names],
    ).fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def count(db: Sql, entries: Sequence[Entry], now: float, forget_after: float) -> None:
    """One more failure for each entry at `now` (a count quiet for `forget_after` starts again at 1)."""
    db.executemany(
        "INSERT INTO login_failures AS f (kind, name, count, last) VALUES (?, ?, 1, ?) "
        "ON CONFLICT (kind, name) DO UPDATE SET "
        "count = CASE WHEN excluded.last - f.last > ? THEN 1 ELSE f.count + 1 END, last = excluded.last",
        [(kind, name, now, forget_after) for kind, name in entries],
    )


def give_back(db: Sql, entries: Sequence[Entry]) -> None:
    """One failure fewer for each entry; an entry at 0 goes."""
    for kind, name in entries:
        db.execute("UPDATE login_failures SET count = count - 1 WHERE kind = ? AND name = ?", [kind, name])
        db.execute("DELETE FROM login_failures WHERE kind = ? AND name = ? AND count <= 0", [kind, name])


def forget(db: Sql, entry: Entry) -> None:
    db.execute("DELETE FROM login_failures WHERE kind = ? AND name = ?", list(entry))


def prune(db: Sql, before: float) -> None:
    """Counts quiet since before `before` (past the longest delay) go."""
    db.execute("DELETE FROM login_failures WHERE last < ?", [before])
