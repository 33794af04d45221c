"""The adapter interface every provider type implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Protocol

Dialect = Literal["openai", "anthropic", "gemini"]


class Operation(Enum):
    """What a request asks an upstream to do, whatever the wire format."""

    CHAT = "chat"  # OpenAI chat completions, Anthropic messages, Gemini generateContent
    COMPLETIONS = "completions"  # OpenAI legacy text completions
    EMBEDDINGS = "embeddings"
    COUNT_TOKENS = "count_tokens"


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None


class ProviderAdapter(Protocol):
    """Builds upstream requests for one provider. Pure: no network, no clock."""

    name: str
    dialect: Dialect

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
        """The upstream request for a body already in this provider's dialect, with our key attached.

        `client_headers` holds the few client headers the dialect defines as part of the request
        (Anthropic's `anthropic-version` / `anthropic-beta`); nothing else of the client's is sent.
        """
        ...

    def list_models(self, key: str) -> UpstreamRequest:
        """The request that lists the upstream's models."""
        ...

    def model_ids(self, payload: Any) -> list[str]:
        """Model ids out of the upstream's model-list answer."""
        ...


def listed_ids(payload: Any) -> list[str]:
    """Model ids of a `{"data": [{"id": …}, …]}` listing (OpenAI's and Anthropic's shape)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return []
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
