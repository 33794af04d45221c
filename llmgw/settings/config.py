"""The whole configuration file (`Config`), and its two small tables: `[models]` aliases and
`[prices."PROVIDER/MODEL"]`, each setting declared once as a field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, field_validator

from llmgw.settings.fields import Shown, Table
from llmgw.settings.providers import WELL_KNOWN_PROVIDERS, ProviderConfig
from llmgw.settings.server import ServerConfig


class PriceConfig(Table):
    """A model's price in USD per million tokens (`[prices."provider/model"]`); the optional rates
    default to `input` (cache reads and writes) or `output` (reasoning)."""

    input: float = Field(ge=0, description="USD per million input tokens (the uncached part of the prompt).")
    output: float = Field(ge=0, description="USD per million output tokens.")
    cached_input: Annotated[float | None, Shown("`input`")] = Field(
        None,
        ge=0,
        description=(
            "USD per million input tokens read from a prompt cache (OpenAI cached, Anthropic cache hits, "
            "Gemini cached content)."
        ),
    )
    cache_write: Annotated[float | None, Shown("`input`")] = Field(
        None,
        ge=0,
        description="USD per million input tokens written to a prompt cache (Anthropic's cache writes).",
    )
    reasoning: Annotated[float | None, Shown("`output`")] = Field(
        None,
        ge=0,
        description="USD per million reasoning (thinking) tokens, where a provider prices them apart.",
    )


class AliasConfig(Table):
    """An alias of `[models]`; a string `NAME = "P/m"` is short for `NAME = { model = "P/m" }`."""

    model: str = Field(
        description=(
            "The `PROVIDER/model` the alias routes to first; the provider's `models` allow-list, when "
            "set, applies."
        )
    )
    fallbacks: tuple[str, ...] = Field(
        (),
        description=(
            "More `PROVIDER/model`s, tried in order when the one before is rate limited, failing (5xx) "
            "or unreachable, only while nothing has been sent to the client yet."
        ),
    )


class Config(Table):
    server: ServerConfig = Field(default_factory=lambda: ServerConfig())
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, AliasConfig] = Field(default_factory=dict)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)

    @field_validator("prices")
    @classmethod
    def _price_keys(cls, v: dict[str, PriceConfig]) -> dict[str, PriceConfig]:
        for key in v:
            provider, _, model = key.partition("/")
            if not provider or not model:
                raise ValueError(f'{key!r}: a price is named PROVIDER/model (e.g. "openai/gpt-4o")')
        return v

    @field_validator("providers", mode="before")
    @classmethod
    def _type_from_name(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {
                k: {"type": k, **t} if k in WELL_KNOWN_PROVIDERS and isinstance(t, Mapping) else t
                for k, t in v.items()
            }
        return v

    @field_validator("models", mode="before")
    @classmethod
    def _alias_shorthand(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: {"model": t} if isinstance(t, str) else t for k, t in v.items()}
        return v
