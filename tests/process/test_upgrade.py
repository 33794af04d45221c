"""Upgrades as an operator meets them, with the real `llmgw` in a subprocess: a database a newer llmgw
upgraded (migrations this version does not know, recorded as sqlite-utils records them) is refused by
`serve` and every command that would write to it, with exit code 2, a message saying what to do, and
not one byte changed nor a file left beside it; `db check` and `backup` still read it. An older database
gets its pending migrations at `serve`'s start."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import sqlite_utils

from llmgw.storage import Store
from llmgw.storage.migrations import migrations
from llmgw.storage.schema import MIGRATION_NAMES
from tests.conftest import PROXY_KEY, UPSTREAM_KEY, provider
from tests.process.test_cli import llmgw
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess, free_port

FUTURE = ("m901_from_a_newer_llmgw", "m902_also_newer")
PASSWORD = "correct horse battery staple\n"


def newer_database(tmp_path: Path) -> tuple[Path, Path]:
    """A database made by this version, then upgraded by a "newer" one: its migrations recorded."""
    db = tmp_path / "data" / "llmgw.db"
    cfg = tmp_path / "llmgw.toml"
    cfg.write_text(f'[server]\nport = {free_port()}\ndatabase = "{db}"\n', encoding="utf-8")
    with Store.open(db):
        pass
    assert (
        llmgw(
            "user", "add", "admin", "--admin", "--password-stdin", "--config", str(cfg), stdin=PASSWORD
        ).returncode
        == 0
    )
    with closing(sqlite3.connect(db)) as conn, conn:
        for name in FUTURE:  # what sqlite-utils' Migrations writes for a step it applied
            conn.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES ('llmgw', ?, '2027-01-01T00:00:00+00:00')",
                [name],
            )
    return db, cfg


def files(directory: Path) -> dict[str, str]:
    """Every file in `directory`, by name, with its SHA-256."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


WRITERS = [
    pytest.param(("serve",), id="serve"),
    pytest.param(("user", "add", "bob", "--password-stdin"), id="user-add"),
    pytest.param(("user", "disable", "admin"), id="user-disable"),
    pytest.param(("key", "create", "admin"), id="key-create"),
    pytest.param(("limit", "set", "admin", "--rpm", "10"), id="limit-set"),
    pytest.param(("access", "set", "admin", "openai/*"), id="access-set"),
    pytest.param(("usage", "purge"), id="usage-purge"),
    pytest.param(("tui",), id="tui"),
    # reads too: they open it read-write and read this version's schema (see docs/DEPLOY.md)
    pytest.param(("user", "list"), id="user-list"),
    pytest.param(("usage",), id="usage"),
    pytest.param(("audit",), id="audit"),
]


@pytest.mark.parametrize("command", WRITERS)
def test_a_newer_database_is_refused_and_left_unchanged(tmp_path: Path, command: tuple[str, ...]) -> None:
    db, cfg = newer_database(tmp_path)
    before = files(db.parent)
    assert set(before) == {"llmgw.db"}  # no -wal, no -shm: closed cleanly
    r = llmgw(*command, "--config", str(cfg), stdin=PASSWORD, env={"LLMGW_PROXY_KEY": PROXY_KEY})
    assert r.returncode == 2, (r.stdout, r.stderr)
    message = r.stderr.strip().splitlines()[-1]  # serve may log before it (the keyring)
    assert message.startswith(f"llmgw: refusing the database {db}: it was upgraded by a newer llmgw")
    assert ", ".join(FUTURE) in message
    assert "nothing was changed" in message and "restore the backup taken before the upgrade" in message
    assert "Traceback" not in r.stderr
    assert files(db.parent) == before  # the same bytes; no -wal, -shm, spool or serve lock left


@pytest.mark.parametrize("command", [("serve",), ("user", "list"), ("key", "create", "admin")])
def test_a_file_that_is_not_a_database_is_refused_without_a_traceback(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A wrong LLMGW_DATABASE (a file of something else) is named with what to do, exit 2, unchanged."""
    db = tmp_path / "data" / "llmgw.db"
    db.parent.mkdir()
    db.write_bytes(b"not a database at all; " * 200)
    cfg = tmp_path / "llmgw.toml"
    cfg.write_text(f"[server]\nport = {free_port()}\ndatabase = '{db}'\n", encoding="utf-8")
    before = files(db.parent)
    r = llmgw(*command, "--config", str(cfg), env={"LLMGW_PROXY_KEY": PROXY_KEY})
    assert r.returncode == 2, (r.stdout, r.stderr)
    message = r.stderr.strip().splitlines()[-1]
    assert message == (
        f"llmgw: the database {db} cannot be read: file is not a database. Point LLMGW_DATABASE (or "
        "[server] database) at the right file, or restore it from a backup; `llmgw db check` says more."
    )
    assert "Traceback" not in r.stderr
    assert files(db.parent) == before


def test_read_only_commands_still_read_a_newer_database(tmp_path: Path) -> None:
    _, cfg = newer_database(tmp_path)
    r = llmgw("db", "check", "--config", str(cfg))
    assert r.returncode == 1 and f"migrations newer than this llmgw: {', '.join(FUTURE)}" in r.stdout
    copy = tmp_path / "copy.db"
    r = llmgw("backup", str(copy), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    with closing(sqlite3.connect(copy)) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations")]
    assert names[-2:] == list(FUTURE)


def test_an_older_database_is_migrated_when_serve_starts(tmp_path: Path, fake: FakeOpenAI) -> None:
    stop = "m012_error_kind"
    db = tmp_path / "llmgw.db"
    with closing(sqlite3.connect(db)) as conn:
        migrations.apply(sqlite_utils.Database(conn), stop_before=stop)
        conn.execute(
            "INSERT INTO requests (request_id, created_at, endpoint, status, streamed, client_closed) "
            "VALUES ('req_old', ?, '/v1/chat/completions', 200, 0, 0)",
            [time.time() - 3600],  # within the retention
        )
        conn.commit()
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        assert httpx.get(f"{gw.base_url}/readyz").status_code == 200
        r = httpx.post(
            f"{gw.base_url}/v1/chat/completions",
            headers={"authorization": f"Bearer {PROXY_KEY}"},
            json={"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert r.status_code == 200
    with closing(sqlite3.connect(db)) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")]
        ids = {row[0] for row in conn.execute("SELECT request_id FROM requests")}
    assert names == list(MIGRATION_NAMES)
    assert ids == {"req_old", r.headers["x-request-id"]}  # the old rows kept, the new one written
