"""Budget alerts (server/budget_alerts.py) against a real HTTP receiver on 127.0.0.1: one POST per
threshold crossed, Slack's `text` and the structured fields; not again in the same period, also after a
restart (m014); again in the next; retried after a 500; given up after the last retry; the URL's
secret path never logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from llmgw.relay.limits import Limiter
from llmgw.server.budget_alerts import BudgetAlerts, receiver_host
from llmgw.storage import LimitRow, LimitValues, Spend, Store
from tests.support.accounts_rows import add_key, add_user, create_schema
from tests.support.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.anyio

DAY = datetime(2026, 3, 15, 9, 0, tzinfo=UTC).timestamp()
DAY_START = datetime(2026, 3, 15, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, at: float) -> None:
        self.now = at

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    create_schema(database)
    ada = add_user(database, "ada")
    add_key(database, ada)
    with Store.open(database) as s:
        yield s


def limiter(clock: Clock, key_public_id: str = "0123456789abcdef") -> Limiter:
    lim = Limiter(clock)
    lim.load(
        [
            LimitRow("user", 1, "ada", "ada", LimitValues(budget_usd=1.0, period="day"), 0.0),
            LimitRow("key", 1, key_public_id, "ada", LimitValues(budget_usd=10.0, period="month"), 0.0),
        ]
    )
    return lim


def spend(lim: Limiter, user: float, key: float = 0.0) -> None:
    lim.load_spend(Spend({1: user}, {1: key}), Spend({1: user}, {1: key}))


async def deliver_all(alerts: BudgetAlerts, client: httpx.AsyncClient) -> list[bool]:
    return [await alerts.deliver(client, a) for a in alerts.check()]


async def test_once_at_each_threshold_not_again_in_the_period_again_in_the_next(store: Store) -> None:
    clock = Clock(DAY)
    lim = limiter(clock)
    with webhook_receiver() as receiver:
        alerts = BudgetAlerts(lim, store, receiver.url, (80, 100), clock=clock, retry_delays=())
        async with httpx.AsyncClient() as client:
            spend(lim, 0.5)
            assert alerts.check() == []
            spend(lim, 0.85)
            assert await deliver_all(alerts, client) == [True]
            spend(lim, 0.95)
            assert alerts.check() == []  # 80% already sent this day
            spend(lim, 1.2, key=8.5)  # the user's 100%, the key's 80% of its month
            assert await deliver_all(alerts, client) == [True, True]
            assert alerts.check() == []
            clock.now += 86400  # the next UTC day: the user's day budget starts again, the key's month not
            spend(lim, 0.9, key=8.6)
            assert await deliver_all(alerts, client) == [True]
    got = [(r.body["scope"], r.body["threshold"], r.body["period_start"]) for r in receiver.received]
    assert got == [
        ("user", 80, "2026-03-15T00:00:00Z"),
        ("user", 100, "2026-03-15T00:00:00Z"),
        ("key", 80, "2026-03-01T00:00:00Z"),
        ("user", 80, "2026-03-16T00:00:00Z"),
    ]
    assert all(r.path == "/hooks/T000/SECRETPART" for r in receiver.received)


async def test_the_body_slack_and_generic_receivers_read(store: Store) -> None:
    clock = Clock(DAY)
    lim = limiter(clock)
    spend(lim, 0.0, key=9.99)
    with webhook_receiver() as receiver:
        alerts = BudgetAlerts(lim, store, receiver.url, (80,), clock=clock, retry_delays=())
        async with httpx.AsyncClient() as client:
            assert await deliver_all(alerts, client) == [True]
    body = receiver.received[0].body
    assert body == {
        "text": "llmgw budget alert: key 0123456789abcdef of user ada has spent 9.99 USD, 100% of its budget "
        "of 10.00 USD per month (2026-03 UTC), past the 80% threshold.",
        "event": "budget_threshold",
        "scope": "key",
        "user": "ada",
        "key": "0123456789abcdef",
        "period": "month",
        "period_start": "2026-03-01T00:00:00Z",
        "budget_usd": 10.0,
        "spent_usd": 9.99,
        "threshold": 80,
        "time": "2026-03-15T09:00:00Z",
    }


async def test_what_was_sent_is_not_sent_again_after_a_restart(store: Store) -> None:
    clock = Clock(DAY)
    lim = limiter(clock)
    spend(lim, 0.85)
    with webhook_receiver() as receiver:
        first = BudgetAlerts(lim, store, receiver.url, (80, 100), clock=clock, retry_delays=())
        async with httpx.AsyncClient() as client:
            assert await deliver_all(first, client) == [True]
        # A new process: what m014 kept is read at start (run), then a look finds nothing new.
        again = BudgetAlerts(limiter(clock), store, receiver.url, (80, 100), clock=clock, check_interval=0.01)
        spend(again.limits, 0.85)
        task = asyncio.create_task(again.run())
        await asyncio.sleep(0.2)
        task.cancel()
        spend(again.limits, 1.0)  # the 100% is new: it goes
        assert [a.threshold for a in again.check()] == [100]
    assert [r.body["threshold"] for r in receiver.received] == [80]


async def test_retried_after_a_500_and_given_up_after_the_last_retry(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(DAY)
    lim = limiter(clock)
    spend(lim, 0.85)
    caplog.set_level(logging.INFO, "llmgw.alerts")
    with webhook_receiver([500, 503]) as receiver:
        alerts = BudgetAlerts(lim, store, receiver.url, (80,), clock=clock, retry_delays=(0.01, 0.01))
        async with httpx.AsyncClient() as client:
            assert await deliver_all(alerts, client) == [True]
        assert [r.status for r in receiver.received] == [500, 503, 200]
        assert len(store.sent_budget_alerts(0)) == 1
    with webhook_receiver([500] * 3) as receiver:
        spend(lim, 0.0, key=8.0)
        alerts = BudgetAlerts(lim, store, receiver.url, (80,), clock=clock, retry_delays=(0.01, 0.01))
        async with httpx.AsyncClient() as client:
            assert await deliver_all(alerts, client) == [False]  # the key's 80%: three 500s
        assert alerts.check() == []  # given up: not queued again until a restart
        assert len(store.sent_budget_alerts(0)) == 1  # and not recorded
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "failed (HTTP 500); retrying" in messages and "given up until the next start" in messages
    assert "SECRETPART" not in messages and "127.0.0.1" in messages


async def test_a_receiver_that_is_not_there(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(DAY)
    lim = limiter(clock)
    spend(lim, 0.85)
    with webhook_receiver() as receiver:
        url = receiver.url
    alerts = BudgetAlerts(lim, store, url, (80,), clock=clock, retry_delays=(0.01,))
    async with httpx.AsyncClient() as client:
        assert await deliver_all(alerts, client) == [False]
    assert "ConnectError" in caplog.text and "SECRETPART" not in caplog.text


def test_a_log_line_names_the_host_only() -> None:
    assert receiver_host("https://hooks.slack.com/services/T0/B0/XXXX?x=1") == "hooks.slack.com"
    assert receiver_host("http://127.0.0.1:8080/hook/secret") == "127.0.0.1:8080"
    assert receiver_host("https://user:pw@example.com/x") == "example.com"


def test_a_budget_of_zero_is_not_reached_before_anything_is_spent(store: Store) -> None:
    clock = Clock(DAY)
    lim = Limiter(clock)
    lim.load([LimitRow("user", 1, "ada", "ada", LimitValues(budget_usd=0.0, period="day"), 0.0)])
    alerts = BudgetAlerts(lim, store, "http://127.0.0.1:9/x", (80, 100), clock=clock)
    assert alerts.check() == []
    spend(lim, 0.01)
    assert [a.threshold for a in alerts.check()] == [80, 100]
