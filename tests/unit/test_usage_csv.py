"""CSV exports (llmgw/services/csv_export.py): formula-looking text defused, numbers kept, quoting; a
usage report's one layout."""

from __future__ import annotations

import csv
import io

import pytest

from llmgw.services.csv_export import USAGE_COLUMNS, csv_document, safe_cell, usage_csv
from llmgw.services.usage import GroupBy, UsageGroup, UsageReport, UsageStats


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("gpt-4o", "gpt-4o"),
        ("", ""),
        (None, ""),
        (-3, "-3"),  # a number stays a number, negative or not
        (0.125, "0.125"),
        (42, "42"),
    ],
)
def test_safe_cell(value: str | int | float | None, cell: str) -> None:
    assert safe_cell(value) == cell


def test_document_round_trips_through_a_csv_reader() -> None:
    text = csv_document(["label", "requests"], [['a,"b"\nc', 3], ["=cmd|' /C calc'!A0", 1]])
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["label", "requests"], ['a,"b"\nc', "3"], ["'=cmd|' /C calc'!A0", "1"]]


def report(by: GroupBy | None, groups: list[UsageGroup], total: UsageStats) -> UsageReport:
    return UsageReport(since=None, until=None, by=by, groups=groups, total=total, unpriced_models=[])


def test_a_report_has_one_layout_and_marks_costs_without_a_price() -> None:
    timed = UsageStats(requests=4, errors=1, total_tokens=30, cost_usd=0.5, latency_buckets=(0, 4))
    unknown = UsageStats(requests=2, total_tokens=5, unpriced_requests=2)
    partial = UsageStats(requests=3, cost_usd=0.25, unpriced_requests=1)
    groups = [
        UsageGroup("2026-11-01", timed, bucket_start=1_793_491_200.0),
        UsageGroup("2026-11-02", unknown, bucket_start=1_793_577_600.0),
        UsageGroup("2026-11-03", partial, bucket_start=1_793_664_000.0),
    ]
    text = usage_csv(report("day", groups, timed))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert text.splitlines()[0] == ",".join(USAGE_COLUMNS) and text.count("\r\n") == 4
    assert [(r["by"], r["label"], r["bucket_start"]) for r in rows] == [
        ("day", "2026-11-01", "2026-11-01T00:00:00Z"),
        ("day", "2026-11-02", "2026-11-02T00:00:00Z"),
        ("day", "2026-11-03", "2026-11-03T00:00:00Z"),
    ]  # no totals row under the groups: a spreadsheet's sum would count it twice
    assert (rows[0]["error_rate"], rows[0]["cost_usd"], rows[0]["latency_p50_ms"]) == ("0.25", "0.5", "1.2")
    assert (rows[1]["cost_usd"], rows[1]["unpriced_requests"]) == ("", "2")  # unknown: empty, never 0
    assert (rows[2]["cost_usd"], rows[2]["unpriced_requests"]) == ("0.25", "1")  # at least this much
    assert rows[1]["latency_p50_ms"] == rows[1]["user_id"] == ""


def test_a_report_not_grouped_is_one_total_row() -> None:
    total = UsageStats(requests=2, cache_write_tokens=7, reasoning_tokens=3)
    (row,) = csv.DictReader(io.StringIO(usage_csv(report(None, [], total)), newline=""))
    assert (row["by"], row["label"], row["requests"]) == ("", "total", "2")
    assert (row["cache_write_tokens"], row["reasoning_tokens"]) == ("7", "3")


def test_errors_by_kind_their_codes_and_a_models_aliases() -> None:
    from llmgw.storage.rollups import ErrorCount

    stats = UsageStats(
        requests=50,
        errors=9,
        errors_upstream=1,
        errors_policy=5,
        errors_client=2,
        error_codes=(
            ErrorCount("upstream", "timeout", 1),
            ErrorCount("policy", "budget_exceeded", 5),
            ErrorCount("client", None, 2),
            ErrorCount(None, None, 1),
        ),
    )
    group = UsageGroup(
        "ant/claude-sonnet-4-5", stats, provider="ant", model="claude-sonnet-4-5", aliases=("fast", "smart")
    )
    (row,) = csv.DictReader(io.StringIO(usage_csv(report("model", [group], stats))))
    assert row["aliases"] == "fast smart"
    assert (row["errors"], row["errors_upstream"], row["errors_policy"], row["errors_client"]) == (
        "9",
        "1",
        "5",
        "2",
    )
    assert row["errors_unclassified"] == "1" and row["upstream_error_rate"] == "0.02"
    assert row["error_codes"] == "upstream:timeout=1 policy:budget_exceeded=5 client:?=2 unclassified:?=1"
    (empty,) = csv.DictReader(io.StringIO(usage_csv(report(None, [], UsageStats()))))
    assert empty["error_codes"] == "" and empty["aliases"] == "" and empty["errors_unclassified"] == "0"
