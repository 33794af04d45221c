"""Provider adapters: how one upstream API family is addressed. HTTP details only, no I/O."""

from llmgw.providers.base import Endpoint, ProviderAdapter, UpstreamRequest
from llmgw.providers.openai_compat import OpenAICompatible
from llmgw.settings import ProviderConfig

__all__ = ["Endpoint", "OpenAICompatible", "ProviderAdapter", "UpstreamRequest", "adapter_for"]


def adapter_for(name: str, config: ProviderConfig) -> ProviderAdapter:
    """The adapter for a configured provider (Anthropic and Gemini adapters arrive with their issue)."""
    return OpenAICompatible(name, config)
