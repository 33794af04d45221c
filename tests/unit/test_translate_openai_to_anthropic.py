"""OpenAI → Anthropic: requests and answers (llmgw.translate.openai_to_anthropic).

Expected payloads are written by hand from the providers' API references and the recorded traffic,
never taken from the translator's own output. Produced requests are checked against the official SDKs'
request types (no unknown field, no wrong shape) and produced responses parsed with their models.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from anthropic.types import Message

from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.translate.openai_to_anthropic import (
    openai_request_to_anthropic,
    openai_response_to_anthropic,
)
from tests.support.fakes.fixtures import load_json, load_request
from tests.support.openai_anthropic_payloads import (
    HI,
    JSON,
    PDF,
    PNG,
    assistant,
    call,
    oa,
    text,
    to_anthropic,
    tool_result,
    tool_use,
    user,
)

# --- OpenAI request → Anthropic: recorded requests ------------------------------------------------


def test_recorded_openai_tool_conversation() -> None:
    body = load_request("openai", "chat.tool_call")["body"]
    call_id = "pyd_ai_504f8147f83f44f3a5f14d87bfd01bda"
    assert to_anthropic(body) == {
        "model": "gpt-4o-mini",
        "max_tokens": 4096,
        "stream": False,
        "messages": [
            user(text("What is the capital of France?")),
            assistant(tool_use(call_id, "get_capital", {"country": "France"})),
            user(tool_result(call_id, "Paris")),
            assistant(text("The capital of France is Paris.\n")),
            user(text("What is the capital of England?")),
        ],
        "tools": [
            {
                "name": "get_capital",
                "description": "Get the capital of a country.",
                "input_schema": {
                    "additionalProperties": False,
                    "properties": {"country": {"description": "The country name.", "type": "string"}},
                    "required": ["country"],
                    "type": "object",
                },
            }
        ],
        "tool_choice": {"type": "auto"},
    }


def test_recorded_openai_stream_request_with_a_strict_tool() -> None:
    body = load_request("openai", "chat.stream_text")["body"]
    call_id = "call_ZR5UUuTt3pf61kjwAJIYdVMj"
    assert to_anthropic(body, default_max_tokens=1000) == {
        "model": "gpt-4o-mini",
        "max_tokens": 1000,
        "stream": True,  # stream_options is the caller's business
        "messages": [
            user(text("What is the capital of the UK? Use the tool, then answer.")),
            assistant(tool_use(call_id, "get_capital", {"country": "UK"})),
            user(tool_result(call_id, "London")),
        ],
        "tools": [
            {
                "name": "get_capital",
                "description": "",
                "input_schema": {
                    "additionalProperties": False,
                    "properties": {"country": {"type": "string"}},
                    "required": ["country"],
                    "type": "object",
                },
                "strict": True,
            }
        ],
        "tool_choice": {"type": "auto"},
    }


def test_recorded_image_request_with_a_data_url() -> None:
    body = load_request("openai", "chat.image")["body"]  # its base64 is elided in the recording
    body["messages"][0]["content"][1]["image_url"]["url"] = f"data:image/png;base64,{PNG}"
    out = to_anthropic(body)
    assert out["messages"] == [
        user(
            text("What fruit is in the image?"),
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        )
    ]


def test_image_urls_and_pdf_files() -> None:
    url = "https://t3.ftcdn.net/jpg/00/85/79/92/360_F_85799278_0BBGV9OAdQDTLnKwAPBCcg1J7QtiieJY.jpg"
    parts = [
        {"type": "image_url", "image_url": {"url": url, "detail": "high"}},
        {
            "type": "file",
            "file": {"filename": "paper.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
        },
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}"}},
    ]
    pdf = {"type": "base64", "media_type": "application/pdf", "data": PDF}
    assert to_anthropic(oa({"role": "user", "content": parts}))["messages"] == [
        user(
            {"type": "image", "source": {"type": "url", "url": url}},
            {"type": "document", "source": pdf, "title": "paper.pdf"},
            {"type": "document", "source": pdf},
        )
    ]


# --- OpenAI request → Anthropic: messages ---------------------------------------------------------


def test_system_and_developer_messages_become_the_system_prompt() -> None:
    assert to_anthropic(oa({"role": "system", "content": "Be brief."}, HI))["system"] == "Be brief."
    out = to_anthropic(
        oa(
            {"role": "developer", "content": [text("One."), text("Two.")]},
            HI,
            {"role": "system", "content": "Late."},  # hoisted: see the module's decisions
        )
    )
    assert out["system"] == [text("One."), text("Two."), text("Late.")]
    assert out["messages"] == [user(text("hi"))]


def test_cache_markers_make_system_blocks() -> None:
    marked = {**text("Long."), "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    assert to_anthropic(oa({"role": "system", "content": [marked]}, HI))["system"] == [marked]
    openai_marked = {**text("Long."), "prompt_cache_breakpoint": {"mode": "explicit"}}
    out = to_anthropic(oa({"role": "system", "content": [openai_marked]}, HI))
    assert out["system"] == [{**text("Long."), "cache_control": {"type": "ephemeral"}}]


def test_consecutive_same_role_messages_merge_and_empty_texts_go() -> None:
    out = to_anthropic(
        oa(
            {"role": "user", "content": "a"},
            {"role": "user", "content": [text("b"), text("  ")]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "c", "name": "bob"},
            {"role": "assistant", "content": "d", "refusal": None, "annotations": []},
            {"role": "assistant", "content": [text("e"), text("\n")], "reasoning_content": "hidden"},
        )
    )
    assert out["messages"] == [user(text("a"), text("b"), text("c")), assistant(text("d"), text("e"))]


def test_parallel_tool_calls_and_results_pair_in_order() -> None:
    out = to_anthropic(
        oa(
            HI,
            {
                "role": "assistant",
                "content": "Checking both.",
                "tool_calls": [call("c1", "f", '{"x": 1}'), call("c2", "g", "")],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": [text("two"), text("parts")]},
            {"role": "user", "content": "and?"},
        )
    )
    assert out["messages"] == [
        user(text("hi")),
        assistant(text("Checking both."), tool_use("c1", "f", {"x": 1}), tool_use("c2", "g", {})),
        user(tool_result("c1", "one"), tool_result("c2", [text("two"), text("parts")]), text("and?")),
    ]


def test_tool_results_go_first_in_their_turn_and_may_be_empty() -> None:
    out = to_anthropic(
        oa(
            HI,
            {"role": "assistant", "content": None, "tool_calls": [call("c1", "f", "{}")]},
            {"role": "user", "content": "meanwhile"},
            {"role": "tool", "tool_call_id": "c1", "content": ""},
        )
    )
    assert out["messages"][2] == user(tool_result("c1"), text("meanwhile"))
    for empty in (None, [text(" ")], [{"type": "text", "text": ""}]):
        out = to_anthropic(oa(HI, TOOL_CALL, {"role": "tool", "tool_call_id": "c1", "content": empty}))
        assert out["messages"][2] == user(tool_result("c1"))


def test_tool_results_may_carry_images() -> None:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    out = to_anthropic(
        oa(
            HI,
            {"role": "assistant", "tool_calls": [call("c1", "screenshot", "{}")]},
            {"role": "tool", "tool_call_id": "c1", "content": [text("here"), image]},
        )
    )
    png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    assert out["messages"][2] == user(tool_result("c1", [text("here"), png]))


def test_refusals_in_history_are_what_the_model_said() -> None:
    out = to_anthropic(
        oa(
            HI,
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
            {"role": "user", "content": "ok"},
            {"role": "assistant", "content": None, "refusal": "No."},
        )
    )
    assert out["messages"][1:] == [assistant(text("I can't.")), user(text("ok")), assistant(text("No."))]


# --- OpenAI request → Anthropic: parameters -------------------------------------------------------

FN_TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        ("auto", True, {"type": "auto"}),
        (None, None, None),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: JSON | None) -> None:
    out = to_anthropic(oa(HI, tools=[FN_TOOL], tool_choice=choice, parallel_tool_calls=parallel))
    assert out.get("tool_choice") == expected
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]


def test_a_function_without_parameters_takes_no_arguments() -> None:
    out = to_anthropic(
        oa(HI, tools=[{"type": "function", "function": {"name": "now", "description": "Time."}}])
    )
    assert out["tools"] == [
        {"name": "now", "description": "Time.", "input_schema": {"type": "object", "properties": {}}}
    ]


def test_parallel_tool_calls_without_tools_means_nothing() -> None:
    assert "tool_choice" not in to_anthropic(oa(HI, parallel_tool_calls=False))


def think(budget: int) -> JSON:
    return {"type": "enabled", "budget_tokens": budget}


@pytest.mark.parametrize(
    ("fields", "max_tokens", "thinking"),
    [
        ({}, 4096, None),
        ({"max_tokens": 300}, 300, None),
        ({"max_completion_tokens": 500, "max_tokens": 300}, 500, None),
        ({"reasoning_effort": "none"}, 4096, {"type": "disabled"}),
        ({"reasoning_effort": "minimal"}, 4096, think(1024)),
        ({"reasoning_effort": "low"}, 4096, think(1024)),
        ({"reasoning_effort": "medium"}, 4096 + 4096, think(4096)),
        ({"reasoning_effort": "high"}, 16384 + 4096, think(16384)),
        ({"reasoning_effort": "high", "max_completion_tokens": 1000}, 17384, think(16384)),
        ({"reasoning_effort": "high", "max_tokens": 20000}, 20000, think(16384)),
        ({"reasoning_effort": "xhigh", "max_tokens": 32000}, 32000, think(24576)),
        ({"reasoning_effort": "max"}, 24576 + 4096, think(24576)),
    ],
)
def test_max_tokens_and_reasoning_effort(fields: JSON, max_tokens: int, thinking: JSON | None) -> None:
    out = to_anthropic(oa(HI, **fields))
    assert out["max_tokens"] == max_tokens
    assert out.get("thinking") == thinking
    if thinking and thinking["type"] == "enabled":
        assert thinking["budget_tokens"] < out["max_tokens"]


def test_sampling_stop_user_and_stream() -> None:
    out = to_anthropic(oa(HI, temperature=0.2, top_p=0.9, top_k=40, stop="END", user="u-1", stream=False))
    assert out == {
        "model": "m",
        "messages": [user(text("hi"))],
        "max_tokens": 4096,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "stream": False,
    }
    assert to_anthropic(oa(HI, stop=["a", "b"]))["stop_sequences"] == ["a", "b"]
    assert "stop_sequences" not in to_anthropic(oa(HI, stop=[]))
    assert to_anthropic(oa(HI, safety_identifier="h"))["metadata"] == {"user_id": "h"}


def test_json_schema_response_format_is_anthropic_structured_output() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": schema}}
    out = to_anthropic(oa(HI, response_format=fmt))
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "output_config" not in to_anthropic(oa(HI, response_format={"type": "text"}))


def test_fields_without_effect_on_the_answer_are_dropped() -> None:
    plain = to_anthropic(oa(HI))
    assert plain == to_anthropic(
        oa(
            HI,
            stream_options={"include_usage": True},
            store=True,
            metadata={"k": "v"},
            service_tier="auto",
            seed=7,
            prediction={"type": "content", "content": "x"},
            prompt_cache_key="k",
            prompt_cache_retention="24h",
            prompt_cache_options={"ttl": "30m"},
            # at their defaults, the fields Anthropic cannot honour are fine
            n=1,
            logprobs=False,
            top_logprobs=0,
            frequency_penalty=0,
            presence_penalty=0.0,
            logit_bias={},
            modalities=["text"],
            verbosity="medium",
            audio=None,
            functions=None,
            function_call=None,
            web_search_options=None,
            moderation=None,
            reasoning_effort=None,
            temperature=None,
            stop=None,
            stream=None,
            user=None,
            tools=None,
            tool_choice=None,
            parallel_tool_calls=None,
            response_format=None,
            max_tokens=None,
        )
    )


def test_the_model_passes_unchanged_and_the_input_is_left_alone() -> None:
    body = load_request("openai", "chat.tool_call")["body"]
    before = copy.deepcopy(body)
    openai_request_to_anthropic(body)
    assert body == before
    assert "model" not in openai_request_to_anthropic({"messages": [HI]})


# --- OpenAI request → Anthropic: refused --------------------------------------------------------

TOOL_CALL = {"role": "assistant", "tool_calls": [call("c1", "f", "{}")]}


def img(url: Any) -> JSON:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}


def file(**f: Any) -> JSON:
    return {"role": "user", "content": [{"type": "file", "file": f}]}


def bad_call(**changes: Any) -> JSON:
    c: JSON = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}, **changes}
    return {"role": "assistant", "tool_calls": [c]}


def bad_args(arguments: Any) -> JSON:
    return bad_call(function={"name": "f", "arguments": arguments})


def u(*parts: Any) -> JSON:
    return {"role": "user", "content": list(parts)}


C0, C1 = "messages[0].content[0]", "messages[1].content[0]"


def fn(**function: Any) -> JSON:
    return {"type": "function", "function": {"name": "f", **function}}


OPENAI_REFUSED: list[tuple[JSON, str]] = [
    ({"model": "m", "messages": "hi"}, "messages"),
    (oa("hi"), "messages[0]"),  # type: ignore[arg-type]
    (oa({"role": "function", "name": "f", "content": "x"}), "messages[0].role"),
    (oa({"role": "bot", "content": "x"}), "messages[0].role"),
    (oa({"content": "x"}), "messages[0].role"),
    (oa({"role": "system", "content": "You are a potato."}), "messages"),  # cf. openai/chat.text
    (oa({"role": "user", "content": 5}), "messages[0].content"),
    (oa(u("x")), C0),
    (oa(u({"type": "video"})), f"{C0}.type"),
    (oa(u({"type": "text", "text": 5})), f"{C0}.text"),
    (oa(u({"type": "input_audio", "input_audio": {}})), f"{C0}.type"),
    (oa({"role": "system", "content": img("https://x/y.png")["content"]}, HI), f"{C0}.type"),
    (oa(u({"type": "image_url", "image_url": "https://x"})), f"{C0}.image_url"),
    (oa(img("ftp://x/y.png")), f"{C0}.image_url.url"),
    (oa(img(None)), f"{C0}.image_url.url"),
    (oa(img("data:image/png,abc")), f"{C0}.image_url.url"),
    (oa(img("data:;base64,abc")), f"{C0}.image_url.url"),
    (oa(img("data:image/png;base64,")), f"{C0}.image_url.url"),
    (oa(file(file_id="file-1")), f"{C0}.file"),
    (oa(file(file_data="data:text/plain;base64,aGk=")), f"{C0}.file.file_data"),
    (oa(HI, {"role": "assistant", "content": 5}), "messages[1].content"),
    (oa(HI, {"role": "assistant", "content": [img("https://x")["content"][0]]}), f"{C1}.type"),
    (oa(HI, {"role": "assistant", "content": [{"type": "refusal"}]}), f"{C1}.refusal"),
    (oa(HI, {"role": "assistant", "function_call": {"name": "f"}}), "messages[1].function_call"),
    (oa(HI, {"role": "assistant", "content": "x", "audio": {"id": "a"}}), "messages[1].audio"),
    (oa(HI, {"role": "assistant", "tool_calls": "c1"}), "messages[1].tool_calls"),
    (oa(HI, bad_call(type="custom")), "messages[1].tool_calls[0].type"),
    (oa(HI, bad_call(id=None)), "messages[1].tool_calls[0].id"),
    (oa(HI, bad_call(function=None)), "messages[1].tool_calls[0].function"),
    (oa(HI, bad_call(function={"arguments": "{}"})), "messages[1].tool_calls[0].function.name"),
    (oa(HI, bad_args("{not json")), "messages[1].tool_calls[0].function.arguments"),
    (oa(HI, bad_args("[1, 2]")), "messages[1].tool_calls[0].function.arguments"),
    (oa(HI, bad_args({"x": 1})), "messages[1].tool_calls[0].function.arguments"),
    (oa(HI, {"role": "tool", "tool_call_id": "c1", "content": "x"}), "messages[1].tool_call_id"),
    (oa(HI, TOOL_CALL, {"role": "tool", "tool_call_id": "c2", "content": "x"}), "messages[2].tool_call_id"),
    (oa(HI, TOOL_CALL, {"role": "tool", "content": "x"}), "messages[2].tool_call_id"),
    (oa(HI, TOOL_CALL, {"role": "tool", "tool_call_id": "c1", "content": 5}), "messages[2].content"),
    (oa(HI, tools="f"), "tools"),
    (oa(HI, tools=[{"type": "custom", "custom": {"name": "f"}}]), "tools[0].type"),
    (oa(HI, tools=[{"type": "function"}]), "tools[0].function"),
    (oa(HI, tools=[{"type": "function", "function": {}}]), "tools[0].function.name"),
    (oa(HI, tools=[fn(description=5)]), "tools[0].function.description"),
    (oa(HI, tools=[fn(parameters="x")]), "tools[0].function.parameters"),
    (oa(HI, tools=[FN_TOOL], tool_choice="any"), "tool_choice"),
    (oa(HI, tools=[FN_TOOL], tool_choice=5), "tool_choice"),
    (oa(HI, tools=[FN_TOOL], tool_choice={"type": "allowed_tools", "allowed_tools": {}}), "tool_choice.type"),
    (oa(HI, tools=[FN_TOOL], tool_choice={"type": "function", "function": {}}), "tool_choice.function.name"),
    (oa(HI, tools=[FN_TOOL], parallel_tool_calls="no"), "parallel_tool_calls"),
    (oa(HI, n=2), "n"),
    (oa(HI, logprobs=True), "logprobs"),
    (oa(HI, top_logprobs=3), "top_logprobs"),
    (oa(HI, frequency_penalty=0.5), "frequency_penalty"),
    (oa(HI, presence_penalty=-1), "presence_penalty"),
    (oa(HI, logit_bias={"50256": -100}), "logit_bias"),
    (oa(HI, modalities=["text", "audio"]), "modalities"),
    (oa(HI, audio={"voice": "alloy", "format": "wav"}), "audio"),
    (oa(HI, verbosity="low"), "verbosity"),
    (oa(HI, functions=[{"name": "f"}]), "functions"),
    (oa(HI, function_call="auto"), "function_call"),
    (oa(HI, web_search_options={}), "web_search_options"),
    (oa(HI, moderation={"model": "omni-moderation-latest"}), "moderation"),
    (oa(HI, thinking={"type": "enabled", "budget_tokens": 2000}), "thinking"),
    (oa(HI, reasoning_effort="ultra"), "reasoning_effort"),
    (oa(HI, reasoning_effort=["low"]), "reasoning_effort"),
    (oa(HI, max_tokens=0), "max_tokens"),
    (oa(HI, max_tokens=True), "max_tokens"),
    (oa(HI, max_completion_tokens="10"), "max_completion_tokens"),
    (oa(HI, temperature="hot"), "temperature"),
    (oa(HI, top_k=[1]), "top_k"),
    (oa(HI, stop=5), "stop"),
    (oa(HI, stop=["a", 1]), "stop[1]"),
    (oa(HI, stream="yes"), "stream"),
    (oa(HI, user=5), "user"),
    (oa(HI, response_format="json"), "response_format"),
    (oa(HI, response_format={"type": "json_object"}), "response_format.type"),
    (oa(HI, response_format={"type": "json_schema"}), "response_format.json_schema"),
    (oa(HI, response_format={"type": "json_schema", "json_schema": {}}), "response_format.json_schema.schema"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("body", "param"), OPENAI_REFUSED)
def test_openai_requests_anthropic_cannot_take_are_refused(body: JSON, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        openai_request_to_anthropic(body)
    assert err.value.status == 400
    assert err.value.param == param
    assert err.value.message.startswith(f"{param}: ")


# --- OpenAI response → Anthropic ------------------------------------------------------------------


def test_recorded_openai_tool_call_answer() -> None:
    out = openai_response_to_anthropic(load_json("openai", "chat.tool_call"), model="gpt")
    Message.model_validate(out)
    assert out == {
        "id": "msg_BEhL3fZWgTz2Z57jXexYbQPsOBUm3",
        "type": "message",
        "role": "assistant",
        "model": "gpt",
        "content": [tool_use("call_SkEQ3ZGSJC8m6AvaIGNuuKdm", "get_capital", {"country": "England"})],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 104,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 16,
            "output_tokens_details": {"thinking_tokens": 0},
        },
    }


def test_recorded_openai_reasoning_model_answer() -> None:
    out = openai_response_to_anthropic(load_json("openai", "chat.text"), model="o3")
    Message.model_validate(out)
    assert out["content"] == [
        text(
            "That's right—I am a potato! A spud of many talents, here to help you out. "
            "How can this humble potato be of service today?"
        )
    ]
    assert out["stop_reason"] == "end_turn"
    assert out["usage"] == {
        "input_tokens": 11,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 809,
        "output_tokens_details": {"thinking_tokens": 768},
    }


def completion(message: JSON, finish_reason: str | None = "stop", **fields: Any) -> JSON:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "up",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}
        ],
        **fields,
    }


def test_reasoning_text_and_calls_in_anthropic_order() -> None:
    resp = completion(
        {
            "content": "Calling.",
            "reasoning_content": "Plan it.",
            "tool_calls": [
                call("c1", "f", '{"a": 1}'),
                call("c2", "g", "{not json"),
                call("c3", "h", "[1]"),
                call("c4", "i", ""),
                {"type": "function", "function": {"name": "j", "arguments": {"b": 2}}},
            ],
        },
        "stop",  # some compatible servers say stop while calling tools
        usage={"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 20}},
    )
    out = openai_response_to_anthropic(resp, model="m")
    Message.model_validate(out)
    generated = out["content"][-1]["id"]
    assert generated.startswith("toolu_") and len(generated) == 30
    assert out["content"] == [
        {"type": "thinking", "thinking": "Plan it.", "signature": ""},
        text("Calling."),
        tool_use("c1", "f", {"a": 1}),
        tool_use("c2", "g", {"_raw": "{not json"}),
        tool_use("c3", "h", {"_raw": "[1]"}),
        tool_use("c4", "i", {}),
        tool_use(generated, "j", {"b": 2}),
    ]
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == {
        "input_tokens": 30,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 20,
        "output_tokens": 7,
    }


def test_openrouter_reasoning_refusals_and_text_parts() -> None:
    out = openai_response_to_anthropic(completion({"content": "A", "reasoning": "R"}), model="m")
    assert out["content"] == [{"type": "thinking", "thinking": "R", "signature": ""}, text("A")]
    refused = openai_response_to_anthropic(
        completion({"content": None, "refusal": "I can't help."}), model="m"
    )
    Message.model_validate(refused)
    assert (refused["content"], refused["stop_reason"]) == ([text("I can't help.")], "refusal")
    parts = openai_response_to_anthropic(completion({"content": [text("a"), text("b"), "junk"]}), model="m")
    assert parts["content"] == [text("ab")]
    empty = openai_response_to_anthropic(completion({"content": ""}, None), model="m")
    Message.model_validate(empty)
    assert (empty["content"], empty["stop_reason"]) == ([], "end_turn")
    assert empty["usage"] == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("something_new", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_finish_reasons(finish_reason: str | None, stop_reason: str) -> None:
    out = openai_response_to_anthropic(completion({"content": "x"}, finish_reason), model="m")
    assert out["stop_reason"] == stop_reason


def test_a_completion_without_id_gets_one() -> None:
    resp = completion({"content": "x"})
    del resp["id"]
    out = openai_response_to_anthropic(resp, model="m")
    assert out["id"].startswith("msg_") and len(out["id"]) == 28


@pytest.mark.parametrize(
    "resp",
    [
        {},
        {"choices": []},
        {"choices": ["x"]},
        {"choices": [{"index": 0}]},
        completion({"tool_calls": [{"id": "c1", "type": "function"}]}),
        completion({"tool_calls": ["c1"]}),
    ],
)
def test_unreadable_openai_answers_are_502(resp: JSON) -> None:
    with pytest.raises(UpstreamUnavailable):
        openai_response_to_anthropic(resp, model="m")
