"""OpenAI and Anthropic chat payloads for the translator tests: builders, and the SDK checks every
translated request passes (the official request types, every field known to them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from anthropic.types import MessageCreateParams
from openai.types.chat import CompletionCreateParams
from pydantic import TypeAdapter

from llmgw.translate.anthropic_to_openai import anthropic_request_to_openai
from llmgw.translate.openai_to_anthropic import openai_request_to_anthropic

JSON = dict[str, Any]
ANTHROPIC_REQUEST: TypeAdapter[Any] = TypeAdapter(MessageCreateParams)
OPENAI_REQUEST: TypeAdapter[Any] = TypeAdapter(CompletionCreateParams)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
PDF = "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="


def materialize(value: Any) -> Any:
    """Pydantic validates `Iterable` fields lazily: walk everything so every part is checked."""
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Iterable):
        return [materialize(v) for v in value]
    return value


def assert_valid(adapter: TypeAdapter[Any], request: JSON) -> None:
    """Valid for the SDK's request type, every field known to it (unknown ones would be dropped)."""
    assert materialize(adapter.validate_python(request)) == request


# The Anthropic SDK (2.x) no longer lists the sampling fields: the newest models refuse them, while
# older models (and API version 2023-06-01) still take them. They are checked by hand instead.
SAMPLING = ("temperature", "top_p", "top_k")


def to_anthropic(body: JSON, **kw: Any) -> JSON:
    out = openai_request_to_anthropic(body, **kw)
    assert_valid(ANTHROPIC_REQUEST, {k: v for k, v in out.items() if k not in SAMPLING})
    assert all(isinstance(out[k], int | float) for k in SAMPLING if k in out)
    return out


def to_openai(body: JSON, **kw: Any) -> JSON:
    out = anthropic_request_to_openai(body, **kw)
    assert_valid(OPENAI_REQUEST, {k: v for k, v in out.items() if k != "top_k"})  # top_k: an extension
    return out


def text(t: str) -> JSON:
    return {"type": "text", "text": t}


def user(*blocks: JSON) -> JSON:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: JSON) -> JSON:
    return {"role": "assistant", "content": list(blocks)}


def tool_use(id_: str, name: str, input_: JSON) -> JSON:
    return {"type": "tool_use", "id": id_, "name": name, "input": input_}


def tool_result(id_: str, content: Any = None, **extra: Any) -> JSON:
    block: JSON = {"type": "tool_result", "tool_use_id": id_, **extra}
    if content is not None:
        block["content"] = content
    return block


def call(id_: str, name: str, arguments: str) -> JSON:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def oa(*messages: JSON, **fields: Any) -> JSON:
    """An OpenAI request body."""
    return {"model": "m", "messages": list(messages), **fields}


def an(*messages: JSON, **fields: Any) -> JSON:
    """An Anthropic request body."""
    return {"model": "m", "max_tokens": 100, "messages": list(messages), **fields}


HI = {"role": "user", "content": "hi"}
