"""One serving process per database: a second `llmgw serve` on the same file refuses to start, naming
the first; a killed one leaves no lock behind; the other commands never take it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from llmgw.errors import DatabaseInUse
from llmgw.storage.serve_lock import hold_serve_lock, lock_path
from tests.conftest import PROXY_KEY
from tests.support.gateway_process import GatewayProcess, free_port


def llmgw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    return subprocess.run(
        [sys.executable, "-m", "llmgw", *args],
        env={**base, "DBUS_SESSION_BUS_ADDRESS": "", "LLMGW_PROXY_KEY": PROXY_KEY, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


ENV = {"LLMGW_PROXY_KEY": PROXY_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}


def test_a_second_serve_on_the_same_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    with GatewayProcess(tmp_path / "first", "", ENV) as first:
        assert first.proc is not None
        # the same config file: the lock answers before the port could be found taken
        same = llmgw("serve", "--config", str(first.config_path))
        # another port, the same database
        other = llmgw(
            "serve",
            "--config",
            str(first.config_path),
            env={"LLMGW_PORT": str(free_port()), "LLMGW_DATABASE": str(first.db_path)},
        )
        usage = llmgw("usage", "--config", str(first.config_path))  # the CLI reads meanwhile
        assert "llmgw listening" in first.log()
    message = (
        f"llmgw: another llmgw serve (pid {first.proc.pid}, {first.base_url}) is already using "
        f"{first.db_path}; stop it or give this one another database"
    )
    for second in (same, other):
        assert second.returncode == 2, second.stderr
        assert message in second.stderr
        assert "Traceback" not in second.stderr
    assert usage.returncode == 0, usage.stderr


def test_a_killed_serve_leaves_no_lock_behind(tmp_path: Path) -> None:
    (tmp_path / "gw").mkdir()
    first = GatewayProcess(tmp_path / "gw", "", ENV).start()
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert lock_path(first.db_path).exists()  # the file stays, its lock went with the process
    with GatewayProcess(tmp_path / "gw", "", ENV) as again:
        assert again.proc is not None
        held = json.loads(lock_path(again.db_path).read_text(encoding="utf-8"))
        assert held["pid"] == again.proc.pid and held["address"] == again.base_url
    assert again.stop() == 0


def test_the_lock_is_per_database_file_and_released(tmp_path: Path) -> None:
    db = tmp_path / "data" / "llmgw.db"
    with hold_serve_lock(db, "http://127.0.0.1:4000"):
        with pytest.raises(DatabaseInUse) as info, hold_serve_lock(db, "http://127.0.0.1:4001"):
            pass
        assert (info.value.pid, info.value.address) == (os.getpid(), "http://127.0.0.1:4000")
        with hold_serve_lock(tmp_path / "other.db", "http://127.0.0.1:4002"):
            pass
    with hold_serve_lock(db, "http://127.0.0.1:4003"):  # released on leaving the block
        assert json.loads(lock_path(db).read_text(encoding="utf-8"))["address"] == "http://127.0.0.1:4003"
