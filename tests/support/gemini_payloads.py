"""Gemini and Anthropic payloads for the Gemini translator tests: builders, the SDK check of a produced
message, and a signed Gemini 3 answer both directions use."""

from __future__ import annotations

import re
from typing import Any

from anthropic.types import Message

from tests.support.fakes.fixtures import load_request

TOOLU = re.compile(r"^toolu_[0-9a-f]{24}$")
MSG = re.compile(r"^msg_[0-9a-f]{24}$")


def recorded_body(provider: str, case: str) -> dict[str, Any]:
    body: dict[str, Any] = load_request(provider, case)["body"]
    return body


def snake_to_camel(value: Any) -> Any:
    """Proto JSON accepts snake_case and camelCase field names alike; compare in camelCase."""
    if isinstance(value, dict):
        return {
            re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): snake_to_camel(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [snake_to_camel(v) for v in value]
    return value


def openapi_to_json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-subset `parameters` spell types in upper case; JSON Schema in lower case."""
    if isinstance(schema, dict):
        return {k: v.lower() if k == "type" else openapi_to_json_schema(v) for k, v in schema.items()}
    return schema


def valid_message(message: dict[str, Any]) -> dict[str, Any]:
    Message.model_validate(message)
    return message


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# A Gemini 3 answer shaped as the thought-signature guide describes: a thought summary, a signed first
# call, an unsigned parallel call.
SIGNED_ANSWER: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Two cities: call the tool twice.", "thought": True},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"},
                        "thoughtSignature": "SIG1",
                    },
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}, "id": "c2"}},
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 60,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 50,
        "totalTokenCount": 170,
    },
    "responseId": "abc_123",
}
