"""Anthropic stream events → Responses stream events (llmgw.translate.streams.anthropic_to_responses).

The key property: the Response a stream ends with (`response.completed` / `.incomplete`, and the
translator's `response`) equals what `anthropic_response_to_responses` gives for the same answer whole,
for every recorded stream of every upstream type (Anthropic's as they are; Gemini's and OpenAI chat's
through `GeminiToAnthropicStream` / `OpenAIToAnthropicStream`), cut in random byte splits. The whole
answer is what the Anthropic SDK assembles from the hub events. Every event passes the openai SDK's
`ResponseStreamEvent` type, and the SDK's own stream reader (`responses.stream`), which checks the
order and identity of items, reads the events as bytes. Other shapes (web search, custom tools,
refusals, errors) are written by hand from Anthropic's streaming reference.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from llmgw.relay.streams.sse import SSEDecoder, SSEEvent
from llmgw.translate.anthropic_to_responses import REFUSAL_TEXT, anthropic_response_to_responses, item_id
from llmgw.translate.encrypted_reasoning import encode_reasoning
from llmgw.translate.responses_to_anthropic import ClientTool, ToolNames
from llmgw.translate.streams.anthropic_to_responses import AnthropicToResponsesStream
from llmgw.translate.streams.gemini_to_anthropic import GeminiToAnthropicStream
from llmgw.translate.streams.openai_to_anthropic import OpenAIToAnthropicStream
from llmgw.translate.usage import Usage
from llmgw.wire.anthropic import encode_event as encode_anthropic
from tests.support.fakes.fixtures import fixtures_dir, load_sse_events
from tests.support.responses_schema import validate_event, validate_response

Event = dict[str, Any]
RID = "resp_" + "cd" * 24
CREATED = 1743082657
SEEDS = range(3)
REQUEST: Event = {"model": "client-model", "input": "hi"}
_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

# ---- plumbing --------------------------------------------------------------------------------------


def recorded(provider: str, case: str, seed: int | None = None) -> list[Event]:
    """A recorded stream's payloads through SSEDecoder, in random byte splits when `seed` is given."""
    raw = (fixtures_dir() / provider / f"{case}.sse").read_bytes()
    decoder, events = SSEDecoder(), list[SSEEvent]()
    if seed is None:
        events = decoder.feed(raw)
    else:
        rng, i = random.Random(seed), 0
        while i < len(raw):
            n = rng.randint(1, 40)
            events += decoder.feed(raw[i : i + n])
            i += n
    return [e.json() for e in events + decoder.flush() if e.data != "[DONE]"]


def hub_events(provider: str, case: str, seed: int | None = None) -> list[Event]:
    """The Anthropic events of a recorded stream: as they are, or through the upstream's translator."""
    payloads = recorded(provider, case, seed)
    if provider == "anthropic":
        return payloads
    step = GeminiToAnthropicStream("m") if provider == "gemini" else OpenAIToAnthropicStream("m")
    return [out for p in payloads for out in step.feed(p)] + step.finish()


def stream(
    events: Iterable[Event], request: Event = REQUEST, tools: ToolNames | None = None, finish: bool = True
) -> tuple[list[Event], AnthropicToResponsesStream]:
    translator = AnthropicToResponsesStream("client-model", request, tools or {}, RID, CREATED)
    out = [o for e in events for o in translator.feed(e)]
    if finish:
        out += translator.finish()
    return out, translator


def sse_client(body: bytes) -> httpx2.Client:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def anthropic_assembled(events: Sequence[Event]) -> Event:
    """The message the Anthropic SDK's MessageStream assembles from these hub events."""
    body = b"".join(encode_anthropic(e) for e in events)
    client = anthropic.Anthropic(api_key="k", base_url="http://upstream", http_client=sse_client(body))
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        message: Event = s.get_final_message().model_dump(exclude_none=True)
    return message


def openai_read(events: Sequence[Event]) -> Any:
    """The Response the openai SDK's stream reader ends with (that of its last event), the events sent
    to it as bytes."""
    body = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    client = openai.OpenAI(api_key="k", base_url="http://upstream", http_client=sse_client(body))
    with client.responses.stream(model="client-model", input="hi") as s:
        read = list(s)
    assert [e.type for e in read] == [e["type"] for e in events]
    return read[-1].response


