"""Hub answers → a Gemini client's GenerateContentResponse (llmgw.translate.anthropic_to_gemini_response),
and thinking round-tripping through thought signatures (thought_signatures).

Inputs are the recorded Anthropic answers in tests/fixtures/providers/anthropic; the expected Gemini
answers are written by hand from Gemini's API reference, and every one is read by Google's google-genai
SDK (through a mock transport), whose reading is checked too.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from google.genai import types

from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.translate.anthropic_to_gemini_response import (
    anthropic_count_tokens_to_gemini,
    anthropic_response_to_gemini,
    gemini_finish_reason,
    gemini_usage_from_anthropic,
)
from llmgw.translate.gemini_request_to_anthropic import gemini_request_to_anthropic
from llmgw.translate.thought_signatures import decode_thought_signature, encode_thought_signature
from tests.support.fakes.fixtures import load_json
from tests.support.genai_sdk import GenaiRecorder

# The thinking block of the recorded Anthropic thinking stream (messages.stream_thinking.sse), whole.
SIGNATURE = (
    "EuYDCmMIDBgCKkC05Zda4P+Cdk/LQKE+Aol4ZY3EY4wLDrf8XcApz2PiqrxiRjS7uY1kGtZ63vVlaVmtuIpdsHbkdfGHb9AsBYw+"
)
THINKING = {"type": "thinking", "thinking": "The user wants two names.", "signature": SIGNATURE}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}


def read_by_sdk(answer: dict[str, Any]) -> types.GenerateContentResponse:
    """What google-genai's generate_content returns for this answer."""
    sdk = GenaiRecorder([answer])
    return sdk.client.models.generate_content(model="gemini-2.5-flash", contents="x")


def ours(*blocks: dict[str, Any]) -> str:
    """The signature of hub blocks, written here from the format's definition (base64 of the prefix and
    the blocks' JSON list, keys sorted), not by the encoder under test."""
    return base64.b64encode(b"llmgw1." + orjson.dumps(list(blocks), option=orjson.OPT_SORT_KEYS)).decode()


def test_recorded_text_answer() -> None:
    got = anthropic_response_to_gemini(
        load_json("anthropic", "messages.text"), model_version="claude-haiku-4-5"
    )
    assert got == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "# Hi there! 👋\n\nHow can I help you today?"}],
                },
                "index": 0,
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 26, "candidatesTokenCount": 18, "totalTokenCount": 44},
        "modelVersion": "claude-haiku-4-5",
        "responseId": "011Ccmc3JDrLNAjTnX1WNbcp",
    }
    read = read_by_sdk(got)
    assert read.text == "# Hi there! 👋\n\nHow can I help you today?"
    assert read.usage_metadata is not None and read.usage_metadata.total_token_count == 44
    assert read.response_id == "011Ccmc3JDrLNAjTnX1WNbcp" and read.model_version == "claude-haiku-4-5"


def test_recorded_parallel_tool_calls() -> None:
    got = anthropic_response_to_gemini(load_json("anthropic", "messages.tool_call"), model_version="m")
    names = ["Alice", "Bob", "Charlie", "Daisy"]
    ids = [
        "toolu_0167cfEnoQaPviGdVXA95zcu",
        "toolu_01EEe2V5HD1Ac4rKiUR4HD2T",
        "toolu_01XFyAjstT3966qvRynZyVPo",
        "toolu_013mnQZbgtK2oe3Mo3XKJsx3",
    ]
    assert got["candidates"][0]["content"]["parts"][1:] == [
        {"functionCall": {"id": i, "name": "retrieve_entity_info", "args": {"name": n}}}
        for i, n in zip(ids, names, strict=True)
    ]
    assert got["candidates"][0]["finishReason"] == "STOP"  # Gemini stops with STOP after calls
    assert got["usageMetadata"] == {
        "promptTokenCount": 423,
        "candidatesTokenCount": 202,
        "totalTokenCount": 625,
    }
    calls = read_by_sdk(got).function_calls
    assert calls is not None
    assert [(c.id, c.name, c.args) for c in calls] == [
        (i, "retrieve_entity_info", {"name": n}) for i, n in zip(ids, names, strict=True)
    ]


