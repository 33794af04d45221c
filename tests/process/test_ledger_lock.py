"""The ledger while another process holds the database's write lock (the CLI, the portal, the TUI
write the same SQLite file): nothing is lost across SIGTERM, and the next start replays the spool."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.conftest import PROXY_KEY, UPSTREAM_KEY, provider
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

USER = [{"role": "user", "content": "Say hi."}]
N = 20


def test_rows_survive_a_lock_held_across_sigterm(fake: FakeOpenAI, tmp_path: Path) -> None:
    config = "database_busy_timeout = 0.5\nshutdown_grace = 5\n" + provider("up", fake.base_url)
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    first = GatewayProcess(tmp_path, config, env).start()
    spool = Path(f"{first.db_path}.spool")
    holder = sqlite3.connect(first.db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as another process's long transaction holds it
        ids = []
        for _ in range(N):
            r = httpx.post(
                f"{first.base_url}/v1/chat/completions",
                json={"model": "up/gpt-4o-mini", "messages": USER},
                headers={"authorization": f"Bearer {PROXY_KEY}"},
                timeout=20,
            )
            assert r.status_code == 200
            ids.append(r.headers["x-request-id"])
        assert first.stop() == 0, first.log()  # SIGTERM with the lock still held
        assert spool.exists(), first.log()
        assert "rows pending" not in first.log() and "lost" not in first.log()
    finally:
        holder.rollback()
        holder.close()

    with GatewayProcess(tmp_path, config, env):  # the same database: the start replays the spool
        pass
    with sqlite3.connect(first.db_path) as conn:
        found = conn.execute(
            f"SELECT request_id, COUNT(*) FROM requests WHERE request_id IN ({','.join('?' * N)}) "
            "GROUP BY request_id",
            ids,
        ).fetchall()
    conn.close()
    assert sorted(found) == sorted((i, 1) for i in ids)
    assert list(tmp_path.glob("llmgw.db.spool*")) == []
    assert f"replayed {N} usage rows" in first.log()  # the second run appends to the same log file
