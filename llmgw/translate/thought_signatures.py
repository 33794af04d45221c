"""Hub thinking blocks carried in Gemini `thoughtSignature`s, for Gemini clients of other upstreams. Pure.

A Gemini client keeps the conversation and sends each part's `thoughtSignature` back as it got it (Gemini
CLI does, and the google-genai SDK keeps it in `Part.thought_signature`). So the thinking and
redacted-thinking blocks of a hub answer are written whole into the signature of the part that follows
them, and read back into the blocks they were, as `encrypted_reasoning` does for the Responses API: the
upstream gets its signed thinking back. One signature holds every block since the previous part (a
list), as one Gemini part has one signature.

The field is protobuf `bytes`: JSON carries it as base64, and the google-genai SDK refuses anything else
and re-encodes what it decoded. So the signature is standard, padded base64 of `SIGNATURE_MAGIC` (the
prefix naming the gateway's format and its version) + the blocks' JSON (own fields only, keys sorted),
which the SDK gives back unchanged; URL-safe or unpadded base64 is read too (proto JSON parsers accept
both). Nothing is encrypted: the client holds the thinking text already, and the signatures inside are
the upstream's, which it verifies.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from llmgw.translate.encrypted_reasoning import reasoning_block
from llmgw.translate.json_fields import JSON, bad

__all__ = ["SIGNATURE_MAGIC", "decode_thought_signature", "encode_thought_signature"]

SIGNATURE_MAGIC: Final = b"llmgw1."


def encode_thought_signature(blocks: Sequence[Mapping[str, Any]]) -> str:
    """The `thoughtSignature` carrying hub `thinking` / `redacted_thinking` blocks, in order."""
    kept = [{key: block.get(key) for key in _fields(block)} for block in blocks]
    return base64.b64encode(SIGNATURE_MAGIC + orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).decode("ascii")


def decode_thought_signature(value: str, path: str) -> list[JSON] | None:
    """The hub blocks a signature of ours carries; None for another's (Gemini's own). One of ours that
    does not hold a list of thinking blocks is a 400 naming `path`."""
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        return None  # not base64: not ours
    if not raw.startswith(SIGNATURE_MAGIC):
        return None
    try:
        blocks = orjson.loads(raw[len(SIGNATURE_MAGIC) :])
    except orjson.JSONDecodeError:
        raise bad(path, "not a signature the gateway wrote (its encoding is damaged)") from None
    if not isinstance(blocks, list) or not blocks:
        raise bad(path, "not a signature the gateway wrote (it holds no thinking blocks)")
    return [reasoning_block(block, path) for block in blocks]


def _fields(block: Mapping[str, Any]) -> tuple[str, ...]:
    return ("type", "data") if block.get("type") == "redacted_thinking" else ("type", "thinking", "signature")
