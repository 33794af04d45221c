"""Stream translators against the recorded streams, assembled by the official SDKs.

The key property (issue #4): what the Anthropic / OpenAI SDK assembles from a translated stream equals
what it reads from the non-stream reply — text, tool calls (ids, names, arguments), thinking (with
signatures), stop reason and usage. The non-stream side is the non-stream translators
(`openai_response_to_anthropic`, `anthropic_response_to_openai`, `gemini_response_to_anthropic`) over
the same content answered whole, written by hand from each recording, and for the recordings also a
hand-written expected message. The SDKs read the translated events as bytes (`llmgw.sse` encoders)
through a mock HTTP transport, so the encoders are checked on the way.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from llmgw.relay.streams.sse import OPENAI_DONE, SSEDecoder, SSEEvent
from llmgw.translate.anthropic_to_openai import anthropic_response_to_openai
from llmgw.translate.gemini_to_anthropic import (
    PART_SIGNATURE_PREFIX,
    THOUGHT_SIGNATURE_PREFIX,
    gemini_response_to_anthropic,
)
from llmgw.translate.openai_to_anthropic import openai_response_to_anthropic
from llmgw.translate.streams.anthropic_events import AnthropicEventWriter
from llmgw.translate.streams.anthropic_to_openai import AnthropicToOpenAIStream
from llmgw.translate.streams.gemini_to_anthropic import GeminiToAnthropicStream
from llmgw.translate.streams.openai_to_anthropic import OpenAIToAnthropicStream, _JSONEnd
from llmgw.translate.usage import Usage
from llmgw.wire.anthropic import encode_event as encode_anthropic
from llmgw.wire.openai import encode_event as encode_openai
from tests.support.fakes.fixtures import fixtures_dir

Event = dict[str, Any]
Translator = OpenAIToAnthropicStream | GeminiToAnthropicStream | AnthropicToOpenAIStream
SEEDS = range(4)
CREATED = 1700000000

# ---- plumbing --------------------------------------------------------------------------------------


def recorded(provider: str, case: str, seed: int | None = None) -> list[SSEEvent]:
    """A recorded stream through SSEDecoder, in random byte splits when `seed` is given."""
    raw = (fixtures_dir() / provider / f"{case}.sse").read_bytes()
    decoder, events = SSEDecoder(), []
    if seed is None:
        events = decoder.feed(raw)
    else:
        rng, i = random.Random(seed), 0
        while i < len(raw):
            n = rng.randint(1, 40)
            events += decoder.feed(raw[i : i + n])
            i += n
    return events + decoder.flush()


def payloads(events: Iterable[SSEEvent]) -> list[Event]:
    return [e.json() for e in events if e.data != "[DONE]"]


def translate(translator: Translator, inputs: Iterable[Event]) -> list[Event]:
    out: list[Event] = []
    for item in inputs:
        out += translator.feed(item)
    return out + translator.finish()


def openai_to_anthropic(inputs: Iterable[Event], message_id: str | None = "msg_test") -> list[Event]:
    return translate(OpenAIToAnthropicStream("claude-client", message_id), inputs)


def gemini_to_anthropic(inputs: Iterable[Event]) -> list[Event]:
    return translate(GeminiToAnthropicStream("claude-client"), inputs)


def anthropic_to_openai(inputs: Iterable[Event], include_usage: bool = True) -> list[Event]:
    return translate(AnthropicToOpenAIStream("gpt-client", include_usage, CREATED), inputs)


def sse_client(body: bytes) -> httpx2.Client:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def anthropic_assembled(events: Sequence[Event]) -> dict[str, Any]:
    """The message the Anthropic SDK's MessageStream assembles from these events, sent as bytes."""
    body = b"".join(encode_anthropic(e) for e in events)
    client = anthropic.Anthropic(api_key="k", base_url="http://upstream", http_client=sse_client(body))
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        message = s.get_final_message()
    dumped: dict[str, Any] = message.model_dump(exclude_none=True)
    return dumped


def openai_assembled(chunks: Sequence[Event]) -> dict[str, Any]:
    """The completion the OpenAI SDK's ChatCompletionStreamState assembles from these chunks, as bytes."""
    body = b"".join(encode_openai(c) for c in chunks) + OPENAI_DONE
    client = openai.OpenAI(api_key="k", base_url="http://upstream", http_client=sse_client(body))
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    ):
        state.handle_chunk(chunk)
    dumped: dict[str, Any] = state.get_final_completion().model_dump(exclude_none=True)
    for call in dumped["choices"][0]["message"].get("tool_calls", []):
        assert call.pop("index") >= 0  # the stream's position, kept by the SDK: not in a non-stream reply
    return dumped


def as_read(message: dict[str, Any]) -> dict[str, Any]:
    """A non-stream Anthropic message as the SDK reads it (the same dump as `anthropic_assembled`)."""
    dumped: dict[str, Any] = Message.model_validate(message).model_dump(exclude_none=True)
    return dumped


def as_read_completion(completion: dict[str, Any]) -> dict[str, Any]:
    """A non-stream chat completion as the SDK reads it (the same dump as `openai_assembled`)."""
    dumped: dict[str, Any] = ChatCompletion.model_validate(completion).model_dump(exclude_none=True)
    return dumped


_EVENT = TypeAdapter(RawMessageStreamEvent)
_DELTA_BLOCK = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "thinking",
    "input_json_delta": "tool_use",
}


