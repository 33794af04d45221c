"""OpenAI `/v1/embeddings` ⇄ Gemini `batchEmbedContents`, as pure functions over JSON dicts.

Decisions:

- One Gemini request per input string, in order; `dimensions` → `outputDimensionality`. No
  `taskType` is sent (OpenAI has none; Gemini then uses its default). `user` is dropped.
- Token-id inputs (lists of integers) cannot be embedded by Gemini, which takes text only: 400.
- `encoding_format: "base64"` (the OpenAI SDK's default) is honoured as OpenAI encodes it: the
  vector as little-endian float32 bytes, base64-encoded. Gemini's values are rounded to float32.
- Gemini's answer carries no token count, while OpenAI clients require `usage`: the caller may pass
  `prompt_tokens` (e.g. from a `countTokens` call); otherwise usage is reported as 0.
"""

from __future__ import annotations

import base64
import struct
from typing import Any, Final

from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.translate.gemini import gemini_model_name

__all__ = ["gemini_embeddings_to_openai", "openai_embeddings_to_gemini"]

_ENCODINGS: Final = ("float", "base64")


def openai_embeddings_to_gemini(body: dict[str, Any], *, model: str) -> dict[str, Any]:
    """The Gemini `batchEmbedContents` body for an OpenAI embeddings request."""
    texts = _texts(body.get("input"))
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in _ENCODINGS:
        raise InvalidRequest("encoding_format: must be 'float' or 'base64'", param="encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
    ):
        raise InvalidRequest("dimensions: must be a positive integer", param="dimensions")
    name = gemini_model_name(model)
    requests: list[dict[str, Any]] = []
    for text in texts:
        request: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
        if dimensions is not None:
            request["outputDimensionality"] = dimensions
        requests.append(request)
    return {"requests": requests}


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


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return value
        if all(isinstance(v, int | list) and not isinstance(v, bool) for v in value):
            raise InvalidRequest("input: token-id input is not supported by Gemini; send text", param="input")
    raise InvalidRequest("input: must be a string or a non-empty list of strings", param="input")


def _floats(values: Any) -> list[float]:
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise UpstreamUnavailable("Gemini sent an embedding without a list of numbers as values")
    return [float(v) for v in values]


def _base64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
