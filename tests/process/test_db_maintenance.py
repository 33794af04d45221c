"""`llmgw backup FILE` (consistent while another process writes) and `llmgw db check` (integrity,
foreign keys, migrations, journal mode, spool; read-only, never migrating) on good, behind, newer and
damaged databases."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils

from llmgw.cli import main
from llmgw.storage import Store, UsageRow
from llmgw.storage.migrations import migrations
from tests.process.test_cli import llmgw

STOP = "m005_usage_source_and_cost"  # a step that adds a column the test can look for


def setup(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "llmgw.db"
    cfg = tmp_path / "llmgw.toml"
    cfg.write_text(f"[server]\ndatabase = '{db}'\n", encoding="utf-8")
    return db, cfg


def rows(n: int, prefix: str = "req") -> list[UsageRow]:
    return [
        UsageRow(request_id=f"{prefix}_{i}", endpoint="/v1/chat/completions", status=200) for i in range(n)
    ]


def ids(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        return {r[0] for r in conn.execute("SELECT request_id FROM requests")}


def check(cfg: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, object]]:
    code = main(["db", "check", "--json", "--config", str(cfg), *extra])
    return code, json.loads(capsys.readouterr().out)


# -- backup ---------------------------------------------------------------------------------------


def test_backup_while_another_process_writes(tmp_path: Path) -> None:
    """A writer keeps committing (its own connection, as `llmgw serve`'s ledger does) while `llmgw
    backup` runs in another process: the copy opens, passes integrity_check, and holds every row
    committed before the backup started."""
    db, cfg = setup(tmp_path)
    with Store.open(db) as store:
        store.insert_requests(rows(5000, "old"))  # a few MB, so the copy takes a moment
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        with Store.open(db) as w:
            while not stop.is_set():
                w.insert_requests(rows(20, f"live{written[0]}"))
                written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 5:  # the writer is committing
            time.sleep(0.01)
        before = ids(db)  # committed before the backup starts
        r = llmgw("backup", str(tmp_path / "copy.db"), "--config", str(cfg))
        batches_during = written[0]
    finally:
        stop.set()
        thread.join()
    assert r.returncode == 0, r.stderr
    assert batches_during > 5  # the writer did not wait for the backup
    copy = tmp_path / "copy.db"
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    copied = ids(copy)
    assert before <= copied <= ids(db)
    assert {p.name for p in tmp_path.iterdir()} >= {"copy.db"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_backup_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, cfg = setup(tmp_path)
    with Store.open(db) as store:
        store.insert_requests(rows(3))
    target = tmp_path / "copy.db"
    target.write_bytes(b"precious")
    assert main(["backup", str(target), "--config", str(cfg)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert target.read_bytes() == b"precious"
    assert main(["backup", str(target), "--force", "--config", str(cfg)]) == 0
    assert ids(target) == {"req_0", "req_1", "req_2"}


def test_backup_without_a_database_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, cfg = setup(tmp_path)
    assert main(["backup", str(tmp_path / "copy.db"), "--config", str(cfg)]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not db.exists() and not (tmp_path / "copy.db").exists()


# -- db check -------------------------------------------------------------------------------------


def test_check_a_good_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, cfg = setup(tmp_path)
    with Store.open(db) as store:
        store.insert_requests(rows(10))
    code, out = check(cfg, capsys)
    assert code == 0 and out["ok"] is True and out["problems"] == []
    assert out["integrity"] == ["ok"] and out["foreign_key_problems"] == []
    assert out["migrations"] == {
        "applied": [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))],
        "pending": [],
        "unknown": [],
    }
    assert out["journal_mode"] == "wal" and out["spool_files"] == []
    assert main(["db", "check", "--quick", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert "quick_check:     ok" in text and text.rstrip().endswith("ok")


def test_check_reports_a_pending_migration_without_applying_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, cfg = setup(tmp_path)
    with closing(sqlite3.connect(db)) as conn:
        migrations.apply(sqlite_utils.Database(conn), stop_before=STOP)
    code, out = check(cfg, capsys)
    assert code == 0  # the next `llmgw serve` applies it: reported, not a problem
    pending = out["migrations"]["pending"]  # type: ignore[index]
    assert pending[0] == STOP and pending == sorted(pending)
    with closing(sqlite3.connect(db)) as conn:  # still not applied
        names = {r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(requests)")}
    assert STOP not in names and "cost_usd" not in columns
    main(["db", "check", "--config", str(cfg)])
    assert f"{len(pending)} pending ({', '.join(pending)})" in capsys.readouterr().out


def test_check_flags_a_migration_from_a_newer_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, cfg = setup(tmp_path)
    Store.open(db).close()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('llmgw', 'm999_future', 'x')"
        )
    code, out = check(cfg, capsys)
    assert code == 1 and out["migrations"]["unknown"] == ["m999_future"]  # type: ignore[index]
    assert "m999_future" in out["problems"][0]  # type: ignore[index]


def test_check_reports_spool_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, cfg = setup(tmp_path)
    Store.open(db).close()
    Path(f"{db}.spool").write_text('{"x": 1}\n')
    code, out = check(cfg, capsys)
    assert code == 0 and out["spool_files"] == [{"path": f"{db}.spool", "bytes": 9}]
    Path(f"{db}.spool.rejected").write_text('{"x": 1}\n')
    code, out = check(cfg, capsys)
    assert code == 1 and "refused" in out["problems"][0]  # type: ignore[index]


def test_check_a_file_that_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, cfg = setup(tmp_path)
    db.write_bytes(b"this is not a database at all " * 200)
    code, out = check(cfg, capsys)
    assert code == 1 and out["ok"] is False
    assert "cannot be read as a SQLite database" in out["problems"][0]  # type: ignore[index]


def test_check_a_damaged_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, cfg = setup(tmp_path)
    with Store.open(db) as store:
        store.insert_requests(rows(3000))
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    for n in range(3, len(data) // page, 2):  # scribble over every other page past the schema
        data[n * page + 8 : n * page + 64] = b"\xa5" * 56
    db.write_bytes(bytes(data))
    code, out = check(cfg, capsys)
    assert code == 1 and out["ok"] is False and out["problems"]


def test_check_without_a_database_creates_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, cfg = setup(tmp_path)
    assert main(["db", "check", "--config", str(cfg)]) == 2
    assert "no database at" in capsys.readouterr().err and not db.exists()
