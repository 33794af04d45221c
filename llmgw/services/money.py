"""How an amount of US dollars reads, everywhere a person sees one: budgets, spend, what remains, what a
refused request would have cost. Pure.

Two decimals hide what budgets of cents are made of (a request costing 0.0004 USD would read "0.00"), so an
amount under 1 keeps two significant digits (`0.002`, `0.0013`, `0.50`): a non-zero amount never reads as
zero. At 1 and above, cents (`12.50`)."""

from __future__ import annotations

import math
from typing import Final

__all__ = ["usd", "usd_amount"]

MAX_DECIMALS: Final = 12  # below 1e-12 USD: "<0.000000000001"


def usd_amount(amount: float) -> str:
    """`amount` as digits only: `0.002`, `0.50`, `12.50`, `1,234.00`."""
    if not math.isfinite(amount):
        return str(amount)
    sign = "-" if amount < 0 else ""
    size = abs(amount)
    if size == 0:
        return "0.00"
    if size >= 1:
        return f"{sign}{size:,.2f}"
    if size < 10.0**-MAX_DECIMALS:
        return f"{sign}<0.{'0' * (MAX_DECIMALS - 1)}1"
    # Two significant digits: 0.0023 has its first digit at the 3rd decimal, so 4 decimals.
    decimals = min(MAX_DECIMALS, max(2, 1 - math.floor(math.log10(size))))
    text = f"{size:.{decimals}f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")  # 0.0020 → 0.002, 0.5 → 0.50
    return f"{sign}{whole}.{fraction}"


def usd(amount: float) -> str:
    """`amount` with its currency: `0.002 USD`."""
    return f"{usd_amount(amount)} USD"
