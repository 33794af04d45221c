"""The usage pages' `?range=` choices (llmgw/portal/usage_ranges.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llmgw.portal.usage_ranges import DEFAULT, time_range

NOW = datetime(2026, 11, 30, 12, 24, 23, tzinfo=UTC).timestamp()


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "since", "grain"),
    [
        ("24h", utc(2026, 11, 29, 13), "hour"),
        ("7d", utc(2026, 11, 24), "day"),
        ("30d", utc(2026, 11, 1), "day"),
        ("month", utc(2026, 11, 1), "day"),
    ],
)
def test_ranges_start_on_whole_buckets_and_end_now(key: str, since: float, grain: str) -> None:
    r = time_range(key, NOW)
    assert (r.key, r.since, r.until, r.grain) == (key, since, NOW, grain)


@pytest.mark.parametrize("key", [None, "", "1y", "24h'><script>"])
def test_anything_else_is_the_default(key: str | None) -> None:
    assert time_range(key, NOW).key == DEFAULT


def test_this_month_on_its_first_day() -> None:
    assert time_range("month", utc(2026, 12, 1, 0, 5)).since == utc(2026, 12, 1)