def check_anthropic(events: Sequence[Event], complete_json: bool = True) -> None:
    """A well-formed Anthropic stream: SDK types, order, one open block at a time, indices in order."""
    if events[-1]["type"] == "error":
        assert set(events[-1]) == {"type", "error"} and set(events[-1]["error"]) == {"type", "message"}
        events = events[:-1]
    else:
        assert [e["type"] for e in events[-2:]] == ["message_delta", "message_stop"]
    open_block: Event | None = None
    blocks = 0
    args = ""
    for i, event in enumerate(events):
        _EVENT.validate_python(event)
        kind = event["type"]
        assert (kind == "message_start") == (i == 0)
        if kind == "content_block_start":
            assert open_block is None and event["index"] == blocks
            open_block, args = event["content_block"], ""
            blocks += 1
        elif kind == "content_block_delta":
            assert open_block is not None and event["index"] == blocks - 1
            assert _DELTA_BLOCK[event["delta"]["type"]] == open_block["type"]
            args += event["delta"].get("partial_json", "")
        elif kind == "content_block_stop":
            assert open_block is not None and event["index"] == blocks - 1
            if open_block["type"] == "tool_use" and args and complete_json:
                assert isinstance(json.loads(args), dict)
            open_block = None
        elif kind in ("message_delta", "message_stop"):
            assert open_block is None
            assert (kind == "message_delta") == (i == len(events) - 2)


def check_openai(chunks: Sequence[Event], include_usage: bool) -> None:
    """A well-formed OpenAI stream: SDK types, one id, role first, one finish chunk, usage as asked."""
    if "error" in chunks[-1]:
        assert set(chunks[-1]["error"]) == {"message", "type", "param", "code"}
        chunks = chunks[:-1]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert chunk["id"] == chunks[0]["id"] and chunk["model"] == "gpt-client"
        assert chunk["object"] == "chat.completion.chunk"
        assert ("usage" in chunk) == include_usage
    if not chunks:
        return
    assert chunks[0]["choices"][0]["delta"] in (
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": None},
    )
    with_choices = [c for c in chunks if c["choices"]]
    finishing = [c for c in with_choices if c["choices"][0]["finish_reason"]]
    if finishing:
        assert finishing == with_choices[-1:]
    if include_usage and finishing:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] >= 0
        assert all(c["usage"] is None for c in chunks[:-1])
    seen: list[int] = []
    for chunk in with_choices:
        for call in chunk["choices"][0]["delta"].get("tool_calls", []):
            if call["index"] not in seen:
                assert call["index"] == len(seen) and call["id"] and call["function"]["name"]
                seen.append(call["index"])


_GENERATED_TOOL_ID = re.compile(r"toolu_[0-9a-f]{24}")


def numbered_tool_ids(items: Sequence[Event]) -> list[Event]:
    """`items` with each generated tool_use id (Gemini 2.0 sends none) named by its order of
    appearance: two translations of one stream differ in these random ids only."""
    names: dict[str, str] = {}
    text = _GENERATED_TOOL_ID.sub(lambda m: names.setdefault(m[0], f"toolu_{len(names)}"), json.dumps(items))
    renamed: list[Event] = json.loads(text)
    return renamed


# ---- every recorded stream, in random splits, is well formed in the target dialect --------------------


@pytest.mark.parametrize("case", ["chat.stream_text", "chat.stream_tool_call"])
@pytest.mark.parametrize("seed", SEEDS)
def test_openai_recordings_become_well_formed_anthropic_streams(case: str, seed: int) -> None:
    events = openai_to_anthropic(payloads(recorded("openai", case, seed)))
    check_anthropic(events)
    assert events == openai_to_anthropic(payloads(recorded("openai", case)))


@pytest.mark.parametrize("case", ["generate.stream_text", "generate.stream_tool_call"])
@pytest.mark.parametrize("seed", SEEDS)
def test_gemini_recordings_become_well_formed_anthropic_and_openai_streams(case: str, seed: int) -> None:
    events = gemini_to_anthropic(payloads(recorded("gemini", case, seed)))
    check_anthropic(events)
    whole = gemini_to_anthropic(payloads(recorded("gemini", case)))
    assert numbered_tool_ids(events) == numbered_tool_ids(whole)
    chunks = anthropic_to_openai(events)
    check_openai(chunks, include_usage=True)
    assert numbered_tool_ids(chunks) == numbered_tool_ids(anthropic_to_openai(whole))


@pytest.mark.parametrize(
    "case", ["messages.stream_text", "messages.stream_tool_call", "messages.stream_thinking"]
)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("include_usage", [True, False])
def test_anthropic_recordings_become_well_formed_openai_streams(
    case: str, seed: int, include_usage: bool
) -> None:
    chunks = anthropic_to_openai(payloads(recorded("anthropic", case, seed)), include_usage)
    check_openai(chunks, include_usage)
    assert chunks == anthropic_to_openai(payloads(recorded("anthropic", case)), include_usage)


# ---- equivalence: OpenAI-format upstream → Anthropic client ------------------------------------------

