"""Budget refusals in words a user can act on (relay/limits.py `_refusal`), in every client dialect:
amounts with their digits; a budget reached; a reservation too large for what remains, naming the
dialect's own cap field (or `default_max_tokens`) and the largest value that fits, which then does; a
prompt too dear on its own. And a typo'd model under a budget: 404 unknown model, not 403 no price."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmgw.services import model_access
from llmgw.services.audit import Actor
from llmgw.storage import Spend, Store
from tests.inprocess.test_budget_caps import GEM, KEYS, PRICES, answer, set_budget
from tests.inprocess.test_gemini_relay import gemini_err
from tests.inprocess.test_limits_relay import USERS, account, gw_of
from tests.inprocess.test_relay_inprocess import USER, Running, anthropic_err, gateway, openai_err
from tests.support.accounts_rows import Key

pytestmark = pytest.mark.anyio

# Price: 1 USD per million input tokens, 4 per million output (tests/inprocess/test_limits_relay.PRICE).
BUDGET = 0.01  # USD per day: a few thousand output tokens
GEMINI_PATH = "/v1beta/models/gem/gemini-2.0-flash:generateContent"
CASES = [
    # (path, body, the cap field the message names)
    ("/v1/chat/completions",
     {"model": "oai/gpt-4o-mini", "messages": USER, "max_tokens": 4000}, "max_tokens"),
    ("/v1/chat/completions",
     {"model": "oai/gpt-4o-mini", "messages": USER, "max_completion_tokens": 4000}, "max_completion_tokens"),
    ("/v1/messages", {"model": "claude", "messages": USER, "max_tokens": 4000}, "max_tokens"),
    ("/v1/responses",
     {"model": "oai/gpt-4o-mini", "input": "Hi", "max_output_tokens": 4000}, "max_output_tokens"),
    (GEMINI_PATH, {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
                   "generationConfig": {"maxOutputTokens": 4000}}, "generationConfig.maxOutputTokens"),
]  # fmt: skip


def headers(key: Key, path: str) -> dict[str, str]:
    if path.startswith("/v1beta"):
        return {"x-goog-api-key": key.token}
    if path == "/v1/messages":
        return {"x-api-key": key.token}
    return {"authorization": f"Bearer {key.token}"}


def message_of(r: httpx.Response, path: str, status: int) -> str:
    if path.startswith("/v1beta"):
        name = {429: "RESOURCE_EXHAUSTED", 404: "NOT_FOUND", 403: "PERMISSION_DENIED"}[status]
        return gemini_err(r, status, name)
    if path == "/v1/messages":
        return str(anthropic_err(r, status)["message"])
    err = openai_err(r, status)
    if status == 429:
        assert err["code"] == "budget_exceeded"
    return str(err["message"])


def with_cap(body: dict[str, Any], field: str, value: int) -> dict[str, Any]:
    if field.startswith("generationConfig."):
        return {**body, "generationConfig": {"maxOutputTokens": value}}
    return {**body, field: value}


async def send(running: Running, key: Key, path: str, body: dict[str, Any]) -> httpx.Response:
    return await running.client.post(path, json=body, headers=headers(key, path))


@pytest.mark.parametrize(("path", "body", "field"), CASES)
async def test_a_reservation_too_large_names_the_cap_and_a_value_that_fits(
    tmp_path: Path, path: str, body: dict[str, Any], field: str
) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, BUDGET)
    async with gateway(tmp_path, answer, server=USERS, providers=GEM, keys=KEYS) as running:
        gw_of(running).prices = PRICES
        message = message_of(await send(running, key, path, body), path, 429)
        assert "user ada's spend budget of 0.01 USD per day has 0.01 USD left (0.00 USD spent)" in message
        assert f"prompt plus `{field}` 4000 output tokens" in message
        found = re.search(rf"Set `{re.escape(field)}` to (\d+) or less and it fits\.", message)
        assert found, message
        fit = int(found.group(1))
        assert 1000 < fit < 4000
        assert "It resets at the start of the next UTC day (" in message
        # The value named is the largest that fits: one more is still refused, it is admitted.
        assert (await send(running, key, path, with_cap(body, field, fit + 1))).status_code == 429
        assert (await send(running, key, path, with_cap(body, field, fit))).status_code == 200


async def test_no_cap_sent_names_default_max_tokens(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, BUDGET)
    async with gateway(tmp_path, answer, server={**USERS, "default_max_tokens": 5000}) as running:
        gw_of(running).prices = PRICES
        body = {"model": "oai/gpt-4o-mini", "messages": USER}
        message = message_of(
            await send(running, key, "/v1/chat/completions", body), "/v1/chat/completions", 429
        )
        assert "`max_tokens` 5000 (`default_max_tokens`, as the request set no `max_tokens`)" in message
        assert re.search(r"Set `max_tokens` to \d+ or less and it fits\.", message)


async def test_answers_and_thinking_are_named(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 1.0)
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PRICES
        body = {
            "model": "oai/gpt-4o-mini",
            "messages": USER,
            "max_tokens": 100_000,
            "n": 3,
            "reasoning_effort": "low",
        }
        message = message_of(
            await send(running, key, "/v1/chat/completions", body), "/v1/chat/completions", 429
        )
        assert "`max_tokens` 100000 and a thinking budget of" in message
        assert "output tokens for each of 3 answers" in message
        fit = int(re.search(r"Set `max_tokens` to (\d+) or less", message).group(1))  # type: ignore[union-attr]
        r = await send(running, key, "/v1/chat/completions", {**body, "max_tokens": fit})
        assert r.status_code == 200, r.text


async def test_a_budget_reached_says_spent_and_when_it_resets(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, BUDGET)
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw = gw_of(running)
        gw.prices = PRICES
        spent = Spend({key.user_id: 0.0123}, {})
        gw.limits.load_spend(spent, spent)
        body = {"model": "claude", "messages": USER, "max_tokens": 10}
        r = await send(running, key, "/v1/messages", body)
        message = message_of(r, "/v1/messages", 429)
        assert message.startswith(
            "user ada has reached its spend budget of 0.01 USD per day: 0.012 USD spent."
        )
        assert "max_tokens" not in message  # no lower cap helps
        assert int(r.headers["retry-after"]) >= 1


async def test_a_prompt_too_dear_on_its_own(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 0.00005)  # less than the prompt side's bound (~80 tokens at 1 USD per million)
    async with gateway(tmp_path, answer, server=USERS) as running:
        gw_of(running).prices = PRICES
        body = {"model": "oai/gpt-4o-mini", "messages": USER, "max_tokens": 10}
        message = message_of(
            await send(running, key, "/v1/chat/completions", body), "/v1/chat/completions", 429
        )
        assert "has 0.00005 USD left" in message
        assert "the prompt of this request alone may cost up to 0.00" in message
        assert "Set `max_tokens`" not in message


def listing(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/models"):
        return httpx.Response(200, json={"object": "list", "data": [{"id": "gpt-4o-mini"}, {"id": "gpt-4o"}]})
    return answer(request)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_a_typod_model_under_a_budget_is_unknown_not_unpriced(tmp_path: Path, path: str) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 5.0)
    async with gateway(tmp_path, listing, server=USERS) as running:
        gw_of(running).prices = PRICES
        body = {"model": "oai/gpt-4o-mnii", "messages": USER, "max_tokens": 10}
        message = message_of(await send(running, key, path, body), path, 404)
        assert "The model `oai/gpt-4o-mnii` does not exist" in message
        assert "Did you mean `oai/gpt-4o-mini` or `oai/gpt-4o`?" in message  # closest first
        assert "price" not in message
        # A listed model without a price is still refused for its price.
        body = {"model": "oai/gpt-4o", "messages": USER, "max_tokens": 10}
        assert "has no price" in message_of(await send(running, key, path, body), path, 403)
        # Nothing but the model list went upstream.
        assert {r.url.path for r in running.upstreams.sent} == {"/v1/models"}


async def test_the_names_suggested_are_only_those_the_caller_may_call(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 5.0)
    with Store.open(tmp_path / "llmgw.db") as store:
        model_access.set_access(store, Actor.cli(), "ada", ["oai/gpt-4o-m*"])  # not oai/gpt-4o
    async with gateway(tmp_path, listing, server=USERS) as running:
        gw_of(running).prices = PRICES
        body = {"model": "oai/gpt-4o-mnii", "messages": USER, "max_tokens": 10}
        message = message_of(
            await send(running, key, "/v1/chat/completions", body), "/v1/chat/completions", 404
        )
        assert "Did you mean `oai/gpt-4o-mini`?" in message and "`oai/gpt-4o`" not in message
