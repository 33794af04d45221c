"""Hub thinking blocks carried in Gemini `thoughtSignature`s, for Gemini clients of other upstreams. Pure.

A Gemini client keeps the conversation and sends each part's `thoughtSignature` back as it got it (Gemini
CLI does, and the google-genai SDK keeps it in `Part.thought_signature`). So every thinking or
redacted-thinking block of a hub answer is written whole into a signature, and read back into the block
it was, as `encrypted_reasoning` does for the Responses API: the upstream gets its signed thinking back.

The field is protobuf `bytes`: JSON carries it as base64, and the google-genai SDK refuses anything else
and re-encodes what it decoded. So the signature is standard, padded base64 of `SIGNATURE_MAGIC` (the
prefix naming the gateway's format and its version) + the block's JSON (keys sorted), which the SDK gives back
unchanged; URL-safe or unpadded base64 is read too (proto JSON parsers accept both). Nothing is
encrypted: the client holds the thinking text already, and the signatures inside are the upstream's,
which it verifies.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

import orjson

from llmgw.translate.encrypted_reasoning import reasoning_block
from llmgw.translate.json_fields import JSON, bad

__all__ = ["SIGNATURE_MAGIC", "decode_thought_signature", "encode_thought_signature"]

SIGNATURE_MAGIC: Final = b"llmgw1."


def encode_thought_signature(block: Mapping[str, Any]) -> str:
    """The `thoughtSignature` carrying a hub `thinking` / `redacted_thinking` block (its own fields only,
    keys sorted: one block, one signature, however the block was built)."""
    fields = (
        ("type", "data") if block.get("type") == "redacted_thinking" else ("type", "thinking", "signature")
    )
    kept = {key: block.get(key) for key in fields}
    return base64.b64encode(SIGNATURE_MAGIC + orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).decode("ascii")


def decode_thought_signature(value: str, path: str) -> JSON | None:
    """The hub block a signature of ours carries; None for another's (Gemini's own). One of ours that
    does not hold a thinking block is a 400 naming `path`."""
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        return None  # not base64: not ours
    if not raw.startswith(SIGNATURE_MAGIC):
        return None
    try:
        block = orjson.loads(raw[len(SIGNATURE_MAGIC) :])
    except orjson.JSONDecodeError:
        raise bad(path, "not a signature the gateway wrote (its encoding is damaged)") from None
    return reasoning_block(block, path)
