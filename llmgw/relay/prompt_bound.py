"""An upper bound on a request's prompt tokens, for a budget's reservation (`relay/limits.py`): the
prompt side of the worst case a budgeted request holds until it ends. Under a budget only: without
one, nothing here runs.

Two bounds, the lower one taken; both are upper bounds on what a provider bills:

- bytes: the body's compact JSON length in bytes (a token of text is never shorter than one UTF-8 byte
  of the string it came from, and the JSON around each message, `{"role":"user","content":""}`, is longer
  than the few tokens a chat template adds per message). Always valid, and loose: English runs about
  four bytes per token, so a 4 KB prompt reserves four times what it costs.
- counted: the body's compact JSON (media payloads left out) counted with the tokenizer the gateway
  ships (`token_count.py`, tiktoken's o200k_base: the JSON's keys and punctuation count too, more than
  any chat template adds). Exact for the models that use o200k_base (`O200K_MODELS`: OpenAI's GPT-4o
  and later); for every other model times `TOKENIZER_MARGIN`, 2: Claude's and Gemini's tokenizers may
  cut the same text into more pieces (Anthropic states its newest tokenizer uses up to 1.35x the tokens
  of its previous one), and text other than English differs most.

To either is added what the body does not show: `BASE_OVERHEAD_TOKENS` (a request's framing),
`TOOLS_OVERHEAD_TOKENS` when it declares tools (the hidden system prompt a provider adds for tool use:
Anthropic's is ~350 tokens, OpenAI's function preamble ~100), and `MEDIA_PART_TOKENS` per image,
audio or document part (their tokens depend on pixels or pages, not bytes: a 3000x2000 image is ~3400
tokens at Gemini, ~1100 at OpenAI). A PDF of many pages can cost more than one allowance: the one
case the bound does not cover. `tests/unit/test_prompt_bound.py` holds the bound against the prompt
tokens every provider reported for each recorded request (`tests/fixtures/providers`).

Counting costs CPU (docs/PERFORMANCE.md: ~0.1 ms for a 4 KB prompt): a body over
`INLINE_COUNT_BYTES`, or the tokenizer's first use (its data loads once, ~0.3 s), is counted in a
worker thread (`measure_async`), so the event loop never waits for it.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Final

import orjson

from llmgw.errors import InvalidRequest, TokenizerUnavailable
from llmgw.relay import token_count

__all__ = [
    "BASE_OVERHEAD_TOKENS",
    "MEDIA_PART_TOKENS",
    "TOKENIZER_MARGIN",
    "TOOLS_OVERHEAD_TOKENS",
    "PromptBound",
    "measure",
    "measure_async",
    "same_tokenizer",
]

BASE_OVERHEAD_TOKENS: Final = 64
TOOLS_OVERHEAD_TOKENS: Final = 1024
MEDIA_PART_TOKENS: Final = 8192
TOKENIZER_MARGIN: Final = 2.0
INLINE_COUNT_BYTES: Final = 64 * 1024
MEDIA_TYPES: Final = frozenset(
    {"image", "image_url", "input_image", "input_audio", "input_file", "document", "file"}
)
GEMINI_MEDIA_KEYS: Final = ("inlineData", "inline_data", "fileData", "file_data")
MAX_DEPTH: Final = 64  # deeper than any request shape; past it a value is counted as it is
# Model ids (the part after any `provider/`) whose tokenizer is o200k_base: GPT-4o, 4.1, 4.5, 5, the
# o-series, gpt-oss. Older ones (gpt-4, gpt-3.5: cl100k_base) take the margin like every other model.
O200K_MODELS: Final = (
    "gpt-4o",
    "chatgpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "o1",
    "o3",
    "o4",
    "gpt-oss",
    "codex",
)


@dataclass(frozen=True, slots=True)
class PromptBound:
    """What bounds one request's prompt, whichever model it goes to (`tokens`)."""

    compact_bytes: int  # the body's compact JSON, media payloads included
    counted: int | None  # o200k_base tokens of the body without media payloads; None: not counted
    extra: int  # overhead and media allowances

    def tokens(self, model: str) -> int:
        """The bound for `model` (an upstream model id): the lower of the two bounds."""
        by_bytes = self.compact_bytes + self.extra
        if self.counted is None:
            return by_bytes
        margin = 1.0 if same_tokenizer(model) else TOKENIZER_MARGIN
        return min(by_bytes, math.ceil(self.counted * margin) + self.extra)


def same_tokenizer(model: str) -> bool:
    """Whether `model` cuts text as o200k_base does, so its count needs no margin."""
    name = model.rpartition("/")[2].lower()
    return name.startswith(O200K_MODELS)


def measure(body: dict[str, Any], compact_bytes: int | None = None) -> PromptBound:
    """The bounds of `body`, counted here (see `measure_async` for the event loop). 400 for a body
    nested deeper than JSON can be written back (no API takes one)."""
    stripped, media = _without_media(body, 0)
    size = _compact_size(body) if compact_bytes is None else compact_bytes
    extra = _overhead(body) + media * MEDIA_PART_TOKENS
    try:
        enc = token_count.encoding()
    except TokenizerUnavailable:  # no tokenizer data: the byte bound alone, still a bound
        return PromptBound(size, None, extra)
    counted = len(enc.encode(orjson.dumps(stripped).decode(), disallowed_special=()))
    return PromptBound(size, counted, extra)


async def measure_async(body: dict[str, Any]) -> PromptBound:
    """`measure`, in a worker thread when the body is large or the tokenizer not loaded yet."""
    size = _compact_size(body)
    if size <= INLINE_COUNT_BYTES and token_count.loaded():
        return measure(body, size)
    return await asyncio.to_thread(measure, body, size)


def _compact_size(body: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(body))
    except orjson.JSONEncodeError:  # orjson writes at most 255 levels; it reads more
        raise InvalidRequest("The request body is nested too deeply.") from None


def _overhead(body: dict[str, Any]) -> int:
    tools = body.get("tools") or body.get("functions")
    return BASE_OVERHEAD_TOKENS + (TOOLS_OVERHEAD_TOKENS if tools else 0)


def _without_media(value: Any, depth: int) -> tuple[Any, int]:
    """`value` with each media part emptied, and how many there were (an image's base64 is not its
    tokens: the part's allowance stands for it)."""
    if depth > MAX_DEPTH:
        return value, 0
    if isinstance(value, dict):
        if value.get("type") in MEDIA_TYPES or any(k in value for k in GEMINI_MEDIA_KEYS):
            return {}, 1
        out: dict[str, Any] = {}
        media = 0
        for key, item in value.items():
            out[key], found = _without_media(item, depth + 1)
            media += found
        return out, media
    if isinstance(value, list):
        items = []
        media = 0
        for item in value:
            stripped, found = _without_media(item, depth + 1)
            items.append(stripped)
            media += found
        return items, media
    return value, 0
