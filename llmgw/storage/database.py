"""The store: one SQLite file opened with its pragmas and migrations, and the one object every caller
of storage holds. Its methods take the lock and the transaction; each table's SQL lives in its own
module (`requests.py` …). A PostgreSQL store will implement the same public methods later.

sqlite-utils (~100 ms to import: click, pluggy, dateutil) is imported only when a migration is pending
or a method that uses it runs: an account use case runs its SQL on the plain `sqlite3` connection, so
`llmgw user list` on an up-to-date file never loads it (tests/process/test_import_hygiene.py).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from llmgw.errors import DatabaseUnreadable
from llmgw.storage import (
    accounts,
    auth_failures,
    budget_alerts,
    health,
    key_states,
    limits,
    request_log,
    requests,
    rollups,
    schema,
    stored_responses,
)
from llmgw.storage.accounts import Accounts, ApiKeyRecord
from llmgw.storage.budget_alerts import SentAlert
from llmgw.storage.file_modes import create_private, loose_modes, make_private_dirs, warning
from llmgw.storage.health import DbHealth
from llmgw.storage.key_states import KeyStateRow
from llmgw.storage.limits import LimitRow, Spend
from llmgw.storage.postgres import is_url
from llmgw.storage.request_log import Cursor, LogQuery
from llmgw.storage.requests import UsageRow
from llmgw.storage.rollups import UsageStats
from llmgw.storage.stored_responses import StoredResponse, UpstreamResponseKey

if TYPE_CHECKING:
    import sqlite_utils

    from llmgw.storage.spool_owners import SpoolOwners

__all__ = ["ChangeWatch", "Store"]


class ChangeWatch(Protocol):
    """A running watch of other processes' changes (`Store.watch_changes`)."""

    def stop(self) -> None: ...


_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",  # safe with WAL: a power cut may lose the last commits, never corrupt
    # What sqlite-utils sets on a connection it wraps, set here first: the connection behaves the same
    # whether or not (or whenever) `_db` wraps it.
    "PRAGMA recursive_triggers=on",
)