def whole(message: Event, request: Event = REQUEST, tools: ToolNames | None = None) -> Event:
    return anthropic_response_to_responses(
        message, model="client-model", request=request, tools=tools or {}, response_id=RID, created_at=CREATED
    )


def check(events: Sequence[Event]) -> None:
    """A well-formed Responses stream: SDK event types, numbered from 0, the lifecycle in order, each
    item added then done in output order, deltas that add up to their done events."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    if events[-1]["type"] == "error":  # a failed stream ends with `response.failed`, then `error`
        events = events[:-1]
        assert events[-1]["type"] == "response.failed"
    last = events[-1]["type"]
    assert last in ("response.completed", "response.incomplete", "response.failed")
    assert all(e["type"] != last for e in events[:-1])
    for event in events:
        _EVENT.validate_python(event)
        validate_event(event)
    added: dict[int, Event] = {}
    done: set[int] = set()
    texts: dict[tuple[int, int], str] = {}
    args: dict[int, str] = {}
    for event in events:
        kind, index = event["type"], event.get("output_index")
        if kind == "response.output_item.added":
            assert index == len(added) and index not in done
            added[index] = event["item"]
        elif kind == "response.output_item.done":
            assert index in added and index not in done
            assert event["item"]["id"] == added[index]["id"] and event["item"]["type"] == added[index]["type"]
            done.add(index)
        elif index is not None:
            assert index in added and index not in done, event
            assert event.get("item_id", added[index]["id"]) == added[index]["id"]
        if kind == "response.output_text.delta":
            texts[index, event["content_index"]] = (
                texts.get((index, event["content_index"]), "") + event["delta"]
            )
        elif kind == "response.output_text.done":
            assert texts.get((index, event["content_index"]), "") == event["text"]
        elif kind == "response.function_call_arguments.delta":
            args[index] = args.get(index, "") + event["delta"]
        elif kind == "response.function_call_arguments.done":
            assert json.loads(args.get(index) or "{}") == json.loads(event["arguments"])
    validate_response(events[-1]["response"])
    if last != "response.failed":
        assert done == set(added)
        assert [i["id"] for i in events[-1]["response"]["output"]] == [added[i]["id"] for i in sorted(added)]


# ---- every recorded stream: the stream's Response is the whole answer's ------------------------------

CASES = [
    ("anthropic", "messages.stream_text"),
    ("anthropic", "messages.stream_tool_call"),
    ("anthropic", "messages.stream_thinking"),
    ("gemini", "generate.stream_text"),
    ("gemini", "generate.stream_tool_call"),
    ("openai", "chat.stream_text"),
    ("openai", "chat.stream_tool_call"),
]


@pytest.mark.parametrize(("provider", "case"), CASES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("summary", [None, "auto"])
def test_recorded_streams_end_with_the_whole_answers_response(
    provider: str, case: str, seed: int, summary: str | None
) -> None:
    request = {**REQUEST, "reasoning": {"effort": "low", "summary": summary}}
    hub = hub_events(provider, case, seed)
    events, translator = stream(hub, request)
    check(events)
    assert translator.ended and translator.response == events[-1]["response"]
    assert translator.response == whole(anthropic_assembled(hub), request)
    assert translator.sequence_number == len(events)
    Response.model_validate(translator.response)
    assert openai_read(events).id == RID
    if provider == "anthropic":  # the first step of the relay's chain reads the upstream's usage
        assert translator.usage is not None and translator.usage.prompt_tokens
        assert translator.output_events > 0


def test_recorded_thinking_stream_events() -> None:
    request = {**REQUEST, "reasoning": {"effort": "low", "summary": "auto"}}
    events, translator = stream(hub_events("anthropic", "messages.stream_thinking"), request)
    kinds = [e["type"] for e in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
    ]
    summary = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    done = next(e for e in events if e["type"] == "response.reasoning_summary_text.done")
    assert done["text"] == summary and summary.startswith("The user wants two names")
    reasoning = translator.response["output"][0] if translator.response else {}
    assert reasoning["summary"] == [{"type": "summary_text", "text": summary}]
    assert reasoning["encrypted_content"] == encode_reasoning(
        {
            "type": "thinking",
            "thinking": summary,
            "signature": anthropic_assembled(hub_events("anthropic", "messages.stream_thinking"))["content"][
                0
            ]["signature"],
        }
    )
    assert translator.usage == Usage(46, 133, 179, 0, 0, None)
    without, _ = stream(hub_events("anthropic", "messages.stream_thinking"))
    assert not any("reasoning_summary" in e["type"] for e in without)


def test_recorded_tool_call_stream_events() -> None:
    events, _ = stream(hub_events("anthropic", "messages.stream_tool_call"))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.done",  # no argument pieces: the calls take no arguments
        "response.output_item.done",  # closed when the next item opens: its status is known then
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    first = events[2]["item"]
    assert first == {
        "id": item_id("fc", RID, 0),
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": first["call_id"],
        "name": first["name"],
    }
    assert first["call_id"].startswith("toolu_")
    assert events[3]["name"] == first["name"] and events[3]["arguments"] == "{}"
    assert events[4]["item"] == {**first, "status": "completed", "arguments": "{}"}


# ---- the same events in the same order as OpenAI's own streams -----------------------------------------


def shape(events: Iterable[Event]) -> list[str]:
    """The event types in order, a run of one type (deltas) counted once."""
    kinds: list[str] = []
    for event in events:
        if not kinds or kinds[-1] != event["type"]:
            kinds.append(event["type"])
    return kinds


def recorded_shape(case: str) -> list[str]:
    """The shape of one of OpenAI's recorded Responses streams (tests/fixtures/providers/openai/responses)."""
    return shape(json.loads(e.data) for e in load_sse_events("openai/responses", case))


