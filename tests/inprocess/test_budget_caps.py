"""A budget is a hard bound whatever fields the client sends (relay/output_cap.py): the one table of
cap fields per dialect drives both the reservation and what the upstream is sent; fields of other APIs
are refused under a budget; completions count every prompt; and against upstreams that ignore every
cap, concurrently, in both client dialects and all three upstream dialects, streams are cut at their
cap and the ledger never holds more than the budget plus the whole answers in flight."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmgw.relay.prompt_bound import measure
from llmgw.services import limits
from llmgw.services.audit import Actor
from llmgw.services.pricing import PriceTable
from llmgw.storage import Store
from tests.inprocess.test_limits_relay import PRICE, USERS, account, gw_of
from tests.inprocess.test_relay_inprocess import (
    USER,
    Running,
    anthropic_err,
    anthropic_message,
    gateway,
    openai_chat,
    openai_err,
)
from tests.support.accounts_rows import Key

pytestmark = pytest.mark.anyio

PRICES = PriceTable(
    {
        "oai/gpt-4o-mini": PRICE,
        "ant/claude-sonnet-4-5": PRICE,
        "gem/gemini-2.0-flash": PRICE,
        "openai/gpt-4o-mini": PRICE,
    }
)
GEM = {"gem": {"type": "gemini", "base_url": "http://gem.test/v1beta", "models": ["gemini-2.0-flash"]}}
OPENAI = {"openai": {"type": "openai", "base_url": "http://openai.test/v1", "models": ["gpt-4o-mini"]}}
KEYS = {"oai": ["oai-1"], "ant": ["ant-1"], "gem": ["gem-1"], "openai": ["openai-1"]}
LENIENT_TOKENS = 3600  # what an upstream that ignores every cap answers


def set_budget(tmp_path: Path, usd: float) -> None:
    with Store.open(tmp_path / "llmgw.db") as store:
        limits.set_limits(store, Actor.cli(), "ada", budget_usd=usd, period="day")


def auth(key: Key, dialect: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key.token}"} if dialect == "openai" else {"x-api-key": key.token}


def ledger(db: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY created_at")]


def sent_json(running: Running) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(running.upstreams.sent[-1].content)
    return body


# -- what the upstream is sent is what was reserved -----------------------------------------------------


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.host == "ant.test":
        return anthropic_message()
    if request.url.host == "gem.test":
        return httpx.Response(200, json=gemini_body("Paris.", 3))
    return openai_chat()


@pytest.mark.parametrize(
    ("path", "body", "field", "value"),
    [
        # An OpenAI-compatible server gets the field they all know; OpenAI itself its newer one.
        ("/v1/chat/completions", {"model": "oai/gpt-4o-mini", "max_completion_tokens": 30, "max_tokens": 900},
         "max_tokens", 30),
        ("/v1/chat/completions",
         {"model": "openai/gpt-4o-mini", "max_tokens": 900, "max_completion_tokens": 30},
         "max_completion_tokens", 30),
        ("/v1/chat/completions", {"model": "claude", "max_tokens": 30}, "max_tokens", 30),
        ("/v1/chat/completions", {"model": "gem/gemini-2.0-flash", "max_completion_tokens": 30},
         "generationConfig.maxOutputTokens", 30),
        ("/v1/chat/completions", {"model": "oai/gpt-4o-mini"}, "max_tokens", 777),  # the default
        ("/v1/messages", {"model": "claude", "max_tokens": 30}, "max_tokens", 30),
        ("/v1/messages", {"model": "oai/gpt-4o-mini", "max_tokens": 30}, "max_tokens", 30),
        ("/v1/messages", {"model": "openai/gpt-4o-mini", "max_tokens": 30}, "max_completion_tokens", 30),
        ("/v1/messages", {"model": "gem/gemini-2.0-flash", "max_tokens": 30},
         "generationConfig.maxOutputTokens", 30),
    ],
)  # fmt: skip
async def test_the_upstream_is_sent_the_cap_reserved_for(
    tmp_path: Path, path: str, body: dict[str, Any], field: str, value: int
) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 100.0)
    dialect = "openai" if path.startswith("/v1/chat") else "anthropic"
    async with gateway(
        tmp_path, answer, keys=KEYS, server={**USERS, "default_max_tokens": 777}, providers={**GEM, **OPENAI}
    ) as running:
        gw_of(running).prices = PRICES
        r = await running.client.post(path, json={**body, "messages": USER}, headers=auth(key, dialect))
        assert r.status_code == 200, r.text
        sent = sent_json(running)
        where, _, inner = field.partition(".")
        assert (sent[where][inner] if inner else sent[where]) == value
        caps = {"max_tokens", "max_completion_tokens"} & set(sent)
        assert len(caps) == (0 if inner else 1)  # exactly one maximum, never two that could disagree


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/chat/completions", {"model": "oai/gpt-4o-mini", "max_output_tokens": 1}, "max_output_tokens"),
        ("/v1/messages", {"model": "claude", "max_tokens": 4000, "max_completion_tokens": 1},
         "max_completion_tokens"),
        ("/v1/messages", {"model": "claude", "max_tokens": 4000, "max_output_tokens": 1},
         "max_output_tokens"),
        ("/v1/completions", {"model": "oai/gpt-4o-mini", "prompt": "Hi", "max_completion_tokens": 1},
         "max_completion_tokens"),
    ],
)  # fmt: skip
async def test_a_cap_field_of_another_api_is_refused_under_a_budget(
    tmp_path: Path, path: str, body: dict[str, Any], field: str
) -> None:
    key = account(tmp_path)
    dialect = "anthropic" if path == "/v1/messages" else "openai"
    payload = {**body, "messages": USER} if "prompt" not in body else body
    async with gateway(tmp_path, answer, server=USERS) as running:
        # Without a budget the body goes upstream as it came: the upstream decides, as always.
        assert (await running.client.post(path, json=payload, headers=auth(key, dialect))).status_code == 200
        set_budget(tmp_path, 100.0)
        await asyncio.to_thread(gw_of(running).load_limits)
        gw_of(running).prices = PRICES
        sent = len(running.upstreams.sent)
        r = await running.client.post(path, json=payload, headers=auth(key, dialect))
        err = openai_err(r, 400) if dialect == "openai" else anthropic_err(r, 400)
        assert f"`{field}` is not an output limit of {path}" in err["message"]
        if dialect == "openai":
            assert err["param"] == field
        assert len(running.upstreams.sent) == sent  # nothing went upstream


async def test_completions_reserve_for_every_prompt(tmp_path: Path) -> None:
    key = account(tmp_path)
    one = {"model": "oai/gpt-4o-mini", "prompt": "Say hi", "max_tokens": 1000}
    fifty = {**one, "prompt": ["Say hi"] * 50}
    # Room for several single-prompt worst cases, not for fifty completions of up to 1000 tokens.
    set_budget(tmp_path, PRICE.worst_case_usd(2000, 1000) * 10)
    completion = httpx.Response(
        200,
        json={"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-4o-mini",
              "choices": [{"text": "hi", "index": 0, "logprobs": None, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}},
    )  # fmt: skip
    async with gateway(tmp_path, lambda _: completion, server=USERS) as running:
        gw_of(running).prices = PRICES
        headers = auth(key, "openai")
        assert (await running.client.post("/v1/completions", json=one, headers=headers)).status_code == 200
        r = await running.client.post("/v1/completions", json=fifty, headers=headers)
        assert "spend budget" in openai_err(r, 429)["message"]


# -- upstreams that ignore every cap, concurrently -------------------------------------------------------


def gemini_body(text: str, tokens: int, finish: str | None = "STOP") -> dict[str, Any]:
    """A generateContent answer (or stream chunk) as Gemini's API reference shapes it."""
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": tokens,
            "totalTokenCount": 9 + tokens,
        },
        "modelVersion": "gemini-2.0-flash",
    }


