"""PostgreSQL as the store's engine: the connection, and the shape of it the table functions use.

The table modules were written against SQLite (`?` and `:name` parameters, a `sqlite_utils.Database`'s
`execute` / `query` / `conn.executemany`). `PgSql` gives a psycopg 3 connection that shape: each
statement's parameters rewritten once to psycopg's (`%s`, `%(name)s`; cached per statement text), and
psycopg prepares a statement on the server from its fifth use (`prepare_threshold`), so the ledger's
inserts and the hot reads are planned once per connection. Where the two engines' SQL differs a table
function asks `is_postgres(db)`; everything else is one statement for both.

psycopg is imported only here, and only when a `postgresql://` database is opened: the SQLite path never
loads it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = [
    "PgSql",
    "configure",
    "connect",
    "connect_async",
    "dump_hint",
    "is_postgres",
    "is_url",
    "open_pool",
    "redacted",
]

_SCHEMES = ("postgresql://", "postgres://")

# A quoted string or identifier (left as it is), a `?`, a `:name` (not a `::` cast) or a `%`.
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\?|(?<![:\w]):([A-Za-z_]\w*)|%""")


def is_url(location: str | object) -> bool:
    """Whether a `database` setting names a PostgreSQL server rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(_SCHEMES)


def redacted(url: str) -> str:
    """The URL with any password replaced by `***`: what logs and messages show."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@]*):[^@/]*@", r"\1:***@", url)


def dump_hint(url: str, target: str | object) -> str:
    """What `llmgw backup` says for a PostgreSQL database: the server's own tool, the command to run."""
    return (
        "`llmgw backup` copies a SQLite file; back a PostgreSQL database up with its own tools: "
        f"pg_dump --format=custom --file {target} '{redacted(url)}' (README, Scaling out)"
    )


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's parameter styles → psycopg's: `?` → `%s`, `:name` → `%(name)s` (neither inside quotes),
    every literal `%` → `%%` (psycopg reads its placeholders in quoted text as well)."""

    def one(m: re.Match[str]) -> str:
        text = m.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if m.group(1):
            return f"%({m.group(1)})s"
        return text.replace("%", "%%")  # a quoted string or identifier: psycopg reads `%` in it too

    return _TOKENS.sub(one, sql)


def is_postgres(db: object) -> bool:
    """Whether a table function's `db` is PostgreSQL's (`PgSql`), for the statements that differ."""
    return getattr(db, "postgres", False) is True


def _settings(connect_timeout: float) -> dict[str, Any]:
    """Every connection's: autocommit (transactions are explicit, as on SQLite), UTC, named."""
    return {
        "autocommit": True,
        "connect_timeout": max(1, round(connect_timeout)),
        "options": "-c timezone=UTC",
        "application_name": "llmgw",
    }


def configure(conn: psycopg.Connection[Any]) -> None:
    """Prepared statements from a statement's fifth use, sums read as numbers, flags written as 0/1."""
    conn.prepare_threshold = 5
    loader, dumper = _adapters()
    conn.adapters.register_loader("numeric", loader)
    conn.adapters.register_dumper(bool, dumper)


def connect(url: str, *, connect_timeout: float = 5.0) -> psycopg.Connection[tuple[Any, ...]]:
    """One connection of its own (the migrations, `check_known`, `writable`, the tests' raw access)."""
    import psycopg

    conn = psycopg.connect(url, **_settings(connect_timeout))
    configure(conn)
    return conn


def open_pool(
    url: str, *, connect_timeout: float, size: int, read_only: bool = False
) -> psycopg_pool.ConnectionPool[psycopg.Connection[tuple[Any, ...]]]:
    """A pool of up to `size` connections, each checked (one round trip) as it is handed out, so a
    connection the server dropped (a restart, a failover) is replaced rather than failing a statement;
    waits for the first connection (`connect_timeout`), raising `psycopg_pool.PoolTimeout`."""
    from psycopg_pool import ConnectionPool

    def prepare(conn: psycopg.Connection[Any]) -> None:
        configure(conn)
        if read_only:
            conn.execute("SET default_transaction_read_only = on")

    pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
        url,
        kwargs=_settings(connect_timeout),
        min_size=1,
        max_size=size,
        configure=prepare,
        check=ConnectionPool.check_connection,
        timeout=connect_timeout,
        name="llmgw",
        open=False,
    )
    pool.open(wait=True, timeout=max(1.0, connect_timeout))
    return pool


async def connect_async(url: str, *, connect_timeout: float = 5.0) -> psycopg.AsyncConnection[Any]:
    """`connect`'s settings on an asyncio connection (the budgets' reservations, awaited on the loop)."""
    import psycopg

    conn = await psycopg.AsyncConnection.connect(url, **_settings(connect_timeout))
    conn.prepare_threshold = 0  # one statement, on every budgeted request: planned once
    return conn


@functools.cache
def _adapters() -> tuple[type, type]:
    """How values cross to and from the server as SQLite has them: sums as numbers, flags as 0/1."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.postgres import types

    class FlagDumper(Dumper):
        """A Python bool as the 0/1 integer the flag columns hold (SQLite stores True as 1)."""

        oid = types["int8"].oid

        def dump(self, obj: Any) -> bytes:
            return b"1" if obj else b"0"

    class NumberLoader(Loader):
        """`numeric` (what SUM of a BIGINT column is) as SQLite gives a sum: an int when whole, else a
        float; never a Decimal the callers would have to know about."""

        def load(self, data: Any) -> int | float:
            text = bytes(data)
            return float(text) if b"." in text or b"e" in text.lower() else int(text)

    return NumberLoader, FlagDumper


class PgSql:
    """A psycopg connection in the shape the table functions use (`execute`, `executemany`, `query`,
    and `conn`, itself, where they reach for sqlite-utils' raw connection)."""

    postgres = True

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.raw = conn

    @property
    def conn(self) -> PgSql:
        return self

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        return self.raw.execute(translate(sql), parameters or None)

    def value(self, sql: str, parameters: Any = (), /) -> Any:
        """The first column of the one row a query returns."""
        row = self.execute(sql, parameters).fetchone()
        assert row is not None, sql
        return row[0]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None:
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cur:
                cur.executemany(translate(sql), rows)

    def query(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = (), /) -> Iterator[dict[str, Any]]:
        """Rows as dicts keyed by column name, as sqlite-utils' `query` gives them."""
        cur = self.execute(sql, parameters)
        names = [c.name for c in cur.description or ()]
        for row in cur.fetchall():
            yield dict(zip(names, row, strict=True))

    def begin(self, *, exclusive: bool = False) -> None:
        """Start a transaction; `exclusive`: serialised with every other exclusive one on the database,
        as SQLite's `BEGIN IMMEDIATE` is (an account use case's check holds when it commits)."""
        self.raw.execute("BEGIN")
        if exclusive:
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", [ACCOUNTS_LOCK])

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.info.transaction_status != 0:  # not idle: a transaction (or a failed one) is open
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()


# The advisory lock an account use case's transaction takes (any number: one the gateway owns).
ACCOUNTS_LOCK = 0x6C6C6D67  # "llmg"
# The one that serialises migrations of a database between instances starting together.
MIGRATIONS_LOCK = 0x6C6C6D68
