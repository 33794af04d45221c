"""OpenAI → Gemini: `/v1/embeddings` requests as `batchEmbedContents` bodies. Pure.

Chat does not come this way: it goes through the Anthropic hub (`openai_to_anthropic`, then
`anthropic_to_gemini`). Gemini's embeddings answer goes back in `gemini_to_openai.py`.

Request decisions:

- One Gemini request per input string, in order; `dimensions` → `outputDimensionality`. No
  `taskType` is sent (OpenAI has none; Gemini then uses its default). `user` is dropped.
- Token-id inputs (lists of integers) cannot be embedded by Gemini, which takes text only: 400.
- `encoding_format` is checked here (float or base64, else 400) and honoured on the way back.
"""

from __future__ import annotations

from typing import Any, Final

from llmgw.errors import InvalidRequest
from llmgw.translate.anthropic_to_gemini import gemini_model_name

__all__ = ["openai_embeddings_to_gemini"]

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


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return value
        if all(isinstance(v, int | list) and not isinstance(v, bool) for v in value):
            raise InvalidRequest("input: token-id input is not supported by Gemini; send text", param="input")
    raise InvalidRequest("input: must be a string or a non-empty list of strings", param="input")
