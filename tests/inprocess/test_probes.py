"""/healthz and /readyz in process: no key, no CORS, no ledger row; /readyz fails for real on each of
its checks (the database locked by another connection, gone, or read-only; no provider key; the
ledger's queue backed up behind a locked database) and says only which check failed."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from llmgw.server.probes import Readiness
from tests.inprocess.test_relay_inprocess import Running, gateway, openai_chat

pytestmark = pytest.mark.anyio

ALL_OK = {"status": "ready", "checks": {"database": "ok", "keys": "ok", "ledger": "ok"}}


def uncached(g: Running) -> None:
    """Every /readyz runs its checks now (the default keeps a verdict for a second)."""
    g.app.state.readiness = Readiness(g.runtime, ttl=0, probe_timeout=0.2)


def failing(r: httpx.Response) -> set[str]:
    """The checks a 503 names as failed; the body names nothing else."""
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "not ready" and set(body) == {"status", "checks"}
    assert set(body["checks"]) == {"database", "keys", "ledger"}
    return {name for name, verdict in body["checks"].items() if verdict == "fail"}


async def test_ready_and_live_without_a_key_nor_a_ledger_row(tmp_path: Path) -> None:
    app_origin = "https://app.example.com"
    async with gateway(tmp_path, lambda r: openai_chat(), server={"cors_origins": [app_origin]}) as g:
        for path, body in (("/readyz", ALL_OK), ("/healthz", {"status": "ok"})):
            r = await g.client.get(path, headers={"origin": app_origin})
            assert r.status_code == 200 and r.json() == body
            assert r.headers["cache-control"] == "no-store"
            assert r.headers["content-type"] == "application/json"
            assert not [h for h in r.headers if h.startswith("access-control-")]
            assert "x-request-id" not in r.headers  # not an API request
            head = await g.client.head(path)
            assert head.status_code == 200 and head.content == b""
            assert (await g.client.post(path)).status_code == 405
        # a wrong key changes nothing: these are not the API's
        r = await g.client.get("/readyz", headers={"authorization": "Bearer wrong"})
        assert r.status_code == 200
        assert g.runtime.auth_failures.total == 0
    assert g.rows() == {}


async def test_a_locked_database_is_not_ready_until_released(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="llmgw")
    async with gateway(tmp_path, lambda r: openai_chat()) as g:
        uncached(g)
        holder = sqlite3.connect(g.db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write lock, as `llmgw` commands take it
        try:
            assert failing(await g.client.get("/readyz")) == {"database"}
            assert failing(await g.client.get("/readyz")) == {"database"}
            assert (await g.client.get("/healthz")).status_code == 200  # liveness reads nothing
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert (await g.client.get("/readyz")).json() == ALL_OK
    changes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("/readyz")]
    assert changes == ["/readyz: not ready: database failed", "/readyz: ready again"]  # once each


async def test_a_database_file_gone_is_not_ready(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as g:
        uncached(g)
        moved = tmp_path / "moved.db"
        g.db.rename(moved)  # an unmounted volume: the probe never creates a new file
        try:
            assert failing(await g.client.get("/readyz")) == {"database"}
            assert not g.db.exists()
        finally:
            moved.rename(g.db)
        assert (await g.client.get("/readyz")).json() == ALL_OK


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes read-only files")
async def test_a_read_only_database_file_is_not_ready(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as g:
        uncached(g)
        g.db.chmod(0o400)
        try:
            assert failing(await g.client.get("/readyz")) == {"database"}
        finally:
            g.db.chmod(0o600)
        assert (await g.client.get("/readyz")).json() == ALL_OK


async def test_no_provider_key_at_all_is_not_ready_until_one_is_added(tmp_path: Path) -> None:
    keys: dict[str, list[str]] = {}
    async with gateway(tmp_path, lambda r: openai_chat(), keys=keys) as g:
        uncached(g)
        assert failing(await g.client.get("/readyz")) == {"keys"}
        keys["ant"] = ["ant-only"]  # one provider of three: the others stay keyless, and that is fine
        await g.loops.refresh_keys()
        assert (await g.client.get("/readyz")).json() == ALL_OK


async def test_a_ledger_queue_backed_up_behind_a_locked_database(tmp_path: Path) -> None:
    server = {"ledger_queue_rows": 4, "database_busy_timeout": 30}
    async with gateway(tmp_path, lambda r: openai_chat(), server=server) as g:
        uncached(g)
        holder = sqlite3.connect(g.db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            for _ in range(2):  # half the queue: the writer waits for the lock, the rows in memory
                assert (await g.chat("oai/gpt-4o-mini")).status_code == 200
            assert g.runtime.ledger.pending() == 2
            assert failing(await g.client.get("/readyz")) == {"database", "ledger"}
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        for _ in range(100):  # the writer takes the lock once released
            if not g.runtime.ledger.pending():
                break
            await asyncio.sleep(0.05)
        assert (await g.client.get("/readyz")).json() == ALL_OK
    assert len(g.rows()) == 2


async def test_concurrent_probes_share_one_database_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as g:
        store = g.runtime.store
        probes: list[float] = []
        real = store.writable

        def counted(timeout: float) -> bool:
            probes.append(timeout)
            return real(timeout)

        monkeypatch.setattr(store, "writable", counted)
        answers = await asyncio.gather(*(g.client.get("/readyz") for _ in range(20)))
        assert [r.json() for r in answers] == [ALL_OK] * 20
        assert len(probes) == 1  # one probe, its verdict kept for a second