class Dripping(httpx.AsyncByteStream):
    """An SSE body sent one event at a time, as a generating upstream does (the gateway can cut it)."""

    def __init__(self, events: list[tuple[str | None, Any]]) -> None:
        self.events = events
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for name, data in self.events:
            head = f"event: {name}\n" if name else ""
            payload = data if isinstance(data, str) else orjson.dumps(data).decode()
            self.sent += 1
            yield f"{head}data: {payload}\n\n".encode()
            await asyncio.sleep(0)


STREAMS: list[Dripping] = []  # every lenient stream answered, to see how much of each was read


def sse(events: list[tuple[str | None, Any]]) -> httpx.Response:
    STREAMS.append(Dripping(events))
    return httpx.Response(200, stream=STREAMS[-1], headers={"content-type": "text/event-stream"})


def lenient(request: httpx.Request) -> httpx.Response:
    """Every provider's wire format, answering LENIENT_TOKENS output tokens whatever cap it was sent;
    streams one token per event, as the providers do."""
    body = orjson.loads(request.content)
    host, n = request.url.host, LENIENT_TOKENS
    words = ["tok"] * n
    if host == "ant.test":
        if not body.get("stream"):
            return httpx.Response(200, json={
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": " ".join(words)}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": n}})  # fmt: skip
        events: list[tuple[str | None, Any]] = [
            ("message_start", {"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        ]  # fmt: skip
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": w + " "}})
            for w in words
        ]  # fmt: skip
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": n}}),
            ("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
        return sse(events)
    if host == "gem.test":
        if ":streamGenerateContent" not in request.url.path:
            return httpx.Response(200, json=gemini_body(" ".join(words), n))
        # Gemini streams chunks of several tokens, each with the running usage.
        chunks = [gemini_body("tok " * 10, i + 10, None) for i in range(0, n, 10)]
        chunks[-1] = gemini_body("tok", n)
        return sse([(None, c) for c in chunks])
    if not body.get("stream"):
        return httpx.Response(
            200,
            json={"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": " ".join(words)},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}},
        )  # fmt: skip
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    chunks_o: list[tuple[str | None, Any]] = [
        (None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                     "finish_reason": None}]})
    ]  # fmt: skip
    chunks_o += [
        (None, {**base, "choices": [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None}]})
        for w in words
    ]
    chunks_o += [
        (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        (None, {**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": n,
                                                 "total_tokens": 10 + n}}),
        (None, "[DONE]"),
    ]  # fmt: skip
    return sse(chunks_o)