OPENAI_USAGE = {
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def openai_completion(completion_id: str, message: Event, finish: str, prompt: int, output: int) -> Event:
    """A non-stream chat.completion (the recordings' answers, whole)."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1782955818,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}
        | OPENAI_USAGE,
    }


def test_openai_text_stream_assembles_to_the_non_stream_message() -> None:
    message = anthropic_assembled(openai_to_anthropic(payloads(recorded("openai", "chat.stream_text")), None))
    whole = openai_completion(
        "chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc",
        {"content": "The capital of the UK is London.", "refusal": None},
        "stop",
        78,
        9,
    )
    assert message == as_read(openai_response_to_anthropic(whole, model="claude-client"))
    assert message == {
        "id": "msg_Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc",
        "type": "message",
        "role": "assistant",
        "model": "claude-client",
        "content": [{"type": "text", "text": "The capital of the UK is London."}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 78,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 9,
            "output_tokens_details": {"thinking_tokens": 0},
        },
    }


def test_openai_tool_call_stream_assembles_to_the_non_stream_message() -> None:
    events = openai_to_anthropic(payloads(recorded("openai", "chat.stream_tool_call")), None)
    message = anthropic_assembled(events)
    call: Event = {"id": "call_ZR5UUuTt3pf61kjwAJIYdVMj", "type": "function"}
    call["function"] = {"name": "get_capital", "arguments": '{"country":"UK"}'}
    whole = openai_completion(
        "chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl",
        {"content": None, "tool_calls": [call], "refusal": None},
        "tool_calls",
        53,
        15,
    )
    assert message == as_read(openai_response_to_anthropic(whole, model="claude-client"))
    assert message["content"] == [
        {"type": "tool_use", "id": call["id"], "name": "get_capital", "input": {"country": "UK"}}
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 53 and message["usage"]["output_tokens"] == 15


def chunk(delta: Event | None = None, finish: str | None = None, **extra: Any) -> Event:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "chatcmpl-u", "object": "chat.completion.chunk", "choices": [choice], **extra}


def call(index: int | None, args: str = "", call_id: str | None = None, name: str | None = None) -> Event:
    piece: Event = {"function": {"arguments": args}}
    if index is not None:
        piece["index"] = index
    if call_id:
        piece["id"], piece["type"] = call_id, "function"
    if name:
        piece["function"]["name"] = name
    return chunk({"tool_calls": [piece]})


USAGE_CHUNK: Event = {
    "choices": [],
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 12},
    },
}


def whole_answer(message: Event, finish: str, usage: Event | None = None) -> Event:
    answer: Event = {
        "id": "chatcmpl-u",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        answer["usage"] = usage
    return answer


def test_interleaved_parallel_tool_calls_become_separate_whole_blocks() -> None:
    chunks = [
        chunk({"role": "assistant", "content": None}),
        call(0, "", "call_a", "get_capital"),
        call(1, "", "call_b", "get_weather"),
        call(0, '{"country'),
        call(1, '{"city": "Pa'),
        call(0, '": "F\\"R{"'),
        call(1, 'ris", "unit": ["c"]'),
        call(0, "}"),
        call(1, "}"),
        chunk(finish="tool_calls"),
        USAGE_CHUNK,
    ]
    translator = OpenAIToAnthropicStream("claude-client")
    events = translate(translator, chunks)
    check_anthropic(events)
    message = anthropic_assembled(events)
    calls = [
        {"id": "call_a", "function": {"name": "get_capital", "arguments": '{"country": "F\\"R{"}'}},
        {
            "id": "call_b",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": ["c"]}'},
        },
    ]
    whole = whole_answer({"role": "assistant", "tool_calls": calls}, "tool_calls", USAGE_CHUNK["usage"])
    assert message == as_read(openai_response_to_anthropic(whole, model="claude-client"))
    assert message["content"] == [
        {"type": "tool_use", "id": "call_a", "name": "get_capital", "input": {"country": 'F"R{'}},
        {
            "type": "tool_use",
            "id": "call_b",
            "name": "get_weather",
            "input": {"city": "Paris", "unit": ["c"]},
        },
    ]
    assert message["id"] == "msg_u" and message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 36,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 64,
        "output_tokens": 20,
        "output_tokens_details": {"thinking_tokens": 12},
    }
    assert translator.usage == Usage(100, 20, 120, 64, None, 12)
    assert translator.output_events == 8


def test_sequential_tool_calls_stream_live() -> None:
    translator = OpenAIToAnthropicStream("claude-client", "msg_test")
    translator.feed(chunk({"role": "assistant"}))
    started = translator.feed(call(0, "", "call_a", "f"))
    assert [e["type"] for e in started] == ["content_block_start"]
    assert translator.feed(call(0, '{"x": ')) == [
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"x": '},
        }
    ]
    assert [e["type"] for e in translator.feed(call(0, "1}"))] == [
        "content_block_delta",
        "content_block_stop",
    ]
    assert [e["type"] for e in translator.feed(call(1, '{"y"', "call_b", "g"))] == [
        "content_block_start",
        "content_block_delta",
    ]
    tail = translator.feed(call(1, ": 2}")) + translator.feed(chunk(finish="tool_calls"))
    tail += translator.feed(USAGE_CHUNK)
    assert [e["type"] for e in tail] == [
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert translator.finish() == [] and translator.feed(chunk({"content": "late"})) == []


def test_reasoning_and_text_become_thinking_and_text_blocks() -> None:
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Let me ", "reasoning": "Let me "}),  # both fields: taken once
        chunk({"reasoning": "think."}),
        chunk({"content": "Answer"}),
        chunk(finish="stop"),
    ]
    translator = OpenAIToAnthropicStream("claude-client")
    events = translate(translator, chunks)
    check_anthropic(events)
    message = anthropic_assembled(events)
    whole = whole_answer({"role": "assistant", "content": "Answer", "reasoning": "Let me think."}, "stop")
    assert message == as_read(openai_response_to_anthropic(whole, model="claude-client"))
    assert message["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": ""},
        {"type": "text", "text": "Answer"},
    ]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"] == {  # the upstream sent no usage
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }
    assert translator.usage is None and translator.output_events == 3


def test_a_refusal_is_text_with_a_refusal_stop_reason() -> None:
    chunks = [chunk({"refusal": "I can't "}), chunk({"refusal": "help with that."}), chunk(finish="stop")]
    message = anthropic_assembled(openai_to_anthropic(chunks, None))
    whole = whole_answer({"role": "assistant", "content": None, "refusal": "I can't help with that."}, "stop")
    assert message == as_read(openai_response_to_anthropic(whole, model="claude-client"))
    assert message["stop_reason"] == "refusal"


def test_arguments_that_are_not_an_object_come_whole_as_raw() -> None:
    chunks = [
        call(0, "", "call_a", "f"),
        call(0, "not "),
        call(0, "json"),
        call(1, "[1, 2]", "call_b", "g"),  # waits: call_a never completes
        call(2, '{"ok": true}', "call_c", "h"),
        chunk(finish="tool_calls"),
    ]
    events = openai_to_anthropic(chunks, None)
    check_anthropic(events)
    message = anthropic_assembled(events)
    calls = [
        {"id": "call_a", "function": {"name": "f", "arguments": "not json"}},
        {"id": "call_b", "function": {"name": "g", "arguments": "[1, 2]"}},
        {"id": "call_c", "function": {"name": "h", "arguments": '{"ok": true}'}},
    ]
    whole = whole_answer({"role": "assistant", "tool_calls": calls}, "tool_calls")
    assert message == as_read(openai_response_to_anthropic(whole, model="claude-client"))
    assert [b["input"] for b in message["content"]] == [
        {"_raw": "not json"},
        {"_raw": "[1, 2]"},
        {"ok": True},
    ]


def test_text_after_a_tool_call_closes_it_and_writes_waiting_calls_whole() -> None:
    chunks = [
        call(0, '{"a": 1', "call_a", "f"),  # never completed by the upstream
        call(1, '{"b": 2}', "call_b", "g"),
        chunk({"content": "and some text"}),
        call(0, "}"),  # too late: its block is closed
        chunk(finish="stop"),
    ]
    events = openai_to_anthropic(chunks)
    check_anthropic(events, complete_json=False)  # call_a's arguments stay cut
    message = anthropic_assembled(events)
    assert message["content"][1:] == [
        {"type": "tool_use", "id": "call_b", "name": "g", "input": {"b": 2}},
        {"type": "text", "text": "and some text"},
    ]
    assert message["stop_reason"] == "tool_use"  # finish_reason "stop" with calls made


def test_tool_calls_without_index_or_id_and_a_late_name() -> None:
    chunks = [
        chunk({"tool_calls": [{"id": "call_a", "function": {"name": "f", "arguments": '{"q": 1}'}}]}),
        chunk({"tool_calls": [{"id": "call_b", "function": {"name": "g", "arguments": "{}"}}]}),
        call(5, "", None, None),
        call(4, "{}", None, None),
        call(5, "", None, "late"),
        call(5, "{}"),
        chunk({"tool_calls": ["junk", {"index": 6, "function": "junk"}]}),
        chunk(finish="tool_calls"),
    ]
    message = anthropic_assembled(openai_to_anthropic(chunks))
    names = [(b["name"], b["input"]) for b in message["content"]]
    assert names == [("f", {"q": 1}), ("g", {}), ("late", {}), ("", {}), ("", {})]
    ids = [b["id"] for b in message["content"]]
    assert ids[:2] == ["call_a", "call_b"] and all(i.startswith("toolu_") for i in ids[2:])
    assert len(set(ids)) == 5


@pytest.mark.parametrize(
    ("finish", "tools", "stop"),
    [
        ("stop", False, "end_turn"),
        ("stop", True, "tool_use"),
        ("tool_calls", True, "tool_use"),
        ("function_call", True, "tool_use"),
        ("length", False, "max_tokens"),
        ("length", True, "tool_use"),
        ("content_filter", False, "refusal"),
        ("something_new", False, "end_turn"),
        (None, False, "end_turn"),
        (None, True, "tool_use"),
    ],
)
def test_openai_finish_reason_to_stop_reason(finish: str | None, tools: bool, stop: str) -> None:
    chunks = [chunk({"content": "x"})] + ([call(0, "{}", "call_a", "f")] if tools else [])
    events = openai_to_anthropic([*chunks, chunk(finish=finish)])
    check_anthropic(events)
    assert events[-2]["delta"] == {"stop_reason": stop, "stop_sequence": None}
    if finish is not None:  # as the non-stream translation says
        calls = [{"id": "call_a", "function": {"name": "f", "arguments": "{}"}}] if tools else None
        whole = whole_answer({"role": "assistant", "content": "x", "tool_calls": calls}, finish)
        assert openai_response_to_anthropic(whole, model="m")["stop_reason"] == stop


def test_other_choices_and_junk_are_ignored() -> None:
    chunks: list[Event] = [
        {
            "choices": [
                {"index": 1, "delta": {"content": "other"}},
                {"index": 0, "delta": {"content": "mine"}},
            ]
        },
        {"choices": ["junk", {"index": 0, "delta": "junk", "finish_reason": ""}]},
        {"choices": None},
        chunk(finish="stop"),
    ]
    message = anthropic_assembled(openai_to_anthropic(chunks))
    assert message["content"] == [{"type": "text", "text": "mine"}]


def test_message_ends_at_the_usage_chunk_after_the_finish_reason() -> None:
    translator = OpenAIToAnthropicStream("claude-client")
    first = translator.feed({"choices": [{"index": 0, "delta": {"content": "hi"}}]})
    assert first[0]["message"]["id"].startswith("msg_")  # no chunk id: a generated one
    assert translator.feed(USAGE_CHUNK) == []  # usage before the finish reason: not the end yet
    assert translator.feed(chunk(finish="stop", usage=None)) == []
    assert translator.feed({"choices": []}) == []  # no usage: not the usage chunk
    end = translator.feed(USAGE_CHUNK)
    assert [e["type"] for e in end] == ["content_block_stop", "message_delta", "message_stop"]


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        ({"message": "boom", "type": "server_error", "code": None}, "api_error", "boom"),
        ({"message": "slow down", "code": 429}, "rate_limit_error", "slow down"),
        ({"message": "busy", "code": 529}, "overloaded_error", "busy"),
        ("just text", "api_error", "just text"),
    ],
)
def test_openai_error_chunk_becomes_an_anthropic_error_event(error: Any, kind: str, message: str) -> None:
    translator = OpenAIToAnthropicStream("claude-client", "msg_test")
    events = translator.feed(chunk({"content": "par"})) + translator.feed({"error": error})
    check_anthropic(events)
    assert events[-1] == {"type": "error", "error": {"type": kind, "message": message}}
    assert translator.feed(chunk({"content": "more"})) == [] and translator.finish() == []
    with pytest.raises(anthropic.APIStatusError, match=message):
        anthropic_assembled(events)


# ---- equivalence: Anthropic upstream → OpenAI client --------------------------------------------------

PELICAN_TEXT = (
    "Here are two great names for your pet pelican:\n\n"
    "1. **Charles** - A sophisticated and dignified name, perfect for a pelican with personality!\n"
    "2. **Sammy** - A friendly and playful name that gives off warm, approachable vibes.\n\n"
    "Either of these would make an excellent name for your feathered friend! \U0001f985"
)
PELICAN_THINKING = (
    "The user wants two names for a pet pelican, and they want me to be brief. I'll suggest two names that "
    "would suit a pelican well.\n\nSome good options:\n- Pelé (play on pelican)\n- Pouch (referencing their "
    "bill pouch)\n- Captain Beak\n- Squirt\n- Scoop\n- Wing\n\nLet me give two brief, catchy names:"
)
PELICAN_ANSWER = '1. **Pouch** - references their iconic bill pouch\n2. **Pelé** - playful take on "pelican"'


def anthropic_message(message_id: str, content: list[Event], stop: str, prompt: int, output: int) -> Event:
    """A non-stream Anthropic message (the recordings' answers, whole)."""
    usage = {"input_tokens": prompt, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage | {"output_tokens": output},
    }


def completion(completion_id: str, message: Event, finish: str, prompt: int, output: int) -> Event:
    """The hand-written chat.completion an OpenAI client should see."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-client",
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", **message}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_anthropic_text_stream_assembles_to_the_non_stream_completion() -> None:
    got = openai_assembled(anthropic_to_openai(payloads(recorded("anthropic", "messages.stream_text"))))
    whole = anthropic_message(
        "msg_01XMATm4UFnjP841TckVuNF4", [{"type": "text", "text": PELICAN_TEXT}], "end_turn", 678, 82
    )
    assert got == as_read_completion(anthropic_response_to_openai(whole, model="gpt-client", created=CREATED))
    assert got == completion("chatcmpl-01XMATm4UFnjP841TckVuNF4", {"content": PELICAN_TEXT}, "stop", 678, 82)


def test_anthropic_thinking_stream_assembles_to_the_non_stream_completion() -> None:
    got = openai_assembled(anthropic_to_openai(payloads(recorded("anthropic", "messages.stream_thinking"))))
    content = [
        {"type": "thinking", "thinking": PELICAN_THINKING, "signature": "EuYDCmMIDBgCKkC05Zda4P"},
        {"type": "text", "text": PELICAN_ANSWER},
    ]
    whole = anthropic_message("msg_01Eg56TYRnKCEgWtZu2yjR1t", content, "end_turn", 46, 133)
    assert got == as_read_completion(anthropic_response_to_openai(whole, model="gpt-client", created=CREATED))
    message = {"content": PELICAN_ANSWER, "reasoning_content": PELICAN_THINKING}
    assert got == completion("chatcmpl-01Eg56TYRnKCEgWtZu2yjR1t", message, "stop", 46, 133)


def test_anthropic_parallel_tool_calls_assemble_to_the_non_stream_completion() -> None:
    got = openai_assembled(anthropic_to_openai(payloads(recorded("anthropic", "messages.stream_tool_call"))))
    ids = ["toolu_01LtHJmixrs9NcWQkK8hu8hj", "toolu_01N8a4jWyf116qKTMqKKmjyt"]
    content = [{"type": "tool_use", "id": i, "name": "pelican_name_generator", "input": {}} for i in ids]
    whole = anthropic_message("msg_01V2noLbAb2NgKnjaNw6Cn3w", content, "tool_use", 542, 62)
    assert got == as_read_completion(anthropic_response_to_openai(whole, model="gpt-client", created=CREATED))
    calls = [
        {"id": i, "type": "function", "function": {"name": "pelican_name_generator", "arguments": "{}"}}
        for i in ids
    ]
    assert got == completion(
        "chatcmpl-01V2noLbAb2NgKnjaNw6Cn3w", {"tool_calls": calls}, "tool_calls", 542, 62
    )


def test_without_include_usage_the_client_sees_no_usage() -> None:
    chunks = anthropic_to_openai(payloads(recorded("anthropic", "messages.stream_text")), include_usage=False)
    got = openai_assembled(chunks)
    assert "usage" not in got and got["choices"][0]["message"]["content"] == PELICAN_TEXT


def anthropic_events(*blocks: tuple[Event, list[Event]], stop: str | None = "end_turn") -> list[Event]:
    start_usage = {"input_tokens": 10, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude"}
    events: list[Event] = [{"type": "message_start", "message": message | {"usage": start_usage}}]
    for i, (block, deltas) in enumerate(blocks):
        events.append({"type": "content_block_start", "index": i, "content_block": block})
        events += [{"type": "content_block_delta", "index": i, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": i})
    end_usage = {"output_tokens": 7, "output_tokens_details": {"thinking_tokens": 3}}
    events.append({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": end_usage})
    events.append({"type": "message_stop"})
    return events


TEXT_BLOCK = ({"type": "text", "text": ""}, [{"type": "text_delta", "text": "x"}])


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_anthropic_stop_reason_to_finish_reason(stop: str | None, finish: str) -> None:
    chunks = anthropic_to_openai(anthropic_events(TEXT_BLOCK, stop=stop))
    check_openai(chunks, include_usage=True)
    assert chunks[-2]["choices"][0]["finish_reason"] == finish
    whole = {"id": "msg_1", "content": [{"type": "text", "text": "x"}], "stop_reason": stop}
    assert anthropic_response_to_openai(whole, model="m")["choices"][0]["finish_reason"] == finish


def test_anthropic_usage_merges_start_and_delta() -> None:
    translator = AnthropicToOpenAIStream("gpt-client", True)
    chunks = translate(translator, anthropic_events(({"type": "text", "text": "Hi"}, [])))
    assert chunks[0]["id"] == "chatcmpl-1"
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 17,
        "completion_tokens": 7,
        "total_tokens": 24,
        "prompt_tokens_details": {"cached_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    assert translator.usage == Usage(17, 7, 24, 5, 2, None)
    named = AnthropicToOpenAIStream("gpt-client", False, completion_id="chatcmpl-given")
    assert {c["id"] for c in translate(named, anthropic_events(TEXT_BLOCK))} == {"chatcmpl-given"}
    assert isinstance(translator.created, int) and translator.created > CREATED


def test_anthropic_blocks_without_an_openai_equivalent_are_dropped() -> None:
    events = anthropic_events(
        ({"type": "redacted_thinking", "data": "xx"}, []),
        (
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            [{"type": "input_json_delta", "partial_json": '{"q": 1}'}],
        ),
        (
            {"type": "text", "text": ""},
            [
                {"type": "text_delta", "text": "Cited"},
                {"type": "citations_delta", "citation": {"type": "char_location"}},
                {"type": "text_delta", "text": ""},
            ],
        ),
        (
            {"type": "thinking", "thinking": "", "signature": ""},
            [{"type": "thinking_delta", "thinking": "t"}, {"type": "signature_delta", "signature": "sig"}],
        ),
        ({"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"given": True}}, []),
    )
    events.insert(3, {"type": "ping"})
    events.insert(4, {"type": "content_block_delta", "index": 1, "delta": "junk"})
    events.insert(5, {"type": "something_new"})
    translator = AnthropicToOpenAIStream("gpt-client", False, CREATED)
    chunks = translate(translator, events)
    check_openai(chunks, include_usage=False)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}  # no text first
    message = openai_assembled(chunks)["choices"][0]["message"]
    assert message["content"] == "Cited" and message["reasoning_content"] == "t"
    assert message["tool_calls"] == [
        {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"given":true}'}}
    ]
    assert translator.output_events == 3


def test_anthropic_error_event_becomes_an_openai_error_chunk() -> None:
    translator = AnthropicToOpenAIStream("gpt-client", True, CREATED)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    chunks = translate(translator, [*anthropic_events(TEXT_BLOCK)[:3], error])
    assert chunks[-1] == {
        "error": {"message": "Overloaded", "type": "api_error", "param": None, "code": None}
    }
    check_openai(chunks, include_usage=True)
    assert translator.feed({"type": "message_stop"}) == [] and translator.finish() == []
    with pytest.raises(openai.APIError, match="Overloaded"):
        openai_assembled(chunks)
    bare = AnthropicToOpenAIStream("gpt-client", True).feed({"type": "error"})
    assert bare[0]["error"]["type"] == "api_error" and isinstance(bare[0]["error"]["message"], str)


# ---- equivalence: Gemini upstream → Anthropic client, and on to an OpenAI client ----------------------


def test_gemini_text_stream_assembles_to_the_non_stream_message_and_completion() -> None:
    events = gemini_to_anthropic(payloads(recorded("gemini", "generate.stream_text")))
    whole = {
        "candidates": [
            {
                "content": {"parts": [{"text": "The capital of France is Paris.\n"}], "role": "model"},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 13, "candidatesTokenCount": 8, "totalTokenCount": 21},
        "modelVersion": "gemini-2.0-flash-exp",
        "responseId": "w1peaMz6INOvnvgPgYfPiQY",
    }
    message = anthropic_assembled(events)
    expected = gemini_response_to_anthropic(whole, model="claude-client")
    assert message == as_read(expected)
    assert message == {
        "id": "msg_w1peaMz6INOvnvgPgYfPiQY",
        "type": "message",
        "role": "assistant",
        "model": "claude-client",
        "content": [{"type": "text", "text": "The capital of France is Paris.\n"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 13,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 8,
        },
    }
    got = openai_assembled(anthropic_to_openai(events))
    assert got == as_read_completion(
        anthropic_response_to_openai(expected, model="gpt-client", created=CREATED)
    )
    assert got == completion(
        "chatcmpl-w1peaMz6INOvnvgPgYfPiQY", {"content": "The capital of France is Paris.\n"}, "stop", 13, 8
    )


def test_gemini_tool_call_stream_assembles_to_the_non_stream_message_and_completion() -> None:
    inputs = payloads(recorded("gemini", "generate.stream_tool_call"))
    events = gemini_to_anthropic(inputs)
    message = anthropic_assembled(events)
    tool_id = message["content"][0]["id"]
    assert tool_id.startswith("toolu_") and len(tool_id) == 30  # Gemini 2.0 sends no call id
    expected = gemini_response_to_anthropic(inputs[0], model="claude-client")  # one chunk: the whole answer
    expected["content"][0]["id"] = tool_id  # generated on both sides
    assert message == as_read(expected)
    assert message["content"] == [
        {"type": "tool_use", "id": tool_id, "name": "get_capital", "input": {"country": "France"}}
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 52 and message["usage"]["output_tokens"] == 5
    got = openai_assembled(anthropic_to_openai(events))
    assert got == as_read_completion(
        anthropic_response_to_openai(expected, model="gpt-client", created=CREATED)
    )
    call: Event = {"id": tool_id, "type": "function"}
    call["function"] = {"name": "get_capital", "arguments": '{"country":"France"}'}
    assert got == completion("chatcmpl-1lpeaMTxIpW1nvgP-O3vwQY", {"tool_calls": [call]}, "tool_calls", 52, 5)


def gemini_chunk(*parts: Event, finish: str | None = None, usage: Event | None = None) -> Event:
    candidate: Event = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    chunk: Event = {"candidates": [candidate], "responseId": "resp1"}
    if usage is not None:
        chunk["usageMetadata"] = usage
    return chunk


def test_gemini_thoughts_and_signatures_equal_the_non_stream_translation() -> None:
    """Gemini 3 style: streamed thoughts, a signed call, text; vs the same content answered whole."""
    usage = {
        "promptTokenCount": 40,
        "cachedContentTokenCount": 30,
        "candidatesTokenCount": 9,
        "thoughtsTokenCount": 20,
    }
    signed_call = {
        "functionCall": {"id": "c1", "name": "f", "args": {"a": [1, "é"]}},
        "thoughtSignature": "S1",
    }
    chunks = [
        gemini_chunk({"text": "Think", "thought": True}, usage={"promptTokenCount": 40}),
        gemini_chunk({"text": "ing.", "thought": True}),
        gemini_chunk(signed_call),
        gemini_chunk({"functionCall": {"id": "c2", "name": "g", "args": {}}}),
        gemini_chunk({"text": "Done"}),
        gemini_chunk({"text": "."}, {"text": "", "thoughtSignature": "S2"}, finish="STOP", usage=usage),
    ]
    parts = [
        {"text": "Thinking.", "thought": True},
        signed_call,
        {"functionCall": {"id": "c2", "name": "g", "args": {}}},
        {"text": "Done."},
        {"text": "", "thoughtSignature": "S2"},
    ]
    whole = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "usageMetadata": usage,
        "responseId": "resp1",
    }
    translator = GeminiToAnthropicStream("claude-client")
    events = translate(translator, chunks)
    check_anthropic(events)
    expected = gemini_response_to_anthropic(whole, model="claude-client")
    assert anthropic_assembled(events) == as_read(expected)
    kinds = ["thinking", "thinking", "tool_use", "tool_use", "text", "thinking"]
    assert [b["type"] for b in expected["content"]] == kinds
    assert expected["content"][0]["signature"] == THOUGHT_SIGNATURE_PREFIX
    assert expected["content"][1]["signature"] == PART_SIGNATURE_PREFIX + "S1"
    assert translator.usage == Usage(40, 29, 69, 30, None, 20)
    assert translator.output_events == 6
    assert events[0]["message"]["usage"]["input_tokens"] == 40  # the first chunk's count, no cache known yet
    # on to an OpenAI client: reasoning as reasoning_content, signatures dropped
    got = openai_assembled(anthropic_to_openai(events))
    assert got == as_read_completion(
        anthropic_response_to_openai(expected, model="gpt-client", created=CREATED)
    )
    message = got["choices"][0]["message"]
    assert message["reasoning_content"] == "Thinking." and message["content"] == "Done."
    assert [c["function"]["arguments"] for c in message["tool_calls"]] == ['{"a":[1,"é"]}', "{}"]
    assert got["choices"][0]["finish_reason"] == "tool_calls"
    assert got["usage"] == {
        "prompt_tokens": 40,
        "completion_tokens": 29,
        "total_tokens": 69,
        "prompt_tokens_details": {"cached_tokens": 30},
    }


def test_gemini_signed_thought_parts_end_their_block() -> None:
    chunks = [
        gemini_chunk(
            {"text": "a", "thought": True}, {"text": "b", "thought": True, "thoughtSignature": "T1"}
        ),
        gemini_chunk(
            {"thought": True, "thoughtSignature": "T2"},
            {"inlineData": {"data": "x"}, "thoughtSignature": "Z"},
        ),
        gemini_chunk({"text": "c", "thought": True}, finish="STOP"),
    ]
    message = anthropic_assembled(gemini_to_anthropic(chunks))
    assert message["content"] == [
        {"type": "thinking", "thinking": "ab", "signature": THOUGHT_SIGNATURE_PREFIX + "T1"},
        {"type": "thinking", "thinking": "", "signature": THOUGHT_SIGNATURE_PREFIX + "T2"},
        {"type": "thinking", "thinking": "c", "signature": THOUGHT_SIGNATURE_PREFIX},
    ]
    assert message["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("MAX_TOKENS", "max_tokens"), ("SAFETY", "refusal"), ("RECITATION", "refusal"), ("OTHER", "end_turn")],
)
def test_gemini_finish_reasons(finish: str, stop: str) -> None:
    events = gemini_to_anthropic([gemini_chunk({"text": "x"}, finish=finish)])
    check_anthropic(events)
    assert events[-2]["delta"]["stop_reason"] == stop


def test_gemini_blocked_prompt_and_junk() -> None:
    events = gemini_to_anthropic(
        [
            {"candidates": ["junk"]},
            {
                "candidates": [
                    {"content": {"parts": ["junk", {"unknown": 1}, {"functionCall": {"args": "junk"}}]}}
                ]
            },
            {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
        ]
    )
    check_anthropic(events)
    message = anthropic_assembled(events)
    assert message["content"][0]["name"] == "" and message["content"][0]["input"] == {}
    assert message["stop_reason"] == "refusal"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}, "rate_limit_error"),
        ({"code": 503, "message": "The model is overloaded", "status": "UNAVAILABLE"}, "overloaded_error"),
        ({"code": 500, "message": "Internal error", "status": "INTERNAL"}, "api_error"),
        ("Internal error", "api_error"),
    ],
)
def test_gemini_error_chunk_becomes_an_anthropic_error_event(error: Any, kind: str) -> None:
    translator = GeminiToAnthropicStream("claude-client", "msg_test")
    events = translator.feed(gemini_chunk({"text": "x"})) + translator.feed({"error": error})
    check_anthropic(events)
    message = error["message"] if isinstance(error, dict) else error
    assert events[-1] == {"type": "error", "error": {"type": kind, "message": message}}
    assert translator.finish() == []


# ---- cut streams: finish() still closes them; usage and output_events say what was seen ---------------


def test_cut_openai_stream_closes_the_anthropic_stream() -> None:
    chunks = payloads(recorded("openai", "chat.stream_tool_call"))[:3]  # cut inside the arguments
    translator = OpenAIToAnthropicStream("claude-client", "msg_test")
    events = translate(translator, chunks)
    check_anthropic(events, complete_json=False)
    assert [e["type"] for e in events[-3:]] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-2]["usage"]["output_tokens"] == 0
    assert translator.usage is None and translator.output_events == 3
    assert [e["type"] for e in OpenAIToAnthropicStream("claude-client").finish()] == [
        "message_start",
        "message_delta",
        "message_stop",
    ]


def test_cut_anthropic_stream_closes_the_openai_stream() -> None:
    events = payloads(recorded("anthropic", "messages.stream_thinking"))[:6]
    translator = AnthropicToOpenAIStream("gpt-client", True, CREATED)
    chunks = translate(translator, events)
    check_openai(chunks, include_usage=True)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["prompt_tokens"] == 46 and chunks[-1]["usage"]["completion_tokens"] == 3
    assert translator.usage == Usage(46, 3, 49, 0, 0, None) and translator.output_events == 3
    # cut inside a tool call: the finish reason says so
    tool = payloads(recorded("anthropic", "messages.stream_tool_call"))[:3]
    assert anthropic_to_openai(tool)[-2]["choices"][0]["finish_reason"] == "tool_calls"
    # nothing at all arrived: still a complete (empty) stream
    empty = AnthropicToOpenAIStream("gpt-client", True, CREATED).finish()
    check_openai(empty, include_usage=True)
    assert empty[0]["id"].startswith("chatcmpl-") and empty[-1]["usage"]["total_tokens"] == 0


def test_cut_gemini_stream_closes_the_anthropic_stream() -> None:
    chunks = payloads(recorded("gemini", "generate.stream_text"))[:2]
    translator = GeminiToAnthropicStream("claude-client", "msg_test")
    events = translate(translator, chunks)
    check_anthropic(events)
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"]["input_tokens"] == 15
    assert translator.usage == Usage(15, None, 15, None, None, None) and translator.output_events == 2


def test_gemini_chunks_after_the_last_update_usage_only() -> None:
    translator = GeminiToAnthropicStream("claude-client", "msg_test")
    events = translate(translator, payloads(recorded("gemini", "generate.stream_text")))
    assert events[-1] == {"type": "message_stop"}
    late = gemini_chunk({"text": "late"}, usage={"promptTokenCount": 13, "candidatesTokenCount": 9})
    assert translator.feed(late) == []
    assert translator.usage is not None and translator.usage.completion_tokens == 9


# ---- building blocks -------------------------------------------------------------------------------------


def test_writer_never_writes_past_the_end() -> None:
    writer = AnthropicEventWriter("claude-client", "msg_w")
    writer.end("end_turn", {"output_tokens": 0})
    writer.end("max_tokens", {"output_tokens": 1})
    writer.upstream_error("openai", {"error": "late"})
    assert [e["type"] for e in writer.take()] == ["message_start", "message_delta", "message_stop"]
    assert writer.take() == []


def test_odd_anthropic_events_are_tolerated() -> None:
    chunks = anthropic_to_openai(
        [
            {"type": "message_start"},
            {"type": "content_block_stop", "index": 9},
            {"type": "content_block_start", "index": 0, "content_block": "junk"},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
            {"type": "message_delta"},
        ]
    )
    check_openai(chunks, include_usage=True)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert chunks[1]["choices"][0]["delta"] == {"content": "x"}
    assert chunks[-1]["usage"]["total_tokens"] == 0


@pytest.mark.parametrize(
    ("pieces", "complete_after"),
    [
        (['{"a": "}', '"}'], 2),
        (['{"a": "\\', '"}', '"}'], 3),  # an escaped quote split from its backslash
        (['{"a": "\\\\', '"}'], 2),  # an escaped backslash, then the closing quote
        ([" ", '}[1, {"b": [2]}', "]"], 3),  # a stray closer before the value starts is ignored
        (['{"a": 1}', " junk"], 1),
    ],
)
def test_json_end_detection(pieces: list[str], complete_after: int) -> None:
    tracker = _JSONEnd()
    done = []
    for piece in pieces:
        tracker.feed(piece)
        done.append(tracker.complete)
    assert done.index(True) + 1 == complete_after and all(done[complete_after - 1 :])
