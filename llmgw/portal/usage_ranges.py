"""The time ranges the usage pages offer (`?range=`), as UTC bounds and a chart grain. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

__all__ = ["DEFAULT", "RANGES", "TimeRange", "time_range"]

Grain = Literal["hour", "day", "month"]

RANGES: dict[str, str] = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
}
DEFAULT = "7d"
_HOUR = 3600
_DAY = 86400


@dataclass(frozen=True, slots=True)
class TimeRange:
    """`since` is the start of the first bucket (whole hours or days, UTC), `until` is now."""

    key: str
    title: str
    since: float
    until: float
    grain: Grain


def time_range(key: str | None, now: float) -> TimeRange:
    """The range named `key` (one of `RANGES`; anything else: `DEFAULT`) ending at `now`: the last
    24 whole-or-current hours, the last 7 or 30 days counting today, or this calendar month."""
    if key not in RANGES:
        key = DEFAULT
    grain: Grain = "day"
    if key == "24h":
        since, grain = (now // _HOUR) * _HOUR - 23 * _HOUR, "hour"
    elif key == "month":
        at = datetime.fromtimestamp(now, UTC)
        since = datetime(at.year, at.month, 1, tzinfo=UTC).timestamp()
    else:
        days = 7 if key == "7d" else 30
        since = (now // _DAY) * _DAY - (days - 1) * _DAY
    return TimeRange(key, RANGES[key], float(since), now, grain)
