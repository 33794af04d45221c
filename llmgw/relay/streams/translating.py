"""The relay for every path where client and upstream speak different dialects: upstream SSE → a chain
of stream translators (llmgw/translate/streams/) → the client's SSE. Pure and synchronous, like the
translators it drives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from llmgw.dialects import ClientDialect
from llmgw.errors import GatewayError, UpstreamUnavailable
from llmgw.relay.streams.responses_state import ResponsesStreamState
from llmgw.relay.streams.sse import DEFAULT_MAX_EVENT_BYTES, OPENAI_DONE, SSEDecoder, SSEEvent
from llmgw.translate.usage import Usage
from llmgw.wire import CLIENT_WIRES, render
from llmgw.wire.responses import stream_error_code

FINISHED_EVENTS = frozenset({"response.completed", "response.incomplete"})  # a Response worth keeping

UNREADABLE = "The upstream sent a stream event the gateway could not read."


class StreamTranslator(Protocol):
    """One step of a translation chain (see llmgw/translate/streams/)."""

    @property
    def usage(self) -> Usage | None: ...

    @property
    def output_events(self) -> int: ...

    @property
    def ended(self) -> bool: ...

    def feed(self, item: dict[str, Any]) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...


class TranslatingRelay:
    """Upstream SSE → a chain of stream translators → the client's SSE.

    The upstream ended its stream properly when OpenAI's `[DONE]` came or the chain's first step saw
    its dialect's last event (`ended`: Anthropic's `message_stop`, Gemini's chunk with `finishReason`,
    OpenAI's usage chunk after the finish reason). Only then does `flush` write the closing events
    (and `[DONE]`); a stream cut before gets none, and the caller ends it with an error event. Anything
    a translator raises on an event is the upstream's fault: `UpstreamUnavailable`."""

    def __init__(
        self,
        chain: Sequence[StreamTranslator],
        dialect: ClientDialect,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._decoder = SSEDecoder(max_event_bytes)
        self._chain = chain
        self._dialect = dialect
        self._encode = CLIENT_WIRES[dialect].encode_event
        self._done = OPENAI_DONE if dialect == "openai" else b""
        self._upstream_done = False  # OpenAI's `[DONE]` came
        self.saw_done = False
        self.upstream_error: str | None = None  # the code or type of an error event, as the client got it

    @property
    def usage(self) -> Usage | None:
        return self._chain[0].usage  # the first step read the upstream's own usage

    @property
    def content_events(self) -> int:
        return self._chain[0].output_events

    def error_event(self, exc: GatewayError) -> bytes:
        return render(exc, self._dialect, stream=True)

    def _through(self, items: list[dict[str, Any]], start: int) -> list[dict[str, Any]]:
        try:
            for step in self._chain[start:]:
                items = [out for item in items for out in step.feed(item)]
        except Exception as exc:  # a bad shape (an `index` that is a list...): the upstream's garbage
            raise UpstreamUnavailable(UNREADABLE) from exc
        return items

    def _translate(self, event: SSEEvent, *, whole: bool = True) -> list[dict[str, Any]]:
        """The client's events for one upstream event; a `whole=False` one that is not JSON is
        dropped (the half event a cut stream ends with)."""
        if event.data.strip() == "[DONE]":
            self._upstream_done = True
            return []
        try:
            item = event.json()
        except ValueError:
            if not whole:
                return []
            raise UpstreamUnavailable(UNREADABLE) from None
        return self._through([item], 0) if isinstance(item, dict) else []

    def _encode_all(self, out: list[dict[str, Any]]) -> bytes:
        for o in out:
            error = o.get("error")
            if isinstance(error, dict) and self.upstream_error is None:
                # Google's error object: its status name says more than its `code` (the HTTP status)
                kind = error.get("status") or error.get("code") or error.get("type")
                self.upstream_error = str(kind or "upstream_error")
        return b"".join(self._encode(o) for o in out)

    def feed(self, chunk: bytes) -> bytes:
        out: list[dict[str, Any]] = []
        for event in self._decoder.feed(chunk):
            out.extend(self._translate(event))
        return self._encode_all(out)

    def flush(self) -> bytes:
        out: list[dict[str, Any]] = []
        for event in self._decoder.flush():
            out.extend(self._translate(event, whole=False))
        if not (self._upstream_done or self._chain[0].ended):
            return self._encode_all(out)  # cut short: no closing events make it look complete
        for i, step in enumerate(self._chain):
            try:
                closing = step.finish()
            except Exception as exc:
                raise UpstreamUnavailable(UNREADABLE) from exc
            out.extend(self._through(closing, i + 1))
        tail = self._encode_all(out)
        if self.upstream_error is not None:
            return tail  # the upstream's error event ended the stream: nothing follows it
        self.saw_done = True
        return tail + self._done


class ResponsesTranslatingRelay(TranslatingRelay):
    """A chain whose last step writes Responses events: their numbers and the `response.created`
    Response are kept, so a failure after the headers ends the stream as part of the same response
    (`ResponsesStreamState`); the upstream's error is a `response.failed` or `error` event (the
    translator writes both, as the gateway's own ending does)."""

    def __init__(
        self,
        chain: Sequence[StreamTranslator],
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        on_response: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(chain, "responses", max_event_bytes)
        self._state = ResponsesStreamState()
        self._on_response = on_response  # given the finished Response before its event is sent

    def error_event(self, exc: GatewayError) -> bytes:
        return self._state.failure(exc)

    def _encode_all(self, out: list[dict[str, Any]]) -> bytes:
        for o in out:
            self._state.saw_event(o)
            if self.upstream_error is None and (code := stream_error_code(o)) is not None:
                self.upstream_error = code
            if self._on_response is not None and o.get("type") in FINISHED_EVENTS:
                response = o.get("response")
                if isinstance(response, dict):
                    self._on_response(response)
        return b"".join(self._encode(o) for o in out)


def openai_client_relay(chain: Sequence[StreamTranslator], max_event_bytes: int) -> TranslatingRelay:
    return TranslatingRelay(chain, "openai", max_event_bytes)


def anthropic_client_relay(chain: Sequence[StreamTranslator], max_event_bytes: int) -> TranslatingRelay:
    return TranslatingRelay(chain, "anthropic", max_event_bytes)