CAP = 50
CASES = [
    (path, model, stream)
    for path, model in [
        ("/v1/chat/completions", "oai/gpt-4o-mini"),
        ("/v1/chat/completions", "claude"),
        ("/v1/chat/completions", "gem/gemini-2.0-flash"),
        ("/v1/messages", "claude"),
        ("/v1/messages", "oai/gpt-4o-mini"),
        ("/v1/messages", "gem/gemini-2.0-flash"),
    ]
    for stream in (True, False)
]


async def test_upstreams_that_ignore_every_cap_concurrently(tmp_path: Path) -> None:
    """Two rounds of every (client dialect, upstream dialect, stream) case at once, with a stray cap field
    of another API in the body, against a budget with room for about ten reservations: streams are cut
    at their cap (the dialect's error event, recorded as the upstream's fault); a whole answer is paid at
    its real cost (logged); the ledger never exceeds the budget by more than the whole answers admitted."""
    key = account(tmp_path)
    bodies = {
        "/v1/chat/completions": {"max_completion_tokens": CAP},
        "/v1/messages": {"max_tokens": CAP},
    }

    def body_of(path: str, model: str, stream: bool) -> dict[str, Any]:
        return {"model": model, "messages": USER, "stream": stream, **bodies[path]}

    def reserved(body: dict[str, Any]) -> float:  # what the gateway reserves (relay/prompt_bound.py)
        return PRICE.worst_case_usd(measure(body).tokens(body["model"]), CAP)

    one_reservation = max(reserved(body_of(*case)) for case in CASES)
    # Room for the first round and two or three of the second.
    budget = sum(reserved(body_of(*case)) for case in CASES) + 2.5 * one_reservation
    set_budget(tmp_path, budget)
    release = asyncio.Event()
    arrived = 0

    async def held(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        await release.wait()  # every admitted request is in flight before any answer settles
        return lenient(request)

    async def call(running: Running, path: str, model: str, stream: bool) -> tuple[str, bool, int, str]:
        dialect = "openai" if path == "/v1/chat/completions" else "anthropic"
        body = body_of(path, model, stream)
        async with running.client.stream("POST", path, json=body, headers=auth(key, dialect)) as r:
            text = (await r.aread()).decode()
        return path, stream, r.status_code, text

    STREAMS.clear()
    async with gateway(tmp_path, held, keys=KEYS, server=USERS, providers={**GEM, **OPENAI}) as running:
        gw_of(running).prices = PRICES
        tasks = [asyncio.create_task(call(running, *case)) for case in CASES * 2]
        for _ in range(1000):
            if arrived + sum(t.done() for t in tasks) == len(tasks):
                break
            await asyncio.sleep(0.01)
        release.set()
        results = await asyncio.gather(*tasks)
        # Spent past the budget now (the whole answers): the next request is refused.
        after = await call(running, "/v1/messages", "claude", True)
        assert after[2] == 429 and "spend budget" in after[3]
    admitted = [r for r in results if r[2] == 200]
    assert admitted and len(admitted) < len(results)  # the budget refused some
    refused = [r for r in results if r[2] != 200]
    assert all(r[2] == 429 and "spend budget" in r[3] for r in refused)
    for _, stream, _, text in admitted:
        if stream:
            assert "upstream_ignored_output_cap" in text or "passed the output limit" in text, text[-300:]
            assert text.count("tok") <= CAP + 10  # cut at the cap: the rest never reached the client
    rows = ledger(tmp_path / "llmgw.db")
    assert len(rows) == len(results) + 1
    streamed = [r for r in rows if r["streamed"] and r["status"] == 200]
    assert streamed and all(r["error_type"] == "upstream_ignored_output_cap" for r in streamed)
    assert all((r["completion_tokens"] or 0) <= CAP + 10 for r in streamed)
    assert {r["provider"] for r in streamed} == {"oai", "ant", "gem"}
    assert all((r["cost_usd"] or 0) <= one_reservation for r in streamed)  # within its reservation
    whole = [r for r in rows if not r["streamed"] and r["status"] == 200]
    assert all(r["completion_tokens"] == LENIENT_TOKENS for r in whole)  # paid at their real cost
    answer_cost = PRICE.worst_case_usd(20, LENIENT_TOKENS)
    spent = sum(r["cost_usd"] or 0 for r in rows)
    assert spent <= budget + len(whole) * answer_cost
    # The gateway stopped reading each stream at its cap: the upstream connection was closed there.
    assert len(STREAMS) == len(streamed) and all(d.sent <= CAP + 10 for d in STREAMS)
    # The streams alone never pass it: only answers the upstream generated whole, against its cap, can.
    assert sum(r["cost_usd"] or 0 for r in streamed) <= budget
