"""ResponsesPassthroughRelay (relay/streams/passthrough.py) against OpenAI's recorded Responses streams:
bytes through unchanged however the network slices them, usage from the terminal event, the stream's
end, the upstream's error events, and the gateway's own ending continuing the stream's numbering."""

from __future__ import annotations

import random

import orjson
import pytest

from llmgw.errors import UpstreamUnavailable
from llmgw.relay.answers import CUT_SHORT
from llmgw.relay.streams.passthrough import ResponsesPassthroughRelay
from llmgw.relay.streams.sse import SSEDecoder
from llmgw.translate.usage import Usage, responses_usage
from tests.support.fakes.fixtures import fixtures_dir, load_json

# Five whole events of a recorded stream with sequence numbers (reasoning items left out: 2 and 3):
# pydantic/pydantic-ai (MIT) commit a0a4a918e4d480da0bf10b1b349bc6faef7bec96,
# tests/models/cassettes/test_openai_responses/test_gpt5_freeform_text_streaming.yaml, interaction #0.
NUMBERED = (
    b'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_0e'
    b'3f1d7b90a3b1d70069580db2941081918f6a49eb05de683f","object":"response","created_at":1767378354,"status":'
    b'"in_progress","background":false,"completed_at":null,"error":null,"incomplete_details":null,"instructio'
    b'ns":null,"max_output_tokens":null,"max_tool_calls":null,"model":"gpt-5-2025-08-07","output":[],"paralle'
    b'l_tool_calls":true,"previous_response_id":null,"prompt_cache_key":null,"prompt_cache_retention":null,"r'
    b'easoning":{"effort":"medium","summary":null},"safety_identifier":null,"service_tier":"auto","store":tru'
    b'e,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto","tools"'
    b':[{"type":"custom","description":"Execute SQL query on the database.","format":{"type":"text"},"name":"'
    b'execute_sql"}],"top_logprobs":0,"top_p":1.0,"truncation":"disabled","usage":null,"user":null,"metadata"'
    b":{}}}\n\n"
    b'event: response.in_progress\ndata: {"type":"response.in_progress","sequence_number":1,"response":{"id":'
    b'"resp_0e3f1d7b90a3b1d70069580db2941081918f6a49eb05de683f","object":"response","created_at":1767378354,"'
    b'status":"in_progress","background":false,"completed_at":null,"error":null,"incomplete_details":null,"in'
    b'structions":null,"max_output_tokens":null,"max_tool_calls":null,"model":"gpt-5-2025-08-07","output":[],'
    b'"parallel_tool_calls":true,"previous_response_id":null,"prompt_cache_key":null,"prompt_cache_retention"'
    b':null,"reasoning":{"effort":"medium","summary":null},"safety_identifier":null,"service_tier":"auto","st'
    b'ore":true,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto"'
    b',"tools":[{"type":"custom","description":"Execute SQL query on the database.","format":{"type":"text"},'
    b'"name":"execute_sql"}],"top_logprobs":0,"top_p":1.0,"truncation":"disabled","usage":null,"user":null,"m'
    b'etadata":{}}}\n\n'
    b'event: response.output_item.added\ndata: {"type":"response.output_item.added","sequence_number":4,"outp'
    b'ut_index":1,"item":{"id":"ctc_0e3f1d7b90a3b1d70069580db5e9d08191a1bd569bc6a4ce56","type":"custom_tool_c'
    b'all","status":"in_progress","call_id":"call_2GHkSm2Jm0n7vgXsQEryfGmL","input":"","name":"execute_sql"}}'
    b"\n\n"
    b'event: response.custom_tool_call_input.delta\ndata: {"type":"response.custom_tool_call_input.delta","se'
    b'quence_number":5,"output_index":1,"item_id":"ctc_0e3f1d7b90a3b1d70069580db5e9d08191a1bd569bc6a4ce56","d'
    b'elta":"SELECT","obfuscation":"pSBNMtqYmN"}\n\n'
    b'event: response.custom_tool_call_input.delta\ndata: {"type":"response.custom_tool_call_input.delta","se'
    b'quence_number":6,"output_index":1,"item_id":"ctc_0e3f1d7b90a3b1d70069580db5e9d08191a1bd569bc6a4ce56","d'
    b'elta":" *","obfuscation":"lLTbiVQ8hHSFp4"}\n\n'
)


def recorded(case: str) -> bytes:
    return (fixtures_dir() / "openai" / f"{case}.sse").read_bytes()


