"""The relay for every path where client and upstream speak different dialects: upstream SSE → a chain
of stream translators (llmgw/translate/streams/) → the client's SSE. Pure and synchronous, like the
translators it drives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from llmgw.errors import ClientDialect, GatewayError, UpstreamUnavailable, render
from llmgw.relay.streams.sse import OPENAI_DONE, SSEDecoder, encode_anthropic, encode_openai
from llmgw.translate.usage import Usage


class StreamTranslator(Protocol):
    """One step of a translation chain (see llmgw/translate/streams/)."""

    @property
    def usage(self) -> Usage | None: ...

    @property
    def output_events(self) -> int: ...

    def feed(self, item: dict[str, Any]) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...


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
