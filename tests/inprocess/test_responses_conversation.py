"""A `/v1/responses` conversation through the whole relay in process (relay/conversation.py): a
translated upstream's answers stored and `previous_response_id` expanded into the conversation's items;
an OpenAI upstream's responses continued with the very key that made them; `store: false` and
`store_responses = false` keeping nothing; another user's or another provider's response refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.inprocess.test_relay_inprocess import Running, gateway
from tests.inprocess.test_responses_relay import (
    KEYS,
    MODELS,
    OPENAI,
    TRANSLATED,
    TRANSLATED_KEYS,
    events,
    post,
    recorded,
    sdk,
    translated_answer,
)
from tests.inprocess.test_stream_faults import Pieces

pytestmark = pytest.mark.anyio


async def wait_stored(gw: Running, response_id: str) -> dict[str, Any]:
    r = await gw.client.get(f"/v1/responses/{response_id}", headers={"authorization": "Bearer " + PROXY})
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


PROXY = "llmgw-inprocess-proxy-key-42"


def user_texts(sent: httpx.Request) -> list[Any]:
    """The Anthropic request's messages as (role, texts) pairs."""
    out = []
    for m in orjson.loads(sent.content)["messages"]:
        out.append((m["role"], [b.get("text") for b in m["content"] if b.get("type") == "text"]))
    return out


@pytest.mark.parametrize("stream", [False, True])
async def test_a_translated_conversation_continues_from_what_the_gateway_stored(
    tmp_path: Path, stream: bool
) -> None:
    async with gateway(tmp_path, translated_answer, keys=TRANSLATED_KEYS, providers=TRANSLATED) as gw:
        client = sdk(gw)
        if stream:
            async with client.responses.stream(model=MODELS["ant"], input="Capital of France?") as s:
                first = await s.get_final_response()
        else:
            first = await client.responses.create(model=MODELS["ant"], input="Capital of France?")
        stored = await wait_stored(gw, first.id)
        assert stored["id"] == first.id and stored["output"][0]["content"][0]["text"] == first.output_text
        second = await client.responses.create(
            model=MODELS["ant"], input="And of Italy?", previous_response_id=first.id
        )
        assert second.previous_response_id == first.id
        items = await client.responses.input_items.list(second.id, order="asc")
    assert user_texts(gw.upstreams.sent[1]) == [
        ("user", ["Capital of France?"]),
        ("assistant", [first.output_text]),
        ("user", ["And of Italy?"]),
    ]
    texts = [i.content[0].text for i in items.data if i.type == "message"]  # type: ignore[union-attr]
    assert texts == ["Capital of France?", first.output_text, "And of Italy?"]


async def test_store_false_keeps_nothing_and_cannot_be_continued(tmp_path: Path) -> None:
    async with gateway(tmp_path, translated_answer, keys=TRANSLATED_KEYS, providers=TRANSLATED) as gw:
        r = await post(gw, {"model": MODELS["gem"], "input": "Hi", "store": False})
        assert r.status_code == 200
        response_id = r.json()["id"]
        got = await gw.client.get(
            f"/v1/responses/{response_id}", headers={"authorization": "Bearer " + PROXY}
        )
        assert got.status_code == 404
        again = await post(gw, {"model": MODELS["gem"], "input": "More", "previous_response_id": response_id})
    assert again.status_code == 400 and again.json()["error"]["param"] == "previous_response_id"
    assert len(gw.upstreams.sent) == 1  # the continuation never reached the upstream


async def test_store_responses_off_refuses_a_continuation_on_a_translated_upstream(tmp_path: Path) -> None:
    async with gateway(
        tmp_path,
        translated_answer,
        keys=TRANSLATED_KEYS,
        providers=TRANSLATED,
        server={"store_responses": False},
    ) as gw:
        first = await post(gw, {"model": MODELS["oai"], "input": "Hi"})
        again = await post(
            gw, {"model": MODELS["oai"], "input": "More", "previous_response_id": first.json()["id"]}
        )
    assert first.status_code == 200
    assert again.status_code == 400 and "store_responses = false" in again.json()["error"]["message"]


