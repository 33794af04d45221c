"""Chart data as pure functions: numbers in, the series a Sparkline draws and its caption out (tests
check these numbers, not pixels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from llmgw.services.usage import ActivityBucket, SeriesPoint
from llmgw_tui.formatting import count, money, percent

Metric = Literal["requests", "tokens", "cost", "error_rate", "upstream_error_rate"]
# The dashboard's charts: the upstream error rate, not every error's (refusals by the gateway's own
# rules and bad requests say nothing about the providers).
METRICS: tuple[Metric, ...] = ("requests", "tokens", "cost", "upstream_error_rate")
_NAMES = {
    "requests": "requests",
    "tokens": "tokens",
    "cost": "cost",
    "error_rate": "error rate",
    "upstream_error_rate": "upstream err",  # a rate: its values read as percentages
}


@dataclass(frozen=True, slots=True)
class Series:
    metric: Metric
    values: list[float]
    caption: str


def point_bucket(point: SeriesPoint) -> ActivityBucket:
    """A point of the rollups' series as a chart bucket."""
    s = point.stats
    return ActivityBucket(
        point.bucket_start, s.requests, s.errors, s.total_tokens, s.cost_usd, s.errors_upstream
    )


def merge(
    window: Sequence[ActivityBucket], recent: Sequence[ActivityBucket], width: int
) -> list[ActivityBucket]:
    """`window` (buckets of `width` seconds) brought up to date by `recent` (the newest few, re-read):
    as many buckets as `window` had, ending with the newest of `recent`, missing ones as zeros."""
    if not recent:
        return list(window)
    by_start = {b.start: b for b in window} | {b.start: b for b in recent}
    last, size = recent[-1].start, max(len(window), len(recent))
    starts = [last - width * i for i in range(size - 1, -1, -1)]
    return [by_start.get(t, ActivityBucket(t, 0, 0, 0, 0.0)) for t in starts]


def value(bucket: ActivityBucket, metric: Metric) -> float:
    if metric == "requests":
        return float(bucket.requests)
    if metric == "tokens":
        return float(bucket.tokens)
    if metric == "cost":
        return bucket.cost_usd
    if metric == "upstream_error_rate":
        return bucket.upstream_error_rate
    return bucket.error_rate


def _shown(metric: Metric, x: float) -> str:
    if metric == "cost":
        return money(x)
    if metric in ("error_rate", "upstream_error_rate"):
        return percent(x)
    return count(round(x))


def series(buckets: Sequence[ActivityBucket], metric: Metric, per: str) -> Series:
    """One chart: a value per bucket, captioned with the latest (still filling) bucket and the peak."""
    values = [value(b, metric) for b in buckets]
    latest = values[-1] if values else 0.0
    peak = max(values, default=0.0)
    caption = f"{_NAMES[metric]}/{per}  now {_shown(metric, latest)}  peak {_shown(metric, peak)}"
    return Series(metric, values, caption)


def bar(amount: float, largest: float, width: int) -> str:
    """A horizontal bar of `width` cells at most, in eighths of a cell."""
    if largest <= 0 or amount <= 0:
        return ""
    eighths = round(amount / largest * width * 8)
    full, rest = divmod(max(eighths, 1), 8)
    return "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])
