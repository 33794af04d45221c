"""What a request costs: a price per (provider, model) and the arithmetic on a ledger row's tokens.

Prices are USD per million tokens. The bundled table (`prices.json` beside this module) states its
source and date; the config can override and extend it. A model with no price has cost `None` —
never 0 — so reports can flag it and budgets can refuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Price", "PriceTable", "TokenCounts"]

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
        if provider is None or model is None:
            return None
        return self._prices.get(f"{provider}/{model}")
