"""Provider adapters: how one upstream API family is addressed. HTTP details only, no I/O."""

from llmgw.providers.anthropic import Anthropic
from llmgw.providers.base import ProviderAdapter, UpstreamRequest, is_header_value
from llmgw.providers.gemini import Gemini
from llmgw.providers.openai_compat import OpenAICompatible
from llmgw.settings import ProviderConfig

__all__ = [
    "Anthropic",
    "Gemini",
    "OpenAICompatible",
    "ProviderAdapter",
    "UpstreamRequest",
    "adapter_for",
    "is_header_value",
]


def adapter_for(name: str, config: ProviderConfig) -> ProviderAdapter:
    """The adapter for a configured provider type."""
    if config.type == "anthropic":
        return Anthropic(name, config)
    if config.type == "gemini":
        return Gemini(name, config)
    return OpenAICompatible(name, config)
