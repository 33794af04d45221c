"""The cost arithmetic of llmgw.services.pricing: table-tested, by hand-computed values."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from llmgw.errors import ConfigError
from llmgw.services.pricing import Price, PriceTable, bundled_prices, load_prices
from llmgw.settings import Config, load
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


def test_dated_snapshots_fall_back_to_the_undated_price_unless_they_have_their_own() -> None:
    table = PriceTable(
        {"anthropic/claude-sonnet-4-5": Price(input=3, output=15), "openai/gpt-4o": Price(2.5, 10)}
        | {"openai/gpt-4o-2024-05-13": Price(input=5, output=15)}
    )
    assert table.lookup("anthropic", "claude-sonnet-4-5-20250929") == Price(input=3, output=15)
    assert table.lookup("openai", "gpt-4o-2024-08-06") == Price(input=2.5, output=10)
    assert table.lookup("openai", "gpt-4o-2024-05-13") == Price(input=5, output=15)
    assert table.lookup("anthropic", "claude-sonnet-4-5-latest") is None


def config_of(tmp_path: Path, toml: str) -> Config:
    path = tmp_path / "llmgw.toml"
    path.write_text(toml, encoding="utf-8")
    return load(str(path), {}).config


def test_the_bundled_table_states_its_source_and_prices_the_common_models() -> None:
    raw = json.loads(resources.files("llmgw.services").joinpath("prices.json").read_text(encoding="utf-8"))
    assert raw["as_of"] and all(url.startswith("https://") for url in raw["source"])
    prices = bundled_prices()
    for key in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"):
        assert prices[key].input > 0 and prices[key].output > prices[key].input
    # Anthropic's published rates: cache reads a tenth of input, 5-minute cache writes 1.25x.
    sonnet = prices["anthropic/claude-sonnet-4-5"]
    assert (sonnet.cached_input, sonnet.cache_write) == (pytest.approx(0.3), pytest.approx(3.75))


def test_config_prices_override_and_extend_the_bundled_ones(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        '[prices."openai/gpt-4o"]\ninput = 2\noutput = 8\n'
        '[prices."groq/llama-3.1-8b-instant"]\ninput = 0.05\noutput = 0.08\ncached_input = 0.01\n'
        "[providers.groq]\ntype = 'openai-compatible'\nbase_url = 'https://api.groq.com/openai/v1'\n",
    )
    table = load_prices(config)
    assert table.lookup("openai", "gpt-4o") == Price(input=2, output=8)
    assert table.lookup("groq", "llama-3.1-8b-instant") == Price(input=0.05, output=0.08, cached_input=0.01)
    assert table.lookup("groq", "gpt-4o") is None  # openai-compatible: only what the config prices
    assert table.lookup("anthropic", "claude-haiku-4-5") == bundled_prices()["anthropic/claude-haiku-4-5"]


def test_a_provider_of_a_well_known_type_at_its_official_url_is_priced_like_the_type(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        "[providers.work]\ntype = 'openai'\n"
        "[providers.proxy]\ntype = 'openai'\nbase_url = 'https://llm-proxy.example.com/v1'\n"
        "[providers.claude]\ntype = 'anthropic'\nbase_url = 'https://api.anthropic.com'\n"
        '[prices."work/gpt-4o"]\ninput = 1\noutput = 2\n',
    )
    table = load_prices(config)
    assert table.lookup("work", "gpt-4o-mini") == bundled_prices()["openai/gpt-4o-mini"]
    assert table.lookup("work", "gpt-4o") == Price(input=1, output=2)  # its own entry wins
    assert table.lookup("claude", "claude-haiku-4-5") == bundled_prices()["anthropic/claude-haiku-4-5"]
    assert table.lookup("proxy", "gpt-4o-mini") is None  # not the official endpoint: unknown


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[prices."openai/gpt-4o"]\ninput = 1\n', '[prices."openai/gpt-4o"] output: Field required'),
        ('[prices."openai/gpt-4o"]\ninput = -1\noutput = 1\n', '[prices."openai/gpt-4o"] input:'),
        ('[prices."openai/gpt-4o"]\ninput = 1\noutput = 1\nbatch = 1\n', "batch: unknown setting"),
        ('[prices."gpt-4o"]\ninput = 1\noutput = 1\n', "a price is named PROVIDER/model"),
    ],
)
def test_bad_prices_are_refused_with_their_place(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_of(tmp_path, toml)
    assert message in str(err.value)
