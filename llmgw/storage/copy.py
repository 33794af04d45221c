"""`llmgw db copy`: an installation's SQLite file copied into an empty PostgreSQL database, verified.

The source is read in one read transaction (one snapshot: a gateway still writing to the file changes
nothing the copy sees); the target is written in one transaction (a failure anywhere, the check at the
end included, leaves it as it was: empty). Every table goes in foreign-key order with its ids, through
COPY, in batches read from the file; the migrations' own table does not (the target has PostgreSQL's,
applied when it was opened). Then every identity sequence starts past the largest id anything names
(ids are never reused, id_sequences.py), and each table's count, and the ledger's and rollups' totals,
are read back from both sides and compared before the commit.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from llmgw.errors import CopyFailed, DatabaseNotEmpty
from llmgw.storage import schema
from llmgw.storage.database import Store
from llmgw.storage.postgres import redacted

if TYPE_CHECKING:
    from llmgw.storage.pg_store import PostgresStore
    from llmgw.storage.postgres import PgSql

__all__ = ["SERVER_ONLY", "TABLES", "CopyReport", "Progress", "TableCopy", "copy_database", "open_source"]

# Every table of the schema but the migrations' and PostgreSQL's `llmgw_changes`, parents first.
TABLES = (
    "users",
    "api_keys",
    "sessions",
    "audit_log",
    "limits",
    "deleted_users",
    "deleted_keys",
    "requests",
    "auth_failures",
    "usage_hourly",
    "usage_errors_hourly",
    "upstream_key_states",
    "stored_responses",
    "stored_response_items",
    "response_upstream_keys",
    "budget_alerts",
)

# PostgreSQL's own tables (m017, shared_schema.py), not in the file and not copied: each running
# instance's state (heartbeats, upstream key events, the login throttle), and the budgets' spend (kept by
# triggers on `usage_hourly`, so the copy's rollups fill it) and holds, which must be empty as the rest.
SERVER_ONLY = ("llmgw_instances", "upstream_key_events", "login_failures", "budget_spend", "budget_holds")
MUST_BE_EMPTY = (*TABLES, "budget_spend", "budget_holds")

# What is summed on both sides besides the counts: the ledger's spend and tokens, the rollups'.
TOTALS: dict[str, tuple[str, ...]] = {
    "requests": ("cost_usd", "total_tokens"),
    "usage_hourly": ("requests", "cost_nusd", "total_tokens"),
    "usage_errors_hourly": ("errors",),
}

# The identity columns (their sequences set after the copy) and, for users and keys, every column that
# names one of their ids: a new account never gets a number the ledger or a tombstone gives another.
IDENTITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (
        ("users", "id"),
        ("deleted_users", "id"),
        ("deleted_keys", "user_id"),
        ("requests", "user_id"),
        ("usage_hourly", "user_id"),
        ("usage_errors_hourly", "user_id"),
        ("limits", "user_id"),
        ("sessions", "user_id"),
        ("audit_log", "actor_user_id"),
        ("stored_responses", "user_id"),
        ("response_upstream_keys", "user_id"),
        ("budget_alerts", "user_id"),
    ),
    "api_keys": (
        ("api_keys", "id"),
        ("deleted_keys", "id"),
        ("requests", "api_key_id"),
        ("usage_hourly", "api_key_id"),
        ("usage_errors_hourly", "api_key_id"),
        ("limits", "api_key_id"),
        ("stored_responses", "api_key_id"),
        ("budget_alerts", "api_key_id"),
    ),
    "audit_log": (("audit_log", "id"),),
    "limits": (("limits", "id"),),
    "budget_alerts": (("budget_alerts", "id"),),
}

BATCH = 5000  # rows read from the file at a time

# Called after each batch: (table, rows copied of it so far, its rows in all).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class TableCopy:
    """One table's rows and totals, the same on both sides (else the copy failed)."""

    name: str
    rows: int
    totals: tuple[tuple[str, int | float], ...]  # (column, its sum) for the columns of `TOTALS`


