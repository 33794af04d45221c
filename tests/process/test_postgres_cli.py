"""The `llmgw` command against PostgreSQL, as an administrator runs it (a subprocess, a real server):
`db copy` of an installation's file, then the account, usage and upkeep commands on the URL given by
`LLMGW_DATABASE`; a URL's password never shown, whatever the command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgw.services import keys, users
from llmgw.services.audit import Actor
from llmgw.storage import Store, UsageRow
from llmgw.storage.schema import MIGRATION_NAMES
from tests.support.postgres import PgServer

pytestmark = pytest.mark.usefixtures("fast_hashes")

PW = "correct horse battery"
SECRET = "s3cret-pw"  # in the URL: the tests' server trusts loopback, so it is sent and never checked


@pytest.fixture
def url(pg_server: PgServer) -> Iterator[str]:
    plain = pg_server.create_database()
    yield plain.replace("postgres@", f"postgres:{SECRET}@", 1)
    pg_server.drop_database(plain)


class Llmgw:
    """`llmgw` in a subprocess with an empty configuration file: the database from LLMGW_DATABASE."""

    def __init__(self, config: Path) -> None:
        config.write_text("", encoding="utf-8")
        self.config = config

    def __call__(
        self, *args: str, database: str | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
        env.update(LOGNAME="tester", DBUS_SESSION_BUS_ADDRESS="", LLMGW_CONFIG=str(self.config))
        if database is not None:
            env["LLMGW_DATABASE"] = database
        r = subprocess.run(
            [sys.executable, "-m", "llmgw", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert SECRET not in r.stdout + r.stderr, (r.stdout, r.stderr)
        assert "Traceback" not in r.stderr, r.stderr
        return r


@pytest.fixture
def llmgw(tmp_path: Path) -> Llmgw:
    return Llmgw(tmp_path / "llmgw.toml")


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


def installation(path: Path) -> None:
    """A SQLite installation: an admin, a user with a key, a deleted user, a day of requests."""
    cli = Actor.cli()
    with Store.open(path) as store:
        users.create_user(store, cli, "root", PW, role="admin")
        alice = users.create_user(store, cli, "alice", PW)
        key = keys.create_key(store, cli, "alice", "laptop", None).key
        users.create_user(store, cli, "gone", PW)
        users.delete_user(store, cli, "gone")
        now = time.time()
        store.insert_requests(
            [
                UsageRow(
                    request_id=f"req_{i}",
                    created_at=now - 3600 + i,
                    endpoint="/v1/chat/completions",
                    provider="up",
                    model_requested="gpt-4o-mini",
                    model_upstream="gpt-4o-mini",
                    status=200,
                    total_tokens=100,
                    cost_usd=0.25,
                    user_id=alice.id,
                    api_key_id=key.id,
                )
                for i in range(40)
            ]
        )


def test_db_copy_then_every_command_on_the_url(tmp_path: Path, url: str, llmgw: Llmgw) -> None:
    source = tmp_path / "llmgw.db"
    installation(source)

    out = ok(llmgw("db", "copy", str(source), url))
    assert f"copied {source} to {url.replace(SECRET, '***')}, verified" in out
    assert re.search(r"^\s+requests\s+40 rows, cost_usd 10\.000000, total_tokens 4,000$", out, re.M), out
    assert re.search(r"^\s+users\s+2 rows$", out, re.M) and "the next ids: users 4, api_keys 2" in out

    again = llmgw("db", "copy", str(source), url)  # into a target that now holds rows
    assert again.returncode == 2 and "already holds rows (users, api_keys, " in again.stderr
    assert llmgw("db", "copy", url, str(source)).returncode == 2  # the wrong way round
    assert llmgw("db", "copy", str(tmp_path / "none.db"), url).returncode == 2

    # The account commands on LLMGW_DATABASE = the URL.
    listed = json.loads(ok(llmgw("user", "list", "--json", database=url)))
    assert [(u["id"], u["name"], u["keys"]) for u in listed] == [(2, "alice", 1), (1, "root", 0)]
    assert ok(llmgw("user", "add", "carol", "--password-stdin", database=url, stdin=PW + "\n")) == (
        "created user 'carol' (user)\n"
    )
    assert [u["id"] for u in json.loads(ok(llmgw("user", "list", "--json", database=url)))] == [2, 4, 1]
    token = ok(llmgw("key", "create", "carol", "--name", "ci", database=url))
    assert re.search(r"llmgw-[0-9a-f]{16}-", token), token
    ok(llmgw("limit", "set", "carol", "--rpm", "30", database=url))
    assert "30" in ok(llmgw("limit", "list", database=url))
    report = ok(llmgw("usage", "--by", "user", database=url))
    assert re.search(r"^alice +40 .* 4,000 +0 +10\.0000 ", report, re.M), report
    assert "user.deleted" in ok(llmgw("audit", database=url))  # the copied log reads back
    ok(llmgw("usage", "purge", database=url))

    # Upkeep: the check speaks of a server, a backup points to pg_dump.
    check = ok(llmgw("db", "check", database=url))
    assert "server:          PostgreSQL" in check
    assert f"migrations:      {len(MIGRATION_NAMES)} applied" in check
    assert "journal mode" not in check and "integrity_check" not in check
    found = json.loads(ok(llmgw("db", "check", "--json", database=url)))
    assert found["engine"] == "postgresql" and found["ok"] is True and found["check"] is None
    assert found["path"] == url.replace(SECRET, "***") and found["migrations"]["pending"] == []
    backup = llmgw("backup", str(tmp_path / "copy.db"), database=url)
    assert backup.returncode == 2 and "pg_dump --format=custom" in backup.stderr, backup.stderr
    assert not (tmp_path / "copy.db").exists()
    assert "***@" in ok(llmgw("config", "check", database=url))


def test_a_server_out_of_reach_is_said_without_a_traceback(tmp_path: Path, llmgw: Llmgw) -> None:
    gone = f"postgresql://postgres:{SECRET}@127.0.0.1:9/llmgw"  # nothing listens on port 9
    listing = llmgw("user", "list", database=gone)
    assert listing.returncode == 2 and "cannot connect to the database" in listing.stderr
    check = llmgw("db", "check", database=gone)
    assert check.returncode == 1 and "cannot be reached" in check.stdout
    copy = llmgw("db", "copy", str(tmp_path / "none.db"), gone)
    assert copy.returncode == 2
