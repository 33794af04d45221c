"""The server-sent-event encoders of each client dialect. Pure and dependency-free (orjson aside), so
`errors.render` can use them from anywhere; `relay/streams/sse.py` re-exports them next to the decoder."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["encode_anthropic", "encode_openai"]


def encode_anthropic(event: dict[str, Any]) -> bytes:
    """An Anthropic stream event: `event: <type>` and one compact `data:` line."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def encode_openai(chunk: dict[str, Any]) -> bytes:
    """An OpenAI stream chunk (or error object) as one `data:` event."""
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