def test_a_text_answer_streams_as_openai_streams_one() -> None:
    events, _ = stream(hub_events("anthropic", "messages.stream_text"))
    assert shape(events) == recorded_shape("create.stream_text")


THOUGHT = {"type": "thinking", "thinking": "", "signature": ""}


def test_reasoning_then_a_call_streams_as_openai_streams_it() -> None:
    thought = block(
        0,
        THOUGHT,
        {"type": "thinking_delta", "thinking": "The capital."},
        {"type": "signature_delta", "signature": "s"},
    )
    hub = events_of(
        start(),
        thought,
        tool_block(1, "toolu_1", "get_capital", '{"country"', ': "France"}'),
        end("tool_use"),
    )
    events, _ = stream(hub)
    assert shape(events) == recorded_shape("create.stream_tool_call")
    custom = events_of(
        start(), thought, tool_block(1, "toolu_1", "run_sql", '{"input": "SELECT 1"}'), end("tool_use")
    )
    events, _ = stream(custom, tools={"run_sql": ClientTool("run_sql", "custom")})
    assert shape(events) == recorded_shape("create.stream_custom_tool_call")


def test_reasoning_summaries_stream_as_openai_streams_them() -> None:
    # OpenAI's reasoning item holds four summary parts; one thinking block is one part
    request = {**REQUEST, "reasoning": {"effort": "low", "summary": "auto"}}
    hub = events_of(
        start(), block(0, THOUGHT, {"type": "thinking_delta", "thinking": "Hm."}), text_block(1, "Hi"), end()
    )
    events, _ = stream(hub, request)
    recorded = recorded_shape("create.stream_reasoning_summary")
    one_part = recorded[:7] + recorded[-8:]
    assert one_part[6:8] == ["response.reasoning_summary_part.done", "response.output_item.done"]
    assert shape(events) == one_part


def test_web_search_streams_as_openai_streams_it() -> None:
    citation = {"type": "web_search_result_location", "url": "https://www.alberta.ca", "title": "Alberta",
                "encrypted_index": "Eo8B", "cited_text": "Mount Columbia"}  # fmt: skip
    result = {
        "type": "web_search_result",
        "url": "https://www.alberta.ca",
        "title": "Alberta",
        "encrypted_content": "E",
    }

    def search(index: int, tool_id: str) -> list[Event]:
        use = {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {}}
        query = {"type": "input_json_delta", "partial_json": '{"query": "tallest mountain alberta"}'}
        found = {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": [result]}
        return block(index, use, query) + block(index + 1, found)

    cite = {"type": "citations_delta", "citation": citation}
    cited = block(
        5, {"type": "text", "text": "", "citations": []}, cite, {"type": "text_delta", "text": "Columbia."}
    )
    answer = text_block(4, "The tallest is Mount ")
    hub = events_of(start(), search(0, "srvtoolu_1"), search(2, "srvtoolu_2"), answer, cited, end())
    events, _ = stream(hub)
    assert shape(events) == recorded_shape("create.stream_web_search")


# ---- shapes written by hand ------------------------------------------------------------------------


def start(**usage: int) -> Event:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1, **usage}}  # fmt: skip  # noqa: E501
    return {"type": "message_start", "message": message}


