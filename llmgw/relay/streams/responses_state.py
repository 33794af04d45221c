"""What a relay of a Responses stream keeps to end it on a failure after its headers went out: the
stream's Response (its `response.created` event's) and the next `sequence_number`, so the ending the
gateway writes (`wire.responses.failure_events`: `response.failed`, then `error`) belongs to the same
response and numbers on from the last event. Pure.

The passthrough relay hands over each event's bytes and this reads the number only when a failure
needs it (the last event's `"sequence_number":`; OpenAI's older streams had none, and then the events
are counted); the translating relay hands over its events' numbers as it writes them.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

from llmgw.errors import GatewayError
from llmgw.wire import responses

_SEQUENCE = b'"sequence_number":'


class ResponsesStreamState:
    __slots__ = ("_events", "_last", "_next", "response")

    def __init__(self) -> None:
        self.response: dict[str, Any] | None = None  # `response.created`'s Response
        self._events = 0  # events seen
        self._last = b""  # the last event's bytes (passthrough), read only on a failure
        self._next: int | None = None  # the next number, when known from a translator's events

    def saw_bytes(self, event: bytes) -> None:
        """One whole upstream event relayed as it is."""
        self._events += 1
        self._last = event

    def saw_event(self, event: dict[str, Any]) -> None:
        """One event the gateway wrote (a translator's)."""
        self._events += 1
        number = event.get("sequence_number")
        if isinstance(number, int):
            self._next = number + 1
        if event.get("type") == "response.created" and isinstance(event.get("response"), dict):
            self.response = event["response"]

    def created(self, data: bytes) -> None:
        """The data of an upstream's `response.created` event: its Response is kept."""
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        response = payload.get("response") if isinstance(payload, dict) else None
        if isinstance(response, dict):
            self.response = response

    def next_sequence_number(self) -> int:
        if self._next is not None:
            return self._next
        at = self._last.find(_SEQUENCE)
        if at >= 0:
            digits = self._last[at + len(_SEQUENCE) :].lstrip(b" ")
            end = 0
            while end < len(digits) and digits[end : end + 1].isdigit():
                end += 1
            if end:
                return int(digits[:end]) + 1
        return self._events

    def failure(self, exc: GatewayError) -> bytes:
        """The events that end the stream on `exc`, as bytes."""
        response = self.response or {
            "id": "resp_" + os.urandom(24).hex(),
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "error": None,
            "incomplete_details": None,
            "output": [],
            "usage": None,
        }
        events = responses.failure_events(exc, response, self.next_sequence_number())
        return b"".join(responses.encode_event(e) for e in events)
