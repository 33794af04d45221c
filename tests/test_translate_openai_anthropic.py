"""OpenAI Chat Completions ⇄ Anthropic Messages translation (llmgw.translate.openai_anthropic).

Expected payloads are written by hand from the providers' API references and the recorded traffic,
never taken from the translator's own output. Produced requests are checked against the official SDKs'
request types (no unknown field, no wrong shape) and produced responses parsed with their models.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from typing import Any

import pytest
from anthropic.types import Message, MessageCreateParams
from openai.types.chat import ChatCompletion, CompletionCreateParams
from pydantic import TypeAdapter

from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.translate.anthropic_to_openai import (
    anthropic_request_to_openai,
    anthropic_response_to_openai,
    budget_effort,
)
from llmgw.translate.openai_to_anthropic import (
    EFFORT_BUDGET,
    openai_request_to_anthropic,
    openai_response_to_anthropic,
)
from tests.fakes.fixtures import load_json, load_request

JSON = dict[str, Any]
ANTHROPIC_REQUEST: TypeAdapter[Any] = TypeAdapter(MessageCreateParams)
OPENAI_REQUEST: TypeAdapter[Any] = TypeAdapter(CompletionCreateParams)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
PDF = "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="


def materialize(value: Any) -> Any:
    """Pydantic validates `Iterable` fields lazily: walk everything so every part is checked."""
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Iterable):
        return [materialize(v) for v in value]
    return value


def assert_valid(adapter: TypeAdapter[Any], request: JSON) -> None:
    """Valid for the SDK's request type, every field known to it (unknown ones would be dropped)."""
    assert materialize(adapter.validate_python(request)) == request


# The Anthropic SDK (2.x) no longer lists the sampling fields: the newest models refuse them, while
# older models (and API version 2023-06-01) still take them. They are checked by hand instead.
SAMPLING = ("temperature", "top_p", "top_k")


def to_anthropic(body: JSON, **kw: Any) -> JSON:
    out = openai_request_to_anthropic(body, **kw)
    assert_valid(ANTHROPIC_REQUEST, {k: v for k, v in out.items() if k not in SAMPLING})
    assert all(isinstance(out[k], int | float) for k in SAMPLING if k in out)
    return out


def to_openai(body: JSON, **kw: Any) -> JSON:
    out = anthropic_request_to_openai(body, **kw)
    assert_valid(OPENAI_REQUEST, {k: v for k, v in out.items() if k != "top_k"})  # top_k: an extension
    return out


def text(t: str) -> JSON:
    return {"type": "text", "text": t}


def user(*blocks: JSON) -> JSON:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: JSON) -> JSON:
    return {"role": "assistant", "content": list(blocks)}


def tool_use(id_: str, name: str, input_: JSON) -> JSON:
    return {"type": "tool_use", "id": id_, "name": name, "input": input_}


def tool_result(id_: str, content: Any = None, **extra: Any) -> JSON:
    block: JSON = {"type": "tool_result", "tool_use_id": id_, **extra}
    if content is not None:
        block["content"] = content
    return block


def call(id_: str, name: str, arguments: str) -> JSON:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def oa(*messages: JSON, **fields: Any) -> JSON:
    """An OpenAI request body."""
    return {"model": "m", "messages": list(messages), **fields}


def an(*messages: JSON, **fields: Any) -> JSON:
    """An Anthropic request body."""
    return {"model": "m", "max_tokens": 100, "messages": list(messages), **fields}


HI = {"role": "user", "content": "hi"}

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
