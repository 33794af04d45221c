"""Google's Gemini API (generativelanguage): generateContent, streamGenerateContent, countTokens,
batchEmbedContents. The key travels in `x-goog-api-key`, never in a `?key=` query parameter (URLs
end up in logs and proxies)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from llmgw.errors import Unsupported
from llmgw.providers.base import Dialect, Operation, UpstreamRequest
from llmgw.providers.openai_compat import USER_AGENT
from llmgw.settings import ProviderConfig


class Gemini:
    dialect: Dialect = "gemini"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self._root = config.url
        self._headers = {"content-type": "application/json", "user-agent": USER_AGENT, **config.headers}

    def _url(self, op: Operation, model: str, stream: bool) -> str:
        base = f"{self._root}/models/{quote(model, safe='-._~')}"
        if op is Operation.CHAT:
            return f"{base}:streamGenerateContent?alt=sse" if stream else f"{base}:generateContent"
        if op is Operation.COUNT_TOKENS:
            return f"{base}:countTokens"
        if op is Operation.EMBEDDINGS:
            return f"{base}:batchEmbedContents"
        raise Unsupported(f"provider '{self.name}' (Gemini) has no {op.value} endpoint")

    def build(
        self,
        op: Operation,
        body: dict[str, Any],
        upstream_model: str,
        key: str,
        *,
        stream: bool = False,
        client_headers: Mapping[str, str] | None = None,
    ) -> UpstreamRequest:
        # The model is in the URL; the translated body carries none.
        headers = {**self._headers, "x-goog-api-key": key}
        return UpstreamRequest("POST", self._url(op, upstream_model, stream), headers, orjson.dumps(body))

    def list_models(self, key: str) -> UpstreamRequest:
        return UpstreamRequest(
            "GET", f"{self._root}/models?pageSize=1000", {"user-agent": USER_AGENT, "x-goog-api-key": key}
        )

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
