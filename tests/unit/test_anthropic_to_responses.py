"""Anthropic (the hub) → Responses API: answers (llmgw.translate.anthropic_to_responses), and usage.

Expected Responses are written by hand from the OpenAI reference (the OpenAPI document's `Response`,
`OutputItem`, `ResponseUsage`) and recorded Responses (tests/fixtures/providers/openai/responses.*,
pydantic/pydantic-ai's cassettes), over recorded Anthropic answers; every one is read by the openai
SDK's `Response` model.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openai.types.responses import Response

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.anthropic_to_responses import (
    REFUSAL_TEXT,
    anthropic_response_to_responses,
    item_id,
    new_response_id,
)
from llmgw.translate.encrypted_reasoning import ENCRYPTED_PREFIX, encode_reasoning
from llmgw.translate.hub import responses_usage_from_anthropic
from llmgw.translate.responses_to_anthropic import ClientTool, ToolNames, responses_request_to_anthropic
from llmgw.translate.usage import Usage, responses_usage
from tests.support.fakes.fixtures import load_json
from tests.support.responses_schema import validate_response

JSON = dict[str, Any]
RID = "resp_" + "ab" * 24
CREATED = 1761323546
USAGE = {
    "input_tokens": 10,
    "output_tokens": 5,
    "cache_read_input_tokens": 0,
    "cache_creation_input_tokens": 0,
}
RESPONSE_USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 5,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 15,
}
THINKING = {"type": "thinking", "thinking": "Two names.", "signature": "EqQBCkYIBRgCKkA"}


def translate(
    message: JSON, request: JSON | None = None, tools: ToolNames | None = None, model: str = "claude-client"
) -> JSON:
    out = anthropic_response_to_responses(
        message, model=model, request=request or {"model": model, "input": "hi"}, tools=tools or {},
        response_id=RID, created_at=CREATED,
    )  # fmt: skip
    Response.model_validate(out)
    validate_response(out)
    return out


def answer(*blocks: JSON, stop_reason: str = "end_turn", usage: JSON | None = None) -> JSON:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": list(blocks),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage or USAGE,
    }


def text(t: str, **extra: Any) -> JSON:
    return {"type": "text", "text": t, **extra}


def output_text(t: str, annotations: list[JSON] | None = None) -> JSON:
    return {"type": "output_text", "text": t, "annotations": annotations or [], "logprobs": []}


def message(index: int, *parts: JSON, status: str = "completed") -> JSON:
    return {
        "id": item_id("msg", RID, index),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": list(parts),
    }


def call(
    index: int, call_id: str, name: str, arguments: str, status: str = "completed", **extra: Any
) -> JSON:
    identifier = item_id("fc", RID, index)
    return {
        "id": identifier,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
        **extra,
    }


# --- ids --------------------------------------------------------------------------------------------


def test_response_and_item_ids() -> None:
    first, second = new_response_id(), new_response_id()
    assert re.fullmatch(r"resp_[0-9a-f]{48}", first) and first != second
    assert item_id("msg", RID, 0) == "msg_" + "ab" * 24 + "0000"
    assert item_id("fc", RID, 26) == "fc_" + "ab" * 24 + "001a"


# --- recorded answers -------------------------------------------------------------------------------


def test_recorded_text_answer_is_a_whole_response() -> None:
    out = translate(load_json("anthropic", "messages.text"), {"model": "claude-client", "input": "Hi"})
    assert out == {
        "id": RID,
        "object": "response",
        "created_at": CREATED,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": "claude-client",
        "output": [message(0, output_text("# Hi there! 👋\n\nHow can I help you today?"))],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 26,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 18,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 44,
        },
        "user": None,
        "metadata": {},
    }
    # the same keys as OpenAI's recorded Response, and no more but the cache writes OpenAI now reports
    recorded = load_json("openai", "responses.text")
    assert set(out) == set(recorded)
    assert set(out["output"][0]) == set(recorded["output"][0])
    assert set(out["output"][0]["content"][0]) == set(recorded["output"][0]["content"][0])


def test_recorded_parallel_tool_calls() -> None:
    request = {
        "model": "claude-client",
        "input": "Who is the youngest?",
        "tools": [
            {
                "type": "function",
                "name": "retrieve_entity_info",
                "parameters": {"type": "object"},
                "strict": False,
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": True,
    }
    hub = responses_request_to_anthropic(request, default_max_tokens=1024, web_search=True)
    out = translate(load_json("anthropic", "messages.tool_call"), request, hub.tools)
    ids = ["toolu_0167cfEnoQaPviGdVXA95zcu", "toolu_01EEe2V5HD1Ac4rKiUR4HD2T", "toolu_01XFyAjstT3966qvRynZyVPo",  # noqa: E501
           "toolu_013mnQZbgtK2oe3Mo3XKJsx3"]  # fmt: skip
    names = ["Alice", "Bob", "Charlie", "Daisy"]
    assert out["output"] == [
        message(
            0,
            output_text(
                "I'll help you find out who is the youngest by retrieving information about each family member. "  # noqa: E501
                "I'll retrieve their entity information to compare their ages."
            ),
        ),
        *(call(i + 1, ids[i], "retrieve_entity_info", f'{{"name":"{names[i]}"}}') for i in range(4)),
    ]
    assert (
        out["status"] == "completed" and out["tool_choice"] == "required" and out["tools"] == request["tools"]
    )
    recorded = load_json("openai", "responses.tool_call")["output"][0]
    assert set(out["output"][1]) == set(recorded)


# --- items ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("summary", [None, "auto"])
def test_thinking_becomes_a_reasoning_item_that_carries_it(summary: str | None) -> None:
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
    request = {"model": "m", "input": "hi", "reasoning": {"effort": "low", "summary": summary}}
    out = translate(answer(THINKING, redacted, text("Pelé and Pouch.")), request)
    summary_parts = [{"type": "summary_text", "text": "Two names."}] if summary else []
    assert out["output"] == [
        {
            "id": item_id("rs", RID, 0),
            "type": "reasoning",
            "summary": summary_parts,
            "encrypted_content": encode_reasoning(THINKING),
        },
        {
            "id": item_id("rs", RID, 1),
            "type": "reasoning",
            "summary": [],
            "encrypted_content": encode_reasoning(redacted),
        },
        message(2, output_text("Pelé and Pouch.")),
    ]
    assert out["output"][0]["encrypted_content"].startswith(ENCRYPTED_PREFIX)
    assert out["reasoning"] == {"effort": "low", "summary": summary}
    # sent back, the items give the upstream its blocks again
    back = responses_request_to_anthropic(
        {"model": "m", "input": [{"role": "user", "content": "hi"}, *out["output"]]}, default_max_tokens=10, web_search=True  # noqa: E501
    )  # fmt: skip
    assert back.body["messages"][1] == {
        "role": "assistant",
        "content": [THINKING, redacted, {"type": "text", "text": "Pelé and Pouch."}],
    }


def test_tool_calls_are_named_as_the_client_named_its_tools() -> None:
    tools = {
        "apply_patch": ClientTool("apply_patch", "custom"),
        "crm__lookup": ClientTool("lookup", "function", "crm"),
        "crm__note": ClientTool("note", "custom", "crm"),
    }
    out = translate(
        answer(
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "apply_patch",
                "input": {"input": "*** Begin Patch"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "crm__lookup", "input": {"id": "ñ 7"}},
            {
                "type": "tool_use",
                "id": "toolu_3",
                "name": "crm__note",
                "input": {"text": "not a string input"},
            },
            {"type": "tool_use", "id": "toolu_4", "name": "unknown", "input": {"_raw": "{'a': 1"}},
            {"type": "tool_use", "id": "toolu_5", "name": "unknown", "input": "not an object"},
            stop_reason="tool_use",
        ),
        tools=tools,
    )
    assert out["output"] == [
        {
            "id": item_id("ctc", RID, 0),
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "toolu_1",
            "name": "apply_patch",
            "input": "*** Begin Patch",
        },
        call(1, "toolu_2", "lookup", '{"id":"ñ 7"}', namespace="crm"),
        {
            "id": item_id("ctc", RID, 2),
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "toolu_3",
            "name": "note",
            "input": '{"text":"not a string input"}',
            "namespace": "crm",
        },
        call(3, "toolu_4", "unknown", "{'a': 1"),
        call(4, "toolu_5", "unknown", "{}"),
    ]


CITATION = {
    "type": "web_search_result_location",
    "url": "https://en.wikipedia.org/wiki/Claude_Shannon",
    "title": "Claude Shannon - Wikipedia",
    "encrypted_index": "Eo8BCioIAhgBIiQyYjQ0OWJmZi1lNm",
    "cited_text": "Claude Elwood Shannon (April 30, 1916 - February 24, 2001)",
}
SEARCH_RESULT = {
    "type": "web_search_result",
    "url": "https://en.wikipedia.org/wiki/Claude_Shannon",
    "title": "Claude Shannon - Wikipedia",
    "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM",
    "page_age": "April 30, 2025",
}


@pytest.mark.parametrize("sources", [False, True])
def test_web_search_becomes_a_web_search_call_with_citations(sources: bool) -> None:
    # the shapes of Anthropic's web search documentation (server_tool_use, web_search_tool_result, citations)
    request = {"model": "m", "input": "When was Claude Shannon born?", "tools": [{"type": "web_search"}]}
    if sources:
        request["include"] = ["web_search_call.action.sources"]
    out = translate(
        answer(
            text("I'll search for that."),
            {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {"query": "claude shannon birth date"},
            },
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [SEARCH_RESULT, {"type": "other"}],
            },
            text("Claude Shannon was born on "),
            text("April 30, 1916", citations=[CITATION, {"type": "char_location", "cited_text": "x"}]),
            text("."),
            {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_search", "input": {}},
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_2",
                "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
            },
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_9", "content": []},
            {
                "type": "server_tool_use",
                "id": "srvtoolu_3",
                "name": "web_fetch",
                "input": {"url": "https://x"},
            },
        ),
        request,
    )
    query = "claude shannon birth date"
    action: JSON = {"type": "search", "query": query, "queries": [query]}
    if sources:
        action["sources"] = [{"type": "url", "url": "https://en.wikipedia.org/wiki/Claude_Shannon"}]
    citation = {
        "type": "url_citation",
        "url": CITATION["url"],
        "title": CITATION["title"],
        "start_index": 27,
        "end_index": 41,
    }
    assert out["output"] == [
        message(0, output_text("I'll search for that.")),
        {"id": item_id("ws", RID, 1), "type": "web_search_call", "status": "completed", "action": action},
        message(2, output_text("Claude Shannon was born on April 30, 1916.", [citation])),
        {
            "id": item_id("ws", RID, 3),
            "type": "web_search_call",
            "status": "failed",
            "action": {"type": "search", "query": "", "queries": []},
        },
    ]
    assert out["output"][2]["content"][0]["text"][27:41] == "April 30, 1916"


def test_a_paused_search_stays_in_progress() -> None:
    out = translate(
        answer(
            {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {"query": "q"}},
            stop_reason="pause_turn",
        )
    )
    assert out["status"] == "completed"
    assert out["output"] == [
        {
            "id": item_id("ws", RID, 0),
            "type": "web_search_call",
            "status": "in_progress",
            "action": {"type": "search", "query": "q", "queries": ["q"]},
        }
    ]


# --- stop reasons -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stop_reason", ["end_turn", "tool_use", "stop_sequence", "pause_turn", None, "new_reason"]
)
def test_completed_answers(stop_reason: Any) -> None:
    out = translate(answer(text("Hi."), stop_reason=stop_reason))
    assert out["status"] == "completed" and out["incomplete_details"] is None
    assert out["output"] == [message(0, output_text("Hi."))]


@pytest.mark.parametrize("stop_reason", ["max_tokens", "model_context_window_exceeded"])
def test_answers_cut_by_length_are_incomplete(stop_reason: str) -> None:
    out = translate(answer(THINKING, text("Once upon"), stop_reason=stop_reason))
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out["output"][1] == message(1, output_text("Once upon"), status="incomplete")
    cut_call = translate(
        answer({"type": "tool_use", "id": "t", "name": "f", "input": {}}, stop_reason=stop_reason)
    )
    assert cut_call["output"] == [call(0, "t", "f", "{}", status="incomplete")]
    thought = translate(answer(THINKING, stop_reason=stop_reason))
    assert "status" not in thought["output"][0]


def test_refusals_end_with_a_refusal_part() -> None:
    refusal = {"type": "refusal", "refusal": REFUSAL_TEXT}
    out = translate(answer(text("I can"), stop_reason="refusal"))
    assert out["status"] == "incomplete" and out["incomplete_details"] == {"reason": "content_filter"}
    assert out["output"] == [message(0, output_text("I can"), refusal, status="incomplete")]
    empty = translate(answer(stop_reason="refusal"))  # a prompt Gemini blocked
    assert empty["output"] == [message(0, refusal, status="incomplete")]
    after_call = translate(
        answer({"type": "tool_use", "id": "t", "name": "f", "input": {}}, stop_reason="refusal")
    )
    assert after_call["output"] == [call(0, "t", "f", "{}"), message(1, refusal, status="incomplete")]


# --- usage and echoed fields ------------------------------------------------------------------------


def test_usage_counts_cache_reads_writes_and_thinking() -> None:
    usage = {
        "input_tokens": 100,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 50,
        "output_tokens": 300,
        "output_tokens_details": {"thinking_tokens": 120},
    }
    assert translate(answer(text("x"), usage=usage))["usage"] == {
        "input_tokens": 1150,
        "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 50},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 120},
        "total_tokens": 1450,
    }
    assert responses_usage_from_anthropic({}) == {
        "input_tokens": 0,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 0,
    }
    no_usage = answer(text("x"))
    del no_usage["usage"]
    assert translate(no_usage)["usage"]["total_tokens"] == 0


def test_responses_usage_reads_a_response_or_its_event() -> None:
    recorded = load_json("openai", "responses.tool_call")
    assert responses_usage(recorded) == Usage(40, 18, 58, 0, None, 0)
    assert responses_usage({"type": "response.completed", "response": recorded}) == Usage(
        40, 18, 58, 0, None, 0
    )
    usage = {
        "input_tokens": 1150,
        "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 50},
        "output_tokens": 300,
    }
    assert responses_usage({"usage": usage}) == Usage(1150, 300, 1450, 1000, 50, None)
    assert responses_usage({"usage": {"output_tokens": 3}}) == Usage(None, 3, None, None, None, None)
    assert responses_usage({"object": "response", "usage": None}) is None
    assert responses_usage(None) is None


def test_request_fields_are_echoed() -> None:
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": False}]
    request = {
        "model": "m",
        "input": "hi",
        "instructions": "Be brief.",
        "max_output_tokens": 500,
        "max_tool_calls": 2,
        "parallel_tool_calls": False,
        "previous_response_id": "resp_0",
        "prompt_cache_key": "k",
        "reasoning": {"effort": "high", "generate_summary": "concise"},
        "safety_identifier": "s",
        "service_tier": "flex",
        "store": False,
        "temperature": 0.5,
        "text": {"format": {"type": "json_schema", "name": "o", "schema": {"type": "object"}}},
        "tool_choice": {"type": "function", "name": "f"},
        "tools": tools,
        "top_logprobs": 0,
        "top_p": 0.5,
        "truncation": "auto",
        "user": "u",
        "metadata": {"k": "v"},
    }
    out = translate(answer(text("{}")), request)
    for key in ("instructions", "max_output_tokens", "max_tool_calls", "parallel_tool_calls", "previous_response_id",  # noqa: E501
                "prompt_cache_key", "safety_identifier", "store", "temperature", "tool_choice", "tools", "top_p",  # noqa: E501
                "truncation", "user", "metadata"):  # fmt: skip
        assert out[key] == request[key], key
    assert out["reasoning"] == {"effort": "high", "summary": "concise"}
    assert out["text"] == {"format": request["text"]["format"], "verbosity": "medium"}
    assert out["service_tier"] == "default"


@pytest.mark.parametrize(
    "message",
    [
        {"id": "msg_1", "content": None},
        answer({"type": "text"}),
        answer({"type": "tool_use", "name": "f", "input": {}}),
        answer({"type": "tool_use", "id": "t", "input": {}}),
    ],
)
def test_unreadable_answers_are_502(message: JSON) -> None:
    with pytest.raises(UpstreamUnavailable):
        translate(message)
