"""The one table of output cap fields per client dialect (relay/output_cap.py): what a request may
produce, which the budget reserves for and the bridge sends upstream."""

from __future__ import annotations

from typing import Any

import pytest

from llmgw.dialects import Operation
from llmgw.errors import InvalidRequest
from llmgw.relay.output_cap import OutputCap, output_cap, refuse_foreign_caps, with_cap
from llmgw.translate.openai_to_anthropic import EFFORT_BUDGET


@pytest.mark.parametrize(
    ("body", "dialect", "op", "cap"),
    [
        ({}, "openai", Operation.CHAT, OutputCap(4096)),  # none asked: the default, which the bridge sets
        ({"max_tokens": 100}, "openai", Operation.CHAT, OutputCap(100)),
        ({"max_completion_tokens": 50, "max_tokens": 100}, "openai", Operation.CHAT, OutputCap(50)),
        ({"max_tokens": 100, "n": 3}, "openai", Operation.CHAT, OutputCap(100, 3)),
        ({"max_tokens": 100, "reasoning_effort": "high"}, "openai", Operation.CHAT,
         OutputCap(100, 1, EFFORT_BUDGET["high"])),
        ({"max_tokens": 100, "reasoning_effort": "none"}, "openai", Operation.CHAT, OutputCap(100)),
        # Not this dialect's cap: the default applies, and the field is refused under a budget.
        ({"max_output_tokens": 1}, "openai", Operation.CHAT, OutputCap(4096)),
        ({"max_tokens": 16, "best_of": 5}, "openai", Operation.COMPLETIONS, OutputCap(16, 5)),
        ({"max_tokens": 16, "n": 2, "best_of": 5}, "openai", Operation.COMPLETIONS, OutputCap(16, 5)),
        ({"max_tokens": 16, "prompt": ["a"] * 50}, "openai", Operation.COMPLETIONS, OutputCap(16, 50)),
        ({"max_tokens": 16, "prompt": [[1, 2], [3]], "n": 3}, "openai", Operation.COMPLETIONS,
         OutputCap(16, 6)),
        ({"max_tokens": 16, "prompt": [1, 2, 3]}, "openai", Operation.COMPLETIONS, OutputCap(16)),  # one
        ({"max_tokens": 16, "prompt": "a"}, "openai", Operation.COMPLETIONS, OutputCap(16)),
        ({"max_tokens": 4000, "max_completion_tokens": 1}, "anthropic", Operation.CHAT, OutputCap(4000)),
        ({"max_tokens": 100, "n": 9}, "anthropic", Operation.CHAT, OutputCap(100)),
        ({}, "responses", Operation.CHAT, OutputCap(4096)),
        ({"max_output_tokens": 300}, "responses", Operation.CHAT, OutputCap(300)),
        ({"max_output_tokens": 300, "reasoning": {"effort": "medium", "summary": "auto"}}, "responses",
         Operation.CHAT, OutputCap(300, 1, EFFORT_BUDGET["medium"])),
        ({"max_output_tokens": 300, "reasoning": {"effort": None}}, "responses", Operation.CHAT,
         OutputCap(300)),
        ({"max_output_tokens": 300, "reasoning": {"effort": "minimal"}}, "responses", Operation.CHAT,
         OutputCap(300)),  # no thinking, as the translation sets it
        ({"max_output_tokens": 300, "n": 4}, "responses", Operation.CHAT, OutputCap(300)),  # one answer
        ({"max_tokens": 5}, "responses", Operation.CHAT, OutputCap(4096)),  # another API's: refused
    ],
)  # fmt: skip
def test_output_cap(body: dict[str, Any], dialect: Any, op: Operation, cap: OutputCap) -> None:
    assert output_cap(body, dialect, op, 4096) == cap


def test_no_output_no_cap() -> None:
    assert output_cap({"input": "x"}, "openai", Operation.EMBEDDINGS, 4096) is None
    assert output_cap({"max_tokens": 5}, "anthropic", Operation.COUNT_TOKENS, 4096) is None