def message(
    content: list[dict[str, Any]], stop: str = "end_turn", usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 1, "output_tokens": 1},
    }


def parts(answer: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = answer["candidates"][0]["content"]["parts"]
    return result


CALL = {"type": "tool_use", "id": "toolu_x", "name": "ls", "input": {}}


def test_thoughts_shown_when_asked_and_signatures_on_the_next_part() -> None:
    answer = anthropic_response_to_gemini(
        message([THINKING, {"type": "text", "text": "Pelé"}, REDACTED, CALL]),
        model_version="m",
        include_thoughts=True,
    )
    assert parts(answer) == [
        {"text": "The user wants two names.", "thought": True},
        {"text": "Pelé", "thoughtSignature": ours(THINKING)},
        {"functionCall": {"id": "toolu_x", "name": "ls", "args": {}}, "thoughtSignature": ours(REDACTED)},
    ]
    read = read_by_sdk(answer)
    assert read.text == "Pelé"  # the SDK's text leaves thoughts out
    assert read.candidates is not None and read.candidates[0].content is not None
    shown = read.candidates[0].content.parts
    assert shown is not None and shown[0].thought is True and shown[0].text == "The user wants two names."


def test_hidden_thoughts_ride_on_the_next_part_and_the_last_on_an_empty_one() -> None:
    answer = anthropic_response_to_gemini(
        message([THINKING, {"type": "text", "text": "Hi"}, REDACTED, THINKING]), model_version="m"
    )
    assert parts(answer) == [
        {"text": "Hi", "thoughtSignature": ours(THINKING)},
        {"text": "", "thoughtSignature": ours(REDACTED, THINKING)},  # blocks in a row share one signature
    ]
    assert read_by_sdk(answer).text == "Hi"


def test_unsigned_thinking_is_shown_but_not_carried() -> None:
    unsigned = {"type": "thinking", "thinking": "reasoning_content", "signature": ""}
    content = [unsigned, {"type": "text", "text": "Hi"}]
    assert parts(
        anthropic_response_to_gemini(message(content), model_version="m", include_thoughts=True)
    ) == [
        {"text": "reasoning_content", "thought": True},
        {"text": "Hi"},
    ]
    history = {
        "contents": [
            {"parts": [{"text": "x"}]},
            {"role": "model", "parts": [{"text": "Hi", "thoughtSignature": ours(unsigned, REDACTED)}]},
        ]
    }
    assert gemini_request_to_anthropic(history, model="c", default_max_tokens=9)["messages"][1][
        "content"
    ] == [
        REDACTED,
        {"type": "text", "text": "Hi"},
    ]


@pytest.mark.parametrize("include_thoughts", [True, False])
@pytest.mark.parametrize("keep_thought_parts", [True, False])
def test_thinking_round_trips_through_the_sdk_history(
    include_thoughts: bool, keep_thought_parts: bool
) -> None:
    """Claude's signed thinking, given to a google-genai client, comes back to the hub as it was, also
    when the client leaves thought parts out of its history (Gemini CLI does)."""
    content = [THINKING, REDACTED, {"type": "text", "text": "Listing."}, THINKING, CALL]
    answer = anthropic_response_to_gemini(
        message(content, "tool_use"), model_version="m", include_thoughts=include_thoughts
    )
    sdk = GenaiRecorder(
        [answer, {"candidates": [{"content": {"role": "model", "parts": [{"text": "done"}]}}]}]
    )
    first = sdk.client.models.generate_content(model="g", contents="List files")
    assert first.candidates is not None and first.candidates[0].content is not None
    model_turn = first.candidates[0].content
    if not keep_thought_parts:
        model_turn = types.Content(role="model", parts=[p for p in model_turn.parts or [] if not p.thought])
    history = [
        types.Content(role="user", parts=[types.Part(text="List files")]),
        model_turn,
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        id="toolu_x", name="ls", response={"output": "a.txt"}
                    )
                )
            ],
        ),
    ]
    sdk.client.models.generate_content(model="g", contents=history)
    hub = gemini_request_to_anthropic(sdk.body, model="claude", default_max_tokens=100)
    assert hub["messages"][1] == {"role": "assistant", "content": content}
    assert hub["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_x", "content": [{"type": "text", "text": "a.txt"}]}
    ]