def run(relay: ResponsesPassthroughRelay, raw: bytes, seed: int) -> bytes:
    """Feed `raw` in random pieces, as a network would deliver it."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(raw):
        n = rng.randint(1, 300)
        out.append(relay.feed(raw[i : i + n]))
        i += n
    out.append(relay.flush())
    return b"".join(out)


def events(stream: bytes) -> list[dict[str, object]]:
    return [orjson.loads(e.data) for e in SSEDecoder().feed(stream)]


@pytest.mark.parametrize("case", ["responses.stream_text", "responses.stream_tool_call"])
@pytest.mark.parametrize("seed", range(5))
def test_the_stream_passes_byte_for_byte_and_its_usage_is_read(case: str, seed: int) -> None:
    raw = recorded(case)
    relay = ResponsesPassthroughRelay()
    assert run(relay, raw, seed) == raw
    assert relay.saw_done and relay.upstream_error is None
    final = events(raw)[-1]
    assert final["type"] == "response.completed"
    assert relay.usage == responses_usage(final["response"]) and relay.usage is not None
    assert relay.usage.total_tokens


def test_usage_and_content_of_the_recorded_text_stream() -> None:
    relay = ResponsesPassthroughRelay()
    run(relay, recorded("responses.stream_text"), 0)
    assert relay.usage == Usage(278, 9, 287, 0, None, 0)
    assert relay.content_events == 7  # its seven output_text.delta events


@pytest.mark.parametrize(
    ("usage", "want"),
    [
        # recorded: openai responses.text
        (load_json("openai", "responses.text")["usage"], Usage(14, 8, 22, 0, None, 0)),
        ({"input_tokens": 63, "input_tokens_details": {"cached_tokens": 12}, "output_tokens": 151,
          "output_tokens_details": {"reasoning_tokens": 128}, "total_tokens": 214},
         Usage(63, 151, 214, 12, None, 128)),
        ({"input_tokens": 5, "output_tokens": 2}, Usage(5, 2, 7, None, None, None)),
        (None, None),
    ],
)  # fmt: skip
def test_responses_usage_table(usage: object, want: Usage | None) -> None:
    assert responses_usage({"usage": usage}) == want
    assert responses_usage([]) is None


def test_a_stream_cut_short_is_not_done_and_the_gateways_ending_numbers_on() -> None:
    relay = ResponsesPassthroughRelay()
    out = run(relay, NUMBERED + b'event: response.custom_tool_call_input.delta\ndata: {"type":"resp', 3)
    assert out == NUMBERED  # the half event is never passed on
    assert not relay.saw_done and relay.upstream_error is None and relay.usage is None
    assert relay.content_events == 2
    ending = events(relay.error_event(UpstreamUnavailable(CUT_SHORT)))
    assert [(e["type"], e["sequence_number"]) for e in ending] == [("response.failed", 7), ("error", 8)]
    created = events(NUMBERED)[0]["response"]
    assert isinstance(created, dict)
    assert ending[0]["response"] == {
        **created,
        "status": "failed",
        "error": {"code": "server_error", "message": CUT_SHORT},
    }


def test_a_stream_without_numbers_gets_its_events_counted() -> None:
    raw = recorded("responses.stream_text")
    first_four = b"".join(e + b"\n\n" for e in raw.split(b"\n\n")[:4])
    relay = ResponsesPassthroughRelay()
    run(relay, first_four, 1)
    ending = events(relay.error_event(UpstreamUnavailable(CUT_SHORT)))
    assert [e["sequence_number"] for e in ending] == [4, 5]
    response = ending[0]["response"]
    assert (
        isinstance(response, dict)
        and response["id"] == "resp_67e554a21aa88191b65876ac5e5bbe0406c52f0e511c76ed"
    )


# A failed response, as OpenAI streams one (the shape of codex-rs's recorded `response.failed`).
FAILED = (
    b'event: response.failed\ndata: {"type":"response.failed","sequence_number":3,"response":{"id":"resp_1",'
    b'"object":"response","created_at":1759510079,"status":"failed","background":false,"error":{"code":'
    b'"context_length_exceeded","message":"Your input exceeds the context window of this model."},'
    b'"usage":null,"user":null,"metadata":{}}}\n\n'
)


def test_an_upstream_failed_response_ends_the_stream_as_an_error() -> None:
    relay = ResponsesPassthroughRelay()
    assert run(relay, NUMBERED[: NUMBERED.index(b"event: response.output_item.added")] + FAILED, 2).endswith(
        FAILED
    )
    assert relay.saw_done and relay.upstream_error == "context_length_exceeded"


def test_an_upstream_error_event_is_its_error() -> None:
    # openapi.yaml's ResponseErrorEvent example
    raw = (
        b'event: error\ndata: {"type":"error","code":"ERR_SOMETHING","message":"Something went wrong",'
        b'"param":null,"sequence_number":1}\n\n'
    )
    relay = ResponsesPassthroughRelay()
    assert run(relay, raw, 0) == raw
    assert relay.upstream_error == "ERR_SOMETHING" and not relay.saw_done


def test_events_without_an_event_line_are_read_by_their_type() -> None:
    completed = {
        "type": "response.completed",
        "response": {"id": "r", "usage": {"input_tokens": 3, "output_tokens": 1}},
    }
    raw = (
        b'data: {"type":"response.output_text.delta","delta":"hi"}\n\ndata: '
        + orjson.dumps(completed)
        + b"\n\n"
    )
    relay = ResponsesPassthroughRelay()
    assert run(relay, raw, 4) == raw
    assert relay.saw_done and relay.content_events == 1 and relay.usage == Usage(3, 1, 4, None)