@dataclass(frozen=True, slots=True)
class CopyReport:
    tables: tuple[TableCopy, ...]
    next_ids: tuple[tuple[str, int], ...]  # (table, the id its next row gets)
    seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


@contextmanager
def open_source(path: Path, *, busy_timeout: float, staged: Callable[[list[str]], None]) -> Iterator[Store]:
    """The SQLite file at `path` to copy from, never changed: opened read-only when it is up to date;
    when an older llmgw wrote it, a private temporary copy of it (SQLite's backup API, in TMPDIR)
    migrated and read instead, `staged` told the steps that took. FileNotFoundError without a file,
    DatabaseTooNew when a newer llmgw upgraded it."""
    with Store.open_read_only(path, busy_timeout=busy_timeout) as original:
        pending = schema.refuse_unknown(original._conn, path)
        if not pending:
            yield original
            return
        staged(pending)
        with tempfile.TemporaryDirectory(prefix="llmgw-copy-") as tmp:
            original.backup(Path(tmp) / "llmgw.db")
            original.close()
            with Store.open(Path(tmp) / "llmgw.db", busy_timeout=busy_timeout) as migrated:
                yield migrated


def copy_database(
    source: Store, target: Store, *, batch: int = BATCH, progress: Progress | None = None
) -> CopyReport:
    """Copy every table of `source` (a SQLite store, up to date) into `target` (a PostgreSQL store,
    migrated, empty) in one transaction. Raises DatabaseNotEmpty when a table of `target` holds a row,
    CopyFailed when the target refuses a row or the totals differ; either way `target` is unchanged."""
    import psycopg

    if source.postgres or not target.postgres:
        raise CopyFailed("the copy goes from a SQLite file to a PostgreSQL database")
    server = cast("PostgresStore", target)
    started = time.monotonic()
    # Both stores' own connections, under their locks: nothing else runs on them meanwhile.
    with source._lock, server._lock:
        src: sqlite3.Connection = source._conn
        pg: PgSql = server._db
        src.execute("BEGIN")  # one snapshot of the file for the copy and its check
        try:
            pg.begin()
            try:
                _lock_empty(pg, redacted(server.url))
                tables: list[TableCopy] = []
                for table in TABLES:
                    try:
                        _copy_table(src, pg, table, batch, progress)
                    except psycopg.Error as exc:
                        raise CopyFailed(
                            f"the target refused a row of {table}: {exc}; nothing was copied"
                        ) from exc
                    tables.append(_verify(src, pg, table))
                next_ids = _set_sequences(src, pg)
                _verify_spend(pg)
            except BaseException:
                pg.rollback()
                raise
            pg.commit()
        finally:
            src.rollback()
    return CopyReport(tuple(tables), tuple(next_ids), time.monotonic() - started)


def _lock_empty(pg: PgSql, where: str) -> None:
    """Keep other writers out until the commit, then refuse a target with any row."""
    pg.execute(f"LOCK TABLE {', '.join(MUST_BE_EMPTY)} IN EXCLUSIVE MODE")
    held = tuple(t for t in MUST_BE_EMPTY if _one(pg, f"SELECT EXISTS (SELECT 1 FROM {t})"))
    if held:
        raise DatabaseNotEmpty(where, held)


def _columns(src: sqlite3.Connection, pg: PgSql, table: str) -> list[str]:
    """The table's columns, which must be the same on both sides (same migrations: else a bug)."""
    mine = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
    theirs = {
        r[0]
        for r in pg.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?",
            [table],
        )
    }
    if set(mine) != theirs:
        raise CopyFailed(
            f"{table} has other columns in the file ({', '.join(sorted(set(mine) - theirs)) or '-'}) than "
            f"in the target ({', '.join(sorted(theirs - set(mine))) or '-'}); nothing was copied"
        )
    return mine


