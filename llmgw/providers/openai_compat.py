"""OpenAI wire format upstreams: `openai`, `openrouter` and any `openai-compatible` server.

OpenAI's own API (type `openai`) also has the Responses API (`Operation.RESPONSES`, `responses`), which a
Responses client's requests pass through to; the others are reached through chat completions, which
every such server has, while few have a Responses API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from llmgw.dialects import Operation
from llmgw.providers.base import ProviderAdapter
from llmgw.settings import ProviderConfig


class OpenAICompatible(ProviderAdapter):
    dialect = "openai"
    family = "OpenAI wire format"
    paths: ClassVar[Mapping[Operation, str]] = {
        Operation.CHAT: "chat/completions",
        Operation.COMPLETIONS: "completions",
        Operation.EMBEDDINGS: "embeddings",
    }
    models_path = "models"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        if config.type == "openai":
            self._urls[Operation.RESPONSES] = f"{self._root}/responses"
        if config.http_referer:
            self._headers["http-referer"] = config.http_referer
        if config.x_title:
            self._headers["x-title"] = config.x_title

    def auth_headers(self, key: str, client_headers: Mapping[str, str] | None) -> dict[str, str]:
        return {**self._headers, "authorization": f"Bearer {key}"}
