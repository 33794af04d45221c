"""Reservations close to the real cost (relay/prompt_bound.py): a budget with room for about ten
requests of a 4 KB prompt and `max_tokens` 100 admits at least nine of ten sent one after another, for
an OpenAI model (exact count: it reserves 1.06 times the cost) and a Claude one (the tokenizer margin:
1.8 times). With the body's bytes as the prompt's bound each reserved 4 times its cost: two of ten sent
at once fitted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmgw.relay.prompt_bound import measure
from llmgw.relay.token_count import encoding
from tests.inprocess.test_budget_caps import set_budget
from tests.inprocess.test_limits_relay import PRICE, PRICES, USERS, account, gw_of
from tests.inprocess.test_relay_inprocess import gateway

pytestmark = pytest.mark.anyio

PROMPT = ("Summarise the budget rules of this gateway for a new user, in plain words. " * 55)[:4096]
MAX_TOKENS = 100


def prompt_tokens() -> int:
    """What the upstream bills for the prompt in this test: its o200k_base count plus a chat
    template's few tokens."""
    return len(encoding().encode(PROMPT)) + 7


def upstream(request: httpx.Request) -> httpx.Response:
    """Answers billing the prompt's tokens and every output token allowed: the dearest real answer."""
    if request.url.host == "ant.test":
        usage: dict[str, Any] = {"input_tokens": prompt_tokens(), "output_tokens": MAX_TOKENS}
        return httpx.Response(
            200,
            json={"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                  "content": [{"type": "text", "text": "ok"}], "stop_reason": "max_tokens",
                  "stop_sequence": None, "usage": usage},
        )  # fmt: skip
    usage = {"prompt_tokens": prompt_tokens(), "completion_tokens": MAX_TOKENS,
             "total_tokens": prompt_tokens() + MAX_TOKENS}  # fmt: skip
    return httpx.Response(
        200,
        json={"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                           "finish_reason": "length"}], "usage": usage},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("model", "upstream_model"), [("oai/gpt-4o-mini", "gpt-4o-mini"), ("claude", "claude-sonnet-4-5")]
)
async def test_a_budget_for_ten_requests_admits_nine_of_ten_in_a_row(
    tmp_path: Path, model: str, upstream_model: str
) -> None:
    key = account(tmp_path)
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS}
    real = PRICE.worst_case_usd(prompt_tokens(), MAX_TOKENS)  # what each request costs
    # What the byte bound reserved (bytes plus the 1024 it added): four times the cost.
    by_bytes = PRICE.worst_case_usd(len(orjson.dumps(body)) + 1024, MAX_TOKENS)
    assert by_bytes > 4 * real
    reserved = PRICE.worst_case_usd(measure(body).tokens(upstream_model), MAX_TOKENS)
    assert real < reserved < 2 * real
    set_budget(tmp_path, 10 * real)
    async with gateway(tmp_path, upstream, server=USERS) as running:
        gw_of(running).prices = PRICES
        statuses = []
        for _ in range(10):
            headers = {"authorization": f"Bearer {key.token}"}
            r = await running.client.post("/v1/chat/completions", json=body, headers=headers)
            statuses.append(r.status_code)
    assert statuses.count(200) >= 9, statuses
    assert set(statuses) <= {200, 429}
