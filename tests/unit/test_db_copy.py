"""`llmgw db copy`'s copying (storage/copy.py, services/maintenance.py) on a real PostgreSQL: a SQLite
file populated through the services, copied, then read through the services on PostgreSQL; every table
row for row; ids that go on past the copied ones; a target that is not empty, a row it refuses and a
check that fails, each leaving the target as it was; a file an older llmgw wrote, copied unchanged."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from llmgw.errors import CopyFailed, DatabaseNotEmpty
from llmgw.services import keys, limits, request_log, sessions, usage_report, users
from llmgw.services.audit import Actor
from llmgw.services.maintenance import copy_to_postgres
from llmgw.storage import KeyStateRow, SentAlert, Store, StoredResponse, UpstreamResponseKey, UsageRow
from llmgw.storage import copy as copy_module
from llmgw.storage.migrations import migrations
from llmgw.storage.pg_schema import MIGRATIONS_TABLE
from tests.support import raw_db
from tests.support.postgres import PgServer

pytestmark = pytest.mark.usefixtures("fast_hashes")

CLI = Actor.cli()
PW = "correct horse battery"
NOW = 1_790_000_000.0


@pytest.fixture
def target(pg_server: PgServer) -> Iterator[str]:
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


def populate(path: Path) -> dict[str, Any]:
    """An installation with something in every table, made through the services and the store."""
    with Store.open(path) as store:
        root = users.create_user(store, CLI, "root", PW, role="admin")
        alice = users.create_user(store, CLI, "alice", PW)
        gone = users.create_user(store, CLI, "gone", PW)
        laptop = keys.create_key(store, CLI, "alice", "laptop", None)
        old = keys.create_key(store, CLI, "alice", "old", None)
        keys.create_key(store, CLI, "gone", "theirs", None)
        limits.set_limits(store, CLI, "alice", rpm=60, budget_usd=10.0)
        limits.set_limits(store, CLI, laptop.key.public_id, tpm=5000)
        rows = [
            UsageRow(
                request_id=f"req_{i:04d}",
                created_at=NOW - 86400 + i * 30,
                endpoint="/v1/chat/completions",
                provider="up",
                model_requested="gpt-4o-mini",
                model_upstream="gpt-4o-mini",
                status=200 if i % 9 else 500,
                error_kind=None if i % 9 else "upstream",
                error_type=None if i % 9 else "upstream_error",
                prompt_tokens=10 + i,
                completion_tokens=i,
                total_tokens=10 + 2 * i,
                cost_usd=0.000123 * i,
                latency_ms=100.0 + i,
                user_id=(alice.id, root.id, gone.id)[i % 3],
                api_key_id=laptop.key.id if i % 3 == 0 else None,
                usage_source="provider",
            )
            for i in range(1200)
        ]
        store.insert_requests(rows)
        store.add_auth_failures("run-1", [(int(NOW // 60), 3)])
        store.publish_key_states(
            [KeyStateRow("up", 1, "sk-…abcd", "ok", None, (), False, None, NOW, None, 7, 0, "run-1", NOW)]
        )
        item = {"id": "msg_1", "type": "message", "role": "user", "content": "hi"}
        store.insert_stored_responses(
            [StoredResponse("resp_1", alice.id, laptop.key.id, NOW, "gpt-4o", "up", None, [item], [], {})],
            [UpstreamResponseKey("resp_2", "up", "fp-1", alice.id, NOW)],
        )
        store.record_budget_alert(SentAlert("user", alice.id, "month", NOW - 1000, 80), NOW)
        user = users.authenticate(store, "alice", PW, "127.0.0.1")
        assert user is not None
        sessions.start(store, user, "127.0.0.1", now=NOW)
        keys.revoke_key(store, CLI, old.key.public_id)
        users.delete_user(store, CLI, "gone")  # a tombstone, and the highest user id gone with it
        return {"alice": alice.id, "gone": gone.id, "laptop": laptop.key.public_id}


def table_rows(location: str | Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    """Every row of `table`, by the given columns, in one order whatever the engine's."""
    found = raw_db.rows(location, f"SELECT {', '.join(columns)} FROM {table}")
    return sorted(found, key=lambda r: tuple(map(repr, r)))


