"""The store on PostgreSQL: the same public methods as SQLite's `Store` (it is one), over one psycopg
connection serialised by the same lock, with the table functions' SQL (`postgres.PgSql` adapts it).

What differs from a file: no serve lock (several instances share the database: that is the point), the
migrations serialised by an advisory lock (instances starting together apply them once), an account use
case's write transaction serialised by another (SQLite's `BEGIN IMMEDIATE`), `data_version` read from
`llmgw_changes` (bumped by triggers, pg_schema.py), `db check` asked of the server's catalogue, and a
backup left to `pg_dump` (`backup` says so). A lost connection is reopened on the next call.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import psycopg
from psycopg_pool import ConnectionPool

from llmgw.errors import DatabaseTooNew, DatabaseUnreadable
from llmgw.storage import (
    budget_holds,
    budget_spend,
    instances,
    key_events,
    login_failures,
    pg_schema,
    requests,
)
from llmgw.storage.accounts import Accounts
from llmgw.storage.budget_holds import BudgetAsk, Reservation
from llmgw.storage.database import ChangeWatch, Store
from llmgw.storage.health import DbHealth
from llmgw.storage.key_events import KeyEvent
from llmgw.storage.limits import Spend
from llmgw.storage.postgres import (
    MIGRATIONS_LOCK,
    PgSql,
    connect,
    connect_async,
    dump_hint,
    open_pool,
    redacted,
)
from llmgw.storage.requests import UsageRow
from llmgw.storage.schema import MIGRATION_NAMES
from llmgw.storage.spool_owners import SpoolOwners

__all__ = ["PostgresStore"]


class PostgresStore(Store):
    """The PostgreSQL store. Thread-safe: each method runs on a connection of a pool that its thread
    holds for the call (`_Checkout`, in `Store._lock`'s place), so the ledger's writer, the portal's
    threads and the loops run their statements side by side."""

    postgres = True
    integrity_errors: tuple[type[Exception], ...] = (psycopg.IntegrityError,)
    # A row's own fault. Not InterfaceError: psycopg raises it for a connection already closed, which
    # is the database being away (OperationalError and the rest: the rows are kept for later).
    row_faults: tuple[type[Exception], ...] = (psycopg.IntegrityError, psycopg.DataError, OverflowError)

    def __init__(
        self, pool: ConnectionPool[psycopg.Connection[Any]], url: str, connect_timeout: float
    ) -> None:
        self._pool = pool
        self.url = url
        self.path = Path(redacted(url))  # what messages name; nothing is created there
        # The same `with`, a pooled connection; a thread waits for one at most as long as a connection
        # takes to make, and no more than 2 s: with the server down, the ledger's writer must fail fast
        # and spool, as it does at once when a SQLite file cannot be opened.
        wait = max(0.5, min(connect_timeout, 2.0))
        self._held = _Checkout(pool, wait)
        self._lock = self._held  # type: ignore[assignment]
        self._closed = False
        self._connect_timeout = connect_timeout
        # The budgets' connection: asyncio's, opened on first use by the loop that reserves.
        self._aconn: psycopg.AsyncConnection[Any] | None = None
        self._aconn_lock: asyncio.Lock | None = None

    @property
    def _db(self) -> Any:
        """The connection the calling thread holds (inside `with self._lock`)."""
        return self._held.db

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout: float = 5.0) -> Self:
        """Connect to the database at the URL `path` and apply pending steps (once across instances);
        DatabaseTooNew when a newer llmgw upgraded it."""
        url = str(path)
        try:
            pg = PgSql(connect(url, connect_timeout=busy_timeout))
        except Exception as exc:
            raise DatabaseUnreadable(f"cannot connect to the database {redacted(url)}: {exc}") from exc
        try:
            _migrate(pg, redacted(url))
        except psycopg.Error as exc:  # e.g. no right to create tables, a server built without ICU
            raise DatabaseUnreadable(
                f"cannot apply llmgw's schema to the database {redacted(url)}: {exc}"
                ' (README, "Scaling out": PostgreSQL 13 or newer, built with ICU; a role that may create'
                " tables in it)"
            ) from exc
        finally:
            pg.close()
        return cls(_pool(url, busy_timeout), url, busy_timeout)

    @classmethod
    def open_read_only(cls, path: str | Path, *, busy_timeout: float = 5.0) -> Self:
        """Connect without applying anything; every transaction read-only (`db check`)."""
        url = str(path)
        return cls(_pool(url, busy_timeout, read_only=True), url, busy_timeout)

    @staticmethod
    def check_known(path: str | Path) -> None:
        try:
            pg = PgSql(connect(str(path)))
        except Exception as exc:
            raise DatabaseUnreadable(f"cannot connect to the database {redacted(str(path))}: {exc}") from exc
        try:
            _refuse_unknown(pg, redacted(str(path)))
        finally:
            pg.close()

    @contextmanager
    def accounts(self, *, write: bool = True) -> Iterator[Accounts]:
        with self._lock:
            db = self._held.db
            db.begin(exclusive=write)
            try:
                yield Accounts(db)
            except BaseException:
                db.rollback()
                raise
            db.commit()

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        db = self._held.db
        db.begin()
        try:
            yield
        except BaseException:
            db.rollback()
            raise
        db.commit()

    def data_version(self) -> int:
        """Bumped by every change to users, keys and limits, whoever made it (pg_schema's triggers)."""
        with self._lock:
            version: int = self._held.db.value("SELECT version FROM llmgw_changes WHERE id = 1")
            return version

    def health(self, *, quick: bool = False) -> DbHealth:
        with self._lock:
            db = self._held.db
            done = _applied(db)
            return DbHealth(
                path=redacted(self.url),
                integrity=("ok",),  # the server checks its own pages (data checksums, if enabled)
                quick=quick,
                foreign_key_problems=(),  # enforced by the server, never deferred
                applied=tuple(done),
                pending=tuple(n for n in MIGRATION_NAMES if n not in done),
                unknown=tuple(n for n in done if n not in MIGRATION_NAMES),
                journal_mode="",  # SQLite's; the server keeps its own write-ahead log
                spool_files=(),  # each instance's own, on its machine (`spool_path`)
                server="PostgreSQL " + str(db.value("SHOW server_version")),
            )

    def spool_path(self) -> Path:
        """A file of this machine's (the database is elsewhere): in the user data dir, by database and
        process, so instances on one machine never share one (`spool_owners`)."""
        return self.spool_owners().spool_of(os.getpid())

    def spool_owners(self) -> SpoolOwners:
        from llmgw.settings.locations import default_database

        digest = hashlib.sha256(redacted(self.url).encode()).hexdigest()[:16]
        return SpoolOwners(Path(default_database()).parent / "spool", digest)

    def watch_changes(self, on_change: Callable[[bool], None]) -> ChangeWatch:
        """`LISTEN llmgw_changes` on a connection of its own, in a thread (pg_changes.py)."""
        from llmgw.storage.pg_changes import ChangeFeed

        return ChangeFeed(self.url, on_change, self._connect_timeout).start()

    def file_mode_warnings(self) -> list[str]:
        return []

    def writable(self, timeout: float) -> bool:
        """Whether the server takes a write now: a connection of its own within `timeout`, not a
        read-only standby. Blocking: call it from a worker thread."""
        try:
            conn = connect(self.url, connect_timeout=timeout)
        except Exception:
            return False
        try:
            return conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
        except Exception:
            return False
        finally:
            conn.close()

    def backup(self, target: str | Path, *, overwrite: bool = False) -> None:
        raise DatabaseUnreadable(dump_hint(self.url, target))

    def pragmas(self) -> dict[str, Any]:
        with self._lock:
            db = self._held.db
            names = ("server_version", "transaction_isolation", "timezone")
            return {n: db.value(f"SHOW {n}") for n in names}

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.close()

    # -- what instances sharing the database agree on (m017) ------------------------------------------

    def insert_requests(self, rows: Sequence[UsageRow]) -> None:
        """The ledger's batch, and in its transaction the release of the budget holds of its requests:
        the rollups' triggers count their exact cost in `budget_spend` as their holds go."""
        if not rows:
            return
        with self._lock, self._immediate():
            db = self._db
            requests.insert(db, rows)
            budget_holds.release(
                db, [r.request_id for r in rows if r.user_id is not None or r.api_key_id is not None]
            )

    async def reserve_budget(
        self,
        request_id: str,
        instance: str,
        cost_usd: float,
        stale: float,
        user: BudgetAsk | None,
        key: BudgetAsk | None,
    ) -> Reservation:
        """Check a request's budgets against every instance's spend and holds and hold its worst case,
        in one round trip on the event loop's own connection (reopened if lost); raises when the
        server cannot be reached."""
        if self._aconn_lock is None:
            self._aconn_lock = asyncio.Lock()
        conn = self._aconn
        if conn is None or conn.closed or conn.broken:
            async with self._aconn_lock:
                conn = self._aconn
                if conn is None or conn.closed or conn.broken:
                    conn = self._aconn = await connect_async(self.url, connect_timeout=self._connect_timeout)
        return await budget_holds.reserve(conn, request_id, instance, cost_usd, stale, user, key)

    async def close_async(self) -> None:
        """Close the budgets' connection (on the loop that opened it), before `close`."""
        if self._aconn is not None:
            await self._aconn.close()
            self._aconn = None

    def heartbeat(self, instance: str, stale: float, settled: Sequence[str]) -> int:
        """Say this instance is alive; release its holds of `settled` requests; clear dead instances and
        their holds. Returns the live instances (this one included)."""
        with self._lock, self._immediate():
            return instances.heartbeat(self._db, instance, stale, settled)

    def leave(self, instance: str) -> None:
        """This instance stops: its holds and its heartbeat go."""
        with self._lock, self._immediate():
            instances.leave(self._db, instance)

    def budget_spent(self, period: str, period_start: float) -> Spend:
        """Every user's and key's spend in a period, by every instance (`budget_spend`)."""
        with self._lock:
            return budget_spend.spent(self._db, period, period_start)

    def rebuild_budget_spend(self) -> None:
        """Recount `budget_spend` from the rollups."""
        with self._lock, self._immediate():
            budget_spend.rebuild(self._db)

    def append_key_events(self, events: Sequence[KeyEvent]) -> None:
        """Publish upstream keys' stated waits and rejections for the other instances."""
        if events:
            with self._lock, self._immediate():
                key_events.append(self._db, events)

    def key_events_since(self, seq: int, instance: str) -> list[tuple[int, KeyEvent]]:
        """Other instances' key events after `seq`, oldest first, with their seq."""
        with self._lock:
            return key_events.since(self._db, seq, instance)

    def latest_key_event(self) -> int:
        with self._lock:
            return key_events.latest(self._db)

    def prune_key_events(self, before: float) -> None:
        with self._lock:
            key_events.prune(self._db, before)

    def login_failures(self, entries: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, float]]:
        """The login throttle's (count, last failure) per (kind, name) asked."""
        with self._lock:
            return login_failures.read(self._db, entries)

    def count_login_failures(
        self, entries: Sequence[tuple[str, str]], now: float, forget_after: float
    ) -> None:
        with self._lock, self._immediate():
            login_failures.count(self._db, entries, now, forget_after)

    def give_back_login_failures(self, entries: Sequence[tuple[str, str]]) -> None:
        with self._lock, self._immediate():
            login_failures.give_back(self._db, entries)

    def forget_login_failures(self, entry: tuple[str, str]) -> None:
        with self._lock:
            login_failures.forget(self._db, entry)

    def prune_login_failures(self, before: float) -> None:
        with self._lock:
            login_failures.prune(self._db, before)


def _applied(db: PgSql) -> list[str]:
    exists = db.value("SELECT to_regclass(?) IS NOT NULL", [pg_schema.MIGRATIONS_TABLE])
    if not exists:
        return []
    return [r[0] for r in db.execute(f"SELECT name FROM {pg_schema.MIGRATIONS_TABLE} ORDER BY seq")]


def _refuse_unknown(db: PgSql, where: str) -> list[str]:
    done = _applied(db)
    unknown = tuple(n for n in done if n not in MIGRATION_NAMES)
    if unknown:
        raise DatabaseTooNew(where, unknown)
    return [n for n in MIGRATION_NAMES if n not in done]


def _migrate(db: PgSql, where: str) -> None:
    """Apply the pending steps, each in its own transaction, under the migrations' advisory lock."""
    if not _refuse_unknown(db, where):
        return  # up to date: no lock taken
    db.begin()
    try:
        db.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATIONS_LOCK])
        pending = _refuse_unknown(db, where)  # again, now that no one else is migrating
        if pending:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {pg_schema.MIGRATIONS_TABLE} ("
                "seq BIGINT GENERATED ALWAYS AS IDENTITY, name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            steps = dict(pg_schema.STEPS)
            if pending[0] == pg_schema.BASELINE_NAMES[0]:
                for statement in pg_schema.baseline():
                    db.raw.execute(statement)  # our own DDL, no parameters
                for name in pg_schema.BASELINE_NAMES:
                    db.execute(
                        f"INSERT INTO {pg_schema.MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                        [name, now],
                    )
                pending = pending[len(pg_schema.BASELINE_NAMES) :]
            for name in pending:
                for statement in steps[name]():
                    db.raw.execute(statement)
                db.execute(
                    f"INSERT INTO {pg_schema.MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)", [name, now]
                )
    except BaseException:
        db.rollback()
        raise
    db.commit()


# Connections a store's pool holds at most: the ledger's writer, the stored responses' writer, a loop and
# a portal or TUI thread at once (the budgets' reservations and the change listener have their own).
POOL_SIZE = 4


def _pool(
    url: str, connect_timeout: float, *, read_only: bool = False
) -> ConnectionPool[psycopg.Connection[Any]]:
    try:
        return open_pool(url, connect_timeout=connect_timeout, size=POOL_SIZE, read_only=read_only)
    except Exception as exc:
        raise DatabaseUnreadable(f"cannot connect to the database {redacted(url)}: {exc}") from exc


class _Checkout:
    """What `Store._lock` is on PostgreSQL: `with` it, the calling thread holds one of the pool's
    connections (`db`) until the block ends; a connection left in a transaction by an error is rolled
    back by the pool as it comes back, and one the server dropped is discarded."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]], wait: float) -> None:
        self._pool = pool
        self._wait = wait
        self._held = threading.local()

    @property
    def db(self) -> PgSql:
        db: PgSql | None = getattr(self._held, "db", None)
        if db is None:
            raise RuntimeError("a PostgreSQL store's connection is used outside `with store._lock`")
        return db

    def __enter__(self) -> None:
        if getattr(self._held, "db", None) is not None:
            raise RuntimeError("a PostgreSQL store's connection is already held by this thread")
        self._held.db = PgSql(self._pool.getconn(timeout=self._wait))  # PoolTimeout: unavailable

    def __exit__(self, *exc: object) -> None:
        db, self._held.db = self._held.db, None
        self._pool.putconn(db.raw)
