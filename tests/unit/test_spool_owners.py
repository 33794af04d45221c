"""Several processes' ledger spools for one PostgreSQL database: each writer holds its own, a spool left
by a process that died is replayed by another (once, never while its writer lives), and a row the
database refuses is told apart from a database that is away (psycopg's exceptions)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgw.storage import LedgerWriter, Spool, Store, UsageRow
from llmgw.storage.pg_store import PostgresStore
from llmgw.storage.spool import insert_salvaging
from llmgw.storage.spool_owners import SpoolOwners
from tests.support import raw_db
from tests.support.postgres import PgServer


def row(request_id: str, **fields: object) -> UsageRow:
    return UsageRow(
        request_id=request_id, created_at=1_700_000_000.0, endpoint="/v1/chat/completions", **fields
    )  # type: ignore[arg-type]


@pytest.fixture
def pg_store(pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresStore]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where the spools go (Linux)
    url = pg_server.create_database()
    store = Store.open(url)
    assert isinstance(store, PostgresStore)
    yield store
    store.close()
    pg_server.drop_database(url)


def ledger_ids(store: Store) -> list[str]:
    with raw_db.connection(store) as db:
        return sorted(r[0] for r in db.execute("SELECT request_id FROM requests").fetchall())


def dead_pid() -> int:
    """A pid no process has (past Linux's pid_max): whose spool nobody holds, as a dead process's."""
    return 999_999_000


def test_each_process_spools_to_a_file_of_its_own(pg_store: PostgresStore) -> None:
    path = pg_store.spool_path()
    assert path.name.endswith(f"-{os.getpid()}.spool")
    assert path.parent == Path(os.environ["XDG_DATA_HOME"]) / "llmgw" / "spool"


def test_a_dead_processs_spool_is_replayed_by_another_and_a_live_ones_is_not(pg_store: PostgresStore) -> None:
    owners = pg_store.spool_owners()
    gone = dead_pid()
    Spool(owners.spool_of(gone)).append([row("req_dead_1"), row("req_dead_2")])
    # A live writer's spool, held as its process holds it (another SpoolOwners: another open file).
    alive = SpoolOwners(owners.directory, owners.prefix, pid=gone + 1)
    alive.hold()
    Spool(alive.spool_of(alive.pid)).append([row("req_alive")])
    writer = LedgerWriter(pg_store)
    try:
        assert writer.replay_spool() == 2
        assert ledger_ids(pg_store) == ["req_dead_1", "req_dead_2"]
        assert not owners.spool_of(gone).exists()
        assert not (owners.directory / f"{owners.prefix}-{gone}.lock").exists()
        assert alive.spool_of(alive.pid).exists()  # untouched while its writer lives
        alive.release()
        assert writer.replay_spool() == 1
        assert ledger_ids(pg_store) == ["req_alive", "req_dead_1", "req_dead_2"]
        assert writer.replay_spool() == 0  # nothing twice
    finally:
        writer.close()
    # Closed: its own lock is given back and its file removed.
    assert not (owners.directory / f"{owners.prefix}-{os.getpid()}.lock").exists()


def test_a_spool_being_replayed_is_not_claimed_twice(pg_store: PostgresStore) -> None:
    owners = pg_store.spool_owners()
    gone = dead_pid()
    Spool(owners.spool_of(gone)).append([row("req_1")])
    other = SpoolOwners(owners.directory, owners.prefix, pid=gone + 2)
    with owners.orphans() as first, other.orphans() as second:
        assert first == [owners.spool_of(gone)]
        assert second == []  # the first replayer holds it


def test_a_refused_row_is_rejected_and_a_lost_connection_is_unavailable(pg_store: PostgresStore) -> None:
    # NUL in a text column: PostgreSQL refuses that row (DataError), the others go in.
    refused = insert_salvaging(pg_store, [row("req_ok"), row("req_bad", model_requested="a\x00b")])
    assert [r.request_id for r in refused] == ["req_bad"]
    assert ledger_ids(pg_store) == ["req_ok"]
    # The database takes no connection and the store's are ended: unavailable (raised, the rows kept
    # for the spool, never rejected as theirs), then, connections allowed again, written.
    name = raw_db.where(pg_store).rsplit("/", 1)[1]
    admin = raw_db.where(pg_store).rsplit("/", 1)[0] + "/postgres"
    with raw_db.connection(admin) as db:
        db.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'llmgw' AND pid <> pg_backend_pid()"
        )
    try:
        with pytest.raises(Exception) as raised:
            insert_salvaging(pg_store, [row("req_later")])
        assert not isinstance(raised.value, pg_store.row_faults)
    finally:
        with raw_db.connection(admin) as db:
            db.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert insert_salvaging(pg_store, [row("req_later")]) == []
    assert ledger_ids(pg_store) == ["req_later", "req_ok"]
