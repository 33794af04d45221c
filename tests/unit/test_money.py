"""How amounts of USD read (services/money.py): never a non-zero amount as 0.00."""

from __future__ import annotations

import math

import pytest

from llmgw.services.money import usd, usd_amount


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0.0, "0.00"),
        (0.002, "0.002"),
        (0.0004, "0.0004"),
        (0.00123, "0.0012"),
        (0.0126, "0.013"),
        (0.5, "0.50"),
        (0.05, "0.05"),
        (0.999, "1.00"),
        (0.0999, "0.10"),
        (1.0, "1.00"),
        (2.5, "2.50"),
        (12.346, "12.35"),
        (1234.5, "1,234.50"),
        (1e-9, "0.000000001"),
        (1e-13, "<0.000000000001"),
        (-0.002, "-0.002"),
        (-3.0, "-3.00"),
    ],
)
def test_amounts(amount: float, text: str) -> None:
    assert usd_amount(amount) == text


def test_currency_named() -> None:
    assert usd(0.002) == "0.002 USD"


@pytest.mark.parametrize("amount", [1e-12, 3e-7, 0.0049, 0.004999, 0.009999])
def test_a_non_zero_amount_never_reads_as_zero(amount: float) -> None:
    text = usd_amount(amount)
    assert text.strip("0.,") != ""
    assert float(text.replace(",", "")) > 0


def test_not_finite() -> None:
    assert usd_amount(math.inf) == "inf"
    assert usd_amount(math.nan) == "nan"
