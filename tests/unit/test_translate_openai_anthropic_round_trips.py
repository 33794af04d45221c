"""OpenAI ⇄ Anthropic round trips: a request or answer translated there and back keeps its meaning
(llmgw.translate.openai_to_anthropic with llmgw.translate.anthropic_to_openai).

Expected payloads are written by hand from the providers' API references and the recorded traffic,
never taken from the translator's own output. Produced requests are checked against the official SDKs'
request types (no unknown field, no wrong shape) and produced responses parsed with their models.
"""

from __future__ import annotations

from llmgw.translate.anthropic_to_openai import anthropic_response_to_openai
from llmgw.translate.openai_to_anthropic import openai_response_to_anthropic
from tests.support.fakes.fixtures import load_json, load_request
from tests.support.openai_anthropic_payloads import (
    an,
    assistant,
    call,
    oa,
    text,
    to_anthropic,
    to_openai,
    tool_result,
    tool_use,
    user,
)

# --- round trips ------------------------------------------------------------------------------------


OPENAI_CONVERSATION = {
    "model": "m",
    "max_tokens": 500,
    "messages": [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call("call_1", "weather", '{"city":"Paris"}'),
                call("call_2", "weather", '{"city":"Rome","units":["C"]}'),
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "24C"},
        {"role": "assistant", "content": "Paris 18C, Rome 24C."},
        {
            "role": "user",
            "content": [
                text("Thanks. This one?"),
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather now.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "temperature": 0.3,
    "stop": ["END"],
    "user": "u1",
    "stream": True,
}


def test_openai_request_survives_a_round_trip_through_anthropic() -> None:
    there = to_anthropic(OPENAI_CONVERSATION)
    assert there["messages"][2] == user(tool_result("call_1", "18C"), tool_result("call_2", "24C"))
    assert to_openai(there) == OPENAI_CONVERSATION


ANTHROPIC_CONVERSATION = {
    "model": "m",
    "max_tokens": 8000,  # above the thinking budget, as Anthropic requires
    "system": "Be terse.",
    "messages": [
        user(text("List files, then read both.")),
        assistant(text("Listing."), tool_use("toolu_1", "ls", {})),
        user(tool_result("toolu_1", "a.txt b.txt")),
        assistant(
            tool_use("toolu_2", "read", {"path": "a.txt"}), tool_use("toolu_3", "read", {"path": "b.txt"})
        ),
        user(tool_result("toolu_2", "alpha"), tool_result("toolu_3", "beta"), text("Summarise.")),
    ],
    "tools": [
        {"name": "ls", "input_schema": {"type": "object"}},
        {
            "name": "read",
            "description": "Read.",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    ],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "thinking": {"type": "enabled", "budget_tokens": 4096},
    "stop_sequences": ["\n\nHuman:"],
    "metadata": {"user_id": "u"},
    "stream": False,
}


def test_anthropic_request_survives_a_round_trip_through_openai() -> None:
    there = to_openai(ANTHROPIC_CONVERSATION)
    assert [m["role"] for m in there["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "tool",
        "user",
    ]
    assert there["reasoning_effort"] == "medium"
    assert to_anthropic(there) == ANTHROPIC_CONVERSATION


def test_an_openai_client_continues_a_conversation_with_an_anthropic_upstream() -> None:
    answer = load_json("anthropic", "messages.tool_call")
    request = load_request("anthropic", "messages.tool_call")["body"]
    message = anthropic_response_to_openai(answer, model="claude")["choices"][0]["message"]
    ids = [c["id"] for c in message["tool_calls"]]
    follow_up = oa(
        {"role": "system", "content": request["system"]},
        {"role": "user", "content": request["messages"][0]["content"][0]["text"]},
        message,  # as the client got it, with "refusal": None
        *({"role": "tool", "tool_call_id": i, "content": f"born {1990 + n}"} for n, i in enumerate(ids)),
    )
    out = to_anthropic(follow_up)
    assert out["messages"][1] == {"role": "assistant", "content": answer["content"]}  # block for block
    assert out["messages"][2] == user(*(tool_result(i, f"born {1990 + n}") for n, i in enumerate(ids)))


def test_an_anthropic_client_continues_a_conversation_with_an_openai_upstream() -> None:
    answer = load_json("openai", "chat.tool_call")
    message = openai_response_to_anthropic(answer, model="gpt")
    follow_up = an(
        user(text("What is the capital of England?")),
        {"role": message["role"], "content": message["content"]},
        user(tool_result("call_SkEQ3ZGSJC8m6AvaIGNuuKdm", "London")),
    )
    out = to_openai(follow_up)
    original = answer["choices"][0]["message"]
    assert out["messages"][1] == {"role": "assistant", "content": None, "tool_calls": original["tool_calls"]}
    assert out["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_SkEQ3ZGSJC8m6AvaIGNuuKdm",
        "content": "London",
    }


def test_answers_survive_a_round_trip() -> None:
    answer = load_json("anthropic", "messages.tool_call")
    back = openai_response_to_anthropic(anthropic_response_to_openai(answer, model="m"), model="m")
    assert back["id"] == answer["id"]
    assert (back["content"], back["stop_reason"]) == (answer["content"], answer["stop_reason"])
    assert back["usage"]["input_tokens"] == answer["usage"]["input_tokens"]
    assert back["usage"]["output_tokens"] == answer["usage"]["output_tokens"]
    completion_ = load_json("openai", "chat.tool_call")
    again = anthropic_response_to_openai(
        openai_response_to_anthropic(completion_, model="m"), model="m", created=0
    )
    assert again["id"] == completion_["id"]
    want = {k: v for k, v in completion_["choices"][0]["message"].items() if k != "annotations"}
    assert again["choices"][0]["message"] == want
    assert again["choices"][0]["finish_reason"] == "tool_calls"
    assert again["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}
