"""Every file llmgw creates is its owner's alone, whatever the umask: the database and SQLite's -wal and
-shm beside it, the ledger's spool files, backups and the serve lock 0600, the directories it creates
0700. Files found with wider modes are named, with the fix, at start and by `llmgw db check`."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from llmgw.cli import main
from llmgw.server.app import create_app
from llmgw.settings import Config
from llmgw.storage import Spool, Store, UsageRow
from llmgw.storage.serve_lock import hold_serve_lock, lock_path
from tests.conftest import PROXY_KEY
from tests.inprocess.test_portal import NoKeys
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rows(n: int) -> list[UsageRow]:
    return [UsageRow(request_id=f"req_{i}", endpoint="/v1/chat/completions", status=200) for i in range(n)]


@pytest.fixture(params=[0o022, 0o002, 0o277], ids=["022", "002", "277"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """A umask that would leave files readable by others (022, 002), or not even writable by their
    owner (277): llmgw's modes must not depend on it."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_the_database_its_wal_and_shm_and_new_directories_are_private(tmp_path: Path, umask: int) -> None:
    db = tmp_path / "data" / "llmgw" / "llmgw.db"
    with Store.open(db) as store:
        store.insert_requests(rows(3))
        for name in ("llmgw.db", "llmgw.db-wal", "llmgw.db-shm"):
            assert mode(db.parent / name) == 0o600, name
    assert mode(db.parent) == 0o700 and mode(db.parent.parent) == 0o700


def test_spool_files_are_private(tmp_path: Path, umask: int) -> None:
    spool = Spool(tmp_path / "llmgw.db.spool")
    spool.append(rows(2))
    assert mode(spool.path) == 0o600
    spool.reject(rows(1))
    assert mode(spool.rejected) == 0o600


def test_a_backup_is_private(tmp_path: Path, umask: int) -> None:
    with Store.open(tmp_path / "llmgw.db") as store:
        store.insert_requests(rows(3))
        store.backup(tmp_path / "copy.db")
    assert mode(tmp_path / "copy.db") == 0o600


def test_the_serve_lock_is_private(tmp_path: Path, umask: int) -> None:
    with hold_serve_lock(tmp_path / "llmgw.db", "http://127.0.0.1:1"):
        assert mode(lock_path(tmp_path / "llmgw.db")) == 0o600


def test_a_real_gateway_creates_only_private_files(tmp_path: Path) -> None:
    old = os.umask(0o022)  # inherited by the subprocess
    try:
        with GatewayProcess(
            tmp_path, "", {"LLMGW_PROXY_KEY": PROXY_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
        ) as gw:
            headers = {"authorization": f"Bearer {PROXY_KEY}"}
            httpx.post(f"{gw.base_url}/v1/chat/completions", json={"model": "nowhere/x"}, headers=headers)
            created = [p for p in tmp_path.iterdir() if p.name.startswith("llmgw.db")]
            assert {p.name for p in created} >= {
                "llmgw.db",
                "llmgw.db-wal",
                "llmgw.db-shm",
                "llmgw.db.serve.lock",
            }
            assert {p.name: mode(p) for p in created} == {p.name: 0o600 for p in created}
    finally:
        os.umask(old)


# --- files found with wider modes ----------------------------------------------------------------


def loose_database(tmp_path: Path) -> Path:
    db = tmp_path / "llmgw.db"
    with Store.open(db) as store:
        store.insert_requests(rows(3))
    db.chmod(0o644)
    Path(f"{db}.spool").write_bytes(b"")
    Path(f"{db}.spool").chmod(0o640)
    return db


def test_the_gateway_warns_of_loose_files_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = loose_database(tmp_path)
    cfg = Config.model_validate({"server": {"database": str(db), "key_refresh_interval": 0}})
    with caplog.at_level(logging.WARNING, logger="llmgw"), TestClient(create_app(cfg, PROXY_KEY, NoKeys())):
        pass
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(db) in m and "644" in m and f"chmod 600 {db}" in m for m in said), said
    assert any(f"{db}.spool" in m and "640" in m for m in said), said
    assert mode(db) == 0o644  # named, not changed: the administrator may have meant it


def test_db_check_warns_of_loose_files_and_fails_only_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = loose_database(tmp_path)
    cfg = tmp_path / "llmgw.toml"
    cfg.write_text(f'[server]\ndatabase = "{db}"\n', encoding="utf-8")
    assert main(["db", "check", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert f"WARNING  {db} is mode 644" in text and f"chmod 600 {db}" in text
    assert main(["db", "check", "--json", "--config", str(cfg)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["problems"] == []
    loose = {f["path"]: f["mode"] for f in out["loose_files"]}
    # SQLite gives the -wal and -shm it creates the database file's mode: named too, if present
    assert {str(db): "644", f"{db}.spool": "640"}.items() <= loose.items()
    assert set(loose) <= {str(db), f"{db}.spool", f"{db}-wal", f"{db}-shm"}
    assert len(out["warnings"]) == len(loose)
    assert main(["db", "check", "--strict", "--config", str(cfg)]) == 1
    capsys.readouterr()
    for path in loose:  # the fix the warnings name
        Path(path).chmod(0o600)
    assert main(["db", "check", "--strict", "--config", str(cfg)]) == 0
    assert "WARNING" not in capsys.readouterr().out