class Store:
    """The SQLite store (and, through `open`, `pg_store.PostgresStore`'s base). Thread-safe: one
    connection, serialised by a lock."""

    postgres = False
    # What the database raises for a row it refuses (a foreign key gone): the engine's own class.
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    # What it raises for a ledger row's own fault (the spool rejects the row rather than keep it for a
    # replay that would fail again); anything else means the database is unavailable.
    row_faults: tuple[type[Exception], ...] = (
        sqlite3.IntegrityError,
        sqlite3.DataError,
        sqlite3.InterfaceError,
        OverflowError,
    )

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        """Wrap an open connection; use `Store.open()` rather than calling this directly."""
        self._conn = conn
        self._wrapped: sqlite_utils.Database | None = None
        self.path = path
        # One connection is shared by the ledger writer thread and readers on other threads;
        # the lock keeps one thread's transaction from swallowing another thread's statements.
        self._lock = threading.Lock()
        self._closed = False

    @property
    def _db(self) -> sqlite_utils.Database:
        """The connection wrapped by sqlite-utils, for the table functions that use it (made on first
        use, under `_lock` as every use is: importing sqlite-utils is most of a short command's start)."""
        if self._wrapped is None:
            self._wrapped = _wrap(self._conn)
        return self._wrapped

    @classmethod
    def open(cls, path: str | Path, *, busy_timeout: float = 5.0) -> Self:
        """Open (creating if needed) the SQLite file at `path`, set pragmas and apply migrations; raise
        DatabaseTooNew, changing nothing, when a newer llmgw upgraded the file.

        `busy_timeout`: seconds a statement waits for another connection's lock (another process
        writing the same file) before it fails with "database is locked".

        A `postgresql://` URL opens a `PostgresStore` instead (`pg_store.py`, its `busy_timeout` the
        connect timeout): psycopg is imported only then."""
        if is_url(path) and cls is Store:
            from llmgw.storage.pg_store import PostgresStore

            return PostgresStore.open(path, busy_timeout=busy_timeout)  # type: ignore[return-value]
        path = Path(path)
        make_private_dirs(path.parent)
        create_private(path)  # before SQLite would, with 0644: its -wal and -shm take this file's mode
        conn = sqlite3.connect(path, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
            # Before any pragma: a file a newer llmgw upgraded is refused unchanged (DatabaseTooNew).
            pending = schema.refuse_unknown(conn, path)
            for pragma in _PRAGMAS:
                conn.execute(pragma)
            if pending:  # the migrations and sqlite-utils only when needed
                from llmgw.storage.migrations import migrations

                migrations.apply(_wrap(conn))
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @staticmethod
    def check_known(path: str | Path) -> None:
        """Raise DatabaseTooNew when the file at `path` was upgraded by a newer llmgw, changing nothing
        (`llmgw serve` asks before it takes the serve lock; `open` refuses such a file too)."""
        if is_url(path):
            from llmgw.storage.pg_store import PostgresStore

            PostgresStore.check_known(path)
            return
        schema.check_known(Path(path))

    @classmethod
    def open_read_only(cls, path: str | Path, *, busy_timeout: float = 5.0) -> Self:
        """Open the existing SQLite file at `path` read-only: no migration, no pragma written, never
        created (raises FileNotFoundError). For `llmgw db check` and `llmgw backup`."""
        if is_url(path) and cls is Store:
            from llmgw.storage.pg_store import PostgresStore

            return PostgresStore.open_read_only(path, busy_timeout=busy_timeout)  # type: ignore[return-value]
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no database at {path}")
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
        return cls(conn, path)

    def health(self, *, quick: bool = False) -> DbHealth:
        """Integrity, foreign keys, migrations applied and pending, journal mode, spool files."""
        with self._lock:
            try:
                return health.health(self._db, self.path, quick=quick)
            except sqlite3.DatabaseError as exc:  # not a database, or damaged past reading
                raise DatabaseUnreadable(str(exc)) from exc

    def file_mode_warnings(self) -> list[str]:
        """One sentence, with the fix, per file of this database that its group or others may access."""
        return [warning(p, mode) for p, mode in loose_modes(health.database_files(self.path))]

    def writable(self, timeout: float) -> bool:
        """Whether the file takes a write now (`/readyz`): SQLite's write lock taken on a connection of
        its own (never created: a file gone is not writable) within `timeout` seconds, and given back
        with nothing written. False for a file locked past `timeout`, read-only or gone. Blocking: call
        it from a worker thread. It does not wait for this store's lock (the ledger's writes)."""
        try:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=rw", uri=True, timeout=timeout, isolation_level=None
            )
        except sqlite3.Error:
            return False
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False
        finally:
            conn.close()

    def backup(self, target: str | Path, *, overwrite: bool = False) -> None:
        """A consistent copy of the database at `target`, taken while others keep writing (SQLite's
        online backup API); raises FileExistsError if `target` exists and not `overwrite`."""
        with self._lock:
            try:
                health.backup(self._conn, Path(target), overwrite=overwrite)
            except sqlite3.DatabaseError as exc:
                raise DatabaseUnreadable(str(exc)) from exc

    @contextmanager
    def accounts(self, *, write: bool = True) -> Iterator[Accounts]:
        """One account use case as one transaction: what it reads to check its rules and what it
        writes, its audit entry included, commit together or roll back together on any exception.

        `BEGIN IMMEDIATE` takes SQLite's write lock up front (waiting up to `busy_timeout` for another
        process, e.g. a running `llmgw serve`), so a check such as "another active admin remains" still
        holds when the change commits, whichever process writes next. `write=False`: a plain `BEGIN`,
        one consistent snapshot for a listing, never waiting for writers."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Accounts(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """A write transaction that takes SQLite's write lock first (the caller holds `_lock`). One that
        reads before it writes (the ledger's insert looks up replaced rows) must: in WAL mode, a deferred
        transaction whose snapshot another process's commit made stale fails at its first write with
        "database is locked" at once, never waiting `busy_timeout` (SQLITE_BUSY_SNAPSHOT)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def spool_path(self) -> Path:
        """Where the ledger's writer spools rows the database cannot take: `<database>.spool`."""
        return Path(f"{self.path}.spool")

    def api_key_records(self) -> list[ApiKeyRecord]:
        """Every personal API key with its owner's state, for the running gateway's key index."""
        with self._lock:
            return accounts.api_key_records(self._db)

    def data_version(self) -> int:
        """Changes whenever another connection (another process) has committed to the database."""
        with self._lock:
            return accounts.data_version(self._db)

    def watch_changes(self, on_change: Callable[[bool], None]) -> ChangeWatch | None:
        """Call `on_change(reconnected)` from another thread whenever another process changes users, keys
        or limits, if the engine announces it: None on SQLite, whose `data_version` is only polled."""
        return None

    def spool_owners(self) -> SpoolOwners | None:
        """The spools of other processes on this database that this one may replay (PostgreSQL: every
        instance spools on its own); None on SQLite, where the serve lock keeps one spool's writer."""
        return None

    def touch_api_keys(self, last_used: dict[int, float]) -> None:
        """Record keys' last use in one transaction (batched by the caller: never a write per request)."""
        if not last_used:
            return
        with self._lock, self._immediate():
            accounts.touch_api_keys(self._db, last_used)

    def insert_requests(self, rows: Sequence[UsageRow]) -> None:
        """Insert a batch of ledger rows in one transaction; a repeated request_id replaces the older row."""
        if not rows:
            return
        with self._lock, self._immediate():
            requests.insert(self._db, rows)

    def add_auth_failures(self, run: str, counts: Sequence[tuple[int, int]]) -> None:
        """Store a gateway run's running counts of failed authentications, as (minute, count) pairs."""
        if not counts:
            return
        with self._lock, self._immediate():
            auth_failures.add(self._db, run, counts)

    def auth_failure_count(self, since: float | None = None) -> int:
        """Requests refused for a missing or wrong key since `since` (unix seconds; None = all time),
        to the minute."""
        with self._lock:
            return auth_failures.count(self._db, since)

    def recent_requests(self, limit: int) -> list[dict[str, Any]]:
        """Return the newest `limit` rows as dicts keyed by column name, booleans as `bool`."""
        with self._lock:
            return requests.recent(self._db, limit)

    def recent_requests_of(self, user_id: int, since: float, limit: int) -> list[dict[str, Any]]:
        """One user's newest `limit` rows since `since`, as `recent_requests` gives them."""
        with self._lock:
            return requests.recent_of_user(self._db, user_id, since, limit)

    def request_activity(self, since: float, width: int) -> list[dict[str, Any]]:
        """Requests, errors, tokens and cost per `width`-second bucket since `since` (the TUI's charts)."""
        with self._lock:
            return requests.activity(self._db, since, width)

    def recent_requests_with_users(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` rows, everyone's, each with its user's name (the TUI's live tail)."""
        with self._lock:
            return requests.recent_with_users(self._db, limit)

    def request_log(self, query: LogQuery, *, before: Cursor | None, limit: int) -> list[dict[str, Any]]:
        """At most `limit` ledger rows matching `query`, newest first, older than `before` (a keyset:
        the (created_at, request_id) of the last row shown), every column keyed by name."""
        with self._lock:
            return request_log.page(self._db, query, before=before, limit=limit)

    def request_by_id(self, request_id: str) -> dict[str, Any] | None:
        """The ledger row of one request id, whoever made it (the service applies the owner rule)."""
        with self._lock:
            return request_log.one(self._db, request_id)

    def request_counts(self, since: float, until: float) -> dict[str, Any]:
        """Requests, errors, tokens and cost of the ledger's rows over [since, until)."""
        with self._lock:
            return request_log.day_counts(self._db, since, until)

    def usage_rollups(
        self,
        *,
        since: float | None,
        until: float | None,
        user_id: int | None = None,
        dims: Sequence[str] = (),
    ) -> dict[tuple[Any, ...], UsageStats]:
        """Usage from the hourly rollups over [since, until) (whole hours; None: unbounded), of one user
        (`user_id`) or everyone, per group of `dims` (`rollups.DIMENSIONS`: user, key, provider, model,
        hour, day, month, source). Never reads raw ledger rows."""
        with self._lock:
            return rollups.totals(self._db, since=since, until=until, user_id=user_id, dims=dims)

    def purge_requests_before(self, cutoff: float, limit: int = 500) -> int:
        """Delete at most `limit` of the oldest ledger rows created before `cutoff`, in one short
        transaction (call again until it returns less than `limit`); the rollups keep their counts."""
        with self._lock, self._immediate():
            return requests.delete_before(self._db, cutoff, limit)

    def purge_rollups_before(self, cutoff: float, limit: int = 500) -> int:
        """Delete at most `limit` hourly rollup rows of hours that ended by `cutoff`."""
        with self._lock, self._immediate():
            return rollups.delete_before(self._db, cutoff, limit)

    def limit_rows(self) -> list[LimitRow]:
        """Every user's and key's limits, for the running gateway's limiter."""
        with self._lock:
            return limits.limit_rows(self._db)

    def sent_budget_alerts(self, since: float) -> list[SentAlert]:
        """The budget alerts delivered for periods starting at or after `since`."""
        with self._lock:
            return budget_alerts.sent_since(self._db, since)

    def record_budget_alert(self, alert: SentAlert, sent_at: float) -> None:
        """Record a delivered budget alert (once: again changes nothing)."""
        with self._lock, self._immediate():
            budget_alerts.insert(self._db, alert, sent_at)

    def spend_since(self, since: float) -> Spend:
        """The priced spend per user and per key since `since` (unix seconds, whole UTC hours), from the
        hourly rollups: raw rows purged by retention still count."""
        with self._lock:
            return limits.spend_since(self._db, since)

    def publish_key_states(self, rows: Sequence[KeyStateRow]) -> None:
        """Replace the upstream keys' published states with `rows`, in one transaction."""
        with self._lock, self._immediate():
            key_states.replace(self._db, rows)

    def key_states(self) -> list[KeyStateRow]:
        """The upstream keys' states as the gateway last published them, by provider and slot."""
        with self._lock:
            return key_states.read(self._db)

    def insert_stored_responses(
        self, responses: Sequence[StoredResponse], keys: Sequence[UpstreamResponseKey]
    ) -> list[str]:
        """Store responses and upstream-key records in one transaction; returns the ids the database
        refused (a record whose user was deleted meanwhile), the others written one by one then."""
        if not responses and not keys:
            return []
        with self._lock:
            try:
                with self._immediate():
                    stored_responses.insert(self._db, responses)
                    stored_responses.insert_upstream_keys(self._db, keys)
                return []
            except self.integrity_errors:
                pass
            refused: list[str] = []
            for r in responses:
                try:
                    with self._immediate():
                        stored_responses.insert(self._db, [r])
                except self.integrity_errors:
                    refused.append(r.id)
            for k in keys:
                try:
                    with self._immediate():
                        stored_responses.insert_upstream_keys(self._db, [k])
                except self.integrity_errors:
                    refused.append(k.response_id)
            return refused

    def stored_response(self, response_id: str) -> StoredResponse | None:
        """The stored response of that id, whoever owns it (the service applies the owner rule)."""
        with self._lock:
            return stored_responses.get(self._db, response_id)

    def stored_response_with_item(
        self, item_id: str, user_id: int | None, since: float
    ) -> StoredResponse | None:
        """The newest response of `user_id` created since `since` that holds an item of that id."""
        with self._lock:
            return stored_responses.find_item(self._db, item_id, user_id, since)

    def response_upstream_key(self, response_id: str) -> UpstreamResponseKey | None:
        """Which upstream key made a response an OpenAI upstream keeps, if the gateway recorded it."""
        with self._lock:
            return stored_responses.upstream_key(self._db, response_id)

    def delete_stored_response(self, response_id: str) -> bool:
        """Delete a stored response and any upstream-key record of that id; whether there was one."""
        with self._lock, self._immediate():
            stored = stored_responses.delete(self._db, response_id)
            return stored_responses.delete_upstream_key(self._db, response_id) or stored

    def purge_stored_responses_before(self, cutoff: float, limit: int) -> int:
        """Delete at most `limit` of the oldest stored responses, and at most `limit` upstream-key
        records, created before `cutoff`, in one short transaction; the rows deleted (call again while
        that is `limit` or more)."""
        with self._lock, self._immediate():
            return stored_responses.delete_before(
                self._db, cutoff, limit
            ) + stored_responses.delete_upstream_keys_before(self._db, cutoff, limit)

    def pragmas(self) -> dict[str, Any]:
        """Return the connection settings `open()` applies, as SQLite reports them (for diagnostics)."""
        names = ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        with self._lock:
            return {name: self._db.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _wrap(conn: sqlite3.Connection) -> sqlite_utils.Database:
    import sqlite_utils

    # Plugins are off: nothing outside llmgw should touch the gateway's connection.
    return sqlite_utils.Database(conn, execute_plugins=False)
