"""The cost arithmetic of llmgw.services.pricing: table-tested, by hand-computed values."""

from __future__ import annotations

import pytest

from llmgw.services.pricing import Price, PriceTable
from llmgw.storage import UsageRow


def usage(**tokens: int | None) -> UsageRow:
    return UsageRow(request_id="r", endpoint="/v1/chat/completions", **tokens)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("price", "tokens", "expected"),
    [
        (Price(input=2.5, output=10), {"prompt_tokens": 1000, "completion_tokens": 500}, 0.0075),
        (Price(input=2.5, output=10), {}, 0.0),
        # cached tokens are part of prompt_tokens, at their own rate
        (
            Price(input=2.5, output=10, cached_input=1.25),
            {"prompt_tokens": 1000, "cached_tokens": 400, "completion_tokens": 0},
            (600 * 2.5 + 400 * 1.25) / 1e6,
        ),
        # no cached price: cached tokens cost the input price
        (Price(input=3, output=15), {"prompt_tokens": 1000, "cached_tokens": 400}, 3000 / 1e6),
        # cache writes (Anthropic) are part of prompt_tokens too
        (
            Price(input=3, output=15, cached_input=0.3, cache_write=3.75),
            {
                "prompt_tokens": 2000,
                "cached_tokens": 500,
                "cache_write_tokens": 1000,
                "completion_tokens": 100,
            },
            (500 * 3 + 500 * 0.3 + 1000 * 3.75 + 100 * 15) / 1e6,
        ),
        # reasoning tokens are part of completion_tokens, priced apart only when the table says so
        (
            Price(input=1, output=4, reasoning=8),
            {"prompt_tokens": 10, "completion_tokens": 100, "reasoning_tokens": 60},
            (10 * 1 + 40 * 4 + 60 * 8) / 1e6,
        ),
        (Price(input=1, output=4), {"completion_tokens": 100, "reasoning_tokens": 60}, 400 / 1e6),
    ],
)
def test_cost_usd(price: Price, tokens: dict[str, int], expected: float) -> None:
    assert price.cost_usd(usage(**tokens)) == pytest.approx(expected, rel=1e-12)


def test_worst_case_takes_the_dearest_rates() -> None:
    price = Price(input=3, output=15, cached_input=0.3, cache_write=3.75, reasoning=20)
    assert price.worst_case_usd(1000, 100) == pytest.approx((1000 * 3.75 + 100 * 20) / 1e6)
    assert price.worst_case_usd(1000, 100) >= price.cost_usd(
        usage(prompt_tokens=1000, cache_write_tokens=1000, completion_tokens=100, reasoning_tokens=100)
    )


def test_unknown_models_have_no_price() -> None:
    table = PriceTable({"openai/gpt-4o": Price(input=2.5, output=10)})
    assert table.lookup("openai", "gpt-4o") == Price(input=2.5, output=10)
    assert table.lookup("openai", "gpt-5-unknown") is None
    assert table.lookup("groq", "gpt-4o") is None
    assert table.lookup(None, "gpt-4o") is None
