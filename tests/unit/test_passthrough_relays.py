"""OpenAIPassthroughRelay against OpenAI's recorded streams (made with include_usage=true)."""

from __future__ import annotations

import json
import random

import pytest

from llmgw.relay.streams.passthrough import OpenAIPassthroughRelay
from llmgw.translate.usage import Usage, anthropic_usage, gemini_usage, openai_usage
from tests.support.fakes.fixtures import fixtures_dir


def recorded(case: str) -> bytes:
    return (fixtures_dir() / "openai" / f"{case}.sse").read_bytes()


def run(relay: OpenAIPassthroughRelay, raw: bytes, seed: int) -> bytes:
    """Feed `raw` in random pieces, as a network would deliver it."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(raw):
        n = rng.randint(1, 300)
        out.append(relay.feed(raw[i : i + n]))
        i += n
    out.append(relay.flush())
    return b"".join(out)


def payloads(stream: bytes) -> list[str]:
    return [ln[6:] for ln in stream.decode().split("\n") if ln.startswith("data: ")]


@pytest.mark.parametrize("case", ["chat.stream_text", "chat.stream_tool_call"])
@pytest.mark.parametrize("seed", range(5))
def test_client_asked_for_usage_gets_the_stream_byte_for_byte(case: str, seed: int) -> None:
    raw = recorded(case)
    relay = OpenAIPassthroughRelay(client_wants_usage=True)
    assert run(relay, raw, seed) == raw
    assert relay.saw_done
    assert relay.usage is not None and relay.usage.total_tokens


@pytest.mark.parametrize("case", ["chat.stream_text", "chat.stream_tool_call"])
@pytest.mark.parametrize("seed", range(5))
def test_client_not_asking_for_usage_sees_no_trace_of_it(case: str, seed: int) -> None:
    raw = recorded(case)
    relay = OpenAIPassthroughRelay(client_wants_usage=False)
    out = run(relay, raw, seed)
    got, want = payloads(out), payloads(raw)
    assert got[-1] == "[DONE]"
    assert len(got) == len(want) - 1  # the usage-only chunk is gone
    for g, w in zip(got[:-1], want[:-2], strict=True):
        gj, wj = json.loads(g), json.loads(w)
        assert "usage" not in gj
        wj.pop("usage")
        assert gj == wj  # nothing else changed
    # ...and the gateway still learned the usage for the ledger
    final = json.loads(want[-2])
    assert relay.usage == openai_usage(final)


def test_usage_of_recorded_text_stream() -> None:
    relay = OpenAIPassthroughRelay(client_wants_usage=False)
    run(relay, recorded("chat.stream_text"), 0)
    assert relay.usage == Usage(
        prompt_tokens=78, completion_tokens=9, total_tokens=87, cached_tokens=0, reasoning_tokens=0
    )
    assert relay.content_events == 8  # the recording carries its 9 tokens in 8 text chunks


def test_usage_on_a_content_chunk_is_stripped_but_chunk_kept() -> None:
    # Some OpenAI-compatible servers attach usage to the last content chunk instead of a separate one.
    event = {"id": "x", "choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": {"prompt_tokens": 3}}
    raw = b"data: " + json.dumps(event).encode() + b"\n\ndata: [DONE]\n\n"
    relay = OpenAIPassthroughRelay(client_wants_usage=False)
    got = payloads(run(relay, raw, 1))
    assert json.loads(got[0]) == {"id": "x", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    assert relay.usage == Usage(3, None, 3, None)


def test_crlf_and_partial_tail() -> None:
    relay = OpenAIPassthroughRelay(client_wants_usage=True)
    out = relay.feed(b'data: {"a":1}\r\n\r\ndata: {"b"')
    assert out == b'data: {"a":1}\n\n'
    assert relay.flush() == b""  # a half event at the end of a cut stream is dropped, never passed on
    assert not relay.saw_done


def test_a_whole_last_event_without_its_blank_line_is_passed_on() -> None:
    relay = OpenAIPassthroughRelay(client_wants_usage=True)
    assert relay.feed(b'data: {"a":1}\n\ndata: [DONE]') == b'data: {"a":1}\n\n'
    assert relay.flush() == b"data: [DONE]\n\n" and relay.saw_done


def test_broken_usage_json_is_passed_on_untouched() -> None:
    relay = OpenAIPassthroughRelay(client_wants_usage=False)
    raw = b'data: {"usage":{"prompt_tokens":1\n\n'
    assert relay.feed(raw) == raw
    assert relay.usage is None


@pytest.mark.parametrize(
    ("payload", "want"),
    [
        ({"usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}}, Usage(2, 3, 5, None)),
        (
            {"usage": {"completion_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 7}}},
            Usage(None, 9, None, None, None, 7),
        ),
        (
            {"usage": {"prompt_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1}}},
            Usage(2, None, 2, 1),
        ),
        ({"usage": {"prompt_tokens": 8, "total_tokens": 8}}, Usage(8, None, 8, None)),  # embeddings
        ({"usage": None}, None),
        ({"usage": {"prompt_tokens": True}}, Usage(None, None, None, None)),
        ([], None),
    ],
)
def test_openai_usage_table(payload: object, want: Usage | None) -> None:
    assert openai_usage(payload) == want


@pytest.mark.parametrize(
    ("payload", "want"),
    [
        # recorded: anthropic messages.tool_call (no caching)
        ({"input_tokens": 423, "output_tokens": 202, "cache_read_input_tokens": 0}, Usage(423, 202, 625, 0)),
        (
            {
                "input_tokens": 10,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 50,
                "output_tokens": 5,
            },
            Usage(160, 5, 165, 100, 50, None),
        ),
        ({"output_tokens": 62}, Usage(None, 62, 62, None)),  # a message_delta carries only output
        (None, None),
    ],
)
def test_anthropic_usage_table(payload: object, want: Usage | None) -> None:
    assert anthropic_usage(payload) == want


@pytest.mark.parametrize(
    ("payload", "want"),
    [
        (
            {"usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 3, "totalTokenCount": 11}},
            Usage(8, 3, 11, None),
        ),
        (
            {
                "usageMetadata": {
                    "promptTokenCount": 20,
                    "cachedContentTokenCount": 12,
                    "candidatesTokenCount": 4,
                    "thoughtsTokenCount": 30,
                    "totalTokenCount": 54,
                }
            },
            Usage(20, 34, 54, 12, None, 30),
        ),
        ({"candidates": []}, None),
    ],
)
def test_gemini_usage_table(payload: object, want: Usage | None) -> None:
    assert gemini_usage(payload) == want


# What each event's keys say, read in place, in the compact JSON OpenAI sends and the spaced JSON some
# OpenAI-compatible servers send (Python's json.dumps): (event, client wants usage) → (bytes out,
# finished, usage, events, content events).
_COMPACT = b'data: {"choices":[{"index":0,"finish_reason":null,"delta":{"content":"a"}}],"usage":null}\n\n'
_SPACED = (
    b'data: {"choices": [{"index": 0, "finish_reason": null, "delta": {"content": "a"}}], "usage": null}\n\n'
)


@pytest.mark.parametrize(
    ("event", "wants", "out", "finished", "usage", "events", "content"),
    [
        (_COMPACT, False, _COMPACT.replace(b',"usage":null', b""), False, None, 1, 1),
        (_COMPACT, True, _COMPACT, False, None, 1, 1),
        (_SPACED, False, _SPACED.replace(b', "usage": null', b""), False, None, 1, 0),  # `"delta": {` spaced
        (_SPACED, True, _SPACED, False, None, 1, 0),
        (
            b'data: {"choices":[{"finish_reason":"stop","delta":{}}],"usage":null}\n\n',
            True,
            None,
            True,
            None,
            1,
            0,
        ),
        (b'data: {"choices": [{"finish_reason": "stop", "delta": {}}]}\n\n', True, None, True, None, 1, 0),
        (b'data: {"choices":[{"finish_reason":null,"delta":{}}]}\n\n', True, None, False, None, 1, 0),
        # the usage object, compact and spaced: kept as usage; the usage-only chunk dropped unasked
        (
            b'data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}\n\n',
            False,
            b"",
            False,
            Usage(2, 1, 3, None),
            0,
            0,
        ),
        (
            b'data: {"choices": [], "usage": {"prompt_tokens": 2}}\n\n',
            True,
            None,
            False,
            Usage(2, None, 2, None),
            0,
            0,
        ),
        # "usage" as text inside a string is escaped: never read as the key
        (
            b'data: {"choices":[{"delta":{"content":"\\"usage\\":{"}}],"usage":null}\n\n',
            False,
            b'data: {"choices":[{"delta":{"content":"\\"usage\\":{"}}]}\n\n',
            False,
            None,
            1,
            1,
        ),
        # a usage key at the very end of a cut-short event: nothing past it to read
        (b'data: {"choices":[{"delta":{"content":"a"}}],"usage":\n\n', False, None, False, None, 1, 1),
    ],
)
def test_keys_read_in_place(
    event: bytes,
    wants: bool,
    out: bytes | None,
    finished: bool,
    usage: Usage | None,
    events: int,
    content: int,
) -> None:
    relay = OpenAIPassthroughRelay(client_wants_usage=wants)
    assert relay.feed(event) == (event if out is None else out)
    assert relay._finished is finished
    assert relay.usage == usage
    assert (relay.events, relay.content_events) == (events, content)
