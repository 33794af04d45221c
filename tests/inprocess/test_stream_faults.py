"""Upstream streams that go wrong, in process: cut before their end, malformed, endless events, and a
client that leaves while the answer is being started. What the client sees and the ledger row must
agree: an error event in the client's dialect (never a stream that looks complete) and the error on
the row; `client_closed` only when the client really left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmgw.errors import UpstreamUnavailable
from llmgw.relay.streams.passthrough import AnthropicPassthroughRelay, OpenAIPassthroughRelay
from llmgw.relay.streams.sse import SSEDecoder
from llmgw.relay.streams.translating import TranslatingRelay
from llmgw.translate.streams.anthropic_to_openai import AnthropicToOpenAIStream
from llmgw.translate.streams.gemini_to_anthropic import GeminiToAnthropicStream
from tests.inprocess.test_relay_inprocess import PROXY_KEY, USER, gateway

pytestmark = pytest.mark.anyio

SSE = {"content-type": "text/event-stream"}
CUT = "The upstream stream ended before the answer was complete."


class Pieces(httpx.AsyncByteStream):
    """An upstream body delivered piece by piece; remembers whether the gateway closed it."""

    def __init__(self, pieces: list[bytes], hold: bool = False) -> None:
        self.pieces = pieces
        self.hold = hold  # after the pieces, wait (until closed) instead of ending
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece
        if self.hold:
            await asyncio.sleep(60)

    async def aclose(self) -> None:
        self.closed = True


def sse_stream(pieces: list[bytes]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, stream=Pieces(pieces))

    return answer


def anthropic_events(*, complete: bool) -> list[bytes]:
    def event(payload: dict[str, Any]) -> bytes:
        return b"event: " + payload["type"].encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 16, "output_tokens": 1},
    }
    out = [
        event({"type": "message_start", "message": message}),
        event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Paris"}}),
        event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " it"}}),
    ]
    if complete:
        out += [
            event({"type": "content_block_stop", "index": 0}),
            event(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 3},
                }
            ),
            event({"type": "message_stop"}),
        ]
    return out


def openai_events(*, complete: bool) -> list[bytes]:
    common = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1741569952, "model": "m"}
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "Paris"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": " it"}, "finish_reason": None}]},
    ]
    if complete:
        chunks += [
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 3, "total_tokens": 17}},
        ]
    out = [b"data: " + orjson.dumps({**common, **c}) + b"\n\n" for c in chunks]
    return [*out, b"data: [DONE]\n\n"] if complete else out


def answer_by_host(anthropic: list[bytes], openai: list[bytes]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        pieces = anthropic if request.url.host == "ant.test" else openai
        return httpx.Response(200, headers=SSE, stream=Pieces(pieces))

    return answer


def openai_data(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


def assert_openai_stream_failed(text: str) -> dict[str, Any]:
    """The stream ends with an OpenAI error chunk, and nothing makes it look complete."""
    data = openai_data(text)
    assert "[DONE]" not in data, text
    last = orjson.loads(data[-1])
    assert set(last) == {"error"}, text
    for d in data[:-1]:
        chunk = orjson.loads(d)
        assert all(c.get("finish_reason") is None for c in chunk.get("choices", [])), text
    err: dict[str, Any] = last["error"]
    return err


def assert_anthropic_stream_failed(text: str) -> dict[str, Any]:
    """The stream ends with an Anthropic `error` event; no `message_stop` or `message_delta`."""
    events = [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]
    assert events[-1] == "error", text
    assert "message_stop" not in events and "message_delta" not in events, text
    data = [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]
    last = orjson.loads(data[-1])
    assert last["type"] == "error", text
    err: dict[str, Any] = last["error"]
    return err


def assert_whole_events(text: str) -> None:
    """Every event the client got is whole: its data is JSON (or `[DONE]`), each ended by a blank line."""
    assert text.endswith("\n\n")
    for event in text.split("\n\n")[:-1]:
        (data,) = [line[6:] for line in event.split("\n") if line.startswith("data: ")]
        if data != "[DONE]":
            orjson.loads(data)


def assert_cut_row(row: dict[str, Any]) -> None:
    assert (row["status"], row["streamed"], row["error_type"]) == (200, 1, "upstream_unavailable")
    assert not row["client_closed"]
    assert row["completion_tokens"] == 2 and row["tokens_estimated"]  # two text deltas seen


async def chat_stream(gw: Any, model: str) -> httpx.Response:
    return await gw.chat(model, stream=True)  # type: ignore[no-any-return]


async def messages_stream(gw: Any, model: str) -> httpx.Response:
    return await gw.messages(model, stream=True)  # type: ignore[no-any-return]


# -- a cut stream is never reported complete -------------------------------------------------------


@pytest.mark.parametrize("half", [b"", b'event: content_block_delta\ndata: {"type":"content_block_de'])
async def test_cut_anthropic_stream_reaches_an_openai_client_as_an_error(tmp_path: Path, half: bytes) -> None:
    cut = [*anthropic_events(complete=False), half]
    async with gateway(tmp_path, answer_by_host(cut, [])) as gw:
        r = await chat_stream(gw, "claude")
    assert r.status_code == 200
    err = assert_openai_stream_failed(r.text)
    assert (err["message"], err["code"]) == (CUT, "upstream_unavailable")
    assert_whole_events(r.text)
    assert_cut_row(gw.row(r))


@pytest.mark.parametrize("half", [b"", b'data: {"id":"chatcmpl-1","choices":[{"ind'])
async def test_cut_openai_stream_reaches_an_anthropic_client_as_an_error(tmp_path: Path, half: bytes) -> None:
    cut = [*openai_events(complete=False), half]
    async with gateway(tmp_path, answer_by_host([], cut)) as gw:
        r = await messages_stream(gw, "oai/gpt-4o-mini")
    assert r.status_code == 200
    err = assert_anthropic_stream_failed(r.text)
    assert (err["type"], err["message"]) == ("api_error", CUT)
    assert_whole_events(r.text)
    assert_cut_row(gw.row(r))


@pytest.mark.parametrize("half", [b"", b'data: {"id":"chatcmpl-1","choices":[{"ind'])
async def test_cut_openai_passthrough_stream_ends_with_an_error(tmp_path: Path, half: bytes) -> None:
    cut = [*openai_events(complete=False), half]
    async with gateway(tmp_path, answer_by_host([], cut)) as gw:
        r = await chat_stream(gw, "oai/gpt-4o-mini")
    err = assert_openai_stream_failed(r.text)
    assert err["message"] == CUT
    assert_whole_events(r.text)  # the half event is dropped, never forwarded
    assert_cut_row(gw.row(r))


@pytest.mark.parametrize("half", [b"", b'event: content_block_delta\ndata: {"type":"content_block_de'])
async def test_cut_anthropic_passthrough_stream_ends_with_an_error(tmp_path: Path, half: bytes) -> None:
    cut = [*anthropic_events(complete=False), half]
    async with gateway(tmp_path, answer_by_host(cut, [])) as gw:
        r = await messages_stream(gw, "claude")
    err = assert_anthropic_stream_failed(r.text)
    assert err["message"] == CUT
    assert_whole_events(r.text)
    assert_cut_row(gw.row(r))


@pytest.mark.parametrize("client", ["openai", "anthropic"])
@pytest.mark.parametrize("up", ["openai", "anthropic"])
async def test_complete_streams_stay_clean(tmp_path: Path, client: str, up: str) -> None:
    answer = answer_by_host(anthropic_events(complete=True), openai_events(complete=True))
    model = "claude" if up == "anthropic" else "oai/gpt-4o-mini"
    async with gateway(tmp_path, answer) as gw:
        r = await (chat_stream if client == "openai" else messages_stream)(gw, model)
    if client == "openai":
        assert openai_data(r.text)[-1] == "[DONE]"
        assert '"error"' not in r.text
    else:
        assert r.text.rstrip().splitlines()[-2] == "event: message_stop"
    row = gw.row(r)
    assert (row["status"], row["error_type"], row["client_closed"], row["tokens_estimated"]) == (
        200,
        None,
        0,
        0,
    )
    assert row["completion_tokens"] == 3


def test_cut_gemini_stream_is_an_error_and_a_finished_one_is_not() -> None:
    def chunk(text: str, finish: str | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
        if finish:
            candidate["finishReason"] = finish
        usage = {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}
        return b"data: " + orjson.dumps({"candidates": [candidate], "usageMetadata": usage}) + b"\r\n\r\n"

    cut = TranslatingRelay([GeminiToAnthropicStream("m")], "anthropic")
    assert cut.feed(chunk("Par") + chunk("is")).startswith(b"event: message_start")
    assert cut.flush() == b""  # no closing events: the caller ends the stream with an error event
    assert not cut.saw_done and cut.upstream_error is None and cut.content_events == 2
    # Gemini has no terminator: the chunk with finishReason is its end
    done = TranslatingRelay([GeminiToAnthropicStream("m")], "anthropic")
    out = done.feed(chunk("Par") + chunk("is", "STOP")) + done.flush()
    assert out.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n') and done.saw_done


def test_upstream_error_event_ends_a_stream_without_a_cut_error() -> None:
    relay = TranslatingRelay([AnthropicToOpenAIStream("m", include_usage=False)], "openai")
    events = anthropic_events(complete=False)
    error = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    out = relay.feed(b"".join(events) + error) + relay.flush()
    data = openai_data(out.decode())
    assert orjson.loads(data[-1])["error"]["message"] == "Overloaded" and "[DONE]" not in data
    assert relay.upstream_error == "api_error"  # the type as the (OpenAI) client got it
    passthrough = AnthropicPassthroughRelay()
    out = passthrough.feed(b"".join(events) + error) + passthrough.flush()
    assert out.endswith(error) and passthrough.upstream_error == "overloaded_error"


async def test_upstream_error_event_is_on_the_row(tmp_path: Path) -> None:
    error = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    async with gateway(tmp_path, answer_by_host([*anthropic_events(complete=False), error], [])) as gw:
        r = await messages_stream(gw, "claude")
    assert r.text.endswith(error.decode()) and CUT not in r.text
    row = gw.row(r)
    assert (row["status"], row["error_type"], row["client_closed"], row["tokens_estimated"]) == (
        200,
        "overloaded_error",
        0,
        1,
    )


# -- a malformed upstream event is the upstream's fault --------------------------------------------


async def test_malformed_upstream_event_is_an_upstream_error(tmp_path: Path) -> None:
    block = {"type": "content_block_start", "index": [0], "content_block": {"type": "text", "text": ""}}
    bad = b"event: content_block_start\ndata: " + orjson.dumps(block) + b"\n\n"
    events = anthropic_events(complete=True)
    async with gateway(tmp_path, answer_by_host([*events[:3], bad, *events[3:]], [])) as gw:
        r = await chat_stream(gw, "claude")
    err = assert_openai_stream_failed(r.text)
    assert err["code"] == "upstream_unavailable" and "could not read" in err["message"]
    row = gw.row(r)
    assert (row["status"], row["error_type"], row["client_closed"]) == (200, "upstream_unavailable", 0)


async def test_malformed_first_event_fails_the_attempt(tmp_path: Path) -> None:
    """Before anything reached the client an unreadable stream is a provider failure: 502 (the
    retry loop moves on), with the row saying so."""
    bad = b'event: content_block_start\ndata: {"type":"content_block_start","index":[0]}\n\n'
    async with gateway(tmp_path, answer_by_host([bad], [])) as gw:
        r = await chat_stream(gw, "claude")
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_unavailable"
    row = gw.row(r)
    assert (row["status"], row["error_type"], row["client_closed"]) == (502, "upstream_unavailable", 0)


# -- one event is capped, in linear time -----------------------------------------------------------

MIB = 1024 * 1024
ENDLESS = [b"data: " + b"x" * (64 * 1024 - 6)] + [b"x" * 64 * 1024] * (8 * 16 - 1)  # 8 MiB, no line end


@pytest.mark.parametrize(
    "relay",
    [
        lambda: SSEDecoder(MIB),
        lambda: OpenAIPassthroughRelay(False, MIB),
        lambda: AnthropicPassthroughRelay(MIB),
        lambda: TranslatingRelay([AnthropicToOpenAIStream("m", include_usage=False)], "openai", MIB),
    ],
    ids=["decoder", "openai-passthrough", "anthropic-passthrough", "translating"],
)
def test_an_endless_event_fails_past_the_cap(relay: Callable[[], Any]) -> None:
    r = relay()
    with pytest.raises(UpstreamUnavailable, match="larger than 1048576 bytes"):
        for piece in ENDLESS:
            r.feed(piece)


def test_many_data_lines_without_a_blank_line_are_one_event() -> None:
    decoder = SSEDecoder(MIB)
    with pytest.raises(UpstreamUnavailable, match="larger than"):
        for _ in range(40):
            decoder.feed(b"data: " + b"y" * 64 * 1024 + b"\n")


def test_an_endless_event_without_a_cap_is_read_in_linear_time() -> None:
    # 8 MiB in 1 KiB pieces: joined once at the end, never copied per piece
    decoder = SSEDecoder(16 * MIB)
    piece = b"z" * 1024
    assert decoder.feed(b"data: ") == []
    for _ in range(8 * 1024):
        assert decoder.feed(piece) == []
    (event,) = decoder.feed(b"\n\n")
    assert len(event.data) == 8 * MIB


@pytest.mark.parametrize("client", ["openai", "anthropic"])
async def test_endless_first_event_is_a_502(tmp_path: Path, client: str) -> None:
    async with gateway(tmp_path, sse_stream(ENDLESS), server={"max_event_bytes": MIB}) as gw:
        r = await (chat_stream if client == "openai" else messages_stream)(gw, "oai/gpt-4o-mini")
    assert r.status_code == 502, r.text
    row = gw.row(r)
    assert (row["status"], row["error_type"]) == (502, "upstream_unavailable")


async def test_endless_event_mid_stream_is_an_error_event(tmp_path: Path) -> None:
    pieces = [*openai_events(complete=False), *ENDLESS]
    async with gateway(tmp_path, sse_stream(pieces), server={"max_event_bytes": MIB}) as gw:
        r = await chat_stream(gw, "oai/gpt-4o-mini")
    assert r.status_code == 200
    err = assert_openai_stream_failed(r.text)
    assert "larger than 1048576 bytes" in err["message"]
    assert "xxxx" not in r.text
    assert_cut_row(gw.row(r))


# -- a client gone while the stream's response starts ----------------------------------------------


async def test_disconnect_during_the_response_start_still_records_and_closes(tmp_path: Path) -> None:
    upstream = Pieces(openai_events(complete=False), hold=True)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, stream=upstream)

    body = orjson.dumps({"model": "oai/gpt-4o-mini", "messages": USER, "stream": True})
    starting = asyncio.Event()
    received: list[str] = []

    async def receive() -> dict[str, Any]:
        if not received:
            received.append("body")
            return {"type": "http.request", "body": body, "more_body": False}
        await starting.wait()  # the client goes away as the response starts
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            starting.set()
            await asyncio.sleep(30)  # a slow socket: cancelled by the disconnect first

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {PROXY_KEY}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("llmgw.test", 80),
    }
    async with gateway(tmp_path, answer) as gw:
        app: Callable[..., Awaitable[None]] = gw.client._transport.app  # type: ignore[attr-defined]
        await asyncio.wait_for(app(scope, receive, send), 10)
        assert upstream.closed  # the upstream response is released at once
    (row,) = gw.rows().values()
    assert (row["status"], row["streamed"], row["client_closed"]) == (200, 1, 1)
