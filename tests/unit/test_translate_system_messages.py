"""`role: "system"` messages inside Anthropic `messages`, carried to every dialect, and reasoning
parameters dropped for models that cannot take them (llmgw.translate.hub, anthropic_to_openai,
anthropic_to_gemini, model_traits).

Claude Code sends system messages inside `messages` to models it does not know (any route that is not
a Claude model name): its environment block after the user's prompt, for instance. The conversation
below has the shape of its requests (recorded through the gateway, trimmed).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from llmgw.errors import InvalidRequest
from llmgw.translate.anthropic_to_gemini import anthropic_count_tokens_to_gemini, anthropic_request_to_gemini
from llmgw.translate.anthropic_to_openai import anthropic_request_to_openai
from llmgw.translate.hub import lift_system_messages
from llmgw.translate.model_traits import gemini_thinks, openai_reasons
from tests.support.fakes.anthropic_upstream import request_errors
from tests.support.fakes.gemini_upstream import generate_errors, request_violations

BILLING = {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;"}
AGENT = {"type": "text", "text": "You are a Claude agent.", "cache_control": {"type": "ephemeral"}}
ENVIRONMENT = "# Environment\n - Primary working directory: /tmp/work"
PROMPT = {"role": "user", "content": [{"type": "text", "text": "Say hello in five words."}]}
CLAUDE_CODE: dict[str, Any] = {
    "model": "gem/gemini-2.0-flash",
    "max_tokens": 32000,
    "system": [BILLING, AGENT],
    "messages": [PROMPT, {"role": "system", "content": ENVIRONMENT}],
    "thinking": {"type": "enabled", "budget_tokens": 31999, "display": "omitted"},
    "metadata": {"user_id": '{"session_id":"s"}'},
    "stream": True,
}


# ---- Anthropic's own API: lifted into `system` ----------------------------------------------------


def test_anthropic_lifts_system_messages_into_system_in_order() -> None:
    body = {
        **CLAUDE_CODE,
        "messages": [
            {"role": "system", "content": "First."},
            PROMPT,
            {"role": "assistant", "content": "Hi."},
            {
                "role": "system",
                "content": [{"type": "text", "text": "Then.", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "user", "content": "More."},
            {"role": "system", "content": ""},
        ],
    }
    before = copy.deepcopy(body)
    out = lift_system_messages(body)
    assert body == before  # the client's body is not changed
    assert out["system"] == [
        BILLING,
        AGENT,
        {"type": "text", "text": "First."},
        {"type": "text", "text": "Then.", "cache_control": {"type": "ephemeral"}},
    ]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert request_errors(out, create=True, version="2023-06-01") is None  # the fake checks like the API
    assert request_errors(body, create=True, version="2023-06-01") is not None


@pytest.mark.parametrize(
    ("system", "blocks"),
    [
        (None, [{"type": "text", "text": ENVIRONMENT}]),
        ("Be brief.", [{"type": "text", "text": "Be brief."}, {"type": "text", "text": ENVIRONMENT}]),
        ("", [{"type": "text", "text": ENVIRONMENT}]),
    ],
)
def test_anthropic_system_string_becomes_blocks(system: str | None, blocks: list[dict[str, Any]]) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": CLAUDE_CODE["messages"]}
    if system is not None:
        body["system"] = system
    assert lift_system_messages(body)["system"] == blocks


def test_anthropic_body_without_system_messages_is_the_same_object() -> None:
    body = {"model": "m", "max_tokens": 5, "system": "s", "messages": [PROMPT]}
    assert lift_system_messages(body) is body


# ---- OpenAI: system messages at their place --------------------------------------------------------


def test_openai_keeps_system_messages_at_their_place() -> None:
    out = anthropic_request_to_openai(CLAUDE_CODE)
    assert out["messages"] == [
        {"role": "system", "content": f"{BILLING['text']}\n\n{AGENT['text']}"},
        {"role": "user", "content": "Say hello in five words."},
        {"role": "system", "content": ENVIRONMENT},
    ]


# ---- Gemini: system messages join systemInstruction ------------------------------------------------


def gemini_accepts(req: dict[str, Any], model: str = "gemini-2.0-flash") -> None:
    normalised, violations = request_violations(req)
    assert violations == []
    assert generate_errors(normalised, model) is None


def test_gemini_appends_system_messages_to_the_system_instruction() -> None:
    out = anthropic_request_to_gemini(CLAUDE_CODE)
    assert out["systemInstruction"] == {
        "parts": [{"text": BILLING["text"]}, {"text": AGENT["text"]}, {"text": ENVIRONMENT}]
    }
    assert out["contents"] == [{"role": "user", "parts": [{"text": "Say hello in five words."}]}]
    gemini_accepts(out)


def test_gemini_mid_conversation_system_messages_in_order_and_turns_merged() -> None:
    body = {
        "max_tokens": 10,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "One."}, {"type": "text", "text": ""}]},
            {"role": "user", "content": "a"},
            {"role": "system", "content": "Two."},
            {"role": "user", "content": "b"},
        ],
    }
    out = anthropic_request_to_gemini(body)
    assert out["systemInstruction"] == {"parts": [{"text": "One."}, {"text": "Two."}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]
    gemini_accepts(out)
    count = anthropic_count_tokens_to_gemini(body, model="gemini-2.0-flash")["generateContentRequest"]
    assert count["systemInstruction"] == out["systemInstruction"]


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "system", "content": [{"type": "image", "source": {}}]}, "messages[1].content[0].type"),
        ({"role": "system", "content": 7}, "messages[1].content"),
        ({"role": "system", "content": [{"type": "text"}]}, "messages[1].content[0].text"),
        ({"role": "tool", "content": "x"}, "messages[1].role"),
    ],
)
def test_gemini_refuses_what_a_system_prompt_cannot_hold(message: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        anthropic_request_to_gemini({"messages": [PROMPT, message]})
    assert caught.value.param == param


# ---- reasoning parameters: only for models that take them ------------------------------------------


@pytest.mark.parametrize(
    ("model", "reasons"),
    [
        ("gpt-4o-mini", False),
        ("gpt-4.1", False),
        ("gpt-3.5-turbo", False),
        ("o1", True),
        ("o1-2024-12-17", True),
        ("o1-mini", False),
        ("o1-preview", False),
        ("o3", True),
        ("o3-mini", True),
        ("o4-mini", True),
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("gpt-5.1", True),
        ("gpt-5-chat-latest", False),
        ("ft:o4-mini-2025-04-16:acme::abc123", True),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", False),
        ("omni-moderation-latest", False),
    ],
)
def test_openai_reasoning_models(model: str, reasons: bool) -> None:
    assert openai_reasons(model) is reasons


@pytest.mark.parametrize(
    ("model", "thinks"),
    [
        ("gemini-2.0-flash", False),
        ("gemini-2.0-flash-lite", False),
        ("gemini-1.5-pro", False),
        ("gemini-2.5-flash", True),
        ("gemini-2.5-pro", True),
        ("models/gemini-2.5-flash-lite", True),
        ("gemini-3-pro-preview", True),
        ("gemini-flash-latest", True),
    ],
)
def test_gemini_thinking_models(model: str, thinks: bool) -> None:
    assert gemini_thinks(model) is thinks


EFFORT = {"output_config": {"effort": "high"}}


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}}, "high"),
        (EFFORT, "high"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}, **EFFORT}, "high"),
    ],
)
def test_openai_reasoning_dropped_with_a_note_for_a_model_without_reasoning(
    fields: dict[str, Any], effort: str
) -> None:
    body = {"max_tokens": 100, "messages": [PROMPT], **fields}
    assert anthropic_request_to_openai(body)["reasoning_effort"] == effort
    notes: list[str] = []
    out = anthropic_request_to_openai(body, reasoning=False, notes=notes)
    assert "reasoning_effort" not in out
    assert notes == [f"reasoning_effort {effort!r} dropped: the model takes no reasoning parameters"]


def test_openai_without_reasoning_keeps_the_output_format_and_notes_nothing_else() -> None:
    schema = {"type": "object", "properties": {}}
    body = {
        "max_tokens": 9,
        "messages": [PROMPT],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    notes: list[str] = []
    out = anthropic_request_to_openai(body, reasoning=False, notes=notes)
    assert out["response_format"]["json_schema"]["schema"] == schema
    assert notes == []


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "on"}}, "thinking.type"),
        ({"output_config": {"effort": "extreme"}}, "output_config.effort"),
    ],
)
def test_openai_malformed_reasoning_is_still_refused(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        anthropic_request_to_openai({"max_tokens": 9, "messages": [PROMPT], **fields}, reasoning=False)
    assert caught.value.param == param


def test_gemini_thinking_dropped_with_a_note_for_a_model_that_does_not_think() -> None:
    notes: list[str] = []
    out = anthropic_request_to_gemini(CLAUDE_CODE, thinking=False, notes=notes)
    assert out["generationConfig"] == {"maxOutputTokens": 32000}
    assert notes == ["thinking dropped: the model does not think (no thinkingConfig)"]
    thinks = anthropic_request_to_gemini(CLAUDE_CODE)
    assert thinks["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 31999, "includeThoughts": False}
    count = anthropic_count_tokens_to_gemini(CLAUDE_CODE, model="gemini-2.0-flash", thinking=False)
    assert "thinkingConfig" not in count["generateContentRequest"]["generationConfig"]


def test_gemini_without_thinking_notes_nothing_when_none_was_asked() -> None:
    notes: list[str] = []
    out = anthropic_request_to_gemini(
        {**CLAUDE_CODE, "thinking": {"type": "disabled"}}, thinking=False, notes=notes
    )
    assert "thinkingConfig" not in out["generationConfig"]
    assert notes == []


def test_gemini_malformed_thinking_is_still_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        anthropic_request_to_gemini({**CLAUDE_CODE, "thinking": {"type": "enabled"}}, thinking=False)
    assert caught.value.param == "thinking.budget_tokens"
