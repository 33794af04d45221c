"""Where each ledger row's token counts came from (`usage_source`) and what it cost (`cost_usd`), set
by the relay for every way a request ends; in process (tests/inprocess/test_relay_inprocess.py's harness)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.inprocess.test_relay_inprocess import PROXY_KEY, gateway, openai_chat, server_error

pytestmark = pytest.mark.anyio

PRICES = {
    "oai/gpt-4o-mini": {"input": 0.15, "output": 0.6},
    "ant/claude-sonnet-4-5": {"input": 3, "output": 15},
}
COMMON = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1741569952,
    "model": "gpt-4o-mini",
}


def openai_sse(*events: dict[str, Any], done: bool = True) -> httpx.Response:
    body = b"".join(b"data: " + orjson.dumps({**COMMON, **e}) + b"\n\n" for e in events)
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=body + (b"data: [DONE]\n\n" if done else b""),
    )


def delta(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


FINISH = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
USAGE = {"choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 3, "total_tokens": 17}}


def source(row: dict[str, Any]) -> tuple[str, int, float | None]:
    return row["usage_source"], row["tokens_estimated"], row["cost_usd"]


async def test_an_answer_with_usage_is_the_providers_and_priced(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda request: openai_chat(), prices=PRICES) as gw:
        priced = await gw.chat("oai/gpt-4o-mini")
        unpriced = await gw.chat("oai/some-local-model")
    assert source(gw.row(priced)) == ("provider", 0, pytest.approx((14 * 0.15 + 8 * 0.6) / 1e6))
    assert source(gw.row(unpriced)) == ("provider", 0, None)  # unknown price: NULL, never 0


async def test_a_complete_stream_with_usage_is_the_providers(tmp_path: Path) -> None:
    answer = openai_sse(delta("Pa"), delta("ris"), delta("."), FINISH, USAGE)
    async with gateway(tmp_path, lambda request: answer, prices=PRICES) as gw:
        r = await gw.chat("oai/gpt-4o-mini", stream=True)
    row = gw.row(r)
    assert source(row) == ("provider", 0, pytest.approx((14 * 0.15 + 3 * 0.6) / 1e6))
    assert (row["prompt_tokens"], row["completion_tokens"]) == (14, 3)


@pytest.mark.parametrize("done", [True, False], ids=["complete-without-usage", "cut"])
async def test_a_stream_without_its_final_usage_is_estimated(tmp_path: Path, done: bool) -> None:
    answer = openai_sse(delta("Pa"), delta("ris"), *([FINISH] if done else []), done=done)
    async with gateway(tmp_path, lambda request: answer, prices=PRICES) as gw:
        r = await gw.chat("oai/gpt-4o-mini", stream=True)
    row = gw.row(r)
    assert source(row) == ("estimated", 1, pytest.approx(2 * 0.6 / 1e6))
    assert (row["prompt_tokens"], row["completion_tokens"]) == (None, 2)


async def test_an_anthropic_stream_cut_after_message_start_is_estimated_from_what_came(
    tmp_path: Path,
) -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    }
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    deltas = [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}} for t in "abc"
    ]
    body = b"".join(
        f"event: {e['type']}\ndata: ".encode() + orjson.dumps(e) + b"\n\n" for e in [start, block, *deltas]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    async with gateway(tmp_path, answer, prices=PRICES) as gw:
        r = await gw.messages("ant/claude-sonnet-4-5", stream=True)
    row = gw.row(r)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (25, 3)
    assert source(row) == ("estimated", 1, pytest.approx((25 * 3 + 3 * 15) / 1e6))


async def test_requests_that_generated_nothing_have_no_usage(tmp_path: Path) -> None:
    async with gateway(tmp_path, server_error, prices=PRICES) as gw:
        failed = await gw.chat("oai/gpt-4o-mini")  # every key answers 500
        refused = await gw.client.post(
            "/v1/chat/completions",
            json={"model": "oai/gpt-4o-mini"},
            headers={"authorization": f"Bearer {PROXY_KEY}"},
        )
        counted = await gw.client.post(
            "/v1/messages/count_tokens",
            json={"model": "oai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]},
            headers={"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"},
        )
    assert failed.status_code == 500 and refused.status_code == 400 and counted.status_code == 200
    assert counted.json()["input_tokens"] > 0
    assert source(gw.row(failed)) == ("none", 0, 0.0)  # priced model, nothing generated: costs 0
    assert source(gw.row(refused)) == ("none", 0, None)  # refused before routing: no provider to price
    row = gw.row(counted)
    assert source(row) == ("none", 0, 0.0) and row["prompt_tokens"] is None  # a count is not usage
