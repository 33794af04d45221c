"""Gemini → Anthropic answers (llmgw.translate.gemini_to_anthropic, and the hub's Gemini stop-reason and
usage mappings), against recorded traffic.

Expected values are written by hand from the recorded Gemini / Anthropic / OpenAI payloads in
`tests/fixtures/providers` and from the published API references, never from the translators'
own output.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.gemini_to_anthropic import (
    gemini_count_tokens_to_anthropic,
    gemini_parts_to_blocks,
    gemini_response_to_anthropic,
    without_gemini_thinking,
)
from llmgw.translate.hub import gemini_finish_to_anthropic, gemini_usage_to_anthropic
from tests.support.fakes.fixtures import load_json, load_sse
from tests.support.gemini_payloads import (
    MSG,
    SIGNED_ANSWER,
    TOOLU,
    valid_message,
)

# ---- answers -------------------------------------------------------------------------------------


def test_recorded_text_answer() -> None:
    got = valid_message(gemini_response_to_anthropic(load_json("gemini", "generate.text"), model="flash"))
    assert got == {
        "id": "msg_bzlXaa_EE_aHqtsPi_zw8Ao",
        "type": "message",
        "role": "assistant",
        "model": "flash",
        "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        # promptTokenCount 9; candidatesTokenCount 9 + thoughtsTokenCount 34
        "usage": {
            "input_tokens": 9,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 43,
        },
    }


def test_recorded_tool_call_answer() -> None:
    got = valid_message(gemini_response_to_anthropic(load_json("gemini", "generate.tool_call"), model="g"))
    [call] = got["content"]
    assert TOOLU.match(call["id"]) and MSG.match(got["id"])  # no functionCall.id, no responseId recorded
    assert call == {
        "type": "tool_use",
        "id": call["id"],
        "name": "get_capital",
        "input": {"country": "France"},
    }
    assert got["stop_reason"] == "tool_use"
    assert got["usage"] == {
        "input_tokens": 23,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 5,
    }


def test_recorded_image_answer() -> None:
    got = valid_message(
        gemini_response_to_anthropic(load_json("gemini", "generate.image"), model="g", message_id="msg_mine")
    )
    assert got["id"] == "msg_mine"
    assert got["content"] == [{"type": "text", "text": "The fruit in the image is a kiwi."}]
    assert got["usage"]["input_tokens"] == 3367 and got["usage"]["output_tokens"] == 9


def test_recorded_stream_chunks_give_text_blocks() -> None:
    chunks = [json.loads(data) for data in load_sse("gemini", "generate.stream_text")]
    blocks = [b for c in chunks for b in gemini_parts_to_blocks(c["candidates"][0]["content"]["parts"])]
    assert blocks == [
        {"type": "text", "text": "The"},
        {"type": "text", "text": " capital of France"},
        {"type": "text", "text": " is Paris.\n"},
    ]
    assert gemini_usage_to_anthropic(chunks[-1]["usageMetadata"])["output_tokens"] == 8


def test_blocked_prompt_is_an_empty_refusal() -> None:
    resp = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    }
    got = valid_message(gemini_response_to_anthropic(resp, model="g"))
    assert (got["content"], got["stop_reason"], got["usage"]["input_tokens"]) == ([], "refusal", 7)


@pytest.mark.parametrize(
    "resp", [{}, {"candidates": []}, {"promptFeedback": {}}, {"candidates": ["x"]}, {"candidates": {"0": {}}}]
)
def test_answers_without_a_usable_candidate_are_upstream_errors(resp: dict[str, Any]) -> None:
    with pytest.raises(UpstreamUnavailable):
        gemini_response_to_anthropic(resp, model="g")


def test_thinking_spent_all_tokens() -> None:
    resp = {
        "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}],
        "usageMetadata": {"promptTokenCount": 5, "thoughtsTokenCount": 64, "totalTokenCount": 69},
    }
    got = valid_message(gemini_response_to_anthropic(resp, model="g"))
    assert (got["content"], got["stop_reason"], got["usage"]["output_tokens"]) == ([], "max_tokens", 64)
    assert valid_message(gemini_response_to_anthropic({"candidates": [{}]}, model="g"))["usage"] == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }


def test_parts_anthropic_cannot_hold_are_dropped_with_their_signatures() -> None:
    parts = [
        "junk",
        {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}, "thoughtSignature": "IMG"},
        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
        {"text": ""},
        {"text": "", "thoughtSignature": "END"},
        {"thought": True, "thoughtSignature": "T"},
        {"functionCall": {"name": 5, "args": "x", "id": ""}},
    ]
    blocks = gemini_parts_to_blocks(parts)
    assert blocks[:3] == [
        {"type": "thinking", "thinking": "", "signature": "gemini:part:END"},
        {"type": "thinking", "thinking": "", "signature": "gemini:thought:T"},
        {"type": "tool_use", "id": blocks[2]["id"], "name": "", "input": {}},
    ]
    assert TOOLU.match(blocks[2]["id"]) and len(blocks) == 3
    assert gemini_parts_to_blocks(None) == []


@pytest.mark.parametrize(
    ("reason", "tool_use", "stop"),
    [
        ("STOP", False, "end_turn"),
        ("STOP", True, "tool_use"),
        (None, False, "end_turn"),
        (None, True, "tool_use"),
        ("MAX_TOKENS", False, "max_tokens"),
        ("MAX_TOKENS", True, "max_tokens"),
        ("SAFETY", False, "refusal"),
        ("RECITATION", False, "refusal"),
        ("BLOCKLIST", False, "refusal"),
        ("PROHIBITED_CONTENT", True, "refusal"),
        ("SPII", False, "refusal"),
        ("IMAGE_SAFETY", False, "refusal"),
        ("LANGUAGE", False, "end_turn"),
        ("OTHER", False, "end_turn"),
        ("MALFORMED_FUNCTION_CALL", False, "end_turn"),
        ("FINISH_REASON_UNSPECIFIED", False, "end_turn"),
    ],
)
def test_finish_reasons(reason: str | None, tool_use: bool, stop: str) -> None:
    assert gemini_finish_to_anthropic(reason, tool_use=tool_use) == stop


def test_finish_reason_default_is_no_tool_use() -> None:
    assert gemini_finish_to_anthropic("STOP") == "end_turn"


def test_usage_with_cache_and_junk() -> None:
    assert gemini_usage_to_anthropic(
        {"promptTokenCount": 1000, "cachedContentTokenCount": 800, "candidatesTokenCount": True}
    ) == {
        "input_tokens": 200,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 800,
        "output_tokens": 0,
    }
    assert gemini_usage_to_anthropic(None)["input_tokens"] == 0


# ---- signed answers (Gemini 3) -------------------------------------------------------------------


def test_signed_answer_becomes_anthropic_message() -> None:
    got = valid_message(gemini_response_to_anthropic(SIGNED_ANSWER, model="gemini-3-pro"))
    assert got == {
        "id": "msg_abc_123",
        "type": "message",
        "role": "assistant",
        "model": "gemini-3-pro",
        "content": [
            {
                "type": "thinking",
                "thinking": "Two cities: call the tool twice.",
                "signature": "gemini:thought:",
            },
            {"type": "thinking", "thinking": "", "signature": "gemini:part:SIG1"},
            {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "c2", "name": "get_weather", "input": {"city": "Rome"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 40,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 60,
            "output_tokens": 70,
        },
    }


# ---- count_tokens --------------------------------------------------------------------------------


def test_count_tokens_answer() -> None:
    assert gemini_count_tokens_to_anthropic(load_json("gemini", "count_tokens.default")) == {
        "input_tokens": 5
    }


@pytest.mark.parametrize("resp", [{}, {"totalTokens": None}, {"totalTokens": "5"}, {"totalTokens": True}])
def test_count_tokens_without_total_is_an_upstream_error(resp: dict[str, Any]) -> None:
    with pytest.raises(UpstreamUnavailable):
        gemini_count_tokens_to_anthropic(resp)


# -- a conversation moving from a Gemini model to a Claude one ---------------------------------------


def test_thinking_blocks_gemini_signed_are_left_out_for_anthropic() -> None:
    anthropic_signed = {"type": "thinking", "thinking": "Claude's", "signature": "EqQBCkgIARABGAIiQL"}
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Gemini's", "signature": "gemini:thought:CiQB"},
                    {"type": "thinking", "thinking": "", "signature": "gemini:part:CiQC"},
                    {"type": "text", "text": "Hello"},
                ],
            },
            {"role": "assistant", "content": [anthropic_signed, {"type": "text", "text": "Again"}]},
        ],
    }
    out = without_gemini_thinking(body)
    assert out["messages"][1]["content"] == [{"type": "text", "text": "Hello"}]
    assert out["messages"][0] is body["messages"][0] and out["messages"][2] is body["messages"][2]
    assert body["messages"][1]["content"][0]["signature"] == "gemini:thought:CiQB"  # not changed
    clean = {**body, "messages": [body["messages"][0], body["messages"][2]]}
    assert without_gemini_thinking(clean) is clean
