"""SSEDecoder over arbitrary byte splits, line ends and field forms; the dialect encoders."""

from __future__ import annotations

import random

import pytest

from llmgw.relay.streams.sse import OPENAI_DONE, SSEDecoder, SSEEvent
from llmgw.wire.anthropic import encode_event as encode_anthropic
from llmgw.wire.openai import encode_event as encode_openai
from tests.support.fakes.fixtures import fixtures_dir, load_sse_events

RECORDED = [
    ("anthropic", "messages.stream_text"),
    ("anthropic", "messages.stream_tool_call"),
    ("anthropic", "messages.stream_thinking"),
    ("openai", "chat.stream_text"),
    ("openai", "chat.stream_tool_call"),
    ("gemini", "generate.stream_text"),
    ("gemini", "generate.stream_tool_call"),
]


def decode(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.flush()


def decode_split(raw: bytes, seed: int, most: int = 40) -> list[SSEEvent]:
    """Feed `raw` in random pieces, as a network would deliver it."""
    rng, decoder = random.Random(seed), SSEDecoder()
    events, i = [], 0
    while i < len(raw):
        n = rng.randint(1, most)
        events += decoder.feed(raw[i : i + n])
        i += n
    return events + decoder.flush()


@pytest.mark.parametrize(("provider", "case"), RECORDED)
@pytest.mark.parametrize("seed", range(4))
def test_recorded_streams_decode_the_same_however_split(provider: str, case: str, seed: int) -> None:
    raw = (fixtures_dir() / provider / f"{case}.sse").read_bytes()
    whole = decode(raw)
    # the fixtures' own (independent, whole-text) parser agrees
    assert [(e.event, e.data) for e in whole] == [(e.event, e.data) for e in load_sse_events(provider, case)]
    assert decode_split(raw, seed) == whole
    assert decode_split(raw, seed, most=3) == whole


def test_byte_by_byte_with_every_line_end() -> None:
    for end in (b"\n", b"\r\n", b"\r"):
        raw = end.join([b"event: a", b"data: 1", b"", b"data: 2", b"data: 3", b"", b""])
        decoder = SSEDecoder()
        events = [e for i in range(len(raw)) for e in decoder.feed(raw[i : i + 1])]
        assert events + decoder.flush() == [SSEEvent("a", "1"), SSEEvent(None, "2\n3")], end


def test_a_crlf_split_between_two_slices_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\n\r") == [SSEEvent(None, "x")]
    assert decoder.feed(b"\ndata: y\r\r") == [SSEEvent(None, "y")]
    assert decoder.feed(b"") == []
    assert decoder.flush() == []


def test_fields_comments_and_colon_forms() -> None:
    raw = (
        b": keep-alive comment\n"
        b"event:custom\n"  # no space after the colon
        b"id: 7\n"
        b"retry: 1000\n"
        b"unknown: ignored\n"
        b"data:  two spaces keep one\n"
        b"data\n"  # a field name alone: an empty data line
        b"\n"
        b"event: nothing\n"  # no data: not an event
        b"\n"
        b"data:\n"
        b"\n"
    )
    assert decode(raw) == [
        SSEEvent("custom", " two spaces keep one\n", "7"),
        SSEEvent(None, ""),
    ]


def test_an_id_with_a_nul_is_ignored() -> None:
    assert decode(b"id: a\0b\ndata: x\n\n") == [SSEEvent(None, "x")]


def test_utf8_split_inside_a_character_and_a_bom() -> None:
    raw = "\ufeffdata: Pelé 🦅\n\n".encode()
    for cut in range(1, len(raw)):
        decoder = SSEDecoder()
        assert decoder.feed(raw[:cut]) + decoder.feed(raw[cut:]) == [SSEEvent(None, "Pelé 🦅")]
    assert decode(b"data: \xff\n\n") == [SSEEvent(None, "\ufffd")]  # invalid UTF-8 is replaced


def test_flush_gives_a_last_event_without_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\ndata: c") == [SSEEvent(None, "a")]
    assert decoder.flush() == [SSEEvent(None, "b\nc")]
    assert decoder.flush() == []
    decoder = SSEDecoder()
    assert decoder.feed(b"data: d\n") == []
    assert decoder.flush() == [SSEEvent(None, "d")]


def test_json_copes_with_anthropic_padding_and_names_bad_data() -> None:
    assert SSEEvent("ping", '{"type": "ping"}     \t').json() == {"type": "ping"}
    with pytest.raises(ValueError, match=r"SSE event 'message_start' data is not valid JSON .*'\{\"type\"'"):
        SSEEvent("message_start", '{"type"').json()
    with pytest.raises(ValueError, match="SSE event data is not valid JSON"):
        SSEEvent(None, "[DONE]").json()


def test_encoders_round_trip() -> None:
    event = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a\nb é"}}
    raw = encode_anthropic(event)
    assert raw == (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"a\\nb \xc3\xa9"}}\n\n'
    )
    assert decode(raw)[0].event == "content_block_delta"
    assert decode(raw)[0].json() == event
    chunk = {"id": "chatcmpl-1", "choices": []}
    assert encode_openai(chunk) == b'data: {"id":"chatcmpl-1","choices":[]}\n\n'
    assert decode(encode_openai(chunk) + OPENAI_DONE) == [
        SSEEvent(None, '{"id":"chatcmpl-1","choices":[]}'),
        SSEEvent(None, "[DONE]"),
    ]
