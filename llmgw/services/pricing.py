"""What a request costs: a price per (provider, model) and the arithmetic on a ledger row's tokens.

Prices are USD per million tokens. The bundled table (`prices.json` beside this module) states its
source and date; the config's `[prices."provider/model"]` tables override and extend it
(`load_prices`). A model with no price has cost `None` — never 0 — so reports can flag it and budgets
can refuse it.

Lookup is by the provider's configured NAME and the upstream model. A provider whose name has no
bundled prices but whose type is a well-known one at its official endpoint (say `work`, of type
`openai`, with the default `base_url`) is priced like that type; one at any other URL (a proxy, a
compatible server) and every `openai-compatible` provider has only the prices the config gives it.
A model id with a date suffix (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`) falls back to the
undated id's price when it has none of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from llmgw.settings import DEFAULT_BASE_URLS, Config

__all__ = ["Price", "PriceTable", "TokenCounts", "bundled_prices", "load_prices"]

BUNDLED_FILE = "prices.json"
# A snapshot's date at the end of a model id: `-20250929` (Anthropic), `-2024-08-06` (OpenAI).
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")

PER_TOKENS = 1_000_000


class TokenCounts(Protocol):
    """The token fields of a ledger row (`UsageRow`) that a cost is computed from."""

    @property
    def prompt_tokens(self) -> int | None: ...
    @property
    def completion_tokens(self) -> int | None: ...
    @property
    def cached_tokens(self) -> int | None: ...
    @property
    def cache_write_tokens(self) -> int | None: ...
    @property
    def reasoning_tokens(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. `cached_input`, `cache_write` and `reasoning` default to the input or
    output price where a provider does not price them differently."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None

    def cost_usd(self, tokens: TokenCounts) -> float:
        """The cost of a row's tokens. `prompt_tokens` includes the cached and cache-write tokens,
        `completion_tokens` the reasoning tokens (the ledger's convention)."""
        prompt = tokens.prompt_tokens or 0
        cached = tokens.cached_tokens or 0
        written = tokens.cache_write_tokens or 0
        completion = tokens.completion_tokens or 0
        reasoning = tokens.reasoning_tokens or 0
        plain_in = max(prompt - cached - written, 0)
        plain_out = max(completion - reasoning, 0)
        micro = (
            plain_in * self.input
            + cached * _or(self.cached_input, self.input)
            + written * _or(self.cache_write, self.input)
            + plain_out * self.output
            + reasoning * _or(self.reasoning, self.output)
        )
        return micro / PER_TOKENS

    def worst_case_usd(self, prompt_tokens: int, max_output_tokens: int) -> float:
        """The most a request can cost: every input token at the dearest input rate, every output
        token at the dearest output rate (for budget reservations)."""
        dearest_in = max(self.input, _or(self.cached_input, 0.0), _or(self.cache_write, 0.0))
        dearest_out = max(self.output, _or(self.reasoning, 0.0))
        return (prompt_tokens * dearest_in + max_output_tokens * dearest_out) / PER_TOKENS


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


class PriceTable:
    """Prices by `provider/model`; `lookup` answers `None` for a model it has no price for."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = dict(prices)

    def lookup(self, provider: str | None, model: str | None) -> Price | None:
        """The price of `model` at `provider` (its configured name); a dated snapshot id without a price
        of its own falls back to the undated id's. A dict lookup, a regex only on a miss."""
        if provider is None or model is None:
            return None
        price = self._prices.get(f"{provider}/{model}")
        if price is None and (dated := _DATE_SUFFIX.search(model)):
            price = self._prices.get(f"{provider}/{model[: dated.start()]}")
        return price

    def __len__(self) -> int:
        return len(self._prices)

    def __contains__(self, key: object) -> bool:
        return key in self._prices


def _price(raw: Mapping[str, Any]) -> Price:
    return Price(
        input=float(raw["input"]),
        output=float(raw["output"]),
        cached_input=_float(raw.get("cached_input")),
        cache_write=_float(raw.get("cache_write")),
        reasoning=_float(raw.get("reasoning")),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def bundled_prices() -> dict[str, Price]:
    """The table shipped with llmgw (`prices.json`: its `source`, `as_of` and what was verified are in
    the file), by `provider/model`."""
    text = resources.files(__package__).joinpath(BUNDLED_FILE).read_text(encoding="utf-8")
    return {key: _price(raw) for key, raw in json.loads(text)["prices"].items()}


def load_prices(config: Config) -> PriceTable:
    """The bundled table, overridden and extended by the config's `[prices."provider/model"]`; then, for
    each configured provider whose name has no bundled prices and whose type is a well-known provider at
    its official URL, that type's prices under the provider's name (its own config entries win)."""
    prices = bundled_prices()
    bundled_names = {key.partition("/")[0] for key in prices}
    prices.update((key, _price(p.model_dump())) for key, p in config.prices.items())
    for name, provider in config.providers.items():
        official = DEFAULT_BASE_URLS.get(provider.type)
        if name in bundled_names or official is None or provider.url != official:
            continue
        prefix = provider.type + "/"
        for key, price in list(prices.items()):
            if key.startswith(prefix):
                prices.setdefault(name + "/" + key[len(prefix) :], price)
    return PriceTable(prices)