def file_columns(path: Path, table: str) -> list[str]:
    return [r[1] for r in raw_db.rows(path, f"PRAGMA table_info({table})")]


def test_every_table_is_copied_and_the_services_read_the_same(tmp_path: Path, target: str) -> None:
    source = tmp_path / "llmgw.db"
    made = populate(source)
    report = copy_to_postgres(str(source), target)

    assert [t.name for t in report.tables] == list(copy_module.TABLES)
    counts = {t.name: t.rows for t in report.tables}
    assert counts["requests"] == 1200 and counts["users"] == 2 and counts["deleted_users"] == 1
    for table in copy_module.TABLES:  # row for row, every column, ids kept
        columns = file_columns(source, table)
        assert table_rows(source, table, columns) == table_rows(target, table, columns), table
    assert dict(report.tables[copy_module.TABLES.index("requests")].totals)["total_tokens"] == sum(
        10 + 2 * i for i in range(1200)
    )

    with Store.open(source) as sqlite_store, Store.open(target) as pg_store:
        assert pg_store.postgres
        assert pg_store.api_key_records() == sqlite_store.api_key_records()
        assert pg_store.limit_rows() == sqlite_store.limit_rows()
        assert users.list_users(pg_store, CLI) == users.list_users(sqlite_store, CLI)
        assert keys.list_keys(pg_store, CLI, now=NOW) == keys.list_keys(sqlite_store, CLI, now=NOW)
        for by in (None, "user", "model", "day"):
            assert usage_report.report(pg_store, CLI, since=None, until=None, by=by) == usage_report.report(
                sqlite_store, CLI, since=None, until=None, by=by
            )
        log = request_log.LogFilter(user="alice")
        assert request_log.search(pg_store, CLI, log) == request_log.search(sqlite_store, CLI, log)
        assert pg_store.stored_response("resp_1") == sqlite_store.stored_response("resp_1")
        assert pg_store.key_states() == sqlite_store.key_states()
        assert pg_store.auth_failure_count() == 3
        assert pg_store.sent_budget_alerts(0) == sqlite_store.sent_budget_alerts(0)
        assert users.authenticate(pg_store, "alice", PW, None) is not None  # the hash copied as it was

        # New ids go on past every copied one: the deleted user's and the revoked key's included.
        carol = users.create_user(pg_store, CLI, "carol", PW)
        assert carol.id == made["gone"] + 1
        new_key = keys.create_key(pg_store, CLI, "carol", "k", None).key
        assert new_key.id > max(r[0] for r in raw_db.rows(source, "SELECT id FROM deleted_keys"))
        assert new_key.id > max(r[0] for r in raw_db.rows(source, "SELECT id FROM api_keys"))
        limits.set_limits(pg_store, CLI, "carol", rpm=1)  # limits' own sequence, past the copied rows


