"""The adapter interface every provider type implements."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol


class Endpoint(Enum):
    """A client-facing endpoint, by the path below /v1 that OpenAI-format upstreams also use."""

    CHAT = "chat/completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"

    @property
    def streams(self) -> bool:
        return self is not Endpoint.EMBEDDINGS


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None


class ProviderAdapter(Protocol):
    """Builds upstream requests for one provider. Pure: no network, no clock."""

    name: str

    def build(
        self, endpoint: Endpoint, body: dict[str, Any], upstream_model: str, key: str
    ) -> UpstreamRequest:
        """The upstream request for a client body, with `model` rewritten and our key attached."""
        ...

    def list_models(self, key: str) -> UpstreamRequest:
        """The request that lists the upstream's models."""
        ...

    def model_ids(self, payload: Any) -> list[str]:
        """Model ids out of the upstream's model-list answer."""
        ...