@pytest.mark.parametrize(
    "body",
    [
        {"max_tokens": "100"},
        {"max_tokens": 0},
        {"max_completion_tokens": True},
        {"n": True},
        {"n": 0},
        {"n": 129},
    ],
)
def test_output_cap_refuses_what_it_cannot_bound(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        output_cap(body, "openai", Operation.CHAT, 4096)


@pytest.mark.parametrize("value", ["100", 0, -1, True, 1.5])
def test_a_responses_cap_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        output_cap({"max_output_tokens": value}, "responses", Operation.CHAT, 4096)
    assert caught.value.param == "max_output_tokens"


def test_with_cap_leaves_one_maximum() -> None:
    body = {"model": "m", "max_tokens": 100, "max_completion_tokens": 50, "max_output_tokens": 1}
    out = with_cap(body, "openai", Operation.CHAT, "max_tokens", 50)
    assert out == {"model": "m", "max_tokens": 50, "max_output_tokens": 1}
    assert body["max_tokens"] == 100  # the client's body is not changed


@pytest.mark.parametrize(
    ("body", "dialect", "op", "refused"),
    [
        ({"max_output_tokens": 1}, "openai", Operation.CHAT, "max_output_tokens"),
        ({"max_tokens": 1, "max_completion_tokens": 2}, "openai", Operation.CHAT, None),
        ({"max_tokens": 9, "max_completion_tokens": 1}, "anthropic", Operation.CHAT, "max_completion_tokens"),
        ({"max_tokens": 9, "max_new_tokens": 1}, "anthropic", Operation.CHAT, "max_new_tokens"),
        ({"max_tokens": 9, "max_output_tokens": None}, "anthropic", Operation.CHAT, None),  # null: unset
        ({"max_completion_tokens": 1}, "openai", Operation.COMPLETIONS, "max_completion_tokens"),
        ({"max_tokens": 1}, "anthropic", Operation.COUNT_TOKENS, None),  # no output to limit
        ({"max_tokens": 1}, "openai", Operation.EMBEDDINGS, None),
        ({"max_tokens": 1}, "responses", Operation.CHAT, "max_tokens"),
        ({"max_output_tokens": 1, "max_completion_tokens": 2}, "responses", Operation.CHAT,
         "max_completion_tokens"),
        ({"max_output_tokens": 1}, "responses", Operation.CHAT, None),
    ],
)  # fmt: skip
def test_refuse_foreign_caps(body: dict[str, Any], dialect: Any, op: Operation, refused: str | None) -> None:
    if refused is None:
        refuse_foreign_caps(body, dialect, op, "/v1/x")
        return
    with pytest.raises(InvalidRequest) as caught:
        refuse_foreign_caps(body, dialect, op, "/v1/x")
    assert caught.value.param == refused and f"`{refused}`" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "cap"),
    [
        ({"contents": []}, OutputCap(4096)),
        ({"generationConfig": {"maxOutputTokens": 300}}, OutputCap(300)),
        ({"generationConfig": {"maxOutputTokens": 300, "candidateCount": 2}}, OutputCap(300, 2)),
        (
            {"generationConfig": {"maxOutputTokens": 300, "thinkingConfig": {"thinkingBudget": 1024}}},
            OutputCap(300, 1, 1024),
        ),
        ({"generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}}, OutputCap(4096)),  # dynamic
    ],
)
def test_a_gemini_cap_is_read_from_generation_config(body: dict[str, Any], cap: OutputCap) -> None:
    assert output_cap(body, "gemini", Operation.CHAT, 4096) == cap


def test_a_gemini_cap_must_be_a_positive_integer_and_others_are_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"generationConfig\.maxOutputTokens"):
        output_cap({"generationConfig": {"maxOutputTokens": 0}}, "gemini", Operation.CHAT, 4096)
    for flat in ("maxOutputTokens", "max_tokens"):
        with pytest.raises(InvalidRequest, match=flat):
            refuse_foreign_caps({flat: 5}, "gemini", Operation.CHAT, "/v1beta/models/{model}:generateContent")
    refuse_foreign_caps({"generationConfig": {"maxOutputTokens": 5}}, "gemini", Operation.CHAT, "/x")


def test_with_cap_writes_the_nested_field_and_leaves_the_body_alone() -> None:
    body = {"contents": [], "generationConfig": {"temperature": 0.5, "maxOutputTokens": 9000}}
    out = with_cap(body, "gemini", Operation.CHAT, "generationConfig.maxOutputTokens", 300)
    assert out == {"contents": [], "generationConfig": {"temperature": 0.5, "maxOutputTokens": 300}}
    assert body["generationConfig"]["maxOutputTokens"] == 9000  # copied, not changed
    assert with_cap({"contents": []}, "gemini", Operation.CHAT, "generationConfig.maxOutputTokens", 7) == {
        "contents": [],
        "generationConfig": {"maxOutputTokens": 7},
    }