def block(index: int, content_block: Event, *deltas: Event) -> list[Event]:
    return [
        {"type": "content_block_start", "index": index, "content_block": content_block},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def end(stop_reason: str | None = "end_turn", output_tokens: int = 5) -> list[Event]:
    delta = {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
             "usage": {"output_tokens": output_tokens}}  # fmt: skip
    return [delta, {"type": "message_stop"}]


def text_block(index: int, *pieces: str) -> list[Event]:
    return block(index, {"type": "text", "text": ""}, *({"type": "text_delta", "text": p} for p in pieces))


def tool_block(index: int, tool_id: str, name: str, *pieces: str) -> list[Event]:
    content = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
    return block(index, content, *({"type": "input_json_delta", "partial_json": p} for p in pieces))


def events_of(*groups: Event | list[Event]) -> list[Event]:
    return [e for g in groups for e in (g if isinstance(g, list) else [g])]


def check_whole(hub: list[Event], request: Event = REQUEST, tools: ToolNames | None = None) -> list[Event]:
    events, translator = stream(hub, request, tools)
    check(events)
    assert translator.response == whole(anthropic_assembled(hub), request, tools)
    openai_read(events)
    return events


def test_custom_and_namespaced_calls() -> None:
    tools = {
        "apply_patch": ClientTool("apply_patch", "custom"),
        "crm__lookup": ClientTool("lookup", "function", "crm"),
    }
    hub = events_of(
        start(),
        tool_block(0, "toolu_1", "apply_patch", '{"input": "*** Begin', ' Patch"}'),
        tool_block(1, "toolu_2", "crm__lookup", '{"id": ', '"7"}'),
        tool_block(2, "toolu_3", "now"),  # no input at all: Anthropic streams none for {}
        end("tool_use"),
    )
    events = check_whole(hub, tools=tools)
    custom = [e for e in events if e["type"].startswith("response.custom_tool_call_input")]
    assert custom == [
        {"type": "response.custom_tool_call_input.delta", "sequence_number": 3, "item_id": item_id("ctc", RID, 0),  # noqa: E501
         "output_index": 0, "delta": "*** Begin Patch"},
        {"type": "response.custom_tool_call_input.done", "sequence_number": 4, "item_id": item_id("ctc", RID, 0),  # noqa: E501
         "output_index": 0, "input": "*** Begin Patch"},
    ]  # fmt: skip
    assert not any(
        e["type"] == "response.function_call_arguments.delta" and e["output_index"] == 0 for e in events
    )
    lookup = next(
        e for e in events if e["type"] == "response.function_call_arguments.done" and e["output_index"] == 1
    )
    assert (
        lookup["name"] == "lookup" and lookup["arguments"] == '{"id":"7"}'
    )  # compact, as the whole answer's
    now = next(
        e for e in events if e["type"] == "response.function_call_arguments.done" and e["output_index"] == 2
    )
    assert now["arguments"] == "{}"
    output = events[-1]["response"]["output"]
    assert output[1]["namespace"] == "crm" and output[0]["type"] == "custom_tool_call"


def test_web_search_with_citations() -> None:
    citation = {"type": "web_search_result_location", "url": "https://en.wikipedia.org/wiki/Claude_Shannon",
                "title": "Claude Shannon - Wikipedia", "encrypted_index": "Eo8B", "cited_text": "Claude Elwood Shannon"}  # fmt: skip  # noqa: E501
    result = {"type": "web_search_result", "url": citation["url"], "title": citation["title"],
              "encrypted_content": "EqgfC", "page_age": "April 30, 2025"}  # fmt: skip
    hub = events_of(
        start(),
        text_block(0, "I'll search."),
        block(
            1,
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"query": "claude shannon"}'},
        ),
        block(2, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [result]}),
        block(3, {"type": "text", "text": "", "citations": []}, {"type": "text_delta", "text": "Born "}),
        block(
            4,
            {"type": "text", "text": "", "citations": []},
            {"type": "citations_delta", "citation": citation},
            {"type": "text_delta", "text": "April 30, 1916"},
        ),
        block(5, {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_search", "input": {}}),
        block(
            6,
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_2",
                "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
            },
        ),
        block(
            7, {"type": "server_tool_use", "id": "srvtoolu_3", "name": "web_search", "input": {"query": "x"}}
        ),
        end("pause_turn"),
    )
    request = {**REQUEST, "include": ["web_search_call.action.sources"]}
    events = check_whole(hub, request)
    searches = [e["type"] for e in events if "web_search_call" in e["type"]]
    assert searches == [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
    ]
    annotation = next(e for e in events if e["type"] == "response.output_text.annotation.added")
    assert annotation["annotation"] == {"type": "url_citation", "url": citation["url"], "title": citation["title"],  # noqa: E501
                                        "start_index": 5, "end_index": 19}  # fmt: skip
    assert annotation["output_index"] == 2 and annotation["annotation_index"] == 0
    output = events[-1]["response"]["output"]
    assert [(i["type"], i.get("status")) for i in output] == [
        ("message", "completed"),
        ("web_search_call", "completed"),
        ("message", "completed"),
        ("web_search_call", "failed"),
        ("web_search_call", "in_progress"),  # a paused turn: its result never came
    ]
    assert output[1]["action"] == {
        "type": "search",
        "query": "claude shannon",
        "queries": ["claude shannon"],
        "sources": [{"type": "url", "url": citation["url"]}],
    }


