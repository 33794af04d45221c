"""Stream relays for the paths that are not OpenAI → OpenAI (that one is `openai_stream.py`).

Every relay has the same shape: `feed(bytes) -> bytes` for each upstream piece, `flush() -> bytes` at
the upstream's end of stream, `error_event(exc) -> bytes` for a failure after the headers went out,
and `usage` / `content_events` for the ledger. Pure and synchronous, like the translators they drive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from llmgw.errors import ClientDialect, GatewayError, UpstreamUnavailable, render
from llmgw.relay.streams.sse import OPENAI_DONE, SSEDecoder, encode_anthropic, encode_openai
from llmgw.translate.usage import Usage, anthropic_usage


class StreamTranslator(Protocol):
    """One step of a translation chain (see llmgw/translate/streams/)."""

    @property
    def usage(self) -> Usage | None: ...

    @property
    def output_events(self) -> int: ...

    def feed(self, item: dict[str, Any]) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...


class AnthropicPassthroughRelay:
    """Anthropic → Anthropic: bytes pass unchanged; events are decoded only to read usage."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._start: Usage | None = None
        self._final: Usage | None = None
        self.content_events = 0
        self.saw_done = False

    @property
    def usage(self) -> Usage | None:
        if self._start is None:
            return self._final
        if self._final is None:
            return self._start
        # message_start has the input side, message_delta the (cumulative) output side.
        merged = Usage(**{f: getattr(self._final, f) or getattr(self._start, f) for f in Usage.__slots__})
        if merged.prompt_tokens is not None:
            merged.total_tokens = merged.prompt_tokens + (merged.completion_tokens or 0)
        return merged

    def feed(self, chunk: bytes) -> bytes:
        for event in self._decoder.feed(chunk):
            self._observe(event.event, event.data)
        return chunk

    def flush(self) -> bytes:
        for event in self._decoder.flush():
            self._observe(event.event, event.data)
        return b""

    def _observe(self, name: str | None, data: str) -> None:
        if name == "content_block_delta":
            self.content_events += 1
        elif name in ("message_start", "message_delta", "message_stop"):
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                return
            if name == "message_start":
                message = payload.get("message") if isinstance(payload, dict) else None
                self._start = anthropic_usage(message.get("usage") if isinstance(message, dict) else None)
            elif name == "message_delta":
                self._final = anthropic_usage(payload.get("usage") if isinstance(payload, dict) else None)
            else:
                self.saw_done = True

    @staticmethod
    def error_event(exc: GatewayError) -> bytes:
        return render(exc, "anthropic", stream=True)


class TranslatingRelay:
    """Upstream SSE → a chain of stream translators → the client's SSE."""

    def __init__(self, chain: Sequence[StreamTranslator], dialect: ClientDialect) -> None:
        self._decoder = SSEDecoder()
        self._chain = chain
        self._dialect = dialect
        self._encode = encode_anthropic if dialect == "anthropic" else encode_openai
        self._done = OPENAI_DONE if dialect == "openai" else None
        self.saw_done = False

    @property
    def usage(self) -> Usage | None:
        return self._chain[0].usage  # the first step read the upstream's own usage

    @property
    def content_events(self) -> int:
        return self._chain[0].output_events

    def error_event(self, exc: GatewayError) -> bytes:
        return render(exc, self._dialect, stream=True)

    def _through(self, items: list[dict[str, Any]], start: int) -> list[dict[str, Any]]:
        for step in self._chain[start:]:
            items = [out for item in items for out in step.feed(item)]
        return items

    def feed(self, chunk: bytes) -> bytes:
        out: list[dict[str, Any]] = []
        for event in self._decoder.feed(chunk):
            if event.data.strip() == "[DONE]":
                continue
            try:
                item = event.json()
            except ValueError:
                raise UpstreamUnavailable("The upstream sent an unreadable stream event.") from None
            if isinstance(item, dict):
                out.extend(self._through([item], 0))
        return b"".join(self._encode(o) for o in out)

    def flush(self) -> bytes:
        leftovers: list[dict[str, Any]] = []
        for event in self._decoder.flush():
            if event.data.strip() != "[DONE]":
                try:
                    item = event.json()
                except ValueError:
                    continue
                if isinstance(item, dict):
                    leftovers.extend(self._through([item], 0))
        out = leftovers
        for i, step in enumerate(self._chain):
            out.extend(self._through(step.finish(), i + 1))
        self.saw_done = True
        return b"".join(self._encode(o) for o in out) + (self._done or b"")


def openai_client_relay(chain: Sequence[StreamTranslator]) -> TranslatingRelay:
    return TranslatingRelay(chain, "openai")


def anthropic_client_relay(chain: Sequence[StreamTranslator]) -> TranslatingRelay:
    return TranslatingRelay(chain, "anthropic")
