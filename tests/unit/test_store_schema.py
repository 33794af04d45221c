"""`Store.open`'s cheap check of pending schema steps (storage/schema.py, plain sqlite3): it agrees with
sqlite-utils' own reading, a file with a step pending is migrated on open, and one with a step this
version does not know (a newer llmgw's) is refused unchanged. That an up-to-date file
opens without sqlite-utils: tests/process/test_import_hygiene.py."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils.migrations import Migrations

from llmgw.errors import DatabaseTooNew
from llmgw.storage import Store, schema
from llmgw.storage.migrations import migrations


def test_the_names_are_the_migrations_own() -> None:
    names = [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]
    assert names == list(schema.MIGRATION_NAMES)
    assert migrations.name == schema.MIGRATION_SET


def test_pending_agrees_with_sqlite_utils_at_every_step(tmp_path: Path) -> None:
    path = tmp_path / "llmgw.db"
    with closing(sqlite3.connect(path)) as conn:
        assert schema.pending(conn) == list(schema.MIGRATION_NAMES)  # a new file: every step
        for stop in ("m004_accounts", "m011_stored_responses", schema.MIGRATION_NAMES[-1]):
            migrations.apply(sqlite_utils.Database(conn), stop_before=stop)
            ours = schema.pending(conn)
            assert ours == [m.name for m in migrations.pending(sqlite_utils.Database(conn))]
            assert ours[0] == stop
        migrations.apply(sqlite_utils.Database(conn))
        assert schema.pending(conn) == []


def test_another_sets_steps_do_not_count(tmp_path: Path) -> None:
    """The migrations table may hold another set's steps of the same names: not ours."""
    with closing(sqlite3.connect(tmp_path / "x.db")) as conn:
        other = Migrations("someone-else")
        other()(lambda db: None)
        other.apply(sqlite_utils.Database(conn))
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, '')",
            ["someone-else", schema.MIGRATION_NAMES[0]],
        )
        conn.commit()
        assert schema.pending(conn) == list(schema.MIGRATION_NAMES)


def test_open_applies_what_is_pending(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    last = schema.MIGRATION_NAMES[-1]
    with closing(sqlite3.connect(path)) as conn:
        migrations.apply(sqlite_utils.Database(conn), stop_before=last)
        assert schema.pending(conn) == [last]
    with Store.open(path) as store:
        assert store.health(quick=True).pending == ()
    with closing(sqlite3.connect(path)) as conn:
        assert schema.pending(conn) == []


def record_future_step(path: Path, name: str, migration_set: str = schema.MIGRATION_SET) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, '')",
            [migration_set, name],
        )


def test_a_step_this_version_does_not_know_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    Store.open(path).close()
    record_future_step(path, "m099_newer")
    record_future_step(path, "m100_not_ours", migration_set="someone-else")  # another set's: not counted
    for refuse in (lambda: Store.open(path), lambda: Store.check_known(path)):
        with pytest.raises(DatabaseTooNew) as caught:
            refuse()
        assert caught.value.unknown == ("m099_newer",) and caught.value.database == str(path)
        assert "m099_newer" in str(caught.value) and "m100" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.db"]  # no -wal or -shm left


def test_check_known_creates_nothing_and_passes_a_current_file(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "llmgw.db"
    Store.check_known(missing)  # nothing to refuse: `open` creates it later
    assert not missing.parent.exists()
    current = tmp_path / "llmgw.db"
    Store.open(current).close()
    Store.check_known(current)
