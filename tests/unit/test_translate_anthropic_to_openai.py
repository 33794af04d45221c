"""Anthropic → OpenAI: requests and answers (llmgw.translate.anthropic_to_openai).

Expected payloads are written by hand from the providers' API references and the recorded traffic,
never taken from the translator's own output. Produced requests are checked against the official SDKs'
request types (no unknown field, no wrong shape) and produced responses parsed with their models.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.translate.anthropic_to_openai import (
    anthropic_request_to_openai,
    anthropic_response_to_openai,
    budget_effort,
)
from llmgw.translate.openai_to_anthropic import EFFORT_BUDGET
from tests.support.fakes.fixtures import load_json, load_request
from tests.support.openai_anthropic_payloads import (
    JSON,
    PDF,
    PNG,
    an,
    assistant,
    call,
    text,
    to_openai,
    tool_result,
    tool_use,
    user,
)

# --- Anthropic request → OpenAI: recorded requests ------------------------------------------------


def test_recorded_anthropic_tool_request() -> None:
    body = load_request("anthropic", "messages.tool_call")["body"]
    assert to_openai(body) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "stream": False,
        "messages": [
            {"role": "system", "content": body["system"]},
            {"role": "user", "content": "Alice, Bob, Charlie and Daisy are a family. Who is the youngest?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "retrieve_entity_info",
                    "description": "Get the knowledge about the given entity.",
                    "parameters": {
                        "additionalProperties": False,
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                        "type": "object",
                    },
                },
            }
        ],
        "tool_choice": "auto",
    }


def test_recorded_anthropic_parallel_tool_results() -> None:
    body = load_request("anthropic", "messages.stream_text")["body"]
    first, second = "toolu_01LtHJmixrs9NcWQkK8hu8hj", "toolu_01N8a4jWyf116qKTMqKKmjyt"
    assert to_openai(body, max_tokens_field="max_completion_tokens") == {
        "model": "claude-haiku-4-5-20251001",
        "max_completion_tokens": 8192,
        "temperature": 1.0,
        "stream": True,
        "messages": [
            {"role": "user", "content": "Two names for a pet pelican"},
            {
                "role": "assistant",
                "content": " ",
                "tool_calls": [
                    call(first, "pelican_name_generator", "{}"),
                    call(second, "pelican_name_generator", "{}"),
                ],
            },
            {"role": "tool", "tool_call_id": first, "content": "Charles"},
            {"role": "tool", "tool_call_id": second, "content": "Sammy"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "pelican_name_generator",
                    "description": "",
                    "parameters": {"properties": {}, "type": "object"},
                },
            }
        ],
    }


def test_recorded_anthropic_image_and_thinking_requests() -> None:
    image = to_openai(load_request("anthropic", "messages.image")["body"])
    url = "https://t3.ftcdn.net/jpg/00/85/79/92/360_F_85799278_0BBGV9OAdQDTLnKwAPBCcg1J7QtiieJY.jpg"
    assert image["messages"] == [
        {
            "role": "user",
            "content": [text("What is this vegetable?"), {"type": "image_url", "image_url": {"url": url}}],
        }
    ]
    thinking = to_openai(load_request("anthropic", "messages.stream_thinking")["body"])
    assert thinking["reasoning_effort"] == "low"  # budget 1024
    texts = to_openai(load_request("anthropic", "messages.text")["body"])
    assert [m["content"] for m in texts["messages"]] == [
        "Hi",
        "Validation feedback:\nPlease return text.\n\nFix the errors and try again.",
    ]


# --- Anthropic request → OpenAI: messages ---------------------------------------------------------


def test_system_blocks_and_cache_markers() -> None:
    cached = {**text("Rules."), "cache_control": {"type": "ephemeral"}}
    out = to_openai(
        an(user(cached), system=[text("You are Claude Code."), cached], cache_control={"type": "ephemeral"})
    )
    assert out["messages"] == [
        {"role": "system", "content": "You are Claude Code.\n\nRules."},
        {"role": "user", "content": "Rules."},
    ]
    assert to_openai(an(user(text("x")), system=""))["messages"] == [{"role": "user", "content": "x"}]


def test_a_system_message_in_the_conversation_stays_in_place() -> None:
    out = to_openai(
        an(user(text("a")), {"role": "system", "content": [text("From now on, French.")]}, user(text("b")))
    )
    assert [m["role"] for m in out["messages"]] == ["user", "system", "user"]
    assert out["messages"][1]["content"] == "From now on, French."


def test_tool_results_come_right_after_the_assistant_turn_in_order() -> None:
    out = to_openai(
        an(
            user(text("q")),
            assistant(text("Let me look."), tool_use("t1", "f", {"a": [1, "é"]}), tool_use("t2", "g", {})),
            user(
                text("by the way"), tool_result("t2", "two"), tool_result("t1", [text("one"), text("more")])
            ),
        )
    )
    assert out["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [call("t1", "f", '{"a":[1,"é"]}'), call("t2", "g", "{}")],
        },
        {"role": "tool", "tool_call_id": "t2", "content": "two"},
        {"role": "tool", "tool_call_id": "t1", "content": "one\nmore"},
        {"role": "user", "content": "by the way"},
    ]


def test_tool_result_errors_empties_and_images() -> None:
    png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    out = to_openai(
        an(
            user(text("q")),
            assistant(tool_use("t1", "f", {}), tool_use("t2", "g", {}), tool_use("t3", "h", {})),
            user(
                tool_result("t1", "boom", is_error=True),
                tool_result("t2"),
                tool_result("t3", [text("shot"), png]),
                text("what now?"),
            ),
        )
    )
    data_url = f"data:image/png;base64,{PNG}"
    assert out["messages"][2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "Error: boom"},
        {"role": "tool", "tool_call_id": "t2", "content": ""},
        {
            "role": "tool",
            "tool_call_id": "t3",
            "content": "shot\n[1 image(s) of this result follow in the next user message]",
        },
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": data_url}}, text("what now?")],
        },
    ]


def test_thinking_blocks_are_dropped_and_an_emptied_turn_left_out() -> None:
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "sig"}
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    out = to_openai(
        an(
            user(text("a")),
            assistant(thinking, redacted, tool_use("t1", "f", {})),
            user(tool_result("t1", "r")),
            assistant(thinking),
            user(text("b")),
            {"role": "assistant", "content": "prefill"},
        )
    )
    assert out["messages"] == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": None, "tool_calls": [call("t1", "f", "{}")]},
        {"role": "tool", "tool_call_id": "t1", "content": "r"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "prefill"},
    ]


def test_images_and_documents() -> None:
    blocks = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "abc"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
            "title": "a.pdf",
        },
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
            "citations": {"enabled": True},
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
    ]
    out = to_openai(an(user(*blocks)))
    assert out["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,abc"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF}"}},
        {
            "type": "file",
            "file": {"filename": "document.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
        },
        text("plain words"),
    ]


# --- Anthropic request → OpenAI: parameters -------------------------------------------------------

CUSTOM_TOOL = {
    "name": "f",
    "description": "Does f.",
    "input_schema": {"type": "object", "properties": {}},
    "cache_control": {"type": "ephemeral"},
}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        ({"type": "tool", "name": "f"}, {"tool_choice": {"type": "function", "function": {"name": "f"}}}),
        ({"type": "auto", "disable_parallel_tool_use": True}, {"tool_choice": "auto", "parallel_tool_calls": False}),  # noqa: E501
        ({"type": "any", "disable_parallel_tool_use": False}, {"tool_choice": "required"}),
        (None, {}),
    ],
)  # fmt: skip
def test_tools_and_tool_choice(choice: JSON | None, expected: JSON) -> None:
    body = an(user(text("x")), tools=[CUSTOM_TOOL, {**CUSTOM_TOOL, "type": "custom", "strict": True}])
    if choice is not None:
        body["tool_choice"] = choice
    out = to_openai(body)
    function = {"name": "f", "description": "Does f.", "parameters": {"type": "object", "properties": {}}}
    assert out["tools"] == [
        {"type": "function", "function": function},
        {"type": "function", "function": {**function, "strict": True}},
    ]
    assert {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out} == expected


def test_tool_choice_without_tools_is_left_out() -> None:
    out = to_openai(
        an(user(text("x")), tools=[], tool_choice={"type": "any", "disable_parallel_tool_use": True})
    )
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & out.keys()


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4095}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 16384}}, "high"),
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}}, "high"),
        ({"thinking": {"type": "adaptive"}}, None),
        ({"thinking": {"type": "disabled"}}, None),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}}, "xhigh"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}, "output_config": {"effort": "max"}}, "max"),
    ],
)
def test_thinking_and_effort(fields: JSON, effort: str | None) -> None:
    assert to_openai(an(user(text("x")), **fields)).get("reasoning_effort") == effort


def test_the_effort_tables_are_inverse() -> None:
    for effort in ("low", "medium", "high"):
        assert budget_effort(EFFORT_BUDGET[effort]) == effort
    assert budget_effort(EFFORT_BUDGET["medium"] - 1) == "low"
    assert budget_effort(EFFORT_BUDGET["high"] - 1) == "medium"


def test_output_format_metadata_sampling_and_dropped_fields() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    out = to_openai(
        an(
            user(text("x")),
            output_config={"format": {"type": "json_schema", "schema": schema}},
            metadata={"user_id": "user_abc"},
            stop_sequences=["END", "STOP"],
            temperature=0.5,
            top_p=0.8,
            top_k=5,
            service_tier="auto",
            inference_geo="us",
            speed="fast",
            context_management={"edits": []},
            diagnostics=None,
            container=None,
            mcp_servers=None,
            user_profile_id="p",
            workspace_id="w",
        )
    )
    assert out == {
        "model": "m",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        },
        "user": "user_abc",
        "stop": ["END", "STOP"],
        "temperature": 0.5,
        "top_p": 0.8,
        "top_k": 5,
    }


def test_metadata_without_user_and_no_max_tokens() -> None:
    out = to_openai(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "metadata": {}, "stop_sequences": []}
    )
    assert out == {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert anthropic_request_to_openai({"messages": []}) == {"messages": []}  # model: the caller's


# --- Anthropic request → OpenAI: refused ----------------------------------------------------------


def img_block(source: Any) -> JSON:
    return {"type": "image", "source": source}


CALLED = assistant(tool_use("t1", "f", {}))


def q(*messages: JSON, **fields: Any) -> JSON:
    """An Anthropic request asking "q" first."""
    return an(user(text("q")), *messages, **fields)


def doc(source: JSON) -> JSON:
    return {"type": "document", "source": source}


B0, B1, B2 = "messages[0].content[0]", "messages[1].content[0]", "messages[2].content[0]"

ANTHROPIC_REFUSED: list[tuple[JSON, str]] = [
    ({"model": "m", "max_tokens": 1}, "messages"),
    (an("hi"), "messages[0]"),  # type: ignore[arg-type]
    (an({"role": "tool", "content": "x"}), "messages[0].role"),
    (an({"role": "user", "content": 5}), "messages[0].content"),
    (an({"role": "assistant", "content": 5}), "messages[0].content"),
    (an(user("x")), B0),  # type: ignore[arg-type]
    (an(user({"type": "search_result", "source": "s", "title": "t", "content": []})), f"{B0}.type"),
    (an(user({"type": "text", "text": None})), f"{B0}.text"),
    (an(user(img_block({"type": "file", "file_id": "f"}))), f"{B0}.source.type"),
    (an(user(img_block(None))), f"{B0}.source"),
    (an(user(img_block({"type": "base64", "data": "x"}))), f"{B0}.source.media_type"),
    (an(user(img_block({"type": "base64", "media_type": "image/png"}))), f"{B0}.source.data"),
    (an(user(img_block({"type": "url"}))), f"{B0}.source.url"),
    (an(user(doc({"type": "url", "url": "https://x/a.pdf"}))), f"{B0}.source.type"),
    (an(user(doc({"type": "base64", "media_type": "application/pdf"}))), f"{B0}.source.data"),
    (an(user(tool_result("t1", "x"))), f"{B0}.tool_use_id"),
    (q(CALLED, user(tool_result("t2", "x"))), f"{B2}.tool_use_id"),
    (q(CALLED, user({"type": "tool_result", "content": "x"})), f"{B2}.tool_use_id"),
    (q(CALLED, user(tool_result("t1", 5))), f"{B2}.content"),
    (q(CALLED, user(tool_result("t1", [doc({})]))), f"{B2}.content[0].type"),
    (q(assistant({"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}})), f"{B1}.type"),
    (q(assistant({"type": "tool_use", "name": "f", "input": {}})), f"{B1}.id"),
    (q(assistant({"type": "tool_use", "id": "t", "input": {}})), f"{B1}.name"),
    (q(assistant({"type": "tool_use", "id": "t", "name": "f", "input": "{}"})), f"{B1}.input"),
    (q(assistant(text("a"), {"type": "image", "source": {}})), "messages[1].content[1].type"),
    (an({"role": "system", "content": [img_block({})]}, user(text("q"))), f"{B0}.type"),
    (q(system=5), "system"),
    (q(system=[img_block({})]), "system[0].type"),
    (q(system=[{"type": "text"}]), "system[0].text"),
    (q(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools[0].type"),
    (q(tools=[{"type": "bash_20250124", "name": "bash"}]), "tools[0].type"),
    (q(tools=[{"name": "f"}]), "tools[0].input_schema"),
    (q(tools=[{"input_schema": {}}]), "tools[0].name"),
    (q(tools=[{**CUSTOM_TOOL, "description": 5}]), "tools[0].description"),
    (q(tools={"f": CUSTOM_TOOL}), "tools"),
    (q(tools=[CUSTOM_TOOL], tool_choice="auto"), "tool_choice"),
    (q(tools=[CUSTOM_TOOL], tool_choice={"type": "required"}), "tool_choice.type"),
    (q(tools=[CUSTOM_TOOL], tool_choice={"type": "tool"}), "tool_choice.name"),
    (q(tools=[CUSTOM_TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": 1}), "tool_choice.disable_parallel_tool_use"),  # noqa: E501
    (q(thinking={"type": "on"}), "thinking.type"),
    (q(thinking={"type": "enabled"}), "thinking.budget_tokens"),
    (q(thinking="enabled"), "thinking"),
    (q(output_config={"effort": "extreme"}), "output_config.effort"),
    (q(output_config={"effort": ["low"]}), "output_config.effort"),
    (q(tools=[CUSTOM_TOOL], tool_choice={"type": ["auto"]}), "tool_choice.type"),
    (q(output_config={"format": {"type": "regex"}}), "output_config.format.type"),
    (q(output_config={"format": {"type": "json_schema"}}), "output_config.format.schema"),
    (q(output_config=[]), "output_config"),
    (q(mcp_servers=[{"type": "url", "url": "https://mcp", "name": "x"}]), "mcp_servers"),
    (q(container="container_1"), "container"),
    (q(betas=["x"]), "betas"),
    (q(metadata={"user_id": 5}), "metadata.user_id"),
    (q(metadata="u"), "metadata"),
    (q(max_tokens=-1), "max_tokens"),
    (q(stop_sequences="END"), "stop_sequences"),
    (q(stop_sequences=[None]), "stop_sequences[0]"),
    (q(temperature="warm"), "temperature"),
    (q(stream=1), "stream"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "param"), ANTHROPIC_REFUSED)
def test_anthropic_requests_an_openai_upstream_cannot_take_are_refused(body: JSON, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        anthropic_request_to_openai(body)
    assert err.value.status == 400
    assert err.value.param == param
    assert err.value.message.startswith(f"{param}: ")


# --- Anthropic response → OpenAI ------------------------------------------------------------------


def test_recorded_anthropic_tool_call_answer() -> None:
    out = anthropic_response_to_openai(
        load_json("anthropic", "messages.tool_call"), model="claude", created=1700000000
    )
    ChatCompletion.model_validate(out)
    names = ["Alice", "Bob", "Charlie", "Daisy"]
    ids = [
        "toolu_0167cfEnoQaPviGdVXA95zcu",
        "toolu_01EEe2V5HD1Ac4rKiUR4HD2T",
        "toolu_01XFyAjstT3966qvRynZyVPo",
        "toolu_013mnQZbgtK2oe3Mo3XKJsx3",
    ]
    assert out == {
        "id": "chatcmpl-011S3wxtqL5CVescWqS3zeg2",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "claude",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "I'll help you find out who is the youngest by retrieving information about "
                    "each family member. I'll retrieve their entity information to compare their ages.",
                    "refusal": None,
                    "tool_calls": [
                        call(i, "retrieve_entity_info", f'{{"name":"{n}"}}')
                        for i, n in zip(ids, names, strict=True)
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 423,
            "completion_tokens": 202,
            "total_tokens": 625,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_recorded_anthropic_text_answer() -> None:
    out = anthropic_response_to_openai(load_json("anthropic", "messages.text"), model="alias")
    ChatCompletion.model_validate(out)
    assert abs(out["created"] - time.time()) < 5
    assert out["choices"][0] == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "# Hi there! 👋\n\nHow can I help you today?",
            "refusal": None,
        },
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert out["usage"]["total_tokens"] == 26 + 18


def test_thinking_cache_usage_and_dropped_blocks() -> None:
    msg = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
            {"type": "text", "text": "Part one, "},
            {"type": "text", "text": "part two."},
        ],
        "stop_reason": "pause_turn",
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 5,
            "output_tokens": 40,
            "output_tokens_details": {"thinking_tokens": 30},
        },
    }
    out = anthropic_response_to_openai(msg, model="m", created=0)
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Part one, part two.",
        "refusal": None,
        "reasoning_content": "Let me think.",
    }
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {
        "prompt_tokens": 115,
        "completion_tokens": 40,
        "total_tokens": 155,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons(stop_reason: str | None, finish_reason: str) -> None:
    msg: JSON = {"id": "msg_1", "content": [], "stop_reason": stop_reason}
    out = anthropic_response_to_openai(msg, model="m", created=0)
    assert out["choices"][0]["finish_reason"] == finish_reason
    assert out["choices"][0]["message"]["content"] is None
    assert "usage" not in out


def test_a_message_without_id_gets_one() -> None:
    out = anthropic_response_to_openai({"content": [text("x")]}, model="m", created=0)
    assert out["id"].startswith("chatcmpl-") and len(out["id"]) == len("chatcmpl-") + 24


@pytest.mark.parametrize(
    "msg",
    [{}, {"content": "hi"}, {"content": [{"type": "tool_use", "name": "f", "input": {}}]}],
)
def test_unreadable_anthropic_answers_are_502(msg: JSON) -> None:
    with pytest.raises(UpstreamUnavailable):
        anthropic_response_to_openai(msg, model="m")
