"""Each dialect's wire format, one module per dialect (`openai.py`, `anthropic.py`, `gemini.py`: its
error body, its error types by status, its server-sent event), an upstream's error read into data
(`upstream_errors.py`), and here the one table that says how each client dialect writes what the
gateway itself says: `CLIENT_WIRES`. `render` is the one place an error becomes the bytes a client
gets, in its dialect: the JSON body of an error response, or with `stream` the event that ends a
stream whose headers are already sent (OpenAI `data: {...}`, Anthropic `event: error`; the SDKs of
both raise on it). `error_event` gives that event as an object, for the stream translators, which
hand events on as dicts. A Responses stream's events are numbered and end with its Response, which only
the stream's relay knows: its relays write the ending themselves (`responses.failure_events`), and the
row's `error_event` is the bare `error` event.

The gateway's own errors have one type per dialect (Anthropic's by status). An upstream's error keeps
its type for an Anthropic client only if the upstream spoke Anthropic; an OpenAI client gets an
upstream answer's type whatever its dialect, but an in-stream error's type only from an OpenAI
upstream. That asymmetry is what clients have always seen; it is kept so no byte changes.

A new client dialect adds its module here (its `client_error_body` and `encode_event`) and its row in
`CLIENT_WIRES` (`tests/unit/test_error_dialects.py` fails while a `ClientDialect` has none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from llmgw.dialects import ClientDialect
from llmgw.errors import GatewayError, UpstreamError
from llmgw.wire import anthropic, gemini, openai, responses

__all__ = ["CLIENT_WIRES", "ClientWire", "error_body", "error_event", "render"]

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClientWire:
    """How one client dialect writes what the gateway itself says."""

    error_body: Callable[[GatewayError | UpstreamError], Event]  # the JSON body of an error answer
    error_event: Callable[[GatewayError | UpstreamError], Event]  # the event a stream ends with on error
    encode_event: Callable[[Event], bytes]  # one server-sent event of its streams


CLIENT_WIRES: Final[Mapping[ClientDialect, ClientWire]] = {
    # OpenAI's and Anthropic's streams end on an error with the very object of the error body.
    "openai": ClientWire(openai.client_error_body, openai.client_error_body, openai.encode_event),
    "anthropic": ClientWire(anthropic.client_error_body, anthropic.client_error_body, anthropic.encode_event),
    "responses": ClientWire(responses.client_error_body, responses.error_event, responses.encode_event),
    # Gemini's end on an error with the error body as one more chunk (in `alt=sse` framing here; the
    # JSON-array framing is the stream relay's, `relay/streams/gemini.py`).
    "gemini": ClientWire(gemini.client_error_body, gemini.client_error_body, gemini.encode_event),
}


def error_body(err: GatewayError | UpstreamError, dialect: ClientDialect) -> Event:
    """The body of the error answer a client of `dialect` gets for `err`."""
    return CLIENT_WIRES[dialect].error_body(err)


def error_event(err: GatewayError | UpstreamError, dialect: ClientDialect) -> Event:
    """The event a client of `dialect` gets for `err` inside a stream (an upstream's in-stream error
    event, or the gateway's own failure after the headers went out)."""
    return CLIENT_WIRES[dialect].error_event(err)


def render(err: GatewayError | UpstreamError, dialect: ClientDialect, *, stream: bool = False) -> bytes:
    """`err` as the bytes a client of `dialect` gets: the JSON body of an error response, or with
    `stream` the server-sent event that ends a stream whose headers are already sent."""
    wire = CLIENT_WIRES[dialect]
    if not stream:
        return orjson.dumps(wire.error_body(err))
    return wire.encode_event(wire.error_event(err))