def test_the_tables_copied_are_every_table_of_both_schemas(tmp_path: Path, target: str) -> None:
    """A table added later without a place in `TABLES` (or a table of one engine only) fails here."""
    source = tmp_path / "llmgw.db"
    Store.open(source).close()
    Store.open(target).close()
    in_file = {r[0] for r in raw_db.rows(source, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    in_server = {
        r[0]
        for r in raw_db.rows(
            target, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    assert in_file - {"_sqlite_migrations", "sqlite_sequence"} == set(copy_module.TABLES)
    assert in_server - {MIGRATIONS_TABLE, "llmgw_changes", *copy_module.SERVER_ONLY} == set(
        copy_module.TABLES
    )


def test_a_target_that_holds_rows_is_refused_and_left_as_it_was(tmp_path: Path, target: str) -> None:
    source = tmp_path / "llmgw.db"
    populate(source)
    with Store.open(target) as pg_store:
        users.create_user(pg_store, CLI, "someone", PW, role="admin")
    before = {t: raw_db.rows(target, f"SELECT * FROM {t} ORDER BY 1") for t in copy_module.TABLES}
    with pytest.raises(DatabaseNotEmpty) as refused:
        copy_to_postgres(str(source), target)
    assert refused.value.tables == ("users", "audit_log")
    assert {t: raw_db.rows(target, f"SELECT * FROM {t} ORDER BY 1") for t in copy_module.TABLES} == before


def empty(url: str) -> bool:
    return all(raw_db.rows(url, f"SELECT COUNT(*) FROM {t}") == [(0,)] for t in copy_module.TABLES)


def test_a_failure_mid_copy_leaves_the_target_empty(tmp_path: Path, target: str) -> None:
    source = tmp_path / "llmgw.db"
    populate(source)
    seen: list[str] = []

    def interrupted(table: str, done: int, total: int) -> None:
        seen.append(table)
        if table == "usage_hourly":  # the accounts and the whole ledger written by now
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_to_postgres(str(source), target, progress=interrupted)
    assert "requests" in seen
    assert empty(target)
    copy_to_postgres(str(source), target)  # and it can be copied into afterwards
    assert not empty(target)


def test_a_row_the_target_refuses_fails_the_copy_and_leaves_it_empty(tmp_path: Path, target: str) -> None:
    """SQLite keeps a NUL in a text; PostgreSQL takes none."""
    source = tmp_path / "llmgw.db"
    populate(source)
    with closing(sqlite3.connect(source)) as conn, conn:
        conn.execute("UPDATE requests SET model_requested = ? WHERE request_id = 'req_0500'", ["a\x00b"])
    with pytest.raises(CopyFailed, match="refused a row of requests"):
        copy_to_postgres(str(source), target)
    assert empty(target)


def test_totals_that_differ_fail_the_copy_and_leave_the_target_empty(
    tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy that lost a row on the way (here, deleted behind it) is caught by the check."""
    source = tmp_path / "llmgw.db"
    populate(source)
    real = copy_module._copy_table

    def lossy(src: Any, pg: Any, table: str, *args: Any) -> None:
        real(src, pg, table, *args)
        if table == "requests":
            pg.execute("DELETE FROM requests WHERE request_id = 'req_0007'")

    monkeypatch.setattr(copy_module, "_copy_table", lossy)
    with pytest.raises(CopyFailed, match="requests differs after the copy: 1200 rows in the file, 1199"):
        copy_to_postgres(str(source), target)
    assert empty(target)


def test_a_file_an_older_llmgw_wrote_is_copied_and_left_unchanged(tmp_path: Path, target: str) -> None:
    source = tmp_path / "old.db"
    db = sqlite_utils.Database(source)
    migrations.apply(db, stop_before="m006_rollups")
    db.conn.execute(
        "INSERT INTO requests (request_id, created_at, endpoint, status, streamed, client_closed, "
        "total_tokens, cost_usd, usage_source) VALUES ('old_1', ?, '/v1/chat/completions', 200, 0, 0, 42, "
        "0.5, 'provider')",
        [NOW],
    )
    db.conn.commit()
    db.close()
    before = source.read_bytes()
    told: list[list[str]] = []
    report = copy_to_postgres(str(source), target, staged=told.append)
    assert told and told[0][0] == "m006_rollups"
    assert source.read_bytes() == before  # never migrated in place
    counts = {t.name: t.rows for t in report.tables}
    assert counts["requests"] == 1 and counts["usage_hourly"] == 1  # m006's rollups, made on the way
    with Store.open(target) as pg_store:
        total = usage_report.report(pg_store, CLI, since=None, until=None).total
    assert total.requests == 1 and total.total_tokens == 42


def test_the_source_must_be_a_file_and_the_target_a_url(tmp_path: Path, target: str) -> None:
    with pytest.raises(ValueError, match="source must be a SQLite file"):
        copy_to_postgres(target, target)
    with pytest.raises(ValueError, match="target must be a PostgreSQL URL"):
        copy_to_postgres(str(tmp_path / "a.db"), str(tmp_path / "b.db"))
    with pytest.raises(FileNotFoundError):
        copy_to_postgres(str(tmp_path / "missing.db"), target)
