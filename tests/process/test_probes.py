"""/healthz and /readyz of a real `llmgw serve`: GET and HEAD without a key; /readyz 503 while another
process holds the database's write lock and 200 once it lets go; 503 `keys` without any provider key."""

from __future__ import annotations

import email.utils
import sqlite3
import time
from pathlib import Path

import httpx

from tests.conftest import PROXY_KEY, UPSTREAM_KEY, provider
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

OK = {"status": "ready", "checks": {"database": "ok", "keys": "ok", "ledger": "ok"}}
NO_KEYRING = {"DBUS_SESSION_BUS_ADDRESS": "", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def readyz_until(gw: GatewayProcess, status: int, timeout: float = 10.0) -> httpx.Response:
    """/readyz until it answers `status` (its verdict is kept for a second)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{gw.base_url}/readyz", timeout=5)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def test_probes_of_a_real_server(tmp_path: Path, fake: FakeOpenAI) -> None:
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, **NO_KEYRING}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        for path, body in (("/readyz", OK), ("/healthz", {"status": "ok"})):
            r = httpx.get(f"{gw.base_url}{path}")
            assert r.status_code == 200 and r.json() == body
            # One Date (the server's own, cached for a second: listeners.ServerConfig), and it is now.
            assert len(r.headers.get_list("date")) == 1
            assert abs(email.utils.parsedate_to_datetime(r.headers["date"]).timestamp() - time.time()) < 3
            head = httpx.head(f"{gw.base_url}{path}")
            assert head.status_code == 200 and head.content == b""
        holder = sqlite3.connect(gw.db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write lock, held
        try:
            r = readyz_until(gw, 503)
            assert r.status_code == 503
            assert r.json() == {"status": "not ready", "checks": {**OK["checks"], "database": "fail"}}
            assert httpx.get(f"{gw.base_url}/healthz").status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert readyz_until(gw, 200).json() == OK
    log = gw.log()
    assert "llmgw.access" not in log  # no access-log line, and no ledger row
    assert "/readyz: not ready: database failed" in log and "/readyz: ready again" in log
    with sqlite3.connect(gw.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM requests").fetchone() == (0,)
    conn.close()


def test_no_provider_key_at_all_is_not_ready(tmp_path: Path, fake: FakeOpenAI) -> None:
    with GatewayProcess(
        tmp_path, provider("up", fake.base_url), {"LLMGW_PROXY_KEY": PROXY_KEY, **NO_KEYRING}
    ) as gw:
        r = httpx.get(f"{gw.base_url}/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "not ready", "checks": {**OK["checks"], "keys": "fail"}}
        assert httpx.get(f"{gw.base_url}/healthz").status_code == 200
