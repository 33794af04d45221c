"""The TUI's chart data as numbers: series and captions, bars, and the dashboard's hour brought up to
date by the last two minutes re-read each second."""

from __future__ import annotations

from llmgw_tui import charts

from llmgw.services.usage import ActivityBucket


def b(start: float, requests: int, errors: int = 0, tokens: int = 0, cost: float = 0.0) -> ActivityBucket:
    return ActivityBucket(start, requests, errors, tokens, cost)


def test_series_values_and_caption() -> None:
    got = charts.series([b(0, 4, 1, 100, 0.5), b(60, 2, 2, 7, 0.0), b(120, 0)], "error_rate", "min")
    assert got.values == [0.25, 1.0, 0.0]
    assert got.caption == "error rate/min  now 0.0%  peak 100.0%"
    assert charts.series([b(0, 1234)], "requests", "hour").caption == "requests/hour  now 1,234  peak 1,234"
    assert charts.series([], "cost", "min").values == []


def test_bar_in_eighths() -> None:
    assert charts.bar(10, 10, 4) == "████"
    assert charts.bar(1, 16, 2) == "▏"  # 1/16 of 2 cells: one eighth of a cell
    assert charts.bar(1, 1000, 2) == "▏"  # never nothing for a non-zero amount
    assert charts.bar(5, 10, 3) == "█▌"
    assert charts.bar(0, 10, 3) == ""


def test_merge_keeps_the_window_and_moves_it_with_the_clock() -> None:
    window = [b(0, 1), b(60, 2), b(120, 3)]
    # the same minutes re-read: the newer counts win, the window stays where it was
    assert charts.merge(window, [b(60, 5), b(120, 6)], 60) == [b(0, 1), b(60, 5), b(120, 6)]
    # a new minute began: the oldest falls out, the newest comes in
    assert charts.merge(window, [b(120, 4), b(180, 1)], 60) == [b(60, 2), b(120, 4), b(180, 1)]
    # a long pause (no reads for minutes): the gap is zeros
    assert charts.merge(window, [b(300, 0), b(360, 7)], 60) == [b(240, 0), b(300, 0), b(360, 7)]
    assert charts.merge([], [b(0, 1), b(60, 2)], 60) == [b(0, 1), b(60, 2)]


def test_errors_read_by_kind_with_their_codes() -> None:
    from llmgw_tui.formatting import error_codes, error_split

    from llmgw.services.usage import UsageStats
    from llmgw.storage.rollups import ErrorCount

    s = UsageStats(
        requests=200,
        errors=9,
        errors_upstream=3,
        errors_policy=4,
        errors_client=1,
        error_codes=(
            ErrorCount("upstream", "upstream_error", 2),
            ErrorCount("upstream", None, 1),
            ErrorCount("policy", "budget_exceeded", 4),
            ErrorCount("client", "invalid_request_error", 1),
            ErrorCount(None, None, 1),
        ),
    )
    assert error_split(s) == (
        "3 upstream errors (1.5%) · 4 refused by policy · 1 client errors · 1 unclassified"
    )
    assert error_codes(s) == (
        "upstream: upstream_error 2, (no code) 1 · policy: budget_exceeded 4 · "
        "client: invalid_request_error 1 · unclassified: (no code) 1"
    )
    assert error_codes(UsageStats()) == "" and "unclassified" not in error_split(UsageStats())
