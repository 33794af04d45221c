"""Another connection to a test's database, on either engine: what another process (the CLI, another
instance) would read or write through its own connection, bypassing the store under test. Statements in
SQLite's parameter style (`?`), as the storage modules write them; a PostgreSQL connection adapts them."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmgw.storage import Store
from llmgw.storage.postgres import PgSql, is_url
from llmgw.storage.postgres import connect as pg_connect


def where(store: Store) -> str:
    """The location a store was opened at: its file, or its server's URL."""
    return str(getattr(store, "url", store.path))


@contextlib.contextmanager
def connection(location: str | Path | Store) -> Iterator[Any]:
    """One transaction on a connection of its own, committed at the end (foreign keys enforced)."""
    if isinstance(location, Store):
        location = where(location)
    if is_url(location):
        pg = PgSql(pg_connect(str(location)))
        try:
            pg.begin()
            yield pg
            pg.commit()
        finally:
            pg.close()
        return
    with contextlib.closing(sqlite3.connect(location)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        with conn:
            yield conn


def rows(location: str | Path | Store, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    """A query's rows, as tuples, read through a connection of its own."""
    with connection(location) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


@contextlib.contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every statement the store runs inside the block (SQLite's trace callback on its connection; on
    PostgreSQL, what any of its pool's connections is asked to execute)."""
    seen: list[str] = []
    if not store.postgres:
        conn = store._db.conn
        conn.set_trace_callback(seen.append)
        try:
            yield seen
        finally:
            conn.set_trace_callback(None)
        return
    execute, executemany = PgSql.execute, PgSql.executemany

    def traced(self: PgSql, sql: str, *args: Any) -> Any:
        seen.append(sql)
        return execute(self, sql, *args)

    def traced_many(self: PgSql, sql: str, *args: Any) -> Any:
        seen.append(sql)
        return executemany(self, sql, *args)

    PgSql.execute, PgSql.executemany = traced, traced_many  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        PgSql.execute, PgSql.executemany = execute, executemany  # type: ignore[method-assign]
