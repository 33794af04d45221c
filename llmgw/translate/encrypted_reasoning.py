"""Hub thinking blocks carried in Responses `reasoning` items as their `encrypted_content`. Pure.

A Responses client that keeps the conversation itself (Codex: `store: false`, the whole history each
turn) sends back the `reasoning` items it was given, and the upstream wants its thinking back exactly as
it gave it: Anthropic its signed `thinking` and `redacted_thinking` blocks, Gemini its thought signatures
(which the hub carries in thinking-block signatures, see `gemini_to_anthropic`). So every reasoning item
the gateway writes carries its hub block whole: `ENCRYPTED_PREFIX` + unpadded base64url of the block's
JSON. Nothing is encrypted: the client already holds the thinking text, and the signatures are the
upstream's, which the upstream verifies. The prefix says whose format it is, and its version.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

import orjson

from llmgw.translate.json_fields import JSON, bad

__all__ = ["ENCRYPTED_PREFIX", "decode_reasoning", "encode_reasoning", "reasoning_block"]

ENCRYPTED_PREFIX: Final = "llmgw1."


def encode_reasoning(block: Mapping[str, Any]) -> str:
    """The `encrypted_content` of the reasoning item made of a hub `thinking` / `redacted_thinking` block."""
    return ENCRYPTED_PREFIX + base64.urlsafe_b64encode(orjson.dumps(dict(block))).rstrip(b"=").decode()


def decode_reasoning(value: str, path: str) -> JSON | None:
    """The hub block an `encrypted_content` of ours carries; None for another's (OpenAI's, another
    gateway's). Only its `thinking` or `redacted_thinking` fields are kept, so an item cannot smuggle
    other blocks into the conversation; one of ours that cannot be read is a 400 naming `path`."""
    if not value.startswith(ENCRYPTED_PREFIX):
        return None
    encoded = value.removeprefix(ENCRYPTED_PREFIX)
    try:
        block = orjson.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError):
        raise bad(path, "not a reasoning item the gateway wrote (its encoding is damaged)") from None
    return reasoning_block(block, path)


def reasoning_block(block: Any, path: str) -> JSON:
    """The hub `thinking` / `redacted_thinking` block a decoded payload holds, only its own fields
    kept; anything else is a 400 naming `path`. Shared with `thought_signatures`."""
    kind = block.get("type") if isinstance(block, dict) else None
    if (
        kind == "thinking"
        and isinstance(block.get("thinking"), str)
        and isinstance(block.get("signature"), str)
    ):
        return {"type": "thinking", "thinking": block["thinking"], "signature": block["signature"]}
    if kind == "redacted_thinking" and isinstance(block.get("data"), str):
        return {"type": "redacted_thinking", "data": block["data"]}
    raise bad(path, "not one the gateway wrote (it holds no thinking block)")
