"""What only the PostgreSQL store has: its schema under SQLite's step names, migrations applied once by
instances starting together, the parameter translation, values as the table functions expect them (sums
as numbers, flags as 0/1), a URL's password never shown, a connection the server dropped replaced, and
the pool's connections used side by side by several threads."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest

from llmgw.errors import DatabaseTooNew, DatabaseUnreadable
from llmgw.storage import Store, UsageRow, pg_schema
from llmgw.storage.postgres import redacted, translate
from llmgw.storage.schema import MIGRATION_NAMES
from tests.support import raw_db
from tests.support.postgres import PgServer


@pytest.fixture
def url(pg_server: PgServer) -> Iterator[str]:
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with Store.open(url) as s:
        yield s


@pytest.mark.parametrize(
    ("sqlite", "psycopg"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("SELECT :since, :width", "SELECT %(since)s, %(width)s"),
        ("SELECT x::bigint FROM t WHERE y = ?", "SELECT x::bigint FROM t WHERE y = %s"),
        (
            "SELECT '?', 'a:b', '%' WHERE z LIKE 'x%' AND w = ?",
            "SELECT '?', 'a:b', '%%' WHERE z LIKE 'x%%' AND w = %s",
        ),
        ('SELECT "odd?" FROM t', 'SELECT "odd?" FROM t'),
        ("SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , %s"),
    ],
)
def test_parameters_translate_outside_quotes(sqlite: str, psycopg: str) -> None:
    assert translate(sqlite) == psycopg


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://llmgw:s3cret@db:5432/llmgw", "postgresql://llmgw:***@db:5432/llmgw"),
        ("postgres://u:p%40ss@h/d?sslmode=require", "postgres://u:***@h/d?sslmode=require"),
        ("postgresql://llmgw@db/llmgw", "postgresql://llmgw@db/llmgw"),
        ("postgresql:///llmgw?host=/run/postgresql", "postgresql:///llmgw?host=/run/postgresql"),
    ],
)
def test_a_urls_password_is_never_shown(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_every_step_is_recorded_under_sqlites_names(store: Store, url: str) -> None:
    assert [r[0] for r in raw_db.rows(url, "SELECT name FROM llmgw_migrations ORDER BY seq")] == list(
        MIGRATION_NAMES
    )
    health = store.health()
    assert health.applied == MIGRATION_NAMES and health.pending == () and health.problems == []


def test_the_requests_table_matches_usage_row(store: Store, url: str) -> None:
    columns = raw_db.rows(
        url,
        "SELECT column_name, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_name = 'requests' ORDER BY ordinal_position",
    )
    assert [c[0] for c in columns] == [f.name for f in dataclasses.fields(UsageRow)]
    not_null = {c[0] for c in columns if c[1] == "NO"}
    assert not_null == {
        "request_id", "created_at", "endpoint", "status", "streamed", "client_closed", "tokens_estimated",
        "attempts", "usage_source",
    }  # fmt: skip


def test_instances_starting_together_migrate_once(url: str) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(Store.open(url))
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert raw_db.rows(url, "SELECT COUNT(*) FROM llmgw_migrations") == [(len(MIGRATION_NAMES),)]
    for s in stores:
        s.close()


def test_a_database_a_newer_llmgw_upgraded_is_refused_unchanged(store: Store, url: str) -> None:
    with raw_db.connection(url) as conn:
        conn.execute("INSERT INTO llmgw_migrations (name, applied_at) VALUES ('m999_future', 'x')")
    with pytest.raises(DatabaseTooNew, match="m999_future"):
        Store.check_known(url)
    with pytest.raises(DatabaseTooNew):
        Store.open(url)


def test_a_server_that_is_not_there_is_a_clear_error_without_the_password(pg_server: PgServer) -> None:
    bad = f"postgresql://postgres:hunter2@127.0.0.1:{pg_server.port + 1}/nothing"
    with pytest.raises(DatabaseUnreadable) as caught:
        Store.open(bad, busy_timeout=1)
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


def test_sums_are_numbers_and_flags_are_integers(store: Store) -> None:
    store.insert_requests(
        [
            UsageRow(
                request_id=f"r{i}",
                endpoint="/v1/chat/completions",
                created_at=1000.0 + i,
                status=200,
                total_tokens=2**40,
                streamed=True,
                cost_usd=0.5,
            )
            for i in range(3)
        ]
    )
    (t,) = store.usage_rollups(since=None, until=None).values()
    assert (t.total_tokens, type(t.total_tokens)) == (3 * 2**40, int)
    assert t.cost_usd == pytest.approx(1.5)
    assert [r["streamed"] for r in store.recent_requests(3)] == [True, True, True]
    assert raw_db.rows(store, "SELECT DISTINCT streamed FROM requests") == [(1,)]


def test_user_names_are_unique_whatever_their_case(store: Store) -> None:
    from llmgw.errors import AccountError
    from llmgw.services import users
    from llmgw.services.audit import Actor

    users.create_user(store, Actor.cli(), "Ada", "a long enough password", role="admin")
    with pytest.raises(AccountError):
        users.create_user(store, Actor.cli(), "ada", "a long enough password")
    assert [u.name for u in users.list_users(store, Actor.cli())] == ["Ada"]


def test_a_connection_the_server_closed_is_replaced(store: Store, url: str) -> None:
    store.insert_requests(
        [UsageRow(request_id="a", endpoint="/v1/chat/completions", created_at=1.0, status=200)]
    )
    with raw_db.connection(url) as conn:  # the server ends the store's session (a restart, a failover)
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'llmgw' AND pid <> pg_backend_pid()"
        )
    # Each connection is checked as the pool hands it out: a dropped one is replaced, nothing fails.
    assert [r["request_id"] for r in store.recent_requests(1)] == ["a"]


def test_the_change_counter_moves_for_what_a_gateway_keeps_in_memory(store: Store, url: str) -> None:
    from llmgw.services import limits, users
    from llmgw.services.audit import Actor

    v0 = store.data_version()
    users.create_user(store, Actor.cli(), "bob", "a long enough password")
    v1 = store.data_version()
    assert v1 > v0
    limits.set_limits(store, Actor.cli(), "bob", rpm=5)
    assert store.data_version() > v1
    v2 = store.data_version()
    store.insert_requests(
        [UsageRow(request_id="x", endpoint="/v1/chat/completions", created_at=1.0, status=200)]
    )
    assert store.data_version() == v2  # the ledger is not what an index reloads for
    assert pg_schema.CHANGES_CHANNEL == "llmgw_changes"


def test_threads_run_their_statements_on_connections_of_their_own(store: Store) -> None:
    """One thread holding a transaction open does not keep another thread's read waiting (SQLite's one
    connection would): the pool gives each its own."""
    store.insert_requests(
        [UsageRow(request_id="a", endpoint="/v1/chat/completions", created_at=1.0, status=200)]
    )
    holding = threading.Event()
    release = threading.Event()

    def hold_a_transaction() -> None:
        with store._lock, store._immediate():
            store._db.execute("UPDATE requests SET status = 201 WHERE request_id = 'a'")
            holding.set()
            release.wait(30)

    t = threading.Thread(target=hold_a_transaction)
    t.start()
    try:
        assert holding.wait(30)
        # Another thread reads meanwhile: the snapshot before the other's uncommitted change.
        assert [r["status"] for r in store.recent_requests(1)] == [200]
    finally:
        release.set()
        t.join()
    assert [r["status"] for r in store.recent_requests(1)] == [201]


def test_a_role_that_may_not_create_tables_is_told_what_is_needed(url: str) -> None:
    with raw_db.connection(url) as conn:
        conn.execute("DROP ROLE IF EXISTS llmgw_reader")
        conn.execute("CREATE ROLE llmgw_reader LOGIN")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    as_reader = url.replace("postgresql://postgres@", "postgresql://llmgw_reader:not-shown@")
    with pytest.raises(DatabaseUnreadable, match="cannot apply llmgw's schema") as caught:
        Store.open(as_reader)
    assert "not-shown" not in str(caught.value) and "a role that may create tables" in str(caught.value)
