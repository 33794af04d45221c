"""Anthropic's Messages API: `/v1/messages` and `/v1/messages/count_tokens`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from llmgw.dialects import Operation
from llmgw.providers.base import ProviderAdapter

DEFAULT_VERSION = "2023-06-01"  # the only stable `anthropic-version` to date


class Anthropic(ProviderAdapter):
    dialect = "anthropic"
    family = "Anthropic"
    paths: ClassVar[Mapping[Operation, str]] = {
        Operation.CHAT: "messages",
        Operation.COUNT_TOKENS: "messages/count_tokens",
    }
    models_path = "models?limit=1000"
    # The SDK's beta client (Claude Code's) posts to `messages?beta=true`; the API takes beta-only body
    # fields (`context_management` ...) there only.
    query_names = ("beta",)

    def auth_headers(self, key: str, client_headers: Mapping[str, str] | None) -> dict[str, str]:
        client = client_headers or {}
        headers = {**self._headers, "x-api-key": key}
        headers["anthropic-version"] = client.get("anthropic-version") or DEFAULT_VERSION
        if beta := client.get("anthropic-beta"):
            headers["anthropic-beta"] = beta  # betas change what the body may hold: they must travel with it
        return headers