def openai_answer(seen: list[httpx.Request]) -> Any:
    """OpenAI's Responses API: each answer is the recorded one under a fresh id, whole or streamed."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        n = len(seen)
        if orjson.loads(request.content).get("stream"):
            raw = recorded("responses.stream_text.sse").replace(b"resp_", f"resp_{n}x".encode())
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Pieces([raw]))
        payload = orjson.loads(recorded("responses.text.json"))
        payload["id"] = f"resp_made_{n}"
        return httpx.Response(200, json=payload)

    return answer


@pytest.mark.parametrize("stream", [False, True])
async def test_an_openai_response_is_continued_with_the_key_that_made_it(
    tmp_path: Path, stream: bool
) -> None:
    seen: list[httpx.Request] = []
    async with gateway(tmp_path, openai_answer(seen), keys=KEYS, providers=OPENAI) as gw:
        await post(gw, {"model": "openai/gpt-4o", "input": "warm the round robin"})  # key 1
        r = await post(gw, {"model": "openai/gpt-4o", "input": "Hi", "stream": stream})  # key 2 makes it
        made = events(r.content)[0]["response"]["id"] if stream else r.json()["id"]
        for _ in range(3):  # whichever key the round robin is at, the continuation takes key 2
            again = await post(gw, {"model": "openai/gpt-4o", "input": "More", "previous_response_id": made})
            assert again.status_code == 200
    keys = [s.headers["authorization"] for s in seen]
    assert keys[1] == "Bearer sk-openai-second" and set(keys[2:]) == {"Bearer sk-openai-second"}
    assert orjson.loads(seen[2].content)["previous_response_id"] == made  # OpenAI continues its own


async def test_an_openai_response_cannot_be_continued_elsewhere_or_without_its_key(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    providers = {**OPENAI, **TRANSLATED}
    keys = {**KEYS, **TRANSLATED_KEYS}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "openai.test":
            return openai_answer(seen)(request)
        return translated_answer(request)

    async with gateway(tmp_path, answer, keys=keys, providers=providers) as gw:
        made = (await post(gw, {"model": "openai/gpt-4o", "input": "Hi"})).json()["id"]
        elsewhere = await post(gw, {"model": MODELS["ant"], "input": "More", "previous_response_id": made})
    assert elsewhere.status_code == 400
    assert "made by provider 'openai'" in elsewhere.json()["error"]["message"]
    async with gateway(
        tmp_path, answer, keys={**keys, "openai": ["sk-openai-rotated"]}, providers=providers
    ) as gw:
        gone = await post(gw, {"model": "openai/gpt-4o", "input": "More", "previous_response_id": made})
    assert gone.status_code == 400 and "no longer has" in gone.json()["error"]["message"]
    assert len(seen) == 1


async def test_a_gateway_stored_response_goes_to_openai_as_items(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    providers = {**OPENAI, **TRANSLATED}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "openai.test":
            return openai_answer(seen)(request)
        return translated_answer(request)

    async with gateway(tmp_path, answer, keys={**KEYS, **TRANSLATED_KEYS}, providers=providers) as gw:
        first = (await post(gw, {"model": MODELS["ant"], "input": "Capital of France?"})).json()
        await wait_stored(gw, first["id"])
        r = await post(
            gw, {"model": "openai/gpt-4o", "input": "And Italy?", "previous_response_id": first["id"]}
        )
    assert r.status_code == 200
    sent = orjson.loads(seen[0].content)
    assert "previous_response_id" not in sent  # OpenAI never saw it
    roles = [i.get("role") for i in sent["input"]]
    assert roles == ["user", "assistant", "user"]
    assert sent["input"][-1]["content"] == [{"type": "input_text", "text": "And Italy?"}]
