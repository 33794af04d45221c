"""Three gateways in process on one PostgreSQL database (relay/shared.py through the whole relay): 50
concurrent requests spread over them against a budget that fits 10 worst cases admit at most 10, and
the spend the ledger records stays within the budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from llmgw.services import keys, limits, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.inprocess.test_limits_relay import OPENAI_BODY, PRICES, USERS, answer, gw_of, worst_case
from tests.inprocess.test_relay_inprocess import gateway
from tests.support import raw_db
from tests.support.postgres import PgServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


async def test_three_gateways_share_a_budget_that_fits_ten(tmp_path: Path, pg_url: str) -> None:
    budget = 10.5 * worst_case(OPENAI_BODY)
    with Store.open(pg_url) as store:
        users.create_user(store, Actor.cli(), "ada", "a long enough password", role="admin")
        token = keys.create_key(store, Actor.cli(), "ada").token
        limits.set_limits(store, Actor.cli(), "ada", budget_usd=budget, period="month")
    release = asyncio.Event()
    arrived = 0

    async def held(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        await release.wait()  # every admitted request in flight while the others are decided
        return answer(request)

    async with AsyncExitStack() as stack:
        running = []
        for i in range(3):
            (tmp_path / str(i)).mkdir()
            r = await stack.enter_async_context(
                gateway(tmp_path / str(i), held, server={**USERS, "database": pg_url})
            )
            gw_of(r).prices = PRICES
            running.append(r)
        headers = {"authorization": f"Bearer {token}"}
        tasks = [
            asyncio.create_task(
                running[i % 3].client.post("/v1/chat/completions", json=OPENAI_BODY, headers=headers)
            )
            for i in range(50)
        ]
        for _ in range(1000):
            if sum(t.done() for t in tasks) == 40 and arrived == 10:
                break
            await asyncio.sleep(0.01)
        release.set()
        answers = await asyncio.gather(*tasks)
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200] * 10 + [429] * 40, [
            r.text for r in answers if r.status_code not in (200, 429)
        ]
        refused = next(r for r in answers if r.status_code == 429)
        assert "reserved by requests in flight" in refused.json()["error"]["message"]
    with Store.open(pg_url) as store:
        spent = store.usage_rollups(since=None, until=None).get((), None)
        assert spent is not None and 0 < spent.cost_usd <= budget
        assert raw_db.rows(store, "SELECT count(*) FROM budget_holds") == [(0,)]