def test_other_blocks_are_skipped() -> None:
    hub = events_of(
        start(),
        text_block(0, "a"),
        block(
            1,
            {"type": "server_tool_use", "id": "s", "name": "web_fetch", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"url": "https://x"}'},
        ),
        block(2, {"type": "web_fetch_tool_result", "tool_use_id": "s", "content": {}}),
        text_block(3, "b"),
        end(),
    )
    events = check_whole(hub)
    assert [i["content"][0]["text"] for i in events[-1]["response"]["output"]] == ["ab"]


def test_redacted_thinking_and_thinking_without_text() -> None:
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
    hub = events_of(
        start(),
        block(0, redacted),
        block(
            1,
            {"type": "thinking", "thinking": "", "signature": ""},
            {"type": "signature_delta", "signature": "gemini:part:x"},
        ),
        text_block(2, "Hi"),
        end(),
    )
    events = check_whole(hub, {**REQUEST, "reasoning": {"summary": "detailed"}})
    assert not any("reasoning_summary" in e["type"] for e in events)
    output = events[-1]["response"]["output"]
    assert output[0]["encrypted_content"] == encode_reasoning(redacted)
    assert output[1]["summary"] == []


@pytest.mark.parametrize("stop_reason", ["max_tokens", "model_context_window_exceeded"])
def test_a_stream_cut_by_length_is_incomplete(stop_reason: str) -> None:
    hub = events_of(start(), text_block(0, "Once", " upon"), end(stop_reason))
    events = check_whole(hub)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["status"] == "incomplete"
    call_cut = events_of(start(), tool_block(0, "t", "f", '{"a": 1}'), end(stop_reason))
    assert check_whole(call_cut)[-1]["response"]["output"][0]["status"] == "incomplete"


def test_refusals_end_with_a_refusal_part() -> None:
    events = check_whole(events_of(start(), text_block(0, "I can"), end("refusal")))
    assert [e["type"] for e in events[-8:]] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.content_part.added",
        "response.refusal.delta",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    final = events[-1]["response"]
    assert final["incomplete_details"] == {"reason": "content_filter"}
    assert final["output"][0]["content"][1] == {"type": "refusal", "refusal": REFUSAL_TEXT}
    blocked = check_whole(events_of(start(), end("refusal")))  # a prompt Gemini blocked: no content
    assert blocked[-1]["response"]["output"][0]["content"] == [{"type": "refusal", "refusal": REFUSAL_TEXT}]
    after_call = check_whole(events_of(start(), tool_block(0, "t", "f", "{}"), end("refusal")))
    assert [i["type"] for i in after_call[-1]["response"]["output"]] == ["function_call", "message"]


