"""Instances sharing one PostgreSQL database (relay/shared.py), each with its own store, limiter and key
pools, in process: a budget race over three instances, a dead instance's holds released, refusals naming
every instance's spent and reserved, the rpm shares, an upstream key's stated wait and rejection applied
by another instance, login throttling across two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from llmgw.errors import BudgetExceeded, LimitExceeded
from llmgw.relay.keypool import KeyPool
from llmgw.relay.limits import Limiter
from llmgw.relay.shared import STALE, SharedState
from llmgw.services.login_throttle import PAIR_FREE, LoginThrottle, SharedLoginThrottle
from llmgw.storage import LimitRow, LimitValues, Store, UsageRow
from llmgw.storage.pg_store import PostgresStore
from tests.support import raw_db
from tests.support.postgres import PgServer

pytestmark = pytest.mark.anyio

USER_ID, KEY_ID = 7, 70
COST = 0.01  # each request's worst case, USD
UPSTREAM_KEYS = ["sk-first-upstream-key-0001", "sk-second-upstream-key-0002"]


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


def budget(usd: float, rpm: int | None = None) -> list[LimitRow]:
    values = LimitValues(rpm=rpm, budget_usd=usd, period="month")
    return [LimitRow("user", USER_ID, "ada", "ada", values, 0.0)]


@asynccontextmanager
async def instances(url: str, n: int, limits: list[LimitRow]) -> AsyncIterator[list[SharedState]]:
    """`n` instances on the database at `url`, joined, each with the same limits and upstream keys."""
    made: list[SharedState] = []
    try:
        for _ in range(n):
            store = Store.open(url)
            assert isinstance(store, PostgresStore)
            limiter = Limiter()
            limiter.load(limits)
            shared = SharedState(store, limiter, {"oai": KeyPool("oai", UPSTREAM_KEYS)})
            await asyncio.to_thread(shared.start)
            made.append(shared)
        for shared in made:
            await shared.heartbeat()  # every instance sees the others
        yield made
    finally:
        for shared in made:
            await shared.store.close_async()
            shared.store.close()


def row(request_id: str, cost: float) -> UsageRow:
    r = UsageRow(request_id=request_id, endpoint="/v1/chat/completions", status=200)
    r.user_id, r.api_key_id, r.cost_usd = USER_ID, KEY_ID, cost
    r.provider, r.model_upstream, r.model_requested, r.usage_source = "oai", "m", "m", "provider"
    return r


async def test_fifty_concurrent_admissions_over_three_instances_admit_at_most_what_the_budget_fits(
    pg_url: str,
) -> None:
    async with instances(pg_url, 3, budget(10 * COST)) as three:

        async def one(i: int) -> str | None:
            try:
                await three[i % 3].admit(f"req_{i}", USER_ID, KEY_ID, lambda: COST)
            except BudgetExceeded:
                return None
            return f"req_{i}"

        results = await asyncio.gather(*(one(i) for i in range(50)))
        admitted = [r for r in results if r is not None]
        assert len(admitted) == 10
        # Settled at their exact cost (less than the worst case), each by the instance that admitted it.
        for request_id in admitted:
            i = int(request_id.removeprefix("req_"))
            r = row(request_id, COST * 0.9)
            three[i % 3].settle(r)
            await asyncio.to_thread(three[i % 3].store.insert_requests, [r])
        store = three[0].store
        _, month = three[0].limiter.period_starts()
        spent = (await asyncio.to_thread(store.budget_spent, "month", month)).by_user[USER_ID]
        assert spent == pytest.approx(10 * COST * 0.9)
        assert spent <= 10 * COST
        # The holds went with the rows: what is left (one worst case) fits, and no more.
        with pytest.raises(BudgetExceeded, match=r"\(0\.09 USD spent\)"):
            await three[1].admit("req_more", USER_ID, KEY_ID, lambda: 2 * COST)
        await three[1].admit("req_last", USER_ID, KEY_ID, lambda: COST)


async def test_a_dead_instances_holds_are_released_and_refusals_name_spent_and_reserved(pg_url: str) -> None:
    async with instances(pg_url, 2, budget(4 * COST)) as (alive, dead):
        first = row("req_spent", COST)
        await asyncio.to_thread(alive.store.insert_requests, [first])
        await dead.admit("req_d1", USER_ID, KEY_ID, lambda: COST)
        await dead.admit("req_d2", USER_ID, KEY_ID, lambda: COST)
        # Spent 0.01, reserved 0.02 by the other instance: 0.01 left, a request of 0.02 does not fit.
        with pytest.raises(BudgetExceeded) as refused:
            await alive.admit("req_a", USER_ID, KEY_ID, lambda: 2 * COST)
        message = refused.value.message
        assert "(0.01 USD spent, 0.02 USD reserved by requests in flight" in message, message
        # The other instance is killed: no leave, no heartbeat. Its heartbeat made old, as STALE would.
        await asyncio.to_thread(
            raw_db.rows,
            alive.store,
            "UPDATE llmgw_instances SET seen_at = seen_at - ? WHERE instance = ? RETURNING instance",
            [STALE + 1, dead.instance],
        )
        await alive.admit("req_a", USER_ID, KEY_ID, lambda: 2 * COST)  # its holds no longer count
        await alive.heartbeat()  # and are deleted
        left = raw_db.rows(alive.store, "SELECT request_id FROM budget_holds ORDER BY 1")
        assert left == [("req_a",)]


async def test_each_instance_enforces_its_share_of_an_rpm_limit(pg_url: str) -> None:
    limits = [LimitRow("user", USER_ID, "ada", "ada", LimitValues(rpm=10), 0.0)]
    async with instances(pg_url, 2, limits) as two:
        assert [s.limiter.instances for s in two] == [2, 2]
        admitted = 0
        for i in range(30):
            try:
                two[i % 2].limiter.admit(f"r{i}", USER_ID, KEY_ID, lambda: 0.0)
                admitted += 1
            except LimitExceeded:
                pass
        assert admitted == 10  # 5 each: never more than the limit across the two


async def test_a_stated_wait_and_a_rejection_seen_by_one_instance_are_applied_by_another(pg_url: str) -> None:
    async with instances(pg_url, 2, []) as (one, other):
        pool, seen = one.pools["oai"], other.pools["oai"]
        first, second = pool.current()
        pool.rate_limited(first, "gpt-x", 30.0, reason="429 rate_limit_exceeded")
        pool.rejected(second, 401, reason="401 invalid_api_key")
        assert await one.exchange_key_events() == 0  # published
        assert await other.exchange_key_events() == 2  # applied
        there_first, there_second = seen.current()
        assert there_second.rejected
        waits = seen.waits("gpt-x")
        assert waits[0] is not None and 25 < waits[0] <= 30
        assert seen.acquire("gpt-x") is None  # neither key may be tried for that model
        assert seen.acquire("other-model") is there_first
        assert await one.exchange_key_events() == 0  # nothing echoed back


async def test_login_failures_count_across_two_instances(pg_url: str) -> None:
    stores = [PostgresStore.open(pg_url), PostgresStore.open(pg_url)]
    try:
        a, b = (SharedLoginThrottle(s) for s in stores)
        for i in range(PAIR_FREE):
            throttle = a if i % 2 else b
            assert throttle.allowed("ada", "192.0.2.1")
            throttle.failed("ada", "192.0.2.1")
        # The sixth attempt waits, on both instances; another address is still let through.
        assert not a.allowed("ada", "192.0.2.1") and not b.allowed("ada", "192.0.2.1")
        assert a.allowed("ada", "192.0.2.9")
        assert LoginThrottle().allowed("ada", "192.0.2.1")  # a process-local throttle knows nothing
        b.succeeded("ada", "192.0.2.1")
        assert a.allowed("ada", "192.0.2.1")
    finally:
        for s in stores:
            s.close()
