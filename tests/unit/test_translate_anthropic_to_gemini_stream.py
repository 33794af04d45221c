"""Hub stream events → Gemini stream chunks (llmgw.translate.streams.anthropic_to_gemini).

The key property: the chunks assembled as a Gemini client joins them equal the non-stream translation of
the same answer whole. The inputs are the recorded Anthropic streams and the recorded OpenAI chat streams
(through OpenAIToAnthropicStream); the answer whole is what the Anthropic / OpenAI SDKs assemble from
the same recordings. Every chunk is read by google-genai, also as a stream through a mock transport.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest
from google.genai import types

from llmgw.translate.anthropic_to_gemini_response import anthropic_response_to_gemini
from llmgw.translate.gemini_request_to_anthropic import gemini_request_to_anthropic
from llmgw.translate.openai_to_anthropic import openai_response_to_anthropic
from llmgw.translate.streams.anthropic_to_gemini import AnthropicToGeminiStream, gemini_error_object
from llmgw.translate.streams.openai_to_anthropic import OpenAIToAnthropicStream
from tests.support.genai_sdk import GenaiRecorder
from tests.unit.test_translate_streams import anthropic_assembled, openai_assembled, payloads, recorded

Event = dict[str, Any]
MODEL = "claude-haiku-4-5"


def to_gemini(events: Iterable[Event], include_thoughts: bool = False) -> list[Event]:
    stream = AnthropicToGeminiStream(MODEL, include_thoughts=include_thoughts)
    out = [chunk for event in events for chunk in stream.feed(event)]
    assert stream.ended
    out += stream.finish()
    for chunk in out:
        if "error" not in chunk:
            types.GenerateContentResponse.model_validate(chunk)
    return out


def assembled(chunks: Sequence[Event]) -> Event:
    """The answer a Gemini client builds from the chunks: parts in order, consecutive text parts of one
    kind (thought or not) joined, with the one signature among them; the last chunk's finish and usage."""
    parts: list[Event] = []
    for chunk in chunks:
        assert chunk["modelVersion"] == MODEL and chunk.get("responseId") == chunks[0].get("responseId")
        for part in chunk["candidates"][0]["content"]["parts"]:
            last = parts[-1] if parts else None
            joinable = last is not None and "text" in last and "text" in part
            if joinable and last is not None and last.get("thought") == part.get("thought"):
                assert not ("thoughtSignature" in last and "thoughtSignature" in part)
                last["text"] += part["text"]
                if "thoughtSignature" in part:
                    last["thoughtSignature"] = part["thoughtSignature"]
            else:
                parts.append(dict(part))
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    candidate["finishReason"] = chunks[-1]["candidates"][0]["finishReason"]
    out = {"candidates": [candidate], "usageMetadata": chunks[-1]["usageMetadata"], "modelVersion": MODEL}
    if "responseId" in chunks[-1]:
        out["responseId"] = chunks[-1]["responseId"]
    return out


@pytest.mark.parametrize(
    "case", ["messages.stream_text", "messages.stream_tool_call", "messages.stream_thinking"]
)
@pytest.mark.parametrize("include_thoughts", [True, False])
def test_anthropic_recordings_assemble_to_the_non_stream_answer(case: str, include_thoughts: bool) -> None:
    events = payloads(recorded("anthropic", case))
    chunks = to_gemini(events, include_thoughts)
    whole = anthropic_response_to_gemini(
        anthropic_assembled(events), model_version=MODEL, include_thoughts=include_thoughts
    )
    assert assembled(chunks) == whole
    assert len(chunks) > 2  # streamed, not sent whole at the end


def test_recorded_thinking_stream_shows_thoughts_as_they_come() -> None:
    chunks = to_gemini(payloads(recorded("anthropic", "messages.stream_thinking")), include_thoughts=True)
    first = chunks[0]["candidates"][0]["content"]["parts"]
    assert first == [{"text": "The user wants", "thought": True}]
    hidden = to_gemini(payloads(recorded("anthropic", "messages.stream_thinking")))
    assert all(not p.get("thought") for c in hidden for p in c["candidates"][0]["content"]["parts"])


@pytest.mark.parametrize("case", ["chat.stream_text", "chat.stream_tool_call"])
def test_openai_recordings_through_the_hub_assemble_to_the_non_stream_answer(case: str) -> None:
    chunks_in = payloads(recorded("openai", case))
    hub = OpenAIToAnthropicStream("claude-client", None)
    events = [e for c in chunks_in for e in hub.feed(c)] + hub.finish()
    chunks = to_gemini(events)
    whole_hub = openai_response_to_anthropic(openai_assembled(chunks_in), model="claude-client")
    assert assembled(chunks) == anthropic_response_to_gemini(dict(whole_hub), model_version=MODEL)


