"""Reading a client's JSON field by field, with a 400 that names the field path; compact JSON out.

Shared by the OpenAI → Anthropic and Anthropic → OpenAI request translators. A path reads like the field
it names: `messages[2].content[0].type`; it is the message's prefix and the error's `param`.
"""

from __future__ import annotations

import json
from typing import Any

from llmgw.errors import InvalidRequest

__all__ = [
    "JSON",
    "arr",
    "bad",
    "boolean",
    "compact_json",
    "copy_sampling",
    "number",
    "obj",
    "positive_int",
    "string",
]

JSON = dict[str, Any]


def bad(path: str, problem: str) -> InvalidRequest:
    """A 400 naming the field path (also its `param`)."""
    return InvalidRequest(f"{path}: {problem}", param=path)


def obj(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise bad(path, "expected an object")
    return value


def arr(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad(path, "expected an array")
    return value


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise bad(path, "expected a string")
    return value


def number(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(path, "expected a number")
    return value


def positive_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad(path, "expected a positive integer")
    return value


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise bad(path, "expected a boolean")
    return value


def compact_json(value: Any) -> str:
    """JSON without spaces, non-ASCII kept: how OpenAI writes tool-call `arguments`."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def copy_sampling(body: JSON, out: JSON) -> None:
    """`temperature`, `top_p`, `top_k` (numbers) and `stream` (a boolean), checked: both dialects name
    them alike (`top_k` is an extension on the OpenAI side, passed on all the same)."""
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = number(body[key], key)
    if body.get("stream") is not None:
        out["stream"] = boolean(body["stream"], "stream")