def _copy_table(
    src: sqlite3.Connection, pg: PgSql, table: str, batch: int, progress: Progress | None
) -> None:
    columns = ", ".join(_columns(src, pg, table))
    total = src.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    done = 0
    rows = src.execute(f"SELECT {columns} FROM {table}")
    with pg.raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        while chunk := rows.fetchmany(batch):
            for row in chunk:
                copy.write_row(row)
            done += len(chunk)
            if progress is not None:
                progress(table, done, total)
    if progress is not None and total == 0:
        progress(table, 0, 0)


def _sums(conn: Any, table: str) -> tuple[int, tuple[int | float, ...]]:
    """COUNT(*) and the sums of `TOTALS` (0 for no rows) of a table, on either engine."""
    sums = [f"COALESCE(SUM({c}), 0)" for c in TOTALS.get(table, ())]
    row = conn.execute(f"SELECT {', '.join(['COUNT(*)', *sums])} FROM {table}").fetchone()
    return int(row[0]), tuple(row[1:])


def _same(a: int | float, b: int | float) -> bool:
    """Integers exactly; sums of floats to their rounding (the engines add in different orders)."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _verify(src: sqlite3.Connection, pg: PgSql, table: str) -> TableCopy:
    """The table's count and totals read back from both sides; CopyFailed when they differ."""
    mine, theirs = _sums(src, table), _sums(pg, table)
    names = TOTALS.get(table, ())
    if mine[0] != theirs[0] or not all(_same(a, b) for a, b in zip(mine[1], theirs[1], strict=True)):
        said = ", ".join(f"{n} {a} vs {b}" for n, a, b in zip(names, mine[1], theirs[1], strict=True))
        raise CopyFailed(
            f"{table} differs after the copy: {mine[0]} rows in the file, {theirs[0]} in the target"
            + (f" ({said})" if said else "")
            + "; rolled back, nothing was copied"
        )
    return TableCopy(table, mine[0], tuple(zip(names, mine[1], strict=True)))


def _verify_spend(pg: PgSql) -> None:
    """The budgets' spend the rollups' triggers made: each period's total, per scope, the rollups' own."""
    for scope, column in (("user", "user_id"), ("key", "api_key_id")):
        want = _one(pg, f"SELECT COALESCE(SUM(cost_nusd), 0) FROM usage_hourly WHERE {column} <> 0")
        for period in ("day", "month"):
            got = _one(
                pg,
                "SELECT COALESCE(SUM(cost_nusd), 0) FROM budget_spend "
                f"WHERE scope = '{scope}' AND period = '{period}'",
            )
            if got != want:
                raise CopyFailed(
                    f"the budgets' {period} spend per {scope} sums to {got} nUSD, the rollups to {want}; "
                    "rolled back, nothing was copied"
                )


def _set_sequences(src: sqlite3.Connection, pg: PgSql) -> list[tuple[str, int]]:
    """Each identity sequence set past the largest id its table ever gave (SQLite's AUTOINCREMENT
    high-water mark, `sqlite_sequence`) and any id anything names; the next ids, by table."""
    issued = dict(src.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    out: list[tuple[str, int]] = []
    for table, holders in IDENTITIES.items():
        named = " UNION ALL ".join(f"SELECT MAX({column}) FROM {name}" for name, column in holders)
        if table == "users":  # a user's id in the audit log's entries about them (m009's rule)
            named += (
                " UNION ALL SELECT MAX(CAST(target_id AS BIGINT)) FROM audit_log "
                "WHERE target_type = 'user' AND target_id ~ '^[0-9]{1,18}$'"
            )
        top = max(
            int(issued.get(table) or 0),
            int(_one(pg, f"SELECT MAX(m) FROM ({named}) AS t(m)") or 0),
        )
        if top > 0:
            pg.execute("SELECT setval(pg_get_serial_sequence(?, 'id'), ?)", [table, top])
        out.append((table, top + 1))
    return out


def _one(pg: PgSql, sql: str) -> Any:
    """The one value a query of our own gives (it always gives a row)."""
    row = pg.execute(sql).fetchone()
    assert row is not None
    return row[0]