def test_signature_encoding_reads_url_safe_and_unpadded_and_ignores_others() -> None:
    written = encode_thought_signature([REDACTED, {**THINKING, "extra": 1}])
    assert written == ours(REDACTED, THINKING)  # own fields only
    url_safe = written.replace("+", "-").replace("/", "_").rstrip("=")
    assert decode_thought_signature(url_safe, "p") == [REDACTED, THINKING]
    assert decode_thought_signature("skip_thought_signature_validator", "p") is None  # Gemini CLI's
    assert decode_thought_signature("CiQBcsjafQ==", "p") is None  # Gemini's own
    assert decode_thought_signature("not base64!", "p") is None
    for smuggled in ([{"type": "text", "text": "hi"}], [], {"type": "thinking"}):
        value = base64.b64encode(b"llmgw1." + orjson.dumps(smuggled)).decode()
        with pytest.raises(InvalidRequest) as caught:
            decode_thought_signature(value, "contents[1].parts[0].thoughtSignature")
        assert caught.value.param == "contents[1].parts[0].thoughtSignature"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "STOP"),
        ("stop_sequence", "STOP"),
        ("tool_use", "STOP"),
        ("pause_turn", "STOP"),
        ("max_tokens", "MAX_TOKENS"),
        ("model_context_window_exceeded", "MAX_TOKENS"),
        ("refusal", "SAFETY"),
        ("something_new", "OTHER"),
        (None, "STOP"),
    ],
)
def test_finish_reasons(stop: str | None, finish: str) -> None:
    assert gemini_finish_reason(stop) == finish
    types.FinishReason(finish)  # one of Gemini's names


def test_usage_with_cache_and_thinking() -> None:
    usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 5,
        "output_tokens": 50,
        "output_tokens_details": {"thinking_tokens": 30},
    }
    got = gemini_usage_from_anthropic(usage)
    assert got == {
        "promptTokenCount": 115,
        "candidatesTokenCount": 20,
        "cachedContentTokenCount": 100,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 165,
    }
    assert types.GenerateContentResponseUsageMetadata.model_validate(got).cached_content_token_count == 100


def test_server_tool_blocks_are_left_out_and_the_grounded_text_stays() -> None:
    content = [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "text", "text": "Found.", "citations": [{"type": "web_search_result_location", "url": "u"}]},
    ]
    assert parts(anthropic_response_to_gemini(message(content), model_version="m")) == [{"text": "Found."}]


def test_count_tokens() -> None:
    assert anthropic_count_tokens_to_gemini(load_json("anthropic", "count_tokens.default")) == {
        "totalTokens": 1114
    }
    types.CountTokensResponse.model_validate(anthropic_count_tokens_to_gemini({"input_tokens": 3}))
    with pytest.raises(UpstreamUnavailable):
        anthropic_count_tokens_to_gemini({})


def test_junk_blocks_give_no_parts() -> None:
    content: list[Any] = ["text", {"type": "text"}, {"type": "text", "text": ""}, {"type": "image"}]
    assert parts(anthropic_response_to_gemini(message(content), model_version="m")) == []


def test_an_answer_without_content_is_the_upstreams_fault() -> None:
    with pytest.raises(UpstreamUnavailable):
        anthropic_response_to_gemini({"id": "msg_1"}, model_version="m")
