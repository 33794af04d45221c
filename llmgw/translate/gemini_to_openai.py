"""Gemini → OpenAI: `batchEmbedContents` answers as `/v1/embeddings` answers. Pure.

Chat answers do not come this way: they go through the Anthropic hub (`gemini_to_anthropic`, then
`anthropic_to_openai`). The request went the other way in `openai_to_gemini.py`.

Answer decisions:

- `encoding_format: "base64"` (the OpenAI SDK's default) is honoured as OpenAI encodes it: the
  vector as little-endian float32 bytes, base64-encoded. Gemini's values are rounded to float32.
- Gemini's answer carries no token count, while OpenAI clients require `usage`: the caller may pass
  `prompt_tokens` (e.g. from a `countTokens` call); otherwise usage is reported as 0.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from llmgw.errors import UpstreamUnavailable

__all__ = ["gemini_embeddings_to_openai"]


def gemini_embeddings_to_openai(
    resp: dict[str, Any], *, model: str, encoding_format: str | None, prompt_tokens: int | None = None
) -> dict[str, Any]:
    """The OpenAI embeddings answer (`list` of `embedding`) for a Gemini `batchEmbedContents` answer."""
    embeddings = resp.get("embeddings")
    if not isinstance(embeddings, list):
        raise UpstreamUnavailable("Gemini's batchEmbedContents answer has no embeddings list")
    data: list[dict[str, Any]] = []
    for i, embedding in enumerate(embeddings):
        values = _floats(embedding.get("values") if isinstance(embedding, dict) else None)
        encoded: list[float] | str = _base64(values) if encoding_format == "base64" else values
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    tokens = prompt_tokens or 0
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _floats(values: Any) -> list[float]:
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise UpstreamUnavailable("Gemini sent an embedding without a list of numbers as values")
    return [float(v) for v in values]


def _base64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
