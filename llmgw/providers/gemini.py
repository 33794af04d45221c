"""Google's Gemini API (generativelanguage): generateContent, streamGenerateContent, countTokens,
batchEmbedContents. The key travels in `x-goog-api-key`, never in a `?key=` query parameter (URLs
end up in logs and proxies)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from llmgw.dialects import Operation
from llmgw.providers.base import ProviderAdapter


class Gemini(ProviderAdapter):
    dialect = "gemini"
    family = "Gemini"
    models_path = "models?pageSize=1000"

    def url(self, op: Operation, upstream_model: str, stream: bool) -> str | None:
        base = f"{self._root}/models/{quote(upstream_model, safe='-._~')}"
        if op is Operation.CHAT:
            return f"{base}:streamGenerateContent?alt=sse" if stream else f"{base}:generateContent"
        if op is Operation.COUNT_TOKENS:
            return f"{base}:countTokens"
        if op is Operation.EMBEDDINGS:
            return f"{base}:batchEmbedContents"
        return None

    def auth_headers(self, key: str, client_headers: Mapping[str, str] | None) -> dict[str, str]:
        return {**self._headers, "x-goog-api-key": key}

    def body(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        return body  # the model is in the URL; the translated body carries none

    def model_ids(self, payload: Any) -> list[str]:
        models = payload.get("models") if isinstance(payload, dict) else None
        if not isinstance(models, list):
            return []
        out = []
        for m in models:
            name = m.get("name") if isinstance(m, dict) else None
            methods = m.get("supportedGenerationMethods", []) if isinstance(m, dict) else []
            if isinstance(name, str) and ("generateContent" in methods or "embedContent" in methods):
                out.append(name.removeprefix("models/"))
        return out
