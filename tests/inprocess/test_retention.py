"""Retention (services/retention.py): raw rows past `usage_retention_days` and rollup hours past
`rollup_retention_days` purged in batches, by hand and by the running gateway, report totals unchanged."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from llmgw.cli.usage import summary_json
from llmgw.errors import PermissionDenied
from llmgw.services import retention, usage
from llmgw.services.audit import Actor
from llmgw.settings import ServerConfig
from llmgw.storage import Store, UsageRow
from tests.inprocess.test_relay_inprocess import gateway, openai_chat
from tests.support.accounts_rows import add_user

DAY = 86400.0
CLI = Actor(name="cli:tester")


def row(request_id: str, created_at: float) -> UsageRow:
    return UsageRow(
        request_id=request_id,
        endpoint="/v1/chat/completions",
        created_at=created_at,
        status=200,
        provider="oai",
        model_requested="oai/gpt-4o-mini",
        total_tokens=10,
        usage_source="provider",
        cost_usd=0.01,
        latency_ms=120.0,
    )


def fill(db: str | Path, now: float, days: range, per_day: int = 100) -> None:
    with Store.open(db) as store:
        store.insert_requests([row(f"d{d}-{i}", now - d * DAY - i) for d in days for i in range(per_day)])


def count(db: str | Path) -> int:
    with Store.open(db) as store:
        return len(store.recent_requests(1_000_000))


def test_cutoffs_follow_the_settings() -> None:
    now = 1_000 * DAY
    assert retention.cutoffs(ServerConfig(), now) == (now - 90 * DAY, None)  # the defaults
    assert retention.cutoffs(ServerConfig(usage_retention_days=0, rollup_retention_days=400), now) == (
        None,
        now - 400 * DAY,
    )


def test_purge_removes_old_rows_in_batches_and_keeps_report_totals(database: str) -> None:
    db = database
    now = time.time()
    fill(db, now, range(0, 200, 20), per_day=130)  # days 0, 20 … 180
    with Store.open(db) as store:
        before = usage.report(store, CLI, since=None, until=None, by="day")
        server = ServerConfig(usage_retention_days=90)
        purged = retention.purge(store, CLI, server, now, batch=50)
        assert purged.requests == 5 * 130  # days 100 … 180
        assert purged.rollups == 0 and purged.rollups_before is None
        assert purged.requests_before == now - 90 * DAY
        after = usage.report(store, CLI, since=None, until=None, by="day")
        assert after == before
        assert retention.purge(store, CLI, server, now).requests == 0  # nothing left to do
    assert count(db) == 5 * 130


def test_rollup_retention_drops_old_hours(database: str) -> None:
    db = database
    now = time.time()
    fill(db, now, range(0, 60, 10), per_day=3)
    with Store.open(db) as store:
        server = ServerConfig(usage_retention_days=0, rollup_retention_days=35)  # at least 31 allowed
        purged = retention.purge(store, CLI, server, now)
        assert purged.requests == 0 and purged.rollups >= 2  # days 40 and 50
        assert usage.report(store, CLI, since=None, until=None).total.requests == 12
    assert count(db) == 18  # raw rows kept forever


def test_only_an_admin_purges(database: str) -> None:
    db = database
    Store.open(db).close()
    bob = add_user(db, "bob")
    with Store.open(db) as store, pytest.raises(PermissionDenied):
        retention.purge(store, Actor.user(bob, "bob"), ServerConfig(), time.time())


@pytest.mark.anyio
async def test_the_running_gateway_purges_while_it_serves(tmp_path: Path) -> None:
    db = tmp_path / "llmgw.db"
    now = time.time()
    fill(db, now, range(100, 110), per_day=300)  # 3000 rows past 90 days
    fill(db, now, range(1, 3), per_day=5)  # 10 within
    async with gateway(tmp_path, lambda request: openai_chat()) as gw:
        # the first purge starts with the lifespan; requests are answered and recorded meanwhile
        answers = await asyncio.gather(*(gw.chat("oai/gpt-4o-mini") for _ in range(20)))
        assert all(r.status_code == 200 for r in answers)
        for _ in range(400):  # up to 20 s
            if count(db) <= 30:
                break
            await asyncio.sleep(0.05)
    rows = gw.rows()
    assert len(rows) == 30  # the 10 recent, the 20 new
    assert all(gw.row(r) for r in answers)
    with Store.open(db) as store:
        assert usage.report(store, CLI, since=None, until=None).total.requests == 3030


def test_plain_summary_totals_survive_a_purge(tmp_path: Path) -> None:
    """`llmgw usage` without --by reads the rollups: purging raw rows changes none of its numbers."""
    db = tmp_path / "llmgw.db"
    now = time.time()
    fill(db, now, range(0, 200, 20), per_day=7)
    odd = [
        UsageRow(request_id="est", endpoint="/v1/messages", created_at=now - 150 * DAY, status=200,
                 provider="ant", model_requested="ant/claude", prompt_tokens=40, completion_tokens=9,
                 total_tokens=49, cached_tokens=5, usage_source="estimated"),
        UsageRow(request_id="err", endpoint="/v1/chat/completions", created_at=now - 120 * DAY, status=502,
                 provider="oai", model_requested="oai/gpt-4o-mini", error_type="upstream_error"),
        UsageRow(request_id="404", endpoint="/v1/chat/completions", created_at=now - 100 * DAY, status=404,
                 model_requested="nope"),
    ]  # fmt: skip
    with Store.open(db) as store:
        store.insert_requests(odd)
        before = [summary_json(usage.summary(store, CLI, since)) for since in (None, now - 130 * DAY)]
        before_data = json.loads(before[0])
        assert before_data["requests"] == 73 and before_data["unpriced_requests"] == 1
        purged = retention.purge(store, CLI, ServerConfig(usage_retention_days=90), now)
        assert purged.requests == 5 * 7 + 3
        assert [summary_json(usage.summary(store, CLI, since)) for since in (None, now - 130 * DAY)] == before
