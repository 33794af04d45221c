"""A Gemini client's `embedContent` / `batchEmbedContents` ↔ OpenAI `/v1/embeddings`, for OpenAI-format
upstreams. Pure.

The opposite direction (an OpenAI client, a Gemini upstream) is `openai_to_gemini.py` /
`gemini_to_openai.py`; Gemini upstreams take a Gemini client's embeddings as they are.

Request decisions (Gemini → OpenAI):
- `embedContent`: its `content` → one input string; `batchEmbedContents`: each of `requests[].content`
  → one input string, in order. A content's text parts are joined with "\\n" (Gemini embeds a content
  whole); any other part → 400 (OpenAI embeds text only); a content without text → 400.
- `outputDimensionality` → `dimensions` (one value for the batch: differing values → 400).
  `encoding_format: "float"` is asked, as Gemini answers floats.
- `taskType` and `title` have no OpenAI equivalent (its models embed every task alike): dropped with a
  note. A request's own `model` (batch) is the path's model already: ignored.

Answer decisions (OpenAI → Gemini): `data` ordered by `index` → `{"embedding": {"values"}}` for
`embedContent`, `{"embeddings": [{"values"}, …]}` for `batchEmbedContents`; a base64 vector (an
upstream that ignored `encoding_format`) is decoded as OpenAI writes it (little-endian float32).
`usage` has no place in Gemini's answer.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.gemini_schema import field
from llmgw.translate.json_fields import JSON, arr, bad, obj, positive_int, string

__all__ = ["gemini_embed_request_to_openai", "openai_embeddings_to_gemini_answer"]


def gemini_embed_request_to_openai(
    body: dict[str, Any], *, model: str, batch: bool, notes: list[str] | None = None
) -> dict[str, Any]:
    """The OpenAI `/v1/embeddings` body for a Gemini `embedContent` (`batch=False`) or
    `batchEmbedContents` (`batch=True`) body; what was dropped is appended to `notes`."""
    said = notes if notes is not None else []
    if batch:
        requests = [
            (obj(r, f"requests[{i}]"), f"requests[{i}]")
            for i, r in enumerate(arr(body.get("requests"), "requests"))
        ]
        if not requests:
            raise bad("requests", "expected at least one request")
    else:
        requests = [(body, "")]
    texts: list[str] = []
    dimensions: set[int] = set()
    for request, path in requests:
        prefix = f"{path}." if path else ""
        texts.append(_text(request.get("content"), f"{prefix}content"))
        size = field(request, "outputDimensionality")
        if size is not None:
            dimensions.add(positive_int(size, f"{prefix}outputDimensionality"))
        for key in ("taskType", "title"):
            if field(request, key) is not None:
                said.append(f"{prefix}{key} dropped: OpenAI embeddings have no such option")
    out: JSON = {"model": model, "input": texts, "encoding_format": "float"}
    if len(dimensions) > 1:
        raise bad("requests", "every request must ask the same outputDimensionality")
    if dimensions:
        out["dimensions"] = dimensions.pop()
    return out


def openai_embeddings_to_gemini_answer(resp: dict[str, Any], *, batch: bool) -> dict[str, Any]:
    """Gemini's `embedContent` (`batch=False`) or `batchEmbedContents` answer for an OpenAI one."""
    data = resp.get("data")
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise UpstreamUnavailable("The upstream's embeddings answer has no data list")
    ordered = sorted(data, key=lambda d: d.get("index") if isinstance(d.get("index"), int) else 0)
    embeddings = [{"values": _values(d.get("embedding"))} for d in ordered]
    if batch:
        return {"embeddings": embeddings}
    if len(embeddings) != 1:
        raise UpstreamUnavailable("The upstream answered an embedContent with other than one embedding")
    return {"embedding": embeddings[0]}


def _text(content: Any, path: str) -> str:
    parts = arr(obj(content, path).get("parts"), f"{path}.parts")
    texts: list[str] = []
    for i, part in enumerate(parts):
        ppath = f"{path}.parts[{i}]"
        part = obj(part, ppath)
        if part.get("text") is None:
            raise bad(ppath, "an OpenAI-format model embeds text only")
        texts.append(string(part["text"], f"{ppath}.text"))
    if not texts:
        raise bad(f"{path}.parts", "expected at least one text part")
    return "\n".join(texts)


def _values(embedding: Any) -> list[float]:
    if isinstance(embedding, str):
        try:
            raw = base64.b64decode(embedding, validate=True)
        except binascii.Error:
            raise UpstreamUnavailable("The upstream sent an embedding that is not base64") from None
        if len(raw) % 4:
            raise UpstreamUnavailable("The upstream sent a base64 embedding that is not float32s")
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if isinstance(embedding, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in embedding
    ):
        return [float(v) for v in embedding]
    raise UpstreamUnavailable("The upstream sent an embedding that is neither numbers nor base64")