def test_recorded_tool_call_stream_read_by_the_sdk_as_a_stream() -> None:
    chunks = to_gemini(payloads(recorded("anthropic", "messages.stream_tool_call")))
    body = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)
    sdk = GenaiRecorder([body])
    read = list(sdk.client.models.generate_content_stream(model="g", contents="x"))
    assert sdk.requests[0][0].endswith(":streamGenerateContent")
    calls = [call for r in read for call in (r.function_calls or [])]
    whole = anthropic_assembled(payloads(recorded("anthropic", "messages.stream_tool_call")))
    expected = [(b["id"], b["name"], b["input"]) for b in whole["content"] if b["type"] == "tool_use"]
    assert [(c.id, c.name, c.args) for c in calls] == expected and expected
    assert read[-1].candidates is not None and read[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert read[-1].usage_metadata is not None and read[-1].usage_metadata.total_token_count


def start(message_id: str = "msg_abc") -> Event:
    usage = {"input_tokens": 5, "output_tokens": 1}
    return {
        "type": "message_start",
        "message": {"id": message_id, "type": "message", "role": "assistant", "content": [], "usage": usage},
    }


def test_an_error_event_becomes_googles_error_object_and_ends_the_stream() -> None:
    stream = AnthropicToGeminiStream(MODEL)
    stream.feed(start())
    stream.feed({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    assert stream.feed(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
    )
    got = stream.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert got == [{"error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}}]
    assert stream.ended and stream.finish() == [] and stream.feed({"type": "message_stop"}) == []
    assert stream.output_events == 1 and stream.usage is not None and stream.usage.prompt_tokens == 5


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        ("invalid_request_error", 400, "INVALID_ARGUMENT"),
        ("rate_limit_error", 429, "RESOURCE_EXHAUSTED"),
        ("api_error", 500, "INTERNAL"),
        ("timeout_error", 504, "DEADLINE_EXCEEDED"),
        ("request_too_large", 413, "FAILED_PRECONDITION"),
        ("brand_new_error", 500, "INTERNAL"),
    ],
)
def test_error_statuses(kind: str, code: int, status: str) -> None:
    stream = AnthropicToGeminiStream(MODEL)
    assert stream.feed({"type": "error", "error": {"type": kind, "message": "m"}}) == [
        {"error": {"code": code, "message": "m", "status": status}}
    ]
    assert gemini_error_object(code, "m") == {"error": {"code": code, "message": "m", "status": status}}


def test_a_cut_stream_is_not_ended_and_finish_closes_it() -> None:
    stream = AnthropicToGeminiStream(MODEL)
    stream.feed(start())
    stream.feed(
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        }
    )
    stream.feed(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}
    )
    stream.feed(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}
    )
    stream.feed({"type": "content_block_stop", "index": 0})
    assert not stream.ended
    last = stream.finish()
    assert len(last) == 1 and stream.ended
    candidate = last[0]["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    # the hidden thought's signature, with nothing after it, comes on a part of its own
    [part] = candidate["content"]["parts"]
    assert part["text"] == "" and set(part) == {"text", "thoughtSignature"}
    assert last[0]["usageMetadata"] == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 1,
        "totalTokenCount": 6,
    }
    assert last[0]["responseId"] == "abc"


def test_ping_server_tools_and_citations_give_nothing() -> None:
    stream = AnthropicToGeminiStream(MODEL)
    quiet = [
        start(),
        {"type": "ping"},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"q":1}'},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "citations_delta", "citation": {}}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9}},
    ]
    assert [c for e in quiet for c in stream.feed(e)] == []
    [last] = stream.feed({"type": "message_stop"})
    assert last["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert last["usageMetadata"]["candidatesTokenCount"] == 9


def gemini_cli_history(chunks: Sequence[Event]) -> Event:
    """The model turn Gemini CLI keeps from a stream, by the rules of its `GeminiChat.processStreamResponse`
    (google-gemini/gemini-cli, packages/core/src/core/geminiChat.ts): a chunk counts only when its parts
    are not empty and none is a non-thought part with empty text; thought parts are left out; runs of
    plain text parts are joined into the first (which keeps its signature)."""
    kept: list[Event] = []
    for chunk in chunks:
        chunk_parts = chunk["candidates"][0]["content"]["parts"]
        if not chunk_parts or any(p.get("text") == "" and not p.get("thought") for p in chunk_parts):
            continue
        kept += [dict(p) for p in chunk_parts if not p.get("thought")]
    joined: list[Event] = []
    for part in kept:
        if joined and joined[-1].get("text") and "text" in part and "functionCall" not in part:
            joined[-1]["text"] += part["text"]
        else:
            joined.append(part)
    return {"role": "model", "parts": joined}


@pytest.mark.parametrize("include_thoughts", [True, False])
def test_claudes_thinking_survives_gemini_clis_history(include_thoughts: bool) -> None:
    events = payloads(recorded("anthropic", "messages.stream_thinking"))
    whole = anthropic_assembled(events)
    assert [b["type"] for b in whole["content"]] == ["thinking", "text"]
    history = [
        {"role": "user", "parts": [{"text": "Two names for a pet pelican, briefly."}]},
        gemini_cli_history(to_gemini(events, include_thoughts)),
        {"role": "user", "parts": [{"text": "Another?"}]},
    ]
    hub = gemini_request_to_anthropic({"contents": history}, model="claude", default_max_tokens=64)
    assert hub["messages"][1] == {"role": "assistant", "content": whole["content"]}


def test_thinking_before_a_tool_call_survives_gemini_clis_history() -> None:
    thinking = {"type": "thinking", "thinking": "List first.", "signature": "c2lnbmVk"}
    events = [
        start(),
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "List first."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "c2lnbmVk"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"path"'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ': "."}'},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}},
        {"type": "message_stop"},
    ]
    chunks = to_gemini(events, include_thoughts=True)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    history = [
        {"role": "user", "parts": [{"text": "What is here?"}]},
        gemini_cli_history(chunks),
        {
            "role": "user",
            "parts": [{"functionResponse": {"id": "toolu_1", "name": "ls", "response": {"output": "a.txt"}}}],
        },
    ]
    hub = gemini_request_to_anthropic({"contents": history}, model="claude", default_max_tokens=64)
    assert hub["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                thinking,
                {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"path": "."}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "a.txt"}],
                }
            ],
        },
    ]