def test_an_upstream_error_fails_the_response() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    events, translator = stream([error, start()], finish=False)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.failed",
        "error",
    ]
    assert events[2]["response"]["error"] == {"code": "server_error", "message": "Overloaded"}
    assert events[2]["response"]["status"] == "failed" and events[2]["response"]["usage"] is None
    assert events[3] == {
        "type": "error",
        "sequence_number": 3,
        "code": "server_error",
        "message": "Overloaded",
        "param": None,
        "error": {"message": "Overloaded", "type": "api_error", "param": None, "code": None},
    }
    assert translator.ended and translator.finish() == [] and translator.response == events[2]["response"]
    assert translator.sequence_number == 4
    check(events)
    Response.model_validate(events[2]["response"])
    with pytest.raises(openai.APIError, match="Overloaded"):
        openai_read(events)
    mid = events_of(
        start(),
        text_block(0, "Hel"),
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}},
    )
    events, _ = stream(mid, finish=False)
    check(events)
    failed = events[-2]["response"]
    assert failed["error"] == {"code": "rate_limit_exceeded", "message": "Slow down"}
    assert failed["output"][0]["content"][0]["text"] == "Hel" and failed["usage"]["input_tokens"] == 10
    invalid = stream([{"type": "error", "error": {"type": "invalid_request_error"}}], finish=False)[0][-2]
    assert invalid["response"]["error"] == {"code": "invalid_prompt", "message": "upstream answered HTTP 200"}
    odd = stream([{"type": "error", "error": "?"}], finish=False)[0][-2]
    assert odd["response"]["error"] == {"code": "server_error", "message": "?"}


def test_finish_closes_a_stream_the_upstream_ended_without_message_stop() -> None:
    # an OpenAI-format upstream's `[DONE]` without a usage chunk: the relay calls finish() on the chain
    hub = events_of(
        start(), {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Hi"}}
    )
    events, translator = stream(hub)
    check(events)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hi"
    assert translator.finish() == [] and translator.feed(start()) == []
    empty, _ = stream([])
    check(empty)
    assert empty[-1]["response"]["output"] == []


def test_a_block_left_without_its_stop_is_closed_by_the_next() -> None:
    thinking = {"type": "thinking", "thinking": "Hm.", "signature": "sig"}
    hub = events_of(
        start(),
        {"type": "content_block_start", "index": 0, "content_block": thinking},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "text", "text": "Hi", "citations": None},
        },
        end(),
    )
    events, _ = stream(hub)
    check(events)
    output = events[-1]["response"]["output"]
    assert output[0]["encrypted_content"] == encode_reasoning(thinking)
    assert output[1]["content"][0]["text"] == "Hi"


def test_cut_tool_input_is_passed_as_it_came() -> None:
    hub = events_of(start(), {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}},  # noqa: E501
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}})  # fmt: skip  # noqa: E501
    events, _ = stream(hub)
    assert events[-1]["response"]["output"][0]["arguments"] == '{"a": '


def test_pings_and_stray_events_give_nothing() -> None:
    events, translator = stream(
        [start(), {"type": "ping"}, {"type": "content_block_delta", "index": 5, "delta": {}}]
    )
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.completed"]
    assert translator.feed({"type": "ping"}) == []
    first, _ = stream([{"type": "ping"}], finish=False)
    assert first == []
    odd, _ = stream([start(), {"type": "content_block_start", "index": 0}, {"type": "content_block_delta", "index": 0, "delta": "x"},  # noqa: E501
                     {"type": "message_start", "message": "x"}, {"type": "message_delta", "delta": "x"}])  # fmt: skip  # noqa: E501
    check(odd)


def test_the_usage_property_and_events_counted() -> None:
    _, translator = stream([start(cache_read_input_tokens=100)], finish=False)
    assert translator.usage == Usage(110, 1, 111, 100, None, None)
    assert not translator.ended
    hub = events_of(start(), text_block(0, "a", "b"), tool_block(1, "t", "f", "{}"), end(output_tokens=9))
    _, translator = stream(hub)
    assert translator.output_events == 4  # two text pieces, a call, a piece of it
    assert translator.usage is not None and translator.usage.completion_tokens == 9
    fresh = AnthropicToResponsesStream("m", REQUEST, {}, RID, CREATED)
    assert fresh.usage is None and fresh.response is None and fresh.sequence_number == 0
