"""What a client is told when its model routes nowhere or its provider has no key, in each client
dialect's own error body: the 404 suggests `provider/model` for a bare name of a known family and
`/v1/models`; the 503 for a provider without a key says to ask the administrator, naming no secret and
no environment variable, while the administrator's log says what to run."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from llmgw.relay.catalog import MODELS_HINT
from tests.inprocess.test_relay_inprocess import PROXY_KEY, USER, Running, gateway, openai_chat

pytestmark = pytest.mark.anyio

AUTH = {"authorization": f"Bearer {PROXY_KEY}"}
OPENAI = {"openai": {"type": "openai", "base_url": "http://openai.test/v1"}}


async def openai_dialect(gw: Running, model: str) -> httpx.Response:
    return await gw.client.post("/v1/chat/completions", json={"model": model, "messages": USER}, headers=AUTH)


async def anthropic_dialect(gw: Running, model: str) -> httpx.Response:
    body = {"model": model, "max_tokens": 16, "messages": USER}
    return await gw.client.post("/v1/messages", json=body, headers=AUTH)


async def responses_dialect(gw: Running, model: str) -> httpx.Response:
    return await gw.client.post("/v1/responses", json={"model": model, "input": "Hi"}, headers=AUTH)


async def gemini_dialect(gw: Running, model: str) -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    return await gw.client.post(
        f"/v1beta/models/{model}:generateContent", json=body, headers={"x-goog-api-key": PROXY_KEY}
    )


def openai_message(r: httpx.Response) -> str:
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return str(error["message"])


def anthropic_message(r: httpx.Response) -> str:
    body = r.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    return str(body["error"]["message"])


def gemini_message(r: httpx.Response) -> str:
    error = r.json()["error"]
    assert set(error) == {"code", "message", "status"} and error["code"] == r.status_code
    return str(error["message"])


Send = Callable[[Running, str], Awaitable[httpx.Response]]
DIALECTS: list[tuple[Send, Callable[[httpx.Response], str]]] = [
    (openai_dialect, openai_message),
    (anthropic_dialect, anthropic_message),
    (responses_dialect, openai_message),  # the Responses API answers errors in OpenAI's shape
    (gemini_dialect, gemini_message),
]
IDS = ["openai", "anthropic", "responses", "gemini"]


@pytest.mark.parametrize(("send", "read"), DIALECTS, ids=IDS)
async def test_a_bare_name_suggests_its_provider_and_the_model_list(
    tmp_path: Path, send: Send, read: Callable[[httpx.Response], str]
) -> None:
    async with gateway(tmp_path, lambda r: openai_chat(), keys={"openai": ["sk-o"]}, providers=OPENAI) as gw:
        r = await send(gw, "gpt-4o-mini")
        unknown = await send(gw, "mistral-large")
    assert r.status_code == 404 and unknown.status_code == 404
    message = read(r)
    # `backup` serves it by its allow-list; `openai` is a provider of the family's type
    assert "Did you mean `backup/gpt-4o-mini`, `openai/gpt-4o-mini`?" in message, message
    assert message.endswith(MODELS_HINT)
    assert read(unknown) == f"The model `mistral-large` does not exist on this gateway. {MODELS_HINT}"
    assert gw.upstreams.sent == []


@pytest.mark.parametrize(("send", "read"), DIALECTS, ids=IDS)
async def test_a_provider_without_a_key_tells_the_client_to_ask_and_the_log_what_to_run(
    tmp_path: Path,
    send: Send,
    read: Callable[[httpx.Response], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "llmgw")
    async with gateway(tmp_path, lambda r: openai_chat(), keys={"oai": ["sk-oai"]}, providers=OPENAI) as gw:
        r = await send(gw, "openai/gpt-4o-mini")
        again = await send(gw, "openai/gpt-4o-mini")
    assert r.status_code == 503 and again.status_code == 503
    message = read(r)
    assert message == "The provider `openai` is not configured on this gateway: ask its administrator."
    assert "give the test a key" not in r.text and "secret" not in r.text and "LLMGW_" not in r.text
    said = [rec.getMessage() for rec in caplog.records if "has no API key" in rec.getMessage()]
    # what to run, for the administrator; once for both requests (at most once a minute)
    assert said == [
        "a request for provider openai was refused: it has no API key; give the test a key for openai"
    ]
    assert gw.upstreams.sent == []
    assert gw.row(r)["error_type"] == "no_usable_upstream_key"


async def test_the_no_key_warning_comes_back_after_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "llmgw")
    async with gateway(tmp_path, lambda r: openai_chat(), keys={"oai": ["sk-oai"]}, providers=OPENAI) as gw:
        runtime = gw.runtime
        for now in (100.0, 130.0, 159.9, 160.0, 161.0):
            runtime.log_no_key("openai", now=now)
        runtime.log_no_key("other", now=161.0)  # per provider
    said = [rec.getMessage() for rec in caplog.records if "has no API key" in rec.getMessage()]
    assert [line.split()[4] for line in said] == ["openai", "openai", "other"]
