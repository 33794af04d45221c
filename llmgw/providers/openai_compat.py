"""OpenAI wire format upstreams: `openai`, `openrouter` and any `openai-compatible` server."""

from __future__ import annotations

from typing import Any

import orjson

from llmgw import __version__
from llmgw.providers.base import Endpoint, UpstreamRequest
from llmgw.settings import ProviderConfig

USER_AGENT = f"llmgw/{__version__}"


class OpenAICompatible:
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self._root = config.url
        # Built once: only Authorization differs between requests.
        self._headers = {"content-type": "application/json", "user-agent": USER_AGENT, **config.headers}
        if config.http_referer:
            self._headers["http-referer"] = config.http_referer
        if config.x_title:
            self._headers["x-title"] = config.x_title

    def _headers_with(self, key: str) -> dict[str, str]:
        return {**self._headers, "authorization": f"Bearer {key}"}

    def build(
        self, endpoint: Endpoint, body: dict[str, Any], upstream_model: str, key: str
    ) -> UpstreamRequest:
        # Only `model` changes (stream_options is settled by the caller); every other field passes as is.
        out = {**body, "model": upstream_model}
        return UpstreamRequest(
            "POST", f"{self._root}/{endpoint.value}", self._headers_with(key), orjson.dumps(out)
        )

    def list_models(self, key: str) -> UpstreamRequest:
        headers = self._headers_with(key)
        del headers["content-type"]
        return UpstreamRequest("GET", f"{self._root}/models", headers)

    def model_ids(self, payload: Any) -> list[str]:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            return []
        return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
