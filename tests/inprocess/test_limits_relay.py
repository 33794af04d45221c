"""Rate limits and budgets on the hot path, in process (`relay/limits.py`): 50 concurrent requests
against a budget that fits 10, requests and tokens per minute on a clock the test moves, both
dialects' 429 with Retry-After, unknown prices refused under a budget, the output cap set upstream,
spend kept across a restart."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmgw.relay.prompt_bound import measure
from llmgw.relay.runtime import Gateway
from llmgw.services import limits, retention
from llmgw.services.audit import Actor
from llmgw.services.money import usd
from llmgw.services.pricing import Price, PriceTable
from llmgw.settings import ServerConfig
from llmgw.storage import Store, UsageRow
from tests.inprocess.test_relay_inprocess import (
    USER,
    Running,
    anthropic_err,
    anthropic_message,
    gateway,
    openai_chat,
    openai_err,
)
from tests.support.accounts_rows import Key, add_key, add_user, create_schema

pytestmark = pytest.mark.anyio

PRICE = Price(input=1.0, output=4.0)  # USD per million tokens
PRICES = PriceTable({"oai/gpt-4o-mini": PRICE, "ant/claude-sonnet-4-5": PRICE, "backup/gpt-4o-mini": PRICE})
USERS = {"auth_mode": "users"}
OPENAI_BODY = {"model": "oai/gpt-4o-mini", "messages": USER, "max_tokens": 100}
ANTHROPIC_BODY = {"model": "claude", "messages": USER, "max_tokens": 100}


def answer(request: httpx.Request) -> httpx.Response:
    return anthropic_message() if request.url.host == "ant.test" else openai_chat()


def account(tmp_path: Path) -> Key:
    db = tmp_path / "llmgw.db"
    create_schema(db)
    return add_key(db, add_user(db, "ada"))


def set_limit(tmp_path: Path, ref: str, **values: Any) -> None:
    with Store.open(tmp_path / "llmgw.db") as store:
        limits.set_limits(store, Actor.cli(), ref, **values)


def worst_case(body: dict[str, Any]) -> float:
    """What the gateway reserves for `body`: its prompt's bound for its model (relay/prompt_bound.py;
    the alias `claude` takes the tokenizer margin as its Claude model does), `max_tokens` as output."""
    return PRICE.worst_case_usd(measure(body).tokens(body["model"]), body["max_tokens"])


def gw_of(running: Running) -> Gateway:
    gw: Gateway = running.app.state.gateway
    return gw


class Clock:
    def __init__(self, at: float) -> None:
        self.now = at

    def __call__(self) -> float:
        return self.now


async def post(running: Running, key: Key, dialect: str) -> httpx.Response:
    if dialect == "openai":
        return await running.client.post(
            "/v1/chat/completions", json=OPENAI_BODY, headers={"authorization": f"Bearer {key.token}"}
        )
    return await running.client.post("/v1/messages", json=ANTHROPIC_BODY, headers={"x-api-key": key.token})


def spent_in_ledger(db: Path) -> float:
    with closing(sqlite3.connect(db)) as conn:
        return float(conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM requests").fetchone()[0])


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_50_concurrent_requests_against_a_budget_that_fits_10(tmp_path: Path, dialect: str) -> None:
    key = account(tmp_path)
    body = OPENAI_BODY if dialect == "openai" else ANTHROPIC_BODY
    budget = 10.5 * worst_case(body)  # ten reservations fit, an eleventh does not
    set_limit(tmp_path, "ada", budget_usd=budget, period="month")
    release = asyncio.Event()
    arrived = 0

    async def held(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        await release.wait()  # every admitted request is in flight while the others are decided
        return answer(request)

    async with gateway(tmp_path, held, server=USERS) as running:
        gw_of(running).prices = PRICES
        tasks = [asyncio.create_task(post(running, key, dialect)) for _ in range(50)]
        for _ in range(500):
            if sum(t.done() for t in tasks) == 40 and arrived == 10:
                break
            await asyncio.sleep(0.01)
        release.set()
        answers = await asyncio.gather(*tasks)
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200] * 10 + [429] * 40
        assert arrived == 10
        refused = next(r for r in answers if r.status_code == 429)
        if dialect == "openai":
            err = openai_err(refused, 429)
            assert (err["type"], err["code"]) == ("rate_limit_error", "budget_exceeded")
        else:
            err = anthropic_err(refused, 429)
            assert err["type"] == "rate_limit_error"
        assert f"spend budget of {usd(budget)} per month" in err["message"] and "user ada" in err["message"]
        assert int(refused.headers["retry-after"]) >= 1
        _, month = gw_of(running).limits.spent("user", key.user_id)
        assert 0 < month <= budget
    assert 0 < spent_in_ledger(tmp_path / "llmgw.db") <= budget


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_requests_per_minute_on_a_rolling_window(tmp_path: Path, dialect: str) -> None:
    key = account(tmp_path)
    set_limit(tmp_path, "ada", rpm=2)
    async with gateway(tmp_path, answer, server=USERS) as running:
        clock = Clock(1_800_000_000.0)
        gw_of(running).limits.clock = clock
        assert (await post(running, key, dialect)).status_code == 200
        clock.now += 20
        assert (await post(running, key, dialect)).status_code == 200
        clock.now += 10
        refused = await post(running, key, dialect)
        err = openai_err(refused, 429) if dialect == "openai" else anthropic_err(refused, 429)
        assert "user ada has reached its limit of 2 requests per minute" in err["message"]
        if dialect == "openai":
            assert err["code"] == "gateway_rate_limit_exceeded"
        # The first request leaves the window when its whole second has: 31 s from now.
        assert refused.headers["retry-after"] == "31"
        clock.now += 30
        assert (await post(running, key, dialect)).status_code == 429  # never early
        clock.now += 1
        assert (await post(running, key, dialect)).status_code == 200
        assert (await post(running, key, dialect)).status_code == 429  # the second is still in it


async def test_tokens_per_minute_count_what_ended(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_limit(tmp_path, key.public_id, tpm=30)
    async with gateway(tmp_path, answer, server=USERS) as running:
        clock = Clock(1_800_000_000.0)
        gw_of(running).limits.clock = clock
        assert (await post(running, key, "openai")).status_code == 200  # 22 tokens: under 30
        clock.now += 5
        assert (await post(running, key, "openai")).status_code == 200  # 44 now
        clock.now += 5
        refused = await post(running, key, "openai")
        err = openai_err(refused, 429)
        assert f"key {key.public_id} has reached its limit of 30 tokens per minute" in err["message"]
        assert refused.headers["retry-after"] == "51"  # then the first request's 22 leave: 22 < 30
        clock.now += 51
        assert (await post(running, key, "openai")).status_code == 200


async def test_the_key_and_its_user_both_apply(tmp_path: Path) -> None:
    key = account(tmp_path)
    other = add_key(tmp_path / "llmgw.db", key.user_id, name="other")
    set_limit(tmp_path, "ada", rpm=3)
    set_limit(tmp_path, key.public_id, rpm=1)
    async with gateway(tmp_path, answer, server=USERS) as running:
        assert (await post(running, key, "openai")).status_code == 200
        assert "key " + key.public_id in openai_err(await post(running, key, "openai"), 429)["message"]
        assert (await post(running, other, "openai")).status_code == 200
        assert (await post(running, other, "openai")).status_code == 200
        assert "user ada" in openai_err(await post(running, other, "openai"), 429)["message"]


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_a_budget_refuses_a_model_without_a_price(tmp_path: Path, dialect: str) -> None:
    key = account(tmp_path)
    set_limit(tmp_path, "ada", budget_usd=100.0)
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PriceTable({})  # nothing priced
        r = await post(running, key, dialect)
        err = openai_err(r, 403) if dialect == "openai" else anthropic_err(r, 403)
        model = "oai/gpt-4o-mini" if dialect == "openai" else "ant/claude-sonnet-4-5"
        assert f"Model '{model}' has no price" in err["message"]
        if dialect == "openai":
            assert err["code"] == "model_not_priced"
        else:
            assert err["type"] == "permission_error"
        # Nothing went upstream but, for an OpenAI-format provider, its model list (is the model known?).
        assert [r.url.path for r in running.upstreams.sent if r.url.path != "/v1/models"] == []


async def test_a_fallback_without_a_price_is_refused_too(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_limit(tmp_path, "ada", budget_usd=100.0)
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PriceTable({"oai/gpt-4o-mini": PRICE})  # `smart` falls back to backup/
        r = await running.client.post(
            "/v1/chat/completions",
            json={"model": "smart", "messages": USER},
            headers={"authorization": f"Bearer {key.token}"},
        )
        assert "Model 'backup/gpt-4o-mini' has no price" in openai_err(r, 403)["message"]


async def test_without_a_budget_unpriced_models_are_served(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_limit(tmp_path, "ada", rpm=100)
    async with gateway(tmp_path, answer, server=USERS) as running:
        assert (await post(running, key, "openai")).status_code == 200


async def test_a_budget_sets_the_output_cap_upstream(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_limit(tmp_path, "ada", budget_usd=100.0)
    async with gateway(tmp_path, answer, server={**USERS, "default_max_tokens": 777}) as running:
        gw_of(running).prices = PRICES
        r = await running.client.post(
            "/v1/chat/completions",
            json={"model": "oai/gpt-4o-mini", "messages": USER},
            headers={"authorization": f"Bearer {key.token}"},
        )
        assert r.status_code == 200
        sent = orjson.loads(running.upstreams.sent[-1].content)
        assert sent["max_tokens"] == 777  # an openai-compatible server: the field they all know


async def test_without_a_budget_nothing_is_added_upstream(tmp_path: Path) -> None:
    key = account(tmp_path)
    async with gateway(tmp_path, answer, server=USERS) as running:
        r = await running.client.post(
            "/v1/chat/completions",
            json={"model": "oai/gpt-4o-mini", "messages": USER},
            headers={"authorization": f"Bearer {key.token}"},
        )
        assert r.status_code == 200
        assert "max_tokens" not in orjson.loads(running.upstreams.sent[-1].content)


async def test_over_budget_retry_after_is_the_period_reset(tmp_path: Path) -> None:
    key = account(tmp_path)
    # Room for one worst case, and half of what one request really costs beyond it.
    budget = worst_case(OPENAI_BODY) + PRICE.cost_usd(_Tokens(14, 8)) / 2
    set_limit(tmp_path, "ada", budget_usd=budget, period="day")
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PRICES
        clock = Clock(datetime(2026, 11, 30, 23, 58, 20, tzinfo=UTC).timestamp())
        gw_of(running).limits.clock = clock
        assert (await post(running, key, "openai")).status_code == 200  # spends far less than reserved
        assert (await post(running, key, "openai")).status_code == 429  # spent + worst case > budget
        r = await post(running, key, "openai")
        assert r.headers["retry-after"] == "100"  # to 2026-12-01T00:00:00Z
        assert "per day" in openai_err(r, 429)["message"]
        clock.now += 100
        assert (await post(running, key, "openai")).status_code == 200  # a new day


async def test_spend_survives_a_restart(tmp_path: Path) -> None:
    key = account(tmp_path)
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PRICES
        for _ in range(3):
            assert (await post(running, key, "openai")).status_code == 200
        before = gw_of(running).limits.spent("user", key.user_id)
    assert before[1] == pytest.approx(3 * PRICE.cost_usd(_Tokens(14, 8)))
    assert spent_in_ledger(tmp_path / "llmgw.db") == pytest.approx(before[1])
    # The budget set while the gateway was down leaves room for less than one more worst case.
    set_limit(tmp_path, "ada", budget_usd=before[1] + worst_case(OPENAI_BODY) * 0.9)
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PRICES
        assert gw_of(running).limits.spent("user", key.user_id) == pytest.approx(before)
        assert gw_of(running).limits.spent("key", key.key_id) == pytest.approx(before)
        assert "spend budget" in openai_err(await post(running, key, "openai"), 429)["message"]


async def test_month_spend_survives_a_purge_of_its_raw_rows(tmp_path: Path) -> None:
    """A starting gateway reads spend from the hourly rollups: rows of this month that a retention
    shorter than the month has purged still count against a month budget."""
    key = account(tmp_path)
    now = time.time()
    month = datetime.fromtimestamp(now, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    early = [
        UsageRow(request_id=f"early{i}", endpoint="/v1/chat/completions", created_at=month.timestamp() + i,
                 status=200, user_id=key.user_id, api_key_id=key.key_id, provider="oai",
                 model_requested="oai/gpt-4o-mini", usage_source="provider", cost_usd=0.25)
        for i in range(4)
    ]  # fmt: skip
    with Store.open(tmp_path / "llmgw.db") as store:
        store.insert_requests(early)
        # A 1-day retention, applied two days on: every raw row goes (even on the 1st of a month).
        purged = retention.purge(store, Actor.cli(), ServerConfig(usage_retention_days=1), now + 2 * 86400)
        assert purged.requests == 4 and store.recent_requests(10) == []
    set_limit(tmp_path, "ada", budget_usd=1.0 + worst_case(OPENAI_BODY) * 0.9, period="month")
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PRICES
        assert gw_of(running).limits.spent("user", key.user_id)[1] == pytest.approx(1.0)
        assert gw_of(running).limits.spent("key", key.key_id)[1] == pytest.approx(1.0)
        assert "spend budget" in openai_err(await post(running, key, "openai"), 429)["message"]


async def test_a_limit_set_while_serving_applies_at_the_next_poll(tmp_path: Path) -> None:
    key = account(tmp_path)
    async with gateway(tmp_path, answer, server=USERS) as running:
        assert (await post(running, key, "openai")).status_code == 200
        set_limit(tmp_path, "ada", rpm=1)  # another connection, as the CLI's
        for _ in range(40):
            await asyncio.sleep(0.05)
            if gw_of(running).limits.subject_count:
                break
        assert gw_of(running).limits.subject_count == 1
        assert (await post(running, key, "openai")).status_code == 200
        assert (await post(running, key, "openai")).status_code == 429


class _Tokens:
    def __init__(self, prompt: int, completion: int) -> None:
        self.prompt_tokens, self.completion_tokens = prompt, completion
        self.cached_tokens = self.cache_write_tokens = self.reasoning_tokens = None


async def test_a_failed_request_gives_its_reservation_back(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_limit(tmp_path, "ada", budget_usd=worst_case(OPENAI_BODY) * 1.2)  # one reservation at a time
    failing = True

    def flaky(request: httpx.Request) -> httpx.Response:
        if failing:
            return httpx.Response(400, json={"error": {"message": "bad", "type": "invalid_request_error"}})
        return answer(request)

    async with gateway(tmp_path, flaky, server=USERS) as running:
        gw_of(running).prices = PRICES
        assert (await post(running, key, "openai")).status_code == 400
        assert (await post(running, key, "openai")).status_code == 400  # the first one's given back
        failing = False
        assert (await post(running, key, "openai")).status_code == 200
        assert gw_of(running).limits.spent("user", key.user_id)[1] == pytest.approx(
            PRICE.cost_usd(_Tokens(14, 8))
        )
