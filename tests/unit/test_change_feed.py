"""PostgreSQL's change announcements (`Store.watch_changes`): another connection's change to users, keys
or limits reaches the listener, and a listener whose connection is lost reconnects and says so (the
watch then reloads, since what was announced meanwhile is lost). SQLite has none: it is polled."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgw.storage import Store
from tests.support import raw_db
from tests.support.postgres import PgServer


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    url = pg_server.create_database()
    Store.open(url).close()  # migrated
    yield url
    pg_server.drop_database(url)


def next_call(calls: queue.Queue[bool]) -> bool:
    return calls.get(timeout=10)  # a bound on a hang, not a timing assertion


def test_sqlite_announces_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "llmgw.db") as store:
        assert store.watch_changes(lambda reconnected: None) is None


def test_a_change_elsewhere_is_announced_and_a_reconnection_too(pg_url: str) -> None:
    calls: queue.Queue[bool] = queue.Queue()
    with Store.open(pg_url) as store:
        watch = store.watch_changes(calls.put)
        assert watch is not None
        try:
            assert next_call(calls) is True  # connected: reload whatever was missed
            now = time.time()
            with raw_db.connection(pg_url) as db:
                db.execute(
                    "INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) "
                    "VALUES ('ada', 'user', NULL, 0, ?, ?)",
                    [now, now],
                )
            assert next_call(calls) is False
            # The server ends the listener's connection (a restart, a failover): it comes back.
            with raw_db.connection(pg_url) as db:
                db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
                )
            assert next_call(calls) is True
            with raw_db.connection(pg_url) as db:
                db.execute("UPDATE users SET disabled = 1 WHERE name = 'ada'")
            assert next_call(calls) is False
        finally:
            watch.stop()
