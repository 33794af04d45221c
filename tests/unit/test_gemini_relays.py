"""The stream relays of Gemini clients (llmgw/relay/streams/gemini.py): a Gemini upstream's recorded
`alt=sse` stream passed through and read for usage and its end, and the JSON-array framing around it
(and around a translated stream): whole, fed a byte at a time, cut short, ended by an upstream error."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llmgw.errors import UpstreamUnavailable
from llmgw.relay.streams.gemini import GeminiArrayRelay, GeminiPassthroughRelay
from llmgw.relay.streams.sse import SSEDecoder
from llmgw.relay.streams.translating import TranslatingRelay
from llmgw.translate.streams.anthropic_to_gemini import AnthropicToGeminiStream
from tests.support.fakes.fixtures import fixtures_dir

STREAM = (fixtures_dir() / "gemini" / "generate.stream_text.sse").read_bytes()
TOOL_STREAM = (fixtures_dir() / "gemini" / "generate.stream_tool_call.sse").read_bytes()
CLAUDE = (fixtures_dir() / "anthropic" / "messages.stream_text.sse").read_bytes()


def events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(e.data) for e in SSEDecoder().feed(raw)]


def run(relay: Any, raw: bytes, piece: int) -> bytes:
    out = b"".join(relay.feed(raw[i : i + piece]) for i in range(0, len(raw), piece))
    return out + relay.flush()


@pytest.mark.parametrize("raw", [STREAM, TOOL_STREAM], ids=["text", "tool_call"])
@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
def test_passthrough_relays_every_event_and_reads_the_last_usage(raw: bytes, piece: int) -> None:
    relay = GeminiPassthroughRelay()
    out = run(relay, raw, piece)
    assert events(out) == events(raw)
    last = events(raw)[-1]
    assert relay.saw_done and relay.upstream_error is None
    assert relay.usage is not None and relay.usage.prompt_tokens == last["usageMetadata"]["promptTokenCount"]
    assert relay.content_events == sum(1 for e in events(raw) if e["candidates"][0]["content"].get("parts"))


def test_passthrough_reads_an_in_stream_error_and_a_cut_stream_is_not_done() -> None:
    relay = GeminiPassthroughRelay()
    error = b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n'
    run(relay, STREAM[: STREAM.index(b"\r\n\r\n") + 4] + error, 5)
    assert relay.upstream_error == "UNAVAILABLE" and not relay.saw_done
    cut = GeminiPassthroughRelay()
    out = run(cut, STREAM[: STREAM.index(b"\r\n\r\n") + 10], 3)  # one event and half of the next
    assert len(events(out)) == 1 and not cut.saw_done and cut.upstream_error is None


@pytest.mark.parametrize("piece", [1, 11, 1 << 20])
def test_the_array_framing_holds_the_same_chunks(piece: int) -> None:
    relay = GeminiArrayRelay(GeminiPassthroughRelay())
    out = run(relay, STREAM, piece)
    assert orjson.loads(out) == events(STREAM)
    assert out.startswith(b"[{") and out.endswith(b"}]") and b"\n,\r\n" not in out
    assert relay.saw_done and relay.usage is not None


def test_a_cut_array_stays_open_until_the_error_element_closes_it() -> None:
    relay = GeminiArrayRelay(GeminiPassthroughRelay())
    out = run(relay, STREAM[: STREAM.index(b"\r\n\r\n") + 4], 4)
    assert not relay.saw_done and not out.endswith(b"]")
    out += relay.error_event(UpstreamUnavailable("The upstream's stream was cut short."))
    chunks = orjson.loads(out)
    assert chunks[0] == events(STREAM)[0]
    assert chunks[1] == {
        "error": {"code": 502, "message": "The upstream's stream was cut short.", "status": "INTERNAL"}
    }


def test_an_error_before_any_chunk_is_a_one_element_array() -> None:
    relay = GeminiArrayRelay(GeminiPassthroughRelay())
    assert orjson.loads(relay.error_event(UpstreamUnavailable("gone")))[0]["error"]["code"] == 502


def test_a_translated_stream_in_array_framing() -> None:
    inner = TranslatingRelay([AnthropicToGeminiStream("claude")], "gemini")
    relay = GeminiArrayRelay(inner)
    chunks = orjson.loads(run(relay, CLAUDE, 13))
    text = "".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"] if "text" in p)
    expected = "".join(e["delta"]["text"] for e in events(CLAUDE) if e.get("type") == "content_block_delta")
    assert text == expected and chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert relay.saw_done and relay.usage is not None


def test_a_translated_in_stream_error_is_recorded_by_its_status_name() -> None:
    relay = TranslatingRelay([AnthropicToGeminiStream("claude")], "gemini")
    start = CLAUDE[: CLAUDE.index(b"\n\n") + 2]
    error = (
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}\n\n'
    )
    out = relay.feed(start + error) + relay.flush()
    assert events(out)[-1] == {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}
    assert relay.upstream_error == "UNAVAILABLE"
